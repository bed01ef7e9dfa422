/**
 * A worker_threads pool: a fixed number of workers, a bounded FIFO queue, one job per worker at a time.
 * A worker that crashes (or overruns the job timeout) is replaced; its job fails with an AppError instead of
 * hanging. close() stops taking jobs, fails the queued ones, lets running ones finish (briefly) and ends
 * every worker.
 *
 * Worker protocol (see worker.ts):
 *   parent -> worker  {type:'job', id, job}
 *   worker -> parent  {type:'ready', info} once started | {type:'fatal', message} when it cannot start
 *                     {type:'result', id, result} | {type:'error', id, message, code?}
 */
import { Worker, type ResourceLimits, type Transferable } from 'node:worker_threads';
import { AppError, type ErrorCode } from '../errors.js';

export interface PoolOptions {
  /** the worker module (ESM .js) */
  file: URL | string;
  workerData?: unknown;
  /** most workers (at least 1) */
  size: number;
  /**
   * workers started up front (default: size). The pool grows to `size` while jobs wait, and workers beyond
   * `initial` end after `idleMs` without work, so an idle server holds only what it needs.
   */
  initial?: number;
  /** how long a worker beyond `initial` may sit idle (default 60 s) */
  idleMs?: number;
  /** used in messages, e.g. "vision" */
  name?: string;
  /** queued jobs beyond the running ones before run() fails with `busy` (default 32 per worker) */
  maxQueue?: number;
  /** a job running longer fails and its worker is replaced (default 30 s; 0 = no limit) */
  jobTimeoutMs?: number;
  /** a worker not ready by then counts as failed to start (default 60 s) */
  startTimeoutMs?: number;
  /** how long close() waits for running jobs (default 5 s) */
  closeGraceMs?: number;
  resourceLimits?: ResourceLimits;
}

export type PoolMessage =
  | { type: 'ready'; info?: unknown }
  | { type: 'fatal'; message: string }
  | { type: 'result'; id: number; result: unknown }
  | { type: 'error'; id: number; message: string; code?: ErrorCode };

interface Job<R> {
  id: number;
  job: unknown;
  transfer?: Transferable[];
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
  timer?: NodeJS.Timeout;
}

interface Slot<R> {
  worker: Worker;
  job: Job<R> | null;
  lastError?: Error;
  /** ended on purpose (idle beyond the initial size): not replaced */
  retiring?: boolean;
  idleTimer?: NodeJS.Timeout;
}

export interface PoolStats {
  workers: number;
  busy: number;
  queued: number;
  restarts: number;
}

export class WorkerPool<J = unknown, R = unknown> {
  private readonly slots: Slot<R>[] = [];
  private readonly queue: Job<R>[] = [];
  private readonly starting = new Set<Worker>();
  private nextId = 1;
  private closed = false;
  private closing: Promise<void> | null = null;
  private restarts = 0;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly name: string;
  private readonly maxQueue: number;
  /** what the first worker reported when ready */
  info: unknown = undefined;

  private constructor(private readonly opts: PoolOptions) {
    this.name = opts.name ?? 'pool';
    this.maxQueue = opts.maxQueue ?? 32 * opts.size;
  }

  /** Starts every worker and waits until all are ready; rejects with the first worker's start-up error. */
  static async start<J, R>(opts: PoolOptions): Promise<WorkerPool<J, R>> {
    if (!Number.isInteger(opts.size) || opts.size < 1) throw new Error(`${opts.name ?? 'pool'}: size must be a positive integer, got ${opts.size}`);
    const pool = new WorkerPool<J, R>(opts);
    const initial = Math.min(opts.size, Math.max(1, opts.initial ?? opts.size));
    const started = await Promise.allSettled(Array.from({ length: initial }, () => pool.spawn()));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) {
      await pool.close();
      throw failed.reason;
    }
    return pool;
  }

  get stats(): PoolStats {
    return { workers: this.slots.length, busy: this.slots.filter((s) => s.job).length, queued: this.queue.length, restarts: this.restarts };
  }

  /** Runs one job on the next free worker. */
  run(job: J, transfer?: Transferable[]): Promise<R> {
    if (this.closed) return Promise.reject(new AppError('unavailable', `${this.name} is shutting down`));
    if (this.queue.length >= this.maxQueue) return Promise.reject(new AppError('busy', `${this.name} is busy, try again shortly`, { headers: { 'retry-after': '1' } }));
    if (this.slots.length === 0 && this.starting.size === 0 && !this.retryTimer) {
      return Promise.reject(new AppError('unavailable', `${this.name} has no running worker`));
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, transfer, resolve, reject });
      this.dispatch();
    });
  }

  /** resolves once every worker has ended (a second call waits for the first) */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const j of this.queue.splice(0)) j.reject(new AppError('unavailable', `${this.name} is shutting down`));
    const running = this.slots.filter((s) => s.job).map((s) => new Promise<void>((res) => s.worker.once('exit', () => res()).once('message', () => res())));
    if (running.length) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(running), new Promise((res) => (t = setTimeout(res, this.opts.closeGraceMs ?? 5000)))]);
      clearTimeout(t);
    }
    const all = [...this.slots.map((s) => s.worker), ...this.starting];
    this.slots.length = 0;
    this.starting.clear();
    await Promise.all(all.map((w) => w.terminate().catch(() => 0)));
  }

  private spawn(): Promise<Slot<R>> {
    return new Promise<Slot<R>>((resolve, reject) => {
      let worker: Worker;
      try {
        worker = new Worker(this.opts.file, { workerData: this.opts.workerData, resourceLimits: this.opts.resourceLimits });
      } catch (e) {
        reject(e);
        return;
      }
      this.starting.add(worker);
      let lastError: Error | undefined;
      // remove only our own listeners: removeAllListeners() would also drop the ones Node uses to keep the
      // worker's message port running
      const detach = () => {
        clearTimeout(timer);
        this.starting.delete(worker);
        worker.off('error', onError).off('exit', onExit).off('message', onMessage);
      };
      const fail = (e: Error) => {
        detach();
        worker.on('error', () => {});
        worker.terminate().catch(() => 0);
        reject(e);
      };
      const onError = (e: Error) => (lastError = e);
      const onExit = (code: number) => fail(lastError ?? new Error(`${this.name} worker exited during start-up (code ${code})`));
      const onMessage = (m: PoolMessage) => {
        if (m?.type === 'fatal') fail(new Error(m.message));
        else if (m?.type === 'ready') {
          detach();
          if (this.closed) {
            worker.on('error', () => {});
            worker.terminate().catch(() => 0);
            reject(new Error(`${this.name} closed during start-up`));
            return;
          }
          if (this.info === undefined) this.info = m.info;
          const slot: Slot<R> = { worker, job: null };
          this.attach(slot);
          this.slots.push(slot);
          resolve(slot);
          this.dispatch();
        }
      };
      const startTimeout = this.opts.startTimeoutMs ?? 60_000;
      const timer = setTimeout(() => fail(new Error(`${this.name} worker did not start within ${startTimeout} ms`)), startTimeout);
      worker.on('error', onError).on('exit', onExit).on('message', onMessage);
    });
  }

  private attach(slot: Slot<R>): void {
    const w = slot.worker;
    w.on('message', (m: PoolMessage) => {
      const job = slot.job;
      if (!job || (m.type !== 'result' && m.type !== 'error') || m.id !== job.id) return;
      this.finish(slot);
      if (m.type === 'result') job.resolve(m.result as R);
      else job.reject(new AppError(m.code ?? 'internal', m.message));
      this.dispatch();
    });
    w.on('error', (e) => (slot.lastError = e));
    w.once('exit', (code) => {
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      const job = slot.job;
      if (job) {
        this.finish(slot);
        if (this.closed) job.reject(new AppError('unavailable', `${this.name} is shutting down`));
        else {
          const why = slot.lastError?.message ?? `exit code ${code}`;
          job.reject(new AppError('internal', `${this.name} worker crashed while processing the job (${why})`, { cause: slot.lastError }));
        }
      }
      if (slot.idleTimer) clearTimeout(slot.idleTimer);
      if (!this.closed && !slot.retiring) this.replace();
    });
  }

  /** one more worker while jobs wait and the pool is below its size */
  private grow(): void {
    if (this.closed || !this.queue.length || this.slots.length + this.starting.size >= this.opts.size || this.retryTimer) return;
    this.spawn().catch(() => {
      /* the running workers carry on; growth is tried again with the next waiting job */
    });
  }

  /** a worker beyond the initial size that stays idle for idleMs ends, handing its memory back */
  private scheduleRetire(slot: Slot<R>): void {
    const initial = Math.min(this.opts.size, Math.max(1, this.opts.initial ?? this.opts.size));
    if (this.slots.length <= initial) return;
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => {
      if (slot.job || this.closed || this.slots.length <= initial) return;
      slot.retiring = true;
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      slot.worker.terminate().catch(() => 0);
    }, this.opts.idleMs ?? 60_000);
    slot.idleTimer.unref();
  }

  private finish(slot: Slot<R>): void {
    if (slot.job?.timer) clearTimeout(slot.job.timer);
    slot.job = null;
    this.scheduleRetire(slot);
  }

  private replace(): void {
    this.restarts++;
    this.spawn().then(
      () => {
        this.failures = 0;
      },
      () => {
        if (this.closed) return;
        this.failures++;
        if (this.slots.length === 0 && this.starting.size === 0) {
          for (const j of this.queue.splice(0)) j.reject(new AppError('unavailable', `${this.name} workers cannot be restarted`));
        }
        const delay = Math.min(30_000, 500 * 2 ** this.failures);
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          if (!this.closed) this.replace();
        }, delay);
        this.retryTimer.unref();
      },
    );
  }

  private dispatch(): void {
    while (this.queue.length) {
      const slot = this.slots.find((s) => !s.job);
      if (!slot) {
        this.grow();
        return;
      }
      const job = this.queue.shift()!;
      if (slot.idleTimer) clearTimeout(slot.idleTimer);
      slot.job = job;
      const timeout = this.opts.jobTimeoutMs ?? 30_000;
      if (timeout > 0) {
        job.timer = setTimeout(() => {
          if (slot.job !== job) return;
          slot.lastError = new Error(`job took longer than ${timeout} ms`);
          slot.worker.terminate().catch(() => 0);
        }, timeout);
      }
      try {
        slot.worker.postMessage({ type: 'job', id: job.id, job: job.job }, job.transfer);
      } catch (e) {
        this.finish(slot);
        job.reject(new AppError('internal', `${this.name}: cannot send the job to a worker: ${(e as Error).message}`));
      }
    }
  }
}
