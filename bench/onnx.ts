/**
 * CPU-side yardsticks for the detector: the single-thread peak of onnxruntime's own GEMM (a one-node
 * MatMul model built here, no file needed), the detection model's FLOPs (counted from onnxruntime's
 * profile: every Conv's output shape x kernel volume), and inference alone per frame.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { summarize, type Summary } from './util.js';

// ---- a minimal protobuf writer, enough for a ModelProto with one MatMul node ----------------------------

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const key = (field: number, wire: number) => varint((field << 3) | wire);
const vField = (field: number, n: number) => [...key(field, 0), ...varint(n)];
const bField = (field: number, bytes: number[]) => [...key(field, 2), ...varint(bytes.length), ...bytes];
const sField = (field: number, s: string) => bField(field, [...Buffer.from(s, 'utf8')]);

function valueInfo(name: string, dims: number[]): number[] {
  const shape = dims.flatMap((d) => bField(1, vField(1, d))); // TensorShapeProto.dim { dim_value }
  const tensorType = [...vField(1, 1 /* FLOAT */), ...bField(2, shape)];
  return [...sField(1, name), ...bField(2, bField(1, tensorType))]; // ValueInfoProto { name, type { tensor_type } }
}

/** ONNX bytes of C = A x B with A [m,k], B [k,n] */
export function matmulModel(m: number, k: number, n: number): Uint8Array {
  const node = [...sField(1, 'A'), ...sField(1, 'B'), ...sField(2, 'C'), ...sField(3, 'mm'), ...sField(4, 'MatMul')];
  const graph = [...bField(1, node), ...sField(2, 'peak'), ...bField(11, valueInfo('A', [m, k])), ...bField(11, valueInfo('B', [k, n])), ...bField(12, valueInfo('C', [m, n]))];
  const opset = [...sField(1, ''), ...vField(2, 13)];
  return Uint8Array.from([...vField(1, 7 /* ir_version */), ...bField(8, opset), ...bField(7, graph)]);
}

/** best-of GFLOPS of one-thread SGEMM (onnxruntime MLAS), n x n x n */
export async function peakGflops(opts: { n?: number; seconds?: number } = {}): Promise<{ gflops: number; n: number; runs: number }> {
  const n = opts.n ?? 512;
  const s = await ort.InferenceSession.create(matmulModel(n, n, n), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const a = new ort.Tensor('float32', Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000), [n, n]);
  const b = new ort.Tensor('float32', Float32Array.from({ length: n * n }, (_, i) => ((i * 104729) % 1000) / 1000), [n, n]);
  const flop = 2 * n * n * n;
  let best = Infinity;
  let runs = 0;
  const until = performance.now() + (opts.seconds ?? 2) * 1000;
  for (let i = 0; i < 3; i++) await s.run({ A: a, B: b });
  while (performance.now() < until || runs < 5) {
    const t = performance.now();
    await s.run({ A: a, B: b });
    best = Math.min(best, performance.now() - t);
    runs++;
  }
  await s.release();
  return { gflops: flop / (best / 1000) / 1e9, n, runs };
}

/** FLOPs of one inference (2 x multiply-adds of every Conv / MatMul / Gemm), from an onnxruntime profile */
export async function modelFlops(modelFile: string, input: { name?: string; dims: number[] }): Promise<{ gflops: number; convs: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-prof-'));
  try {
    const s = await ort.InferenceSession.create(modelFile, {
      enableProfiling: true,
      profileFilePrefix: path.join(dir, 'p'),
      intraOpNumThreads: 1,
      graphOptimizationLevel: 'disabled',
    });
    const size = input.dims.reduce((a, b) => a * b, 1);
    await s.run({ [input.name ?? s.inputNames[0]]: new ort.Tensor('float32', new Float32Array(size), input.dims) });
    s.endProfiling();
    await s.release();
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('onnxruntime wrote no profile');
    const events = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Array<{
      cat: string;
      name: string;
      args?: { op_name?: string; input_type_shape?: Array<Record<string, number[]>>; output_type_shape?: Array<Record<string, number[]>> };
    }>;
    let macs = 0;
    let convs = 0;
    const dims = (x: Record<string, number[]> | undefined) => (x ? Object.values(x)[0] : []);
    const prod = (d: number[]) => d.reduce((a, b) => a * b, 1);
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || !e.args?.op_name) continue;
      const op = e.args.op_name;
      const ins = e.args.input_type_shape ?? [];
      const outs = e.args.output_type_shape ?? [];
      if (op === 'Conv' || op === 'FusedConv') {
        const w = dims(ins[1]); // [Cout, Cin/group, kh, kw]
        macs += prod(dims(outs[0])) * prod(w.slice(1));
        convs++;
      } else if (op === 'MatMul' || op === 'Gemm') {
        const a = dims(ins[0]);
        macs += prod(dims(outs[0])) * a[a.length - 1];
      }
    }
    return { gflops: (2 * macs) / 1e9, convs };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** inference alone (session.run on a ready tensor, one intra-op thread like a vision worker), ms per frame */
export async function inferenceAlone(modelFile: string, dims: number[], runs: number, threads = 1): Promise<Summary> {
  const s = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const size = dims.reduce((a, b) => a * b, 1);
  const x = new ort.Tensor('float32', Float32Array.from({ length: size }, (_, i) => (i * 31) % 255), dims);
  const feeds = { [s.inputNames[0]]: x };
  for (let i = 0; i < 3; i++) await s.run(feeds);
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await s.run(feeds);
    ms.push(performance.now() - t);
  }
  await s.release();
  return summarize(ms);
}
