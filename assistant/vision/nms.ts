/** Class-aware non-maximum suppression and IoU helpers. */
import type { Box } from '../../store/types.js';

/** A detection in model-input pixels: corners (x1, y1) top-left, (x2, y2) bottom-right. */
export interface RawBox {
  cls: number;
  score: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/** IoU of two corner boxes. */
export function iouCorners(a: RawBox, b: RawBox): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/** IoU of two {x, y, w, h} boxes (x, y the top-left corner), e.g. normalised sighting boxes. */
export function boxIou(a: Box, b: Box): number {
  const w = Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = a.w * a.h + b.w * b.h - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy NMS per class: keeps the best-scoring box and drops every box of the same class overlapping a kept
 * one by more than `iouThreshold`. Returns at most `maxDetections` boxes, best first.
 */
export function nms(boxes: RawBox[], iouThreshold: number, maxDetections = 100): RawBox[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score);
  const kept: RawBox[] = [];
  for (const b of sorted) {
    if (kept.length >= maxDetections) break;
    let ok = true;
    for (const k of kept) {
      if (k.cls === b.cls && iouCorners(k, b) > iouThreshold) {
        ok = false;
        break;
      }
    }
    if (ok) kept.push(b);
  }
  return kept;
}
