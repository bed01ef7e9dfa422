/**
 * Worker thread for the Flite engine: compiles flite.wasm once, keeps one instance prepared, and turns
 * `{ id, text, voice, stretch }` requests into 16 kHz s16le PCM (transferred back as an ArrayBuffer).
 * Requests are handled one at a time in arrival order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { compileFlite, prepareFlite, type PreparedFlite } from './flite-wasi.js';
import { parseWav } from '../../protocol/wav.js';
import { resampleS16le } from '../../protocol/pcm.js';

export interface FliteRequest {
  id: number;
  text: string;
  voice: string;
  /** duration stretch (1 = normal, >1 slower) */
  stretch: number;
}
export type FliteReply =
  | { type: 'ready' }
  | { type: 'error'; id: number | null; message: string }
  | { type: 'audio'; id: number; pcm: ArrayBuffer; sampleRate: number; synthMs: number };

const OUT_RATE: number = (workerData as { sampleRate: number }).sampleRate;
const port = parentPort!;

const module = await compileFlite((workerData as { wasmPath: string }).wasmPath);
let spare: PreparedFlite | null = prepareFlite(module);
const queue: FliteRequest[] = [];
let busy = false;

function take(): PreparedFlite {
  const p = spare ?? prepareFlite(module);
  spare = null;
  return p;
}

function handle(req: FliteRequest): void {
  const t0 = performance.now();
  const stretch = req.stretch === 1 ? [] : ['--setf', `duration_stretch=${req.stretch}`]; // 1: keep the voice's own
  const r = take().run(['-voice', req.voice, ...stretch, '-t', req.text, '-o', '/out.wav']);
  const wav = r.files.get('/out.wav');
  if (r.exitCode !== 0 || !wav) throw new Error(`flite exited with ${r.exitCode}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`);
  const w = parseWav(wav);
  const pcm = w.sampleRate === OUT_RATE ? Buffer.from(w.data) : resampleS16le(w.data, w.sampleRate, OUT_RATE);
  const ab = pcm.buffer.slice(pcm.byteOffset, pcm.byteOffset + pcm.byteLength) as ArrayBuffer;
  const msg: FliteReply = { type: 'audio', id: req.id, pcm: ab, sampleRate: OUT_RATE, synthMs: performance.now() - t0 };
  port.postMessage(msg, [ab]);
}

function pump(): void {
  if (busy) return;
  const req = queue.shift();
  if (!req) {
    // idle: get the next instance ready off the critical path
    if (!spare) spare = prepareFlite(module);
    return;
  }
  busy = true;
  try {
    handle(req);
  } catch (e) {
    port.postMessage({ type: 'error', id: req.id, message: e instanceof Error ? e.message : String(e) } satisfies FliteReply);
  } finally {
    busy = false;
  }
  setImmediate(pump);
}

port.on('message', (req: FliteRequest) => {
  queue.push(req);
  setImmediate(pump);
});
port.postMessage({ type: 'ready' } satisfies FliteReply);
