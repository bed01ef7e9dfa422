/**
 * The second look's recogniser, on the main thread's side: one worker thread running Moonshine tiny
 * (moonshine-worker.ts), a queue in arrival order. Only unsure decisions come here (about a quarter of spoken
 * questions), each once, so one worker with one onnxruntime thread keeps up; beyond `maxQueue` waiting, or
 * after the caller's bound, a question gets no second look and its decision stands.
 */
import { Worker } from 'node:worker_threads';
import type { MoonshineReply, MoonshineRequest, MoonshineWorkerData } from './moonshine-worker.js';
import type { WordInfo } from './messages.js';

export interface HeardAgain {
  text: string;
  words: WordInfo[];
  cpuMs: number;
}

export interface ListenerOptions {
  encoder: string;
  decoder: string;
  threads?: number;
  /** nice value of its threads (default 5: the Vosk workers come first, speech synthesis at 7 after it) */
  nice?: number;
  /** utterances waiting at most; more get no second look (default 16) */
  maxQueue?: number;
  log?: { warn?: (msg: string) => void; error?: (msg: string) => void };
}

interface Job {
  id: number;
  pcm: Int16Array;
  resolve: (r: HeardAgain | null) => void;
}

export class Listener {
  private readonly queue: Job[] = [];
  private busy: Job | null = null;
  private nextId = 1;
  private alive = true;
  private readonly maxQueue: number;

  private constructor(
    private readonly worker: Worker,
    private readonly opts: ListenerOptions,
  ) {
    this.maxQueue = Math.max(1, opts.maxQueue ?? 16);
    worker.on('message', (m: MoonshineReply) => this.onReply(m));
    worker.on('error', (e) => this.die(`second-look recogniser failed: ${e.message}`));
    worker.on('exit', (code) => this.die(`second-look recogniser stopped (exit ${code})`));
  }

  /** Loads the model in its worker; rejects with the reason when it cannot (missing or wrong files). */
  static start(opts: ListenerOptions): Promise<Listener> {
    const data: MoonshineWorkerData = { encoder: opts.encoder, decoder: opts.decoder, threads: Math.max(1, opts.threads ?? 1), nice: opts.nice ?? 15 };
    const worker = new Worker(new URL('./moonshine-worker.js', import.meta.url), { workerData: data });
    return new Promise((resolve, reject) => {
      // (only these listeners are removed: the worker's own internal ones keep its message port running)
      const off = () => {
        worker.off('error', fail);
        worker.off('exit', exited);
        worker.off('message', ready);
      };
      const fail = (e: Error, settled = false) => {
        off();
        // a worker that reported its failure ends by itself once its loads are through (ended from outside while
        // onnxruntime still works, it would abort the process); one that does not is ended after a while
        if (settled) {
          const t = setTimeout(() => void worker.terminate(), 10_000).unref();
          worker.once('exit', () => clearTimeout(t));
        } else void worker.terminate();
        reject(e);
      };
      const exited = (code: number) => fail(new Error(`the second-look recogniser stopped while loading (exit ${code})`));
      const ready = (m: MoonshineReply) => {
        off();
        if (m.type === 'ready') resolve(new Listener(worker, opts));
        else fail(new Error(m.type === 'error' ? m.message : `unexpected ${m.type}`), m.type === 'error');
      };
      worker.on('error', fail);
      worker.on('exit', exited);
      worker.on('message', ready);
    });
  }

  get queued(): number {
    return this.queue.length + (this.busy ? 1 : 0);
  }

  /**
   * Hears 16 kHz s16le audio again. Resolves null when it cannot (queue full, worker gone, or `signal` aborted
   * first: a question that waited its bound no longer wants the answer, and a job not yet started is dropped).
   */
  hear(pcm: Int16Array, signal?: AbortSignal): Promise<HeardAgain | null> {
    if (!this.alive || signal?.aborted) return Promise.resolve(null);
    if (this.queue.length >= this.maxQueue) {
      this.opts.log?.warn?.(`second look skipped: ${this.queue.length} utterances already wait for it`);
      return Promise.resolve(null);
    }
    return new Promise((resolve) => {
      const job: Job = { id: this.nextId++, pcm, resolve };
      signal?.addEventListener(
        'abort',
        () => {
          const i = this.queue.indexOf(job);
          if (i >= 0) this.queue.splice(i, 1);
          resolve(null);
        },
        { once: true },
      );
      this.queue.push(job);
      this.pump();
    });
  }

  private pump() {
    if (this.busy || !this.alive) return;
    const job = this.queue.shift();
    if (!job) return;
    this.busy = job;
    const pcm = job.pcm.byteOffset === 0 && job.pcm.byteLength === job.pcm.buffer.byteLength ? job.pcm : job.pcm.slice();
    const req: MoonshineRequest = { id: job.id, pcm: pcm.buffer as ArrayBuffer };
    this.worker.postMessage(req, [req.pcm]);
  }

  private onReply(m: MoonshineReply) {
    const job = this.busy;
    if (m.type === 'ready' || !job || m.id !== job.id) return;
    this.busy = null;
    if (m.type === 'heard') job.resolve({ text: m.text, words: m.words.map((w) => ({ word: w.word, conf: w.conf, start: 0, end: 0 })), cpuMs: m.cpuMs });
    else {
      this.opts.log?.warn?.(`second look failed: ${m.message}`);
      job.resolve(null);
    }
    this.pump();
  }

  private die(message: string) {
    if (!this.alive) return;
    this.alive = false;
    this.opts.log?.error?.(message);
    for (const j of [this.busy, ...this.queue]) j?.resolve(null);
    this.busy = null;
    this.queue.length = 0;
  }

  async close(): Promise<void> {
    if (!this.alive) return;
    this.alive = false;
    for (const j of [this.busy, ...this.queue]) j?.resolve(null);
    this.queue.length = 0;
    this.busy = null;
    const exited = new Promise<void>((r) => this.worker.once('exit', () => r()));
    this.worker.postMessage({ id: 0, close: true } satisfies MoonshineRequest);
    // it ends by itself once the utterance being heard is through (at most a few hundred ms)
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await this.worker.terminate();
  }
}
