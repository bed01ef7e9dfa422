/**
 * The recogniser worker pool (main thread side). The workers share ONE model: the first worker loads it and
 * reports its address, every other worker (and every replacement) makes its recognisers from that address
 * (assistant/asr/libvosk.ts). Each worker hosts many recognisers; a stream is pinned to the least-loaded
 * worker for its whole life (so its audio and its transcripts stay in order). A worker that dies fails its
 * streams with an error and is replaced.
 *
 * The model's lifetime is the pool's, not any worker's: no worker frees it except the last one at close(),
 * after every other worker has exited (and any replacement still starting has finished starting). A worker
 * that dies (an uncaught error, terminate()) never frees it, so the others' handle stays valid; its
 * recognisers are then lost without being freed, and since each holds a reference to the model (libvosk
 * counts them) the model outlives them all: a leak of that worker's recognisers, never a dangling model.
 */
import { Worker } from 'node:worker_threads';
import type { HeardAgain } from './listener.js';
import type { Alternative, FromWorker, ToWorker, WordInfo, WorkerInit } from './messages.js';

export interface AsrLogger {
  debug?(msg: string): void;
  info?(msg: string): void;
  warn?(msg: string): void;
  error?(msg: string): void;
}

export interface StreamSink {
  onPartial(text: string): void;
  onEndpoint(text: string, raw: string, words: WordInfo[], alternatives: Alternative[]): void;
  onProgress(bytes: number, text: string, silenceMs: number | null, speech: boolean, unk: boolean, loudQuietMs: number, levelRangeDb: number): void;
  onFinal(m: Extract<FromWorker, { type: 'final' }>): void;
  onError(message: string): void;
}

export interface PoolOptions extends Omit<WorkerInit, 'grammar' | 'model'> {
  workers: number;
  grammar: string[] | null;
  log?: AsrLogger;
  startTimeoutMs?: number;
}

/** one worker's view: live recognisers, audio bytes still queued, the address of the model it uses (hex; '' when it did not answer) */
export interface WorkerStats {
  recognizers: number;
  pendingBytes: number;
  model: string;
}

/** what a second look heard (null: it could not be taken: the audio was no longer held, or the worker failed) */
export type SecondLookResult = HeardAgain | null;

export class WorkerSlot {
  readonly sinks = new Map<number, StreamSink>();
  /** held audio asked of this worker for second looks, by stream id */
  readonly checks = new Map<number, (pcm: Int16Array | null) => void>();
  alive = true;
  constructor(
    readonly worker: Worker,
    readonly index: number,
  ) {}
  send(m: ToWorker, transfer?: ArrayBuffer[]) {
    if (this.alive) this.worker.postMessage(m, transfer ?? []);
  }
}

const WORKER_URL = new URL('./worker.js', import.meta.url);

export class AsrPool {
  private slots: WorkerSlot[] = [];
  private closing = false;
  /** the shared model's address (null until the first worker has loaded it, and after close) */
  private model: bigint | null = null;
  /** workers being started (a replacement may still be starting when close() is called) */
  private readonly starting = new Set<Promise<WorkerSlot>>();
  private grammar: string[] | null;
  private statsReq = 0;
  /** every worker loaded the voice-activity detector */
  vad = true;
  /** every worker's VAD hears the audio through RNNoise (asr/denoise.ts) */
  denoise = true;
  private statsWaiters = new Map<number, (v: WorkerStats) => void>();

  private constructor(private readonly opts: PoolOptions) {
    this.grammar = opts.grammar;
  }

  /**
   * Starts the first worker (it loads the model), then the others (they borrow it); rejects (after stopping
   * them) when any fails to start.
   */
  static async start(opts: PoolOptions): Promise<AsrPool> {
    const pool = new AsrPool(opts);
    const n = Math.max(1, Math.floor(opts.workers));
    const first = await Promise.allSettled([pool.spawn(0)]);
    const results = first[0].status === 'fulfilled' ? first.concat(await Promise.allSettled(Array.from({ length: n - 1 }, (_, i) => pool.spawn(i + 1)))) : first;
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed) {
      await pool.close();
      throw failed.reason;
    }
    return pool;
  }

  get workers(): number {
    return this.slots.filter((s) => s.alive).length;
  }

  /** the shared model's address (for tests and logs; null before the first worker loaded it and after close) */
  get modelAddress(): bigint | null {
    return this.model;
  }

  private spawn(index: number): Promise<WorkerSlot> {
    const p = this.startWorker(index);
    this.starting.add(p);
    const done = () => this.starting.delete(p);
    p.then(done, done);
    return p;
  }

  private startWorker(index: number): Promise<WorkerSlot> {
    const init: WorkerInit = {
      libPath: this.opts.libPath,
      modelDir: this.opts.modelDir,
      model: this.model,
      grammar: this.grammar,
      logLevel: this.opts.logLevel,
      minConfidence: this.opts.minConfidence,
      maxAlternatives: this.opts.maxAlternatives,
      sliceMs: this.opts.sliceMs,
      vadModel: this.opts.vadModel,
      vadDenoise: this.opts.vadDenoise,
      secondLook: this.opts.secondLook,
    };
    // execArgv is inherited; --input-type (node -e) is not allowed in a worker
    const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
    const worker = new Worker(WORKER_URL, { workerData: init, stdout: false, stderr: false, execArgv });
    const slot = new WorkerSlot(worker, index);
    return new Promise<WorkerSlot>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => {
        if (!ready) {
          reject(new Error(`speech recogniser worker did not start within ${this.opts.startTimeoutMs ?? 120000} ms`));
          void worker.terminate();
        }
      }, this.opts.startTimeoutMs ?? 120_000);
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          ready = true;
          clearTimeout(timer);
          if (m.loaded) this.model = m.model;
          for (const d of m.dropped) this.opts.log?.debug?.(`asr grammar: dropped "${d.word}": not in the speech model's vocabulary (e.g. "${d.phrase}")`);
          this.opts.log?.debug?.(`asr worker ${index} ready in ${m.loadMs} ms (${m.loaded ? 'loaded the model' : 'shares the model'}${m.vad ? ', with Silero VAD' : ''}${m.denoise ? ' behind RNNoise' : ''})`);
          if (!m.vad) this.vad = false;
          if (!m.denoise) this.denoise = false;
          if (m.vadProblem) this.opts.log?.warn?.(`voice-activity detector unavailable (the recogniser's own endpointing is used): ${m.vadProblem}`);
          if (m.denoiseProblem) this.opts.log?.warn?.(`noise suppression for the voice-activity detector unavailable (it hears the audio as it came; hands-free questions end later in noise): ${m.denoiseProblem}`);
          this.slots.push(slot);
          resolve(slot);
          return;
        }
        if (m.type === 'fatal') {
          clearTimeout(timer);
          slot.alive = false;
          reject(new Error(m.message));
          void worker.terminate();
          return;
        }
        this.route(slot, m);
      });
      worker.on('error', (e) => {
        clearTimeout(timer);
        if (!ready) reject(e);
        else this.lost(slot, `speech recogniser worker failed: ${e.message}`);
      });
      worker.on('exit', (code) => {
        clearTimeout(timer);
        if (!ready) reject(new Error(`speech recogniser worker exited (code ${code}) while loading the model`));
        else this.lost(slot, `speech recogniser worker exited (code ${code})`);
      });
    });
  }

  private lost(slot: WorkerSlot, why: string) {
    if (!slot.alive) return;
    slot.alive = false;
    this.slots = this.slots.filter((s) => s !== slot);
    const sinks = [...slot.sinks.values()];
    slot.sinks.clear();
    for (const s of sinks) s.onError(why);
    for (const c of [...slot.checks.values()]) c(null);
    slot.checks.clear();
    if (this.closing) return;
    this.opts.log?.error?.(`${why}; starting a new one`);
    this.spawn(slot.index).catch((e: Error) => this.opts.log?.error?.(`could not restart the speech recogniser worker: ${e.message}`));
  }

  private route(slot: WorkerSlot, m: FromWorker) {
    switch (m.type) {
      case 'grammar':
        for (const d of m.dropped) this.opts.log?.debug?.(`asr grammar: dropped "${d.word}": not in the speech model's vocabulary (e.g. "${d.phrase}")`);
        return;
      case 'stats': {
        const w = this.statsWaiters.get(m.req);
        this.statsWaiters.delete(m.req);
        w?.({ recognizers: m.recognizers, pendingBytes: m.pendingBytes, model: m.model });
        return;
      }
      case 'partial':
        return slot.sinks.get(m.id)?.onPartial(m.text);
      case 'endpoint':
        return slot.sinks.get(m.id)?.onEndpoint(m.text, m.raw, m.words, m.alternatives);
      case 'progress':
        return slot.sinks.get(m.id)?.onProgress(m.bytes, m.text, m.silenceMs, m.speech, m.unk, m.loudQuietMs, m.levelRangeDb);
      case 'final': {
        const s = slot.sinks.get(m.id);
        slot.sinks.delete(m.id);
        return s?.onFinal(m);
      }
      case 'held': {
        const c = slot.checks.get(m.id);
        slot.checks.delete(m.id);
        return c?.(m.pcm ? new Int16Array(m.pcm) : null);
      }
      case 'error': {
        const s = slot.sinks.get(m.id);
        slot.sinks.delete(m.id);
        return s?.onError(m.message);
      }
    }
  }

  /** Pins a new stream to the least-loaded live worker. */
  attach(id: number, rate: number, sink: StreamSink, vad = true): WorkerSlot {
    const live = this.slots.filter((s) => s.alive);
    if (!live.length) throw new Error('no speech recogniser worker is running');
    let best = live[0];
    for (const s of live) if (s.sinks.size < best.sinks.size) best = s;
    best.sinks.set(id, sink);
    best.send({ op: 'open', id, rate, vad });
    return best;
  }

  detach(slot: WorkerSlot, id: number) {
    slot.sinks.delete(id);
  }

  /**
   * A finished stream's held audio (16 kHz s16le, the whole utterance as decoded), for its second look.
   * Resolves null when it is no longer held, or `signal` (the look's bound) aborts first.
   */
  heldAudio(slot: WorkerSlot, id: number, signal: AbortSignal): Promise<Int16Array | null> {
    if (!slot.alive || slot.checks.has(id) || signal.aborted) return Promise.resolve(null);
    return new Promise((resolve) => {
      const gone = () => {
        slot.checks.delete(id);
        resolve(null);
      };
      signal.addEventListener('abort', gone, { once: true });
      slot.checks.set(id, (pcm) => {
        signal.removeEventListener('abort', gone);
        resolve(pcm);
      });
      slot.send({ op: 'check', id });
    });
  }

  /** no second look wanted: the worker drops the held audio */
  release(slot: WorkerSlot, id: number) {
    slot.send({ op: 'release', id });
  }

  setGrammar(phrases: string[] | null) {
    this.grammar = phrases;
    for (const s of this.slots) s.send({ op: 'grammar', phrases });
  }

  /** Per worker: live recognisers, audio bytes still queued, the model's address (a round trip to each worker). */
  async workerStats(): Promise<WorkerStats[]> {
    return Promise.all(
      this.slots
        .filter((s) => s.alive)
        .map(
          (s) =>
            new Promise<WorkerStats>((resolve) => {
              const req = ++this.statsReq;
              const t = setTimeout(() => {
                this.statsWaiters.delete(req);
                resolve({ recognizers: -1, pendingBytes: -1, model: '' });
              }, 10_000);
              this.statsWaiters.set(req, (v) => {
                clearTimeout(t);
                resolve(v);
              });
              s.send({ op: 'stats', req });
            }),
        ),
    );
  }

  /**
   * Stops every worker: first all but one (replacements still starting are waited for), then the last one,
   * which frees the shared model once nobody else can use it.
   */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.starting]);
    const slots = this.slots.filter((s) => s.alive);
    this.slots = [];
    for (const s of slots) {
      const sinks = [...s.sinks.values()];
      s.sinks.clear();
      for (const k of sinks) k.onError('the speech recogniser is shutting down');
      for (const c of [...s.checks.values()]) c(null);
      s.checks.clear();
    }
    const last = slots.pop();
    await Promise.all(slots.map((s) => this.stop(s, false)));
    if (last) await this.stop(last, this.model !== null);
    this.model = null;
  }

  private async stop(s: WorkerSlot, freeModel: boolean): Promise<void> {
    const exited = new Promise<void>((r) => s.worker.once('exit', () => r()));
    s.send({ op: 'close', freeModel });
    s.alive = false;
    const t = setTimeout(() => void s.worker.terminate(), 2000);
    await exited;
    clearTimeout(t);
  }
}
