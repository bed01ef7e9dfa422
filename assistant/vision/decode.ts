/**
 * Turns raw detector outputs into boxes in model-input pixels (before NMS).
 *
 * YOLOX [1, anchors, 5 + C]: per anchor cx, cy, w, h relative to its grid cell, objectness, C class scores
 * (sigmoid already applied). Anchors run over strides 8, 16, 32, row-major per stride:
 * xy = (out + grid) * stride, wh = exp(out) * stride, score = objectness * class score.
 *
 * Ultralytics YOLOv8 / YOLO11 [1, 4 + C, anchors]: channel-major; cx, cy, w, h already in input pixels,
 * then C class scores; no objectness.
 */
import type { RawBox } from './nms.js';

/** Only the best class of each anchor is kept; anchors below `conf` are skipped. */
export function decodeYolox(out: Float32Array, dims: readonly number[], input: readonly [number, number], strides: readonly number[], conf: number): RawBox[] {
  const anchors = dims[1];
  const stride = dims[2];
  const classes = stride - 5;
  const boxes: RawBox[] = [];
  let a = 0;
  for (const s of strides) {
    const gw = Math.floor(input[0] / s);
    const gh = Math.floor(input[1] / s);
    for (let gy = 0; gy < gh; gy++) {
      for (let gx = 0; gx < gw; gx++, a++) {
        if (a >= anchors) return boxes;
        const o = a * stride;
        const obj = out[o + 4];
        if (obj < conf) continue;
        let best = 0;
        let bestScore = -1;
        for (let c = 0; c < classes; c++) {
          const v = out[o + 5 + c];
          if (v > bestScore) {
            bestScore = v;
            best = c;
          }
        }
        const score = obj * bestScore;
        if (score < conf) continue;
        const cx = (out[o] + gx) * s;
        const cy = (out[o + 1] + gy) * s;
        const w = Math.exp(out[o + 2]) * s;
        const h = Math.exp(out[o + 3]) * s;
        boxes.push({ cls: best, score, x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 });
      }
    }
  }
  return boxes;
}

export function decodeUltralytics(out: Float32Array, dims: readonly number[], conf: number): RawBox[] {
  const channels = dims[1];
  const n = dims[2];
  const classes = channels - 4;
  const boxes: RawBox[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestScore = -1;
    for (let c = 0; c < classes; c++) {
      const v = out[(4 + c) * n + i];
      if (v > bestScore) {
        bestScore = v;
        best = c;
      }
    }
    if (bestScore < conf) continue;
    const cx = out[i];
    const cy = out[n + i];
    const w = out[2 * n + i];
    const h = out[3 * n + i];
    boxes.push({ cls: best, score: bestScore, x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 });
  }
  return boxes;
}
