/**
 * The 'piper' TTS engine: a Piper voice (VITS exported to ONNX, `<voice>.onnx` + `<voice>.onnx.json`) run by
 * onnxruntime-node in a worker thread, fed with espeak-ng phonemes computed in the same worker (WebAssembly).
 *
 * A reply is cut into pieces (clauses, and a short first piece: piper-voice.ts planPieces); the first piece's
 * audio is handed out as soon as it exists and the next piece is synthesised while the current one plays.
 */
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { REPLY_AUDIO_CHUNK_BYTES } from '../../protocol/protocol.js';
import { splitBuffer } from '../../protocol/pcm.js';
import type { PiperReply, PiperRequest, PiperWorkerData } from './piper-worker.js';
import { planPieces, readVoiceConfig, voiceConfigPath, type PiperVoiceConfig, type TextPiece } from './piper-voice.js';
import { isSilentText, prepareText } from './text.js';
import type { SynthesizeOptions, Tts, TtsOptions } from './types.js';

export interface PiperOptions extends TtsOptions {
  /** path of the voice's .onnx file (its .onnx.json beside it) */
  voice: string;
  /** onnxruntime intra-op threads in the worker (default 2) */
  threads?: number;
  /** words in the first piece of a reply at most (default 4; 0: no early cut) */
  firstWords?: number;
}

interface Pending {
  resolve: (r: Extract<PiperReply, { type: 'audio' }>) => void;
  reject: (e: Error) => void;
}

/** Per-piece timings kept for the bench (the last 200). */
export interface PiperPieceStat {
  words: number;
  phonemizeMs: number;
  inferMs: number;
  audioMs: number;
}

export class PiperTts implements Tts {
  readonly engine = 'piper';
  readonly sampleRate: number;
  readonly voice: string;
  readonly configPath: string;
  readonly config: PiperVoiceConfig;
  private readonly lengthScale: number;
  private readonly volume: number;
  private readonly threads: number;
  private readonly firstWords: number;
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  readonly stats: PiperPieceStat[] = [];
  /** pieces synthesised since start (stats keeps only the last 200) */
  piecesDone = 0;
  /**
   * Replies' first pieces ("Your keys are", "I last saw your cup") recur: their audio is kept (least recently
   * used out) so a repeated one starts at once. 0 turns the cache off (the bench measures synthesis).
   */
  cacheLimitBytes = 4 * 1024 * 1024;
  private readonly firstCache = new Map<string, { pcm: Buffer; gain: number }>();
  private cacheBytes = 0;
  cacheHits = 0;
  /** phonemes the voice did not know, with counts (logged once at close by the caller if it wants) */
  readonly missing = new Map<string, number>();

  /** Reads and checks the voice's .onnx.json (throws AppError('unavailable') naming the file and problem). */
  constructor(opts: PiperOptions) {
    this.voice = opts.voice;
    this.sampleRate = opts.sampleRate ?? 16000;
    if (!Number.isInteger(this.sampleRate) || this.sampleRate < 8000 || this.sampleRate > 48000) throw new AppError('bad_request', `sample rate must be 8000..48000, got ${this.sampleRate}`);
    const rate = opts.rate ?? 1;
    if (!(rate >= 0.5 && rate <= 2)) throw new AppError('bad_request', `speaking rate must be 0.5..2, got ${rate}`);
    const volume = opts.volume ?? 1;
    if (!(volume >= 0 && volume <= 2)) throw new AppError('bad_request', `volume must be 0..2, got ${volume}`);
    this.volume = volume;
    this.threads = Math.max(1, Math.floor(opts.threads ?? 2));
    this.firstWords = opts.firstWords ?? 4;
    let st: fs.Stats;
    try {
      st = fs.statSync(this.voice);
    } catch {
      throw new AppError('unavailable', `Piper voice ${this.voice} is missing`);
    }
    if (!st.isFile() || st.size < 1024) throw new AppError('unavailable', `Piper voice ${this.voice} is not a voice file (${st.isFile() ? `${st.size} bytes` : 'not a file'})`);
    this.configPath = voiceConfigPath(this.voice);
    try {
      this.config = readVoiceConfig(this.configPath);
    } catch (e) {
      throw new AppError('unavailable', `Piper voice config ${(e as Error).message}`);
    }
    this.lengthScale = this.config.lengthScale / rate;
  }

  /** Starts the worker: loads espeak-ng and the voice (~1-3 s). Throws AppError('unavailable') when it cannot. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new AppError('unavailable', 'text-to-speech has been closed'));
    if (this.ready) return this.ready;
    const worker = new Worker(new URL('./piper-worker.js', import.meta.url), {
      workerData: { modelPath: this.voice, configPath: this.configPath, threads: this.threads, spin: process.env.WHEREABOUTS_TTS_SPIN === '1' } satisfies PiperWorkerData,
    });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      let started = false;
      const fail = (e: Error) => {
        if (!started) reject(e);
        this.failAll(e);
        if (this.worker === worker) {
          this.worker = null;
          this.ready = null; // the next synthesize() starts a new worker
          void worker.terminate();
        }
      };
      worker.on('message', (m: PiperReply) => {
        if (m.type === 'ready') {
          started = true;
          worker.unref();
          resolve();
        } else if (m.type === 'error' && m.id === null) {
          fail(new AppError('unavailable', `Piper voice ${this.voice} cannot be loaded: ${m.message}`));
        } else this.onReply(m);
      });
      worker.on('error', (e) => fail(new AppError('internal', `piper worker failed: ${e.message}`, { cause: e })));
      worker.on('exit', (code) => {
        if (!this.closed) fail(new AppError('internal', `piper worker exited with code ${code}`));
      });
    });
    return this.ready;
  }

  /** The worker thread (for the bench's memory figures); null before start. */
  get workerThread(): Worker | null {
    return this.worker;
  }

  private onReply(m: PiperReply): void {
    if (m.type === 'ready' || m.type === 'closed' || m.id === null) return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (this.pending.size === 0) this.worker?.unref();
    if (m.type === 'error') p.reject(new AppError('internal', `speech synthesis failed: ${m.message}`));
    else p.resolve(m);
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private async piece(piece: TextPiece, opts: { sampleRate: number; gain: number | null; joinBefore: boolean; joinAfter: boolean; first: boolean }) {
    await this.start();
    const worker = this.worker;
    if (!worker) throw new AppError('unavailable', 'text-to-speech is not running');
    const id = this.nextId++;
    const req: PiperRequest = { id, text: piece.text, end: piece.end, lengthScale: this.lengthScale, volume: this.volume, ...opts };
    const r = await new Promise<Extract<PiperReply, { type: 'audio' }>>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.ref(); // keep the process alive while work is outstanding
      worker.postMessage(req);
    });
    this.piecesDone++;
    this.stats.push({ words: piece.text.split(' ').length, phonemizeMs: r.phonemizeMs, inferMs: r.inferMs, audioMs: r.audioMs });
    if (this.stats.length > 200) this.stats.shift();
    for (const c of r.missing) this.missing.set(c, (this.missing.get(c) ?? 0) + 1);
    return r;
  }

  async *synthesize(text: string, opts: SynthesizeOptions = {}): AsyncIterable<Buffer> {
    const t = prepareText(text);
    if (!t || isSilentText(t)) return;
    if (this.closed) throw new AppError('unavailable', 'text-to-speech has been closed');
    const sampleRate = opts.sampleRate ?? this.sampleRate;
    if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000) throw new AppError('bad_request', `sample rate must be 8000..48000, got ${sampleRate}`);
    const pieces = planPieces(t, this.firstWords);
    if (!pieces.length) return;
    const ask = (i: number, gain: number | null) =>
      this.piece(pieces[i], { sampleRate, gain, joinBefore: i > 0 && pieces[i - 1].end === '', joinAfter: pieces[i].end === '' && i + 1 < pieces.length, first: i === 0 });
    const key = `${sampleRate}|${pieces.length > 1 && pieces[0].end === '' ? 1 : 0}|${pieces[0].end}|${pieces[0].text}`;
    let first = this.cacheLimitBytes > 0 ? this.firstCache.get(key) : undefined;
    if (first) {
      this.cacheHits++;
      this.firstCache.delete(key); // most recently used goes last
      this.firstCache.set(key, first);
    } else {
      const r = await ask(0, null);
      first = { pcm: Buffer.from(r.pcm), gain: r.gain };
      this.remember(key, first);
    }
    const gain = first.gain; // one loudness for the whole reply
    let next = pieces.length > 1 ? ask(1, gain) : null;
    next?.catch(() => {}); // observed when awaited; no unhandled rejection if the consumer stops early
    yield* splitBuffer(first.pcm, REPLY_AUDIO_CHUNK_BYTES);
    for (let i = 1; next; i++) {
      const r = await next;
      // ask for the next piece before handing out this one (pipelining)
      next = i + 1 < pieces.length ? ask(i + 1, gain) : null;
      next?.catch(() => {});
      yield* splitBuffer(Buffer.from(r.pcm), REPLY_AUDIO_CHUNK_BYTES);
    }
  }

  private remember(key: string, v: { pcm: Buffer; gain: number }): void {
    if (this.cacheLimitBytes <= 0 || v.pcm.length > this.cacheLimitBytes / 8) return;
    this.firstCache.set(key, v);
    this.cacheBytes += v.pcm.length;
    for (const [k, old] of this.firstCache) {
      if (this.cacheBytes <= this.cacheLimitBytes) break;
      this.firstCache.delete(k);
      this.cacheBytes -= old.pcm.length;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new AppError('unavailable', 'text-to-speech has been closed'));
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    // the worker ends itself once its current piece is done (terminating it inside onnxruntime would abort
    // the whole process); it is terminated only if it has not ended after a few seconds
    const ended = new Promise<void>((resolve) => w.once('exit', () => resolve()));
    w.postMessage({ type: 'close' });
    const t = setTimeout(() => void w.terminate(), 5000);
    await ended;
    clearTimeout(t);
  }
}
