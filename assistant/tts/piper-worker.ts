/**
 * Worker thread for the Piper engine: holds espeak-ng (WebAssembly) and the voice's onnxruntime session, and
 * turns one piece of text at a time into s16le PCM at the requested rate:
 *   text -> espeak-ng IPA -> phoneme ids (Piper's conventions, piper-voice.ts) -> VITS -> float -> gain -> resample.
 * The main thread (piper.ts) owns the queue and hands each worker one piece at a time, so what runs next is
 * decided there; requests that do arrive together are handled in arrival order. `session.run` blocks this
 * thread, never the server's.
 */
import { parentPort, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { Resampler } from '../../protocol/pcm.js';
import { loadEspeak } from './espeak-wasm.js';
import { trimMalloc } from '../malloc.js';
import { niceThisThread } from '../thread-priority.js';
import { phonemesToIds, piecePhonemes, readVoiceConfig, type Terminator } from './piper-voice.js';

export interface PiperWorkerData {
  modelPath: string;
  configPath: string;
  /** onnxruntime intra-op threads */
  threads: number;
  /** let onnxruntime's pool threads spin while waiting (faster on an idle machine, CPU taken from others) */
  spin?: boolean;
  /**
   * the nice value of this worker's threads (its own and onnxruntime's pool): above 0, synthesis yields the
   * CPU to the speech recognisers, whose transcripts someone is waiting for (0: as the process)
   */
  nice?: number;
}

export interface PiperRequest {
  id: number;
  text: string;
  end: Terminator;
  /** Piper length scale (the voice's own, divided by the speaking rate) */
  lengthScale: number;
  /** output sample rate */
  sampleRate: number;
  /** multiplier after normalisation, 0..2 */
  volume: number;
  /** the gain to apply (null: this piece's own, its loudest sample to TARGET_PEAK; the reply is returned) */
  gain: number | null;
  /** the piece continues a clause (trim the silence at the seam) */
  joinBefore: boolean;
  joinAfter: boolean;
}

export type PiperReply =
  | { type: 'ready'; sampleRate: number; espeakVoice: string; loadMs: number }
  | { type: 'closed' }
  | { type: 'error'; id: number | null; message: string }
  | { type: 'audio'; id: number; pcm: ArrayBuffer; gain: number; phonemes: string; missing: string[]; phonemizeMs: number; inferMs: number; audioMs: number };

const port = parentPort!;
const data = workerData as PiperWorkerData;

/** loudest sample after normalisation (Piper normalises each sentence to full scale) */
const TARGET_PEAK = 0.9;
/** at most this much amplification, so a near-silent piece is not blown up */
const MAX_GAIN = 8;
/** silence left at a seam inside a clause, seconds */
const SEAM_KEEP_S = 0.015;

async function main(): Promise<void> {
  const t0 = performance.now();
  const voice = readVoiceConfig(data.configPath);
  // before the session exists: onnxruntime's pool threads inherit this thread's priority
  niceThisThread(data.nice ?? 0);
  const [g2p, session] = await Promise.all([
    loadEspeak(voice.espeakVoice),
    ort.InferenceSession.create(data.modelPath, {
      intraOpNumThreads: data.threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
      // inputs change length with every piece: a growing arena or memory patterns only hold memory
      enableCpuMemArena: false,
      enableMemPattern: false,
      // waiting pool threads sleep instead of spinning: on a small machine they would take CPU from the recogniser
      extra: { session: { intra_op: { allow_spinning: data.spin ? '1' : '0' } } },
    }),
  ]);
  const inputs = session.inputNames;
  for (const n of ['input', 'input_lengths', 'scales']) {
    if (!inputs.includes(n)) throw new Error(`${data.modelPath} is not a Piper voice: it has no input "${n}" (inputs: ${inputs.join(', ')})`);
  }
  const hasSid = inputs.includes('sid');
  const outName = session.outputNames[0];

  const synth = async (req: PiperRequest): Promise<void> => {
    const t1 = performance.now();
    const phonemes = piecePhonemes(g2p.phonemize(req.text), req.end);
    const { ids, missing } = phonemesToIds(phonemes, voice);
    const t2 = performance.now();
    const n = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input: new ort.Tensor('int64', BigInt64Array.from(ids, (x) => BigInt(x)), [1, n]),
      input_lengths: new ort.Tensor('int64', BigInt64Array.of(BigInt(n)), [1]),
      scales: new ort.Tensor('float32', Float32Array.of(voice.noiseScale, req.lengthScale, voice.noiseW), [3]),
    };
    if (hasSid) feeds.sid = new ort.Tensor('int64', BigInt64Array.of(0n), [1]);
    const out = await session.run(feeds);
    const t3 = performance.now();
    let audio = out[outName].data as Float32Array;
    for (const k of Object.keys(out)) out[k].dispose?.();
    for (const k of Object.keys(feeds)) feeds[k].dispose?.();

    // the silence VITS leaves at both ends would be a gap where a clause was cut for an early start
    if (req.joinBefore || req.joinAfter) audio = trimSeams(audio, voice.sampleRate, req.joinBefore, req.joinAfter);
    let peak = 0;
    for (let i = 0; i < audio.length; i++) peak = Math.max(peak, Math.abs(audio[i]));
    const gain = req.gain ?? Math.min(MAX_GAIN, TARGET_PEAK / Math.max(peak, 1e-4));
    const g = gain * req.volume;
    const scaled = new Float32Array(audio.length);
    for (let i = 0; i < audio.length; i++) scaled[i] = audio[i] * g;
    let samples = scaled;
    if (req.sampleRate !== voice.sampleRate) {
      const r = new Resampler(voice.sampleRate, req.sampleRate);
      const a = r.process(scaled);
      const b = r.flush();
      samples = new Float32Array(a.length + b.length);
      samples.set(a);
      samples.set(b, a.length);
    }
    const pcm = new Int16Array(samples.length);
    for (let i = 0; i < samples.length; i++) {
      const v = Math.round(samples[i] * 32767);
      pcm[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
    }
    const msg: PiperReply = {
      type: 'audio',
      id: req.id,
      pcm: pcm.buffer,
      gain,
      phonemes,
      missing,
      phonemizeMs: t2 - t1,
      inferMs: t3 - t2,
      audioMs: (audio.length / voice.sampleRate) * 1000,
    };
    port.postMessage(msg, [pcm.buffer]);
  };

  const queue: PiperRequest[] = [];
  const next = (): PiperRequest | undefined => queue.shift();
  let busy = false;
  const pump = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      for (let req = next(); req && !closing; req = next()) {
        try {
          await synth(req);
        } catch (e) {
          port.postMessage({ type: 'error', id: req.id, message: e instanceof Error ? e.message : String(e) } satisfies PiperReply);
        }
      }
    } finally {
      busy = false;
    }
    if (closing) await finish();
    else idleTrim();
  };
  // once a reply is done, give the freed output buffers back to the system (off the critical path)
  let trimTimer: NodeJS.Timeout | null = null;
  const idleTrim = () => {
    if (trimTimer) clearTimeout(trimTimer);
    trimTimer = setTimeout(() => {
      trimTimer = null;
      if (!busy && !queue.length) trimMalloc();
    }, 250);
    trimTimer.unref();
  };
  // stopping: never while onnxruntime runs (terminating a thread inside session.run aborts the process)
  let closing = false;
  const finish = async () => {
    await session.release().catch(() => {});
    port.postMessage({ type: 'closed' } satisfies PiperReply);
    port.close();
  };
  port.on('message', (req: PiperRequest | { type: 'close' }) => {
    if ('type' in req) {
      closing = true;
      queue.length = 0;
      if (!busy) void finish();
      return;
    }
    if (closing) return;
    queue.push(req);
    void pump();
  });
  // one short inference so the first reply does not pay for lazy initialisation
  await session.run({
    input: new ort.Tensor('int64', BigInt64Array.from([1, 0, 2], (x) => BigInt(x)), [1, 3]),
    input_lengths: new ort.Tensor('int64', BigInt64Array.of(3n), [1]),
    scales: new ort.Tensor('float32', Float32Array.of(voice.noiseScale, voice.lengthScale, voice.noiseW), [3]),
    ...(hasSid ? { sid: new ort.Tensor('int64', BigInt64Array.of(0n), [1]) } : {}),
  });
  g2p.phonemize('ready');
  trimMalloc(); // hand back what loading freed (the model's protobuf, the espeak-ng data file's read buffers)
  port.postMessage({ type: 'ready', sampleRate: voice.sampleRate, espeakVoice: voice.espeakVoice, loadMs: performance.now() - t0 } satisfies PiperReply);
}

/** Drops the near-silence at the start (joinBefore) and/or end (joinAfter), keeping SEAM_KEEP_S of it. */
function trimSeams(a: Float32Array, rate: number, start: boolean, end: boolean): Float32Array {
  let peak = 0;
  for (let i = 0; i < a.length; i++) peak = Math.max(peak, Math.abs(a[i]));
  const floor = peak * 0.02;
  const keep = Math.round(SEAM_KEEP_S * rate);
  let s = 0;
  let e = a.length;
  if (start) {
    while (s < e && Math.abs(a[s]) < floor) s++;
    s = Math.max(0, s - keep);
  }
  if (end) {
    while (e > s && Math.abs(a[e - 1]) < floor) e--;
    e = Math.min(a.length, e + keep);
  }
  return a.subarray(s, e);
}

main().catch((e: unknown) => {
  port.postMessage({ type: 'error', id: null, message: e instanceof Error ? e.message : String(e) } satisfies PiperReply);
});
