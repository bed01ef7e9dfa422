/**
 * Decoders, NMS and letterbox geometry; the Ultralytics path end to end with a tiny committed test model
 * (test/fixtures/vision/ultralytics_tiny.onnx, made by make_models.py: a constant [1, 7, 84] output).
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createDetector } from '../dist/assistant/vision/detector.js';
import { decodeUltralytics, decodeYolox } from '../dist/assistant/vision/decode.js';
import { boxIou, nms } from '../dist/assistant/vision/nms.js';
import { letterboxGeometry } from '../dist/assistant/vision/preprocess.js';
import { toChw } from '../dist/assistant/vision/tensor.js';
import { loadConfig } from '../dist/assistant/config.js';
import { parseNamesMetadata } from '../dist/models/manifest.js';
import { readOnnxInfo } from '../dist/models/onnx.js';
import { REPO, tempDir } from './helpers/tmp.js';

const FIX = path.join(REPO, 'test', 'fixtures', 'vision');
const TINY = path.join(FIX, 'ultralytics_tiny.onnx');
const cfg = (over: Record<string, unknown>) => loadConfig([], {}, { visionWorkers: 1, visionThreads: 1, modelsDir: tempDir(), ...over });

describe('YOLOX decode', () => {
  it('decodes grid-relative boxes with strides 8/16/32 and objectness x class score', () => {
    const input: [number, number] = [64, 64];
    const anchors = 8 * 8 + 4 * 4 + 2 * 2;
    const C = 3;
    const out = new Float32Array(anchors * (5 + C));
    const set = (a: number, v: number[]) => out.set(v, a * (5 + C));
    // stride 8, cell (gx 2, gy 3): cx = (0.5 + 2) * 8 = 20, cy = (0.5 + 3) * 8 = 28, w = 2 * 8, h = 4 * 8
    set(3 * 8 + 2, [0.5, 0.5, Math.log(2), Math.log(4), 0.8, 0.1, 0.9, 0.2]);
    // stride 16, cell (1, 1): cx = 1.25 * 16 = 20, cy = 24; objectness too low
    set(64 + 4 + 1, [0.25, 0.5, 0, 0, 0.2, 0.99, 0, 0]);
    // stride 32, cell (1, 0): cx = (0 + 1) * 32 = 32, cy = 0.5 * 32 = 16, w = h = 32
    set(64 + 16 + 1, [0, 0.5, 0, 0, 0.9, 0, 0, 0.7]);
    const boxes = decodeYolox(out, [1, anchors, 5 + C], input, [8, 16, 32], 0.35);
    expect(boxes).toHaveLength(2);
    const [a, b] = boxes;
    expect(a.cls).toBe(1);
    expect(a.score).toBeCloseTo(0.72, 5);
    expect([a.x1, a.y1, a.x2, a.y2].map((v) => +v.toFixed(4))).toEqual([12, 12, 28, 44]);
    expect(b.cls).toBe(2);
    expect(b.score).toBeCloseTo(0.63, 5);
    expect([b.x1, b.y1, b.x2, b.y2].map((v) => +v.toFixed(4))).toEqual([16, 0, 48, 32]);
  });

  it('decodes Ultralytics [1, 4+C, N] boxes (centre, size in input pixels; no objectness)', () => {
    const N = 3;
    const out = new Float32Array((4 + 2) * N);
    const put = (i: number, v: number[]) => v.forEach((x, c) => (out[c * N + i] = x));
    put(0, [10, 20, 4, 8, 0.1, 0.9]);
    put(1, [30, 30, 10, 10, 0.3, 0.2]);
    put(2, [50, 40, 2, 2, 0.5, 0.4]);
    const boxes = decodeUltralytics(out, [1, 6, N], 0.35);
    expect(boxes.map((b) => [b.cls, +b.score.toFixed(2), b.x1, b.y1, b.x2, b.y2])).toEqual([
      [1, 0.9, 8, 16, 12, 24],
      [0, 0.5, 49, 39, 51, 41],
    ]);
  });
});

describe('NMS and geometry', () => {
  it('suppresses overlaps within a class only, best first', () => {
    const b = (cls: number, score: number, x1: number) => ({ cls, score, x1, y1: 0, x2: x1 + 10, y2: 10 });
    const kept = nms([b(0, 0.5, 1), b(0, 0.9, 0), b(1, 0.8, 0), b(0, 0.4, 30)], 0.45);
    expect(kept.map((k) => [k.cls, k.score])).toEqual([
      [0, 0.9],
      [1, 0.8],
      [0, 0.4],
    ]);
    expect(nms([b(0, 0.9, 0), b(0, 0.8, 1)], 0.95)).toHaveLength(2);
    expect(nms(Array.from({ length: 10 }, (_, i) => b(i, 0.5, 0)), 0.5, 4)).toHaveLength(4);
  });

  it('computes IoU of normalised boxes', () => {
    expect(boxIou({ x: 0, y: 0, w: 0.5, h: 0.5 }, { x: 0, y: 0, w: 0.5, h: 0.5 })).toBeCloseTo(1);
    expect(boxIou({ x: 0, y: 0, w: 0.5, h: 0.5 }, { x: 0.25, y: 0, w: 0.5, h: 0.5 })).toBeCloseTo(1 / 3);
    expect(boxIou({ x: 0, y: 0, w: 0.2, h: 0.2 }, { x: 0.5, y: 0.5, w: 0.2, h: 0.2 })).toBe(0);
  });

  it('letterboxes top-left or centred, keeping the aspect ratio', () => {
    expect(letterboxGeometry(600, 400, { input: [416, 416], align: 'top-left' })).toEqual({ x: 0, y: 0, w: 416, h: 277 });
    expect(letterboxGeometry(128, 64, { input: [64, 64], align: 'center' })).toEqual({ x: 0, y: 16, w: 64, h: 32 });
    expect(letterboxGeometry(20, 100, { input: [64, 64], align: 'center' })).toEqual({ x: 25, y: 0, w: 13, h: 64 });
    expect(letterboxGeometry(10000, 1, { input: [64, 64], align: 'top-left' }).h).toBe(1);
  });

  it('converts interleaved RGB to planar BGR or RGB, scaled', () => {
    const rgb = new Uint8Array([10, 20, 30, 40, 50, 60]);
    expect([...toChw(rgb, 2, 1, 'bgr', 1)]).toEqual([30, 60, 20, 50, 10, 40]);
    expect([...toChw(rgb, 2, 1, 'rgb', 0.5)]).toEqual([5, 20, 10, 25, 15, 30]);
  });
});

describe('labels from ONNX metadata', () => {
  it('parses Ultralytics names', () => {
    expect(parseNamesMetadata("{0: 'keys', 1: 'wallet', 2: 'glasses'}")).toEqual(['keys', 'wallet', 'glasses']);
    expect(parseNamesMetadata(`{0: "car key", 1: 'it\\'s', 2: 'tv'}`)).toEqual(['car key', "it's", 'tv']);
    expect(parseNamesMetadata('["a", "b"]')).toEqual(['a', 'b']);
    expect(parseNamesMetadata("{0: 'a', 2: 'c'}")).toBeNull();
    expect(parseNamesMetadata('')).toBeNull();
    expect(parseNamesMetadata(undefined)).toBeNull();
  });

  it('reads metadata_props and shapes from the ONNX file', async () => {
    const info = await readOnnxInfo(TINY);
    expect(info.metadata.names).toBe("{0: 'keys', 1: 'wallet', 2: 'glasses'}");
    expect(info.metadata.imgsz).toBe('[64, 64]');
    expect(info.inputs).toEqual([{ name: 'images', elemType: 1, dims: [1, 3, 64, 64] }]);
    expect(info.outputs[0].dims).toEqual([1, 7, 84]);
  });
});

describe('Ultralytics model end to end', () => {
  it('detects with labels from the model metadata and boxes mapped to the original image', async () => {
    const det = await createDetector(cfg({ visionModel: TINY }));
    try {
      expect(det.labels).toEqual(['keys', 'wallet', 'glasses']);
      expect(det.modelName).toBe('ultralytics_tiny');
      expect(det.model.format).toBe('ultralytics');
      // 128 x 64 -> 64 x 32 centred in the 64 x 64 input (16 px padding above)
      const img = await sharp({ create: { width: 128, height: 64, channels: 3, background: '#336699' } }).png().toBuffer();
      const r = await det.detect(img);
      expect([r.width, r.height]).toEqual([128, 64]);
      const got = r.detections.map((d) => [d.label, +d.score.toFixed(2), ...[d.box.x, d.box.y, d.box.w, d.box.h].map((v) => +v.toFixed(4))]);
      expect(got).toEqual([
        // keys 0.9 at cx 20, cy 30, 16 x 20 (the 0.8 duplicate is suppressed)
        ['keys', 0.9, 0.1875, 0.125, 0.25, 0.625],
        // the same box as wallet is kept: NMS is per class
        ['wallet', 0.7, 0.1875, 0.125, 0.25, 0.625],
        // glasses 0.6 at cx 48, cy 20, 8 x 8 (glasses 0.2 is below the threshold)
        ['glasses', 0.6, 0.6875, 0, 0.125, 0.25],
      ]);
    } finally {
      await det.close();
    }
  });

  it('takes labels from --vision-labels when given', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'labels.txt');
    fs.writeFileSync(file, 'house keys\r\nwallet\n\nreading glasses\n');
    const det = await createDetector(cfg({ visionModel: TINY, visionLabels: file }));
    try {
      expect(det.labels).toEqual(['house keys', 'wallet', 'reading glasses']);
    } finally {
      await det.close();
    }
  });
});
