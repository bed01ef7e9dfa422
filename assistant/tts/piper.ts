/**
 * The 'piper' TTS engine: a Piper voice (VITS exported to ONNX, `<voice>.onnx` + `<voice>.onnx.json`) run by
 * onnxruntime-node in worker threads, fed with espeak-ng phonemes computed in the same worker (WebAssembly).
 *
 * A reply is cut into pieces (clauses, and a short first piece: piper-voice.ts planPieces). Every piece of
 * every reply waits in one queue on the main thread, and each worker is handed one piece at a time, the
 * waiting piece with the lowest index in its reply first, then the earliest reply: the first piece of every
 * waiting reply is synthesised before the later pieces of any reply (a reply already playing has its current
 * piece's length of slack; a new one has none). A reply whose consumer goes away (`return()`, `break`, the
 * call's AbortSignal) leaves the queue at once; a piece already on a worker finishes (onnxruntime cannot be
 * interrupted) and nothing more of that reply is synthesised.
 *
 * Synthesised pieces are kept in a bounded cache (clause-cache.ts), so a clause heard before costs nothing;
 * the same clause asked for while it is being synthesised waits for that synthesis instead of queueing again.
 *
 * Openings: `warm(replies)` synthesises the first piece of each given reply ahead of time, behind every real
 * reply in the queue, and keeps it apart from the cache (never evicted, bounded by `openingBytes`). The server
 * warms the openings its replies start with ("Your cup was", "I last saw", "Did you mean"), so the first audio
 * of such a reply is ready the moment its text is.
 */
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { AppError } from '../errors.js';
import { REPLY_AUDIO_CHUNK_BYTES } from '../../protocol/protocol.js';
import { splitBuffer } from '../../protocol/pcm.js';
import type { PiperReply, PiperRequest, PiperWorkerData } from './piper-worker.js';
import { planPieces, readVoiceConfig, splitClauses, voiceConfigPath, type PiperVoiceConfig, type TextPiece } from './piper-voice.js';
import { ClauseCache, clauseKey, type ClauseAudio } from './clause-cache.js';
import { beginSynthesis, cancellable, checkTtsOptions, type Cancel } from './common.js';
import type { SynthesizeOptions, Tts, TtsOptions } from './types.js';

export interface PiperOptions extends TtsOptions {
  /** path of the voice's .onnx file (its .onnx.json beside it) */
  voice: string;
  /** onnxruntime intra-op threads in each worker (default 2) */
  threads?: number;
  /** worker threads, each with its own onnxruntime session (default 1) */
  workers?: number;
  /**
   * nice value of the workers' threads (Linux; default 0): above 0, synthesis yields the CPU to the speech
   * recognisers under load (first audio mostly comes from prepared openings and the cache)
   */
  nice?: number;
  /** words in the first piece of a reply at most (default 4; 0: no early cut) */
  firstWords?: number;
  /** bound of the cache of synthesised pieces, bytes (default 8 MiB; 0: no cache) */
  cacheBytes?: number;
  /** bound of the warmed openings (warm()), bytes of PCM (default 4 MiB; 0: warm() does nothing) */
  openingBytes?: number;
}

/** what warm() did: openings synthesised now, already held, and left out (the bound, or a failure) */
export interface WarmResult {
  warmed: number;
  held: number;
  skipped: number;
}

/** Per-piece timings kept for the bench (the last 200). */
export interface PiperPieceStat {
  /** the piece's text (for tests and the bench) */
  text: string;
  words: number;
  phonemizeMs: number;
  inferMs: number;
  audioMs: number;
  /** time the piece waited in the queue before a worker took it */
  queuedMs: number;
}

export const DEFAULT_PIPER_CACHE_BYTES = 8 * 1024 * 1024;
/** the longest prepared opening looked for at the start of a reply, words */
const OPENING_MAX_WORDS = 8;

export const DEFAULT_PIPER_OPENING_BYTES = 4 * 1024 * 1024;

/** a warming's place in the queue: behind every piece of every real reply */
const WARM_ORDER = Number.MAX_SAFE_INTEGER;

type Audio = Extract<PiperReply, { type: 'audio' }>;

/** a reply's interest in one piece */
interface Waiter {
  /** the reply's arrival number */
  reply: number;
  /** the piece's index in its reply */
  index: number;
  done: (r: ClauseAudio | Error) => void;
}

/** one piece to synthesise (shared by every reply waiting for the same clause) */
interface Job {
  key: string;
  piece: TextPiece;
  sampleRate: number;
  joinBefore: boolean;
  joinAfter: boolean;
  waiters: Set<Waiter>;
  queuedAt: number;
  /** an opening being warmed (a real reply may join it even with the cache off) */
  warm: boolean;
}

class PiperWorker {
  worker: Worker | null = null;
  ready: Promise<void> | null = null;
  /** the job on this worker, its request id and how long it had waited in the queue */
  job: { job: Job; id: number; queuedMs: number } | null = null;
  started = false;
}

/** a is served before b: lower piece index, then earlier reply */
function before(a: Waiter, b: Waiter): boolean {
  return a.index < b.index || (a.index === b.index && a.reply < b.reply);
}

function firstWaiter(j: Job): Waiter | null {
  let best: Waiter | null = null;
  for (const w of j.waiters) if (!best || before(w, best)) best = w;
  return best;
}

/** PCM times `f`, clipped (a later piece brought to the loudness chosen for its reply's first piece). */
function regain(pcm: Buffer, f: number): Buffer {
  const src = new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length >> 1);
  const out = Buffer.alloc(src.length * 2);
  const dst = new Int16Array(out.buffer, out.byteOffset, src.length);
  for (let i = 0; i < src.length; i++) {
    const v = Math.round(src[i] * f);
    dst[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

export class PiperTts implements Tts {
  readonly engine = 'piper';
  readonly sampleRate: number;
  readonly voice: string;
  readonly configPath: string;
  readonly config: PiperVoiceConfig;
  readonly threads: number;
  readonly nice: number;
  readonly workerCount: number;
  private readonly lengthScale: number;
  private readonly volume: number;
  private readonly firstWords: number;
  private readonly workers: PiperWorker[];
  private readonly queue: Job[] = [];
  /** jobs queued or on a worker, by key (cache on: a second reply wanting the same clause joins the first) */
  private readonly inFlight = new Map<string, Job>();
  private nextId = 1;
  private arrivals = 0;
  private unique = 0;
  closed = false;
  readonly stats: PiperPieceStat[] = [];
  /** pieces synthesised since start (stats keeps only the last 200) */
  piecesDone = 0;
  /** pieces a cancelled reply left in the queue, never synthesised */
  piecesDropped = 0;
  /** pieces synthesised after every reply that wanted them had gone (they were already on a worker) */
  piecesOrphaned = 0;
  /** lookups that found the clause being synthesised for another reply and waited for it */
  cacheShared = 0;
  /** the cache of synthesised pieces (hits, misses, bytes, bound) */
  readonly cache: ClauseCache;
  /** phonemes the voice did not know, with counts (logged once at close by the caller if it wants) */
  readonly missing = new Map<string, number>();
  /** warmed openings by clause key (warm()); never evicted */
  private readonly openings = new Map<string, ClauseAudio>();
  private readonly openingLimit: number;
  /** PCM bytes the openings hold */
  openingBytes = 0;
  /** replies whose first piece came from the warmed openings */
  openingHits = 0;
  /** openings queued or being synthesised by warm() */
  warming = 0;

  /** Reads and checks the voice's .onnx.json (throws AppError('unavailable') naming the file and problem). */
  constructor(opts: PiperOptions) {
    this.voice = opts.voice;
    const o = checkTtsOptions(opts);
    this.sampleRate = o.sampleRate;
    this.volume = o.volume;
    this.threads = Math.max(1, Math.floor(opts.threads ?? 2));
    this.nice = Math.min(19, Math.max(0, Math.floor(opts.nice ?? 0)));
    this.workerCount = Math.max(1, Math.floor(opts.workers ?? 1));
    this.workers = Array.from({ length: this.workerCount }, () => new PiperWorker());
    this.firstWords = opts.firstWords ?? 4;
    this.cache = new ClauseCache(opts.cacheBytes ?? DEFAULT_PIPER_CACHE_BYTES);
    this.openingLimit = Math.max(0, opts.openingBytes ?? DEFAULT_PIPER_OPENING_BYTES);
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
    this.lengthScale = this.config.lengthScale / o.rate;
  }

  /** Starts the workers: each loads espeak-ng and the voice (~1-3 s). Throws AppError('unavailable') when one cannot. */
  async start(): Promise<void> {
    if (this.closed) throw new AppError('unavailable', 'text-to-speech has been closed');
    await Promise.all(this.workers.map((w) => this.startWorker(w)));
  }

  private startWorker(w: PiperWorker): Promise<void> {
    if (w.ready) return w.ready;
    const worker = new Worker(new URL('./piper-worker.js', import.meta.url), {
      workerData: { modelPath: this.voice, configPath: this.configPath, threads: this.threads, spin: process.env.WHEREABOUTS_TTS_SPIN === '1', nice: this.nice } satisfies PiperWorkerData,
    });
    w.worker = worker;
    w.started = false;
    w.ready = new Promise<void>((resolve, reject) => {
      const fail = (e: Error) => {
        if (!w.started) reject(e);
        if (w.worker !== worker) return;
        w.worker = null;
        w.ready = null; // the next synthesize() starts a new worker
        w.started = false;
        void worker.terminate();
        const cur = w.job;
        w.job = null;
        if (cur) this.finishJob(cur.job, e);
        // without a worker left, nothing would take the queue: fail it
        if (!this.workers.some((x) => x.started)) for (const j of this.queue.splice(0)) this.finishJob(j, e);
        else this.pump();
      };
      worker.on('message', (m: PiperReply) => {
        if (m.type === 'ready') {
          w.started = true;
          worker.unref();
          resolve();
          this.pump();
        } else if (m.type === 'error' && m.id === null) {
          fail(new AppError('unavailable', `Piper voice ${this.voice} cannot be loaded: ${m.message}`));
        } else this.onReply(w, m);
      });
      worker.on('error', (e) => fail(new AppError('internal', `piper worker failed: ${e.message}`, { cause: e })));
      worker.on('exit', (code) => {
        if (!this.closed) fail(new AppError('internal', `piper worker exited with code ${code}`));
      });
    });
    return w.ready;
  }

  /** The worker threads (for the bench's memory figures); empty before start. */
  get workerThreads(): Worker[] {
    return this.workers.flatMap((w) => (w.worker ? [w.worker] : []));
  }

  /** pieces waiting for a worker, and workers synthesising (for /metrics) */
  queueStats(): { queued: number; busy: number } {
    return { queued: this.queue.length, busy: this.workers.filter((w) => w.job).length };
  }

  private onReply(w: PiperWorker, m: PiperReply): void {
    if (m.type === 'ready' || m.type === 'closed' || m.id === null) return;
    const cur = w.job;
    if (!cur || cur.id !== m.id) return;
    w.job = null;
    w.worker?.unref();
    if (m.type === 'error') this.finishJob(cur.job, new AppError('internal', `speech synthesis failed: ${m.message}`));
    else this.finishJob(cur.job, this.record(cur.job, m, cur.queuedMs));
    this.pump();
  }

  private record(job: Job, r: Audio, queuedMs: number): ClauseAudio {
    this.piecesDone++;
    if (!job.waiters.size) this.piecesOrphaned++;
    this.stats.push({ text: job.piece.text, words: job.piece.text.split(' ').length, phonemizeMs: r.phonemizeMs, inferMs: r.inferMs, audioMs: r.audioMs, queuedMs });
    if (this.stats.length > 200) this.stats.shift();
    for (const c of r.missing) this.missing.set(c, (this.missing.get(c) ?? 0) + 1);
    const audio: ClauseAudio = { pcm: Buffer.from(r.pcm), gain: r.gain };
    if (!job.warm) this.cache.set(job.key, audio); // a warmed opening is kept among the openings instead
    return audio;
  }

  private finishJob(job: Job, r: ClauseAudio | Error): void {
    if (this.inFlight.get(job.key) === job) this.inFlight.delete(job.key);
    for (const w of job.waiters) w.done(r);
    job.waiters.clear();
  }

  /** hands the most urgent waiting piece to each idle worker */
  private pump(): void {
    if (this.closed) return;
    for (const w of this.workers) {
      if (!this.queue.length) return;
      if (!w.started || w.job || !w.worker) continue;
      let bi = 0;
      let best = firstWaiter(this.queue[0])!;
      for (let i = 1; i < this.queue.length; i++) {
        const f = firstWaiter(this.queue[i])!;
        if (before(f, best)) {
          best = f;
          bi = i;
        }
      }
      const job = this.queue.splice(bi, 1)[0];
      const id = this.nextId++;
      w.job = { job, id, queuedMs: performance.now() - job.queuedAt };
      const req: PiperRequest = {
        id,
        text: job.piece.text,
        end: job.piece.end,
        lengthScale: this.lengthScale,
        volume: this.volume,
        sampleRate: job.sampleRate,
        gain: null,
        joinBefore: job.joinBefore,
        joinAfter: job.joinAfter,
      };
      w.worker.ref(); // keep the process alive while work is outstanding
      w.worker.postMessage(req);
    }
  }

  /** one reply's piece: from the cache, from a synthesis already under way, or queued */
  private want(piece: TextPiece, index: number, reply: number, sampleRate: number, joinBefore: boolean, joinAfter: boolean, c: Cancel): Promise<ClauseAudio | Error | null> {
    const key = this.keyOf(piece, sampleRate, joinBefore, joinAfter);
    const opening = index === 0 ? this.openings.get(key) : undefined;
    if (opening) {
      this.openingHits++;
      return Promise.resolve(opening);
    }
    const cached = this.cache.enabled ? key : null;
    const hit = cached !== null ? this.cache.get(cached) : undefined;
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => {
      const waiter: Waiter = { reply, index, done: resolve };
      let job = this.inFlight.get(key);
      if (job && (cached !== null || job.warm)) this.cacheShared++;
      else {
        job = { key: cached ?? `#${this.unique++}`, piece, sampleRate, joinBefore, joinAfter, waiters: new Set(), queuedAt: performance.now(), warm: false };
        if (cached !== null) this.inFlight.set(job.key, job);
        this.queue.push(job);
      }
      job.waiters.add(waiter);
      const j = job;
      c.onCancel(() => {
        if (!j.waiters.delete(waiter)) return;
        resolve(null);
        if (j.waiters.size) return;
        const i = this.queue.indexOf(j);
        if (i >= 0) {
          // nobody wants it any more and no worker has it: it leaves the queue
          this.queue.splice(i, 1);
          if (this.inFlight.get(j.key) === j) this.inFlight.delete(j.key);
          this.piecesDropped++;
        }
      });
    });
  }

  /**
   * A reply whose first clause begins with a prepared opening at a word boundary starts with that opening,
   * even where the usual cut would fall elsewhere: "Your cup was next to the laptop" is cut after "Your cup
   * was" (prepared) rather than before "to". The pieces as planned when the planned first piece is prepared
   * itself or no opening fits.
   */
  private openWithPrepared(pieces: TextPiece[], text: string, sampleRate: number): TextPiece[] {
    if (!this.openings.size || !pieces.length) return pieces;
    const joinAfter0 = pieces[0].end === '' && pieces.length > 1;
    if (this.openings.has(this.keyOf(pieces[0], sampleRate, false, joinAfter0))) return pieces;
    const clauses = splitClauses(text);
    const first = clauses[0];
    if (!first) return pieces;
    const words = first.text.split(' ');
    // the longest prepared prefix, leaving at least one word for the rest of the clause
    for (let k = Math.min(words.length - 1, OPENING_MAX_WORDS); k >= 2; k--) {
      const head = { text: words.slice(0, k).join(' '), end: '' as const };
      if (this.openings.has(this.keyOf(head, sampleRate, false, true))) return [head, { text: words.slice(k).join(' '), end: first.end }, ...clauses.slice(1)];
    }
    return pieces;
  }

  private keyOf(piece: TextPiece, sampleRate: number, joinBefore: boolean, joinAfter: boolean): string {
    return clauseKey({ voice: this.voice, lengthScale: this.lengthScale, volume: this.volume, sampleRate, text: piece.text, end: piece.end, joinBefore, joinAfter });
  }

  /** openings held and their PCM bytes (for /metrics and tests) */
  openingStats(): { held: number; bytes: number; limit: number; warming: number; hits: number } {
    return { held: this.openings.size, bytes: this.openingBytes, limit: this.openingLimit, warming: this.warming, hits: this.openingHits };
  }

  /**
   * Synthesises the first piece of each reply (as synthesize() would cut it) ahead of time and keeps it among
   * the openings, behind every real reply in the queue. Resolves when all of them are done; an opening that
   * does not fit the bound, or whose synthesis fails, is skipped (warming is never worth an error).
   */
  async warm(replies: readonly string[], opts: { sampleRate?: number } = {}): Promise<WarmResult> {
    const out: WarmResult = { warmed: 0, held: 0, skipped: 0 };
    if (this.closed || this.openingLimit <= 0) return { ...out, skipped: replies.length };
    const wanted = new Map<string, { piece: TextPiece; sampleRate: number; joinAfter: boolean }>();
    for (const text of replies) {
      let b: { text: string; sampleRate: number } | null;
      try {
        b = beginSynthesis(text, { sampleRate: opts.sampleRate }, this);
      } catch {
        out.skipped++;
        continue;
      }
      const pieces = b ? planPieces(b.text, this.firstWords) : [];
      if (!b || !pieces.length) continue;
      const joinAfter = pieces[0].end === '' && pieces.length > 1;
      const key = this.keyOf(pieces[0], b.sampleRate, false, joinAfter);
      if (this.openings.has(key)) out.held++;
      else wanted.set(key, { piece: pieces[0], sampleRate: b.sampleRate, joinAfter });
    }
    if (!wanted.size) return out;
    await this.start();
    const runs = [...wanted].map(
      ([key, w]) =>
        new Promise<void>((resolve) => {
          this.warming++;
          const settle = (r: ClauseAudio | Error) => {
            this.warming--;
            if (!(r instanceof Error) && !this.openings.has(key) && this.openingBytes + r.pcm.length <= this.openingLimit) {
              this.openings.set(key, r);
              this.openingBytes += r.pcm.length;
              out.warmed++;
            } else if (!this.openings.has(key)) out.skipped++;
            else out.held++;
            resolve();
          };
          const waiter: Waiter = { reply: WARM_ORDER, index: WARM_ORDER, done: settle };
          let job = this.inFlight.get(key);
          if (!job) {
            job = { key, piece: w.piece, sampleRate: w.sampleRate, joinBefore: false, joinAfter: w.joinAfter, waiters: new Set(), queuedAt: performance.now(), warm: true };
            this.inFlight.set(key, job);
            this.queue.push(job);
          }
          job.waiters.add(waiter);
        }),
    );
    this.pump();
    await Promise.all(runs);
    return out;
  }

  synthesize(text: string, opts: SynthesizeOptions = {}): AsyncIterable<Buffer> {
    return cancellable((c) => this.run(text, opts, c), opts.signal);
  }

  private async *run(text: string, opts: SynthesizeOptions, c: Cancel): AsyncGenerator<Buffer> {
    const b = beginSynthesis(text, opts, this);
    if (!b) return;
    const pieces = this.openWithPrepared(planPieces(b.text, this.firstWords), b.text, b.sampleRate);
    if (!pieces.length || c.cancelled) return;
    await this.start();
    if (c.cancelled) return;
    const reply = this.arrivals++;
    const slots = pieces.map((p, i) => this.want(p, i, reply, b.sampleRate, i > 0 && pieces[i - 1].end === '', p.end === '' && i + 1 < pieces.length, c));
    this.pump();
    try {
      let gain: number | null = null; // one loudness for the whole reply: its first piece's
      for (const slot of slots) {
        const r = await slot;
        if (r === null || c.cancelled) return;
        if (r instanceof Error) throw r;
        gain ??= r.gain;
        yield* splitBuffer(gain === r.gain ? Buffer.from(r.pcm) : regain(r.pcm, gain / r.gain), REPLY_AUDIO_CHUNK_BYTES);
      }
    } finally {
      c.cancel(); // whatever is still queued for this reply leaves the queue
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const e = new AppError('unavailable', 'text-to-speech has been closed');
    for (const j of this.queue.splice(0)) this.finishJob(j, e);
    const ends: Promise<void>[] = [];
    for (const w of this.workers) {
      const cur = w.job;
      w.job = null;
      if (cur) this.finishJob(cur.job, e);
      const t = w.worker;
      w.worker = null;
      w.started = false;
      if (!t) continue;
      // the worker ends itself once its current piece is done (terminating it inside onnxruntime would abort
      // the whole process); it is terminated only if it has not ended after a few seconds
      ends.push(
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => void t.terminate(), 5000);
          t.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          t.postMessage({ type: 'close' });
        }),
      );
    }
    await Promise.all(ends);
  }
}
