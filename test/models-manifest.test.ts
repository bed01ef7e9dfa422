/**
 * models/manifest.json and model resolution: a missing, truncated or wrong model file is a clear start-up
 * error from createDetector naming the file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDetector } from '../dist/assistant/vision/detector.js';
import { loadConfig } from '../dist/assistant/config.js';
import { expectedOutput, loadManifest, resolveVisionModel, validateManifest } from '../dist/models/manifest.js';
import { REPO, SHARED, VENDORED_MODELS, YOLOX_FILE, tempDir } from './helpers/tmp.js';

const FIX = path.join(REPO, 'test', 'fixtures', 'vision');
const YOLOX = YOLOX_FILE;
const cfg = (over: Record<string, unknown>) => loadConfig([], {}, { visionWorkers: 1, visionThreads: 1, modelsDir: tempDir(), ...over });

async function startupError(over: Record<string, unknown>, opts = {}): Promise<Error> {
  try {
    const d = await createDetector(cfg(over), opts);
    await d.close();
  } catch (e) {
    return e as Error;
  }
  throw new Error('createDetector should have failed');
}

describe('manifest', () => {
  it('describes YOLOX-Nano: official and shared checksums, COCO-80 labels, input and output', () => {
    const m = loadManifest();
    const e = m.models.find((x) => x.name === 'yolox_nano')!;
    expect(e.file).toBe('yolox_nano.onnx');
    expect(e.url).toBe('https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx');
    expect(e.sha256).toContain('695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14');
    expect(e.sha256).toHaveLength(2);
    expect(e).toMatchObject({ format: 'yolox', input: [416, 416], channels: 'bgr', scale: 1, letterbox: 'top-left', pad: 114, licence: 'Apache-2.0' });
    expect(e.labels).toHaveLength(80);
    expect([e.labels[0], e.labels[41], e.labels[60], e.labels[79]]).toEqual(['person', 'cup', 'dining table', 'toothbrush']);
    expect(expectedOutput('yolox', e.input, 80)).toEqual([1, 3549, 85]);
  });

  it('rejects a broken manifest with every problem listed', () => {
    const good = loadManifest().models[0];
    expect(() => validateManifest({ models: [{ ...good, sha256: ['xyz'], input: [416, 400], labels: [] }] })).toThrow(/sha256[\s\S]*input[\s\S]*labels/);
    expect(() => validateManifest({ models: [good, good] })).toThrow(/duplicate/);
    expect(() => validateManifest({})).toThrow(/models/);
  });

  it('resolves the manifest model in modelsDir after checking its structure', async () => {
    const m = await resolveVisionModel(cfg({ modelsDir: VENDORED_MODELS }));
    expect(m).toMatchObject({ name: 'yolox_nano', path: YOLOX, source: 'manifest', format: 'yolox', output: [1, 3549, 85] });
  });
});

describe('clear start-up errors', () => {
  it('names a missing model file and how to get it', async () => {
    const dir = tempDir();
    const e = await startupError({ modelsDir: dir });
    expect(e.name).toBe('ModelError');
    expect(e.message).toContain(path.join(dir, 'yolox_nano.onnx'));
    expect(e.message).toMatch(/missing/);
    expect(e.message).toMatch(/whereabouts models/);
  });

  it('names a truncated model file', async () => {
    const dir = tempDir();
    const bytes = fs.readFileSync(YOLOX);
    fs.writeFileSync(path.join(dir, 'yolox_nano.onnx'), bytes.subarray(0, bytes.length >> 1));
    const e = await startupError({ modelsDir: dir });
    expect(e.message).toContain(path.join(dir, 'yolox_nano.onnx'));
    expect(e.message).toMatch(/truncated/);
  });

  it('names an empty or garbage model file', async () => {
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'yolox_nano.onnx'), '');
    expect((await startupError({ modelsDir: dir })).message).toMatch(/yolox_nano\.onnx is not usable \(the file is empty\)/);
    fs.writeFileSync(path.join(dir, 'yolox_nano.onnx'), fs.readFileSync(path.join(SHARED, 'images', 'rocket.jpg')));
    expect((await startupError({ modelsDir: dir })).message).toMatch(/yolox_nano\.onnx is not usable/);
  });

  it('names a model of the wrong shape', async () => {
    const dir = tempDir();
    fs.copyFileSync(path.join(FIX, 'ultralytics_tiny.onnx'), path.join(dir, 'yolox_nano.onnx'));
    const e = await startupError({ modelsDir: dir });
    expect(e.message).toContain(path.join(dir, 'yolox_nano.onnx'));
    expect(e.message).toMatch(/is not the expected model: its input "images" is \[1, 3, 64, 64\], expected \[1, 3, 416, 416\]/);
  });

  it('explains a user model it cannot use', async () => {
    const bad = path.join(FIX, 'bad_output.onnx');
    expect((await startupError({ visionModel: bad })).message).toMatch(/labels are unknown.*--vision-labels/);
    const labels = path.join(tempDir(), 'labels.txt');
    fs.writeFileSync(labels, 'a\nb\nc\n');
    expect((await startupError({ visionModel: bad, visionLabels: labels })).message).toMatch(/cannot tell its format from output \[1, 10\] and 3 labels/);
    fs.writeFileSync(labels, 'a\nb\nc\nd\n');
    expect((await startupError({ visionModel: path.join(FIX, 'ultralytics_tiny.onnx'), visionLabels: labels })).message).toMatch(/cannot tell its format/);
    expect((await startupError({ visionModel: '/nonexistent/model.onnx' })).message).toMatch(/\/nonexistent\/model\.onnx is missing/);
    expect((await startupError({ visionModel: 'no_such_model' })).message).toMatch(/unknown detection model "no_such_model"/);
  });

  it('reports a model onnxruntime cannot load as a start-up error', async () => {
    // right shapes and names, but an operator onnxruntime does not know: it fails inside the worker
    const file = path.join(FIX, 'unknown_op.onnx');
    const e = await startupError({ visionModel: file });
    expect(e.name).toBe('ModelError');
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/cannot be started: onnxruntime cannot load/);
    expect(e.message).toMatch(/NoSuchOp/);
  });
});
