/**
 * Inference worker (one per pool slot): loads the ONNX model once, checks it with a warm-up run, then per job
 * converts the letterboxed RGB bytes to the model's tensor, runs the session (which blocks this thread, not
 * the server's), decodes the output and applies NMS. Speaks the pool protocol (pool.ts).
 */
import { niceThisThread } from '../thread-priority.js';
import { parentPort, workerData } from 'node:worker_threads';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { decodeUltralytics, decodeYolox } from './decode.js';
import { nms, type RawBox } from './nms.js';
import { toChw } from './tensor.js';

export interface VisionWorkerInit {
  modelPath: string;
  threads: number;
  format: 'yolox' | 'ultralytics';
  /** [width, height] */
  input: [number, number];
  channels: 'rgb' | 'bgr';
  scale: number;
  strides: number[];
  /** the output shape the decoder expects */
  output: number[];
  conf: number;
  iou: number;
  maxDetections: number;
  /**
   * niceness of this thread (Linux: per thread; onnxruntime's own threads inherit it): inference yields the
   * CPU to the server's event loop. 0 leaves it alone.
   */
  nice: number;
}

export interface VisionJob {
  /** letterboxed interleaved RGB, input width x height x 3 */
  pixels: Uint8Array;
}

export interface VisionResult {
  boxes: RawBox[];
  inference_ms: number;
  postprocess_ms: number;
}

export interface VisionReadyInfo {
  inputName: string;
  outputName: string;
  outputDims: number[];
  warmup_ms: number;
}

const init = workerData as VisionWorkerInit;
const port = parentPort!;
const [W, H] = init.input;
const tensorData = new Float32Array(3 * W * H);

function decode(out: Float32Array, dims: readonly number[]): RawBox[] {
  const raw = init.format === 'yolox' ? decodeYolox(out, dims, init.input, init.strides, init.conf) : decodeUltralytics(out, dims, init.conf);
  return nms(raw, init.iou, init.maxDetections);
}

async function main(): Promise<void> {
  niceThisThread(init.nice);
  let session: InferenceSession;
  try {
    session = await InferenceSession.create(init.modelPath, {
      intraOpNumThreads: Math.max(1, init.threads),
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
  } catch (e) {
    port.postMessage({ type: 'fatal', message: `onnxruntime cannot load ${init.modelPath}: ${(e as Error).message}` });
    return;
  }
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const shape = [1, 3, H, W];
  let outputDims: number[];
  const t0 = performance.now();
  try {
    const res = await session.run({ [inputName]: new Tensor('float32', tensorData, shape) });
    outputDims = [...res[outputName].dims];
  } catch (e) {
    port.postMessage({ type: 'fatal', message: `${init.modelPath}: a test inference failed: ${(e as Error).message}` });
    return;
  }
  if (outputDims.length !== init.output.length || outputDims.some((d, i) => d !== init.output[i])) {
    port.postMessage({ type: 'fatal', message: `${init.modelPath}: the model's output is [${outputDims.join(', ')}], expected [${init.output.join(', ')}]` });
    return;
  }
  const info: VisionReadyInfo = { inputName, outputName, outputDims, warmup_ms: performance.now() - t0 };

  port.on('message', async (m: { type: string; id: number; job: VisionJob }) => {
    if (m?.type !== 'job') return;
    try {
      toChw(m.job.pixels, W, H, init.channels, init.scale, tensorData);
      const t1 = performance.now();
      const res = await session.run({ [inputName]: new Tensor('float32', tensorData, shape) });
      const t2 = performance.now();
      const out = res[outputName];
      const boxes = decode(out.data as Float32Array, out.dims);
      const result: VisionResult = { boxes, inference_ms: t2 - t1, postprocess_ms: performance.now() - t2 };
      port.postMessage({ type: 'result', id: m.id, result });
    } catch (e) {
      port.postMessage({ type: 'error', id: m.id, message: `inference failed: ${(e as Error).message}` });
    }
  });
  port.postMessage({ type: 'ready', info });
}

void main();
