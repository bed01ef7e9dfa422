/**
 * The detector with the real YOLOX-Nano model (models/vendor/) on real photographs (../shared/images).
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDetector, type Detector } from '../dist/assistant/vision/detector.js';
import { loadConfig } from '../dist/assistant/config.js';
import { SHARED, VENDORED_MODELS } from './helpers/tmp.js';
import { exifRotatedJpeg, hugePng, truncatedJpeg } from './fixtures/vision/images.js';

const image = (name: string) => fs.readFileSync(path.join(SHARED, 'images', name));
const config = loadConfig([], {}, { modelsDir: VENDORED_MODELS, visionModel: 'yolox_nano', visionWorkers: 2, visionThreads: 1 });

/** COCO labels of things found in a home (backpack .. toothbrush) */
const HOUSEHOLD_FROM = 'backpack';

let detector: Detector;
beforeAll(async () => {
  detector = await createDetector(config);
});
afterAll(async () => {
  await detector?.close();
});

async function rejection(p: Promise<unknown>): Promise<{ code: string; statusCode: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; statusCode: number; message: string };
  }
  throw new Error('expected a rejection');
}

describe('detector on real photos', () => {
  it('finds the cup and the table in coffee.png, the cup where it is', async () => {
    const r = await detector.detect(image('coffee.png'));
    expect(r.width).toBe(600);
    expect(r.height).toBe(400);
    const cup = r.detections.find((d) => d.label === 'cup');
    const table = r.detections.find((d) => d.label === 'dining table');
    expect(cup, JSON.stringify(r.detections)).toBeDefined();
    expect(table).toBeDefined();
    expect(cup!.score).toBeGreaterThan(0.8);
    expect(table!.score).toBeGreaterThan(0.5);
    // the cup (without its saucer) spans about x 170..410 px, y 15..300 px of the 600 x 400 photo
    const cx = cup!.box.x + cup!.box.w / 2;
    const cy = cup!.box.y + cup!.box.h / 2;
    expect(cx).toBeGreaterThan(0.4);
    expect(cx).toBeLessThan(0.58);
    expect(cy).toBeGreaterThan(0.25);
    expect(cy).toBeLessThan(0.5);
    expect(cup!.box.w).toBeGreaterThan(0.3);
    expect(cup!.box.w).toBeLessThan(0.55);
    for (const d of r.detections) {
      for (const v of [d.box.x, d.box.y, d.box.w, d.box.h]) expect(v >= 0 && v <= 1).toBe(true);
      expect(d.box.x + d.box.w).toBeLessThanOrEqual(1 + 1e-9);
      expect(d.box.y + d.box.h).toBeLessThanOrEqual(1 + 1e-9);
    }
    // a JPEG snapshot, longest side <= 640
    expect(r.snapshot.subarray(0, 2).toString('hex')).toBe('ffd8');
    const snap = await sharp(r.snapshot).metadata();
    expect(Math.max(snap.width!, snap.height!)).toBeLessThanOrEqual(640);
    expect(snap.width! / snap.height!).toBeCloseTo(1.5, 1);
    for (const k of ['decode_ms', 'letterbox_ms', 'inference_ms', 'postprocess_ms'] as const) expect(r.timings[k]).toBeGreaterThanOrEqual(0);
    expect(r.timings.inference_ms).toBeGreaterThan(0);
  });

  it('sees a cat in chelsea.png and a person in astronaut.png', async () => {
    const [cat, person] = await Promise.all([detector.detect(image('chelsea.png')), detector.detect(image('astronaut.png'))]);
    expect(cat.detections.map((d) => d.label)).toContain('cat');
    expect(person.detections.map((d) => d.label)).toContain('person');
    expect(person.detections.find((d) => d.label === 'person')!.score).toBeGreaterThan(0.7);
  });

  it('sees no household object in rocket.jpg', async () => {
    const r = await detector.detect(image('rocket.jpg'));
    const household = new Set(detector.labels.slice(detector.labels.indexOf(HOUSEHOLD_FROM)));
    expect(r.detections.filter((d) => household.has(d.label))).toEqual([]);
  });

  it('auto-orients an EXIF-rotated JPEG', async () => {
    const rotated = await exifRotatedJpeg(image('coffee.png'));
    const raw = await sharp(rotated).metadata();
    expect([raw.width, raw.height, raw.orientation]).toEqual([400, 600, 6]);
    const r = await detector.detect(rotated);
    expect([r.width, r.height]).toEqual([600, 400]);
    const cup = r.detections.find((d) => d.label === 'cup');
    expect(cup).toBeDefined();
    const cx = cup!.box.x + cup!.box.w / 2;
    const cy = cup!.box.y + cup!.box.h / 2;
    expect(cx).toBeGreaterThan(0.4);
    expect(cx).toBeLessThan(0.58);
    expect(cy).toBeGreaterThan(0.25);
    expect(cy).toBeLessThan(0.5);
    const snap = await sharp(r.snapshot).metadata();
    expect(snap.width!).toBeGreaterThan(snap.height!);
  });

  it('handles greyscale and transparent images', async () => {
    const grey = await sharp(image('coffee.png')).greyscale().png().toBuffer();
    const rgba = await sharp(image('coffee.png')).ensureAlpha(0.5).webp().toBuffer();
    for (const img of [grey, rgba]) {
      const r = await detector.detect(img);
      expect(r.detections.map((d) => d.label)).toContain('cup');
    }
  });
});

describe('detector on bad input', () => {
  it('refuses non-image bytes, a truncated JPEG, an empty buffer and SVG with bad_image (422)', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64"/></svg>');
    for (const bytes of [Buffer.from('this is not an image at all'), await truncatedJpeg(image('coffee.png')), Buffer.alloc(0), svg]) {
      const e = await rejection(detector.detect(bytes));
      expect(e.code, e.message).toBe('bad_image');
      expect(e.statusCode).toBe(422);
    }
  });

  it('refuses a 20000x20000 image with payload_too_large (413) without decoding it', async () => {
    const png = hugePng(20000, 20000);
    const before = process.memoryUsage().rss;
    const t = performance.now();
    const e = await rejection(detector.detect(png));
    expect(e.code).toBe('payload_too_large');
    expect(e.statusCode).toBe(413);
    expect(performance.now() - t).toBeLessThan(1000);
    expect(process.memoryUsage().rss - before).toBeLessThan(200e6);
  });

  it('refuses frames beyond its queue with busy (503)', async () => {
    const small = await createDetector({ ...config, visionWorkers: 1 }, { maxQueue: 1 });
    try {
      const settled = await Promise.allSettled(Array.from({ length: 4 }, () => small.detect(image('coffee.png'))));
      expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected']);
      const e = (settled[2] as PromiseRejectedResult).reason;
      expect([e.code, e.statusCode]).toEqual(['busy', 503]);
    } finally {
      await small.close();
    }
  });

  it('still works after bad input', async () => {
    const r = await detector.detect(image('coffee.png'));
    expect(r.detections.map((d) => d.label)).toContain('cup');
  });
});
