/**
 * The object detector: sharp preprocessing on the main thread (asynchronous, in libvips threads), inference,
 * decoding and NMS in a worker_threads pool (onnxruntime's session.run blocks its thread).
 *
 *   const detector = await createDetector(config);   // rejects with ModelError on a missing/bad model
 *   const { detections, snapshot } = await detector.detect(jpegBytes);
 */
import type { Config } from '../config.js';
import type { Detection } from '../../store/types.js';
import { AppError } from '../errors.js';
import { ModelError, resolveVisionModel, type VisionModel } from '../../models/manifest.js';
import { WorkerPool, type PoolStats } from './pool.js';
import { decodeImage, letterbox, snapshotJpeg, SNAPSHOT_MAX_SIDE, type Letterbox } from './preprocess.js';
import type { RawBox } from './nms.js';
import type { VisionJob, VisionResult, VisionWorkerInit } from './worker.js';

export interface DetectTimings {
  decode_ms: number;
  letterbox_ms: number;
  inference_ms: number;
  postprocess_ms: number;
}

export interface DetectResult {
  /** size of the original image after EXIF orientation */
  width: number;
  height: number;
  /** best first; boxes normalised to the original image (x, y top-left; 0..1) */
  detections: Detection[];
  /** JPEG, longest side <= 640 px */
  snapshot: Buffer;
  timings: DetectTimings;
}

export interface Detector {
  labels: string[];
  modelName: string;
  model: VisionModel;
  detect(image: Buffer): Promise<DetectResult>;
  /** the inference pool right now: workers running, busy, frames waiting */
  stats(): PoolStats;
  close(): Promise<void>;
}

export type DetectorConfig = Pick<
  Config,
  'visionModel' | 'visionLabels' | 'modelsDir' | 'visionWorkers' | 'visionThreads' | 'confThreshold' | 'iouThreshold' | 'maxImagePixels'
>;

export interface DetectorOptions {
  /** inference workers started up front (default 1; the pool grows to config.visionWorkers under load) */
  initialWorkers?: number;
  /** the worker module (tests may substitute one) */
  workerFile?: URL;
  /** per-job time limit before a worker is replaced (default 30 s) */
  jobTimeoutMs?: number;
  maxDetections?: number;
  /** frames waiting for their turn before detect() fails with `busy` (default 32 per worker) */
  maxQueue?: number;
  /** niceness of the inference threads on Linux (default 10: the event loop goes first; 0: unchanged) */
  workerNice?: number;
}

/** Runs at most `n` tasks at a time; with `maxWaiting` already waiting, fails with `busy`. */
function limiter(n: number, maxWaiting: number) {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (active >= n) {
      if (waiting.length >= maxWaiting) throw new AppError('busy', 'the detector is busy, try again shortly', { headers: { 'retry-after': '1' } });
      await new Promise<void>((resolve) => waiting.push(resolve)); // the finishing task hands its slot over
    } else active++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}

const round = (n: number) => Math.round(n * 100) / 100;
const clamp01 = (n: number) => Math.min(1, Math.max(0, n));

/** Maps a box in model-input pixels back to the original image, normalised. */
export function toDetection(b: RawBox, box: Letterbox, labels: readonly string[]): Detection {
  const x1 = clamp01((b.x1 - box.x) / box.w);
  const y1 = clamp01((b.y1 - box.y) / box.h);
  const x2 = clamp01((b.x2 - box.x) / box.w);
  const y2 = clamp01((b.y2 - box.y) / box.h);
  return { label: labels[b.cls] ?? `class_${b.cls}`, score: b.score, box: { x: x1, y: y1, w: x2 - x1, h: y2 - y1 } };
}

/** Resolves and checks the configured model, starts the worker pool and returns the detector. */
export async function createDetector(config: DetectorConfig, opts: DetectorOptions = {}): Promise<Detector> {
  const model = await resolveVisionModel(config);
  const init: VisionWorkerInit = {
    modelPath: model.path,
    threads: Math.max(1, Math.floor(config.visionThreads) || 1),
    format: model.format,
    input: model.input,
    channels: model.channels,
    scale: model.scale,
    strides: model.strides,
    output: model.output,
    conf: config.confThreshold,
    iou: config.iouThreshold,
    maxDetections: opts.maxDetections ?? 100,
    nice: opts.workerNice ?? 10,
  };
  const workers = Math.max(1, Math.floor(config.visionWorkers) || 1);
  let pool: WorkerPool<VisionJob, VisionResult>;
  try {
    pool = await WorkerPool.start<VisionJob, VisionResult>({
      file: opts.workerFile ?? new URL('./worker.js', import.meta.url),
      workerData: init,
      size: workers,
      // one worker while idle; more join while frames wait (each holds the model and its own heap)
      initial: opts.initialWorkers ?? 1,
      name: 'vision',
      jobTimeoutMs: opts.jobTimeoutMs,
    });
  } catch (e) {
    throw new ModelError(`detection model "${model.name}" (${model.path}) cannot be started: ${(e as Error).message}`, { cause: e });
  }
  const workingSide = Math.max(SNAPSHOT_MAX_SIDE, model.input[0], model.input[1]);
  const lbOpts = { input: model.input, align: model.letterbox, pad: model.pad } as const;
  // a burst of frames decodes a few at a time (bounded memory and CPU), overlapping with inference
  const preprocessing = limiter(workers, opts.maxQueue ?? 32 * workers);

  async function detect(image: Buffer): Promise<DetectResult> {
    if (!((image as unknown) instanceof Uint8Array)) throw new AppError('bad_image', 'the image must be bytes');
    const bytes = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
    const { img, pixels, box, t0, t1, t2 } = await preprocessing(async () => {
      const t0 = performance.now();
      const img = await decodeImage(bytes, config.maxImagePixels, workingSide);
      const t1 = performance.now();
      const { pixels, box } = await letterbox(img, lbOpts);
      return { img, pixels, box, t0, t1, t2: performance.now() };
    });
    // the snapshot is encoded while the worker runs the model
    const snapshotP = snapshotJpeg(img);
    snapshotP.catch(() => {});
    const job = new Uint8Array(pixels); // an own ArrayBuffer to transfer (a copy: fast, unlike .set() from a Buffer)
    const res = await pool.run({ pixels: job }, [job.buffer]);
    const t3 = performance.now();
    const detections = res.boxes.map((b) => toDetection(b, box, model.labels)).filter((d) => d.box.w > 0 && d.box.h > 0);
    const t4 = performance.now();
    const snapshot = await snapshotP;
    return {
      width: img.info.width,
      height: img.info.height,
      detections,
      snapshot,
      timings: {
        decode_ms: round(t1 - t0),
        letterbox_ms: round(t2 - t1),
        inference_ms: round(res.inference_ms),
        postprocess_ms: round(res.postprocess_ms + (t4 - t3)),
      },
    };
  }

  return {
    labels: model.labels,
    modelName: model.name,
    model,
    detect,
    stats: () => pool.stats,
    close: () => pool.close(),
  };
}
