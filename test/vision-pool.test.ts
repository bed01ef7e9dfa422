/**
 * The worker_threads pool with a stand-in worker (test/fixtures/vision/pool-worker.mjs): crash
 * replacement, timeouts, queue limits, shutdown, start-up failures.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WorkerPool } from '../dist/assistant/vision/pool.js';
import { REPO } from './helpers/tmp.js';

const file = pathToFileURL(path.join(REPO, 'test', 'fixtures', 'vision', 'pool-worker.mjs'));
type Job = { op: string; value?: unknown; ms?: number };
const pools: WorkerPool<Job, any>[] = [];
async function start(opts: Partial<Parameters<typeof WorkerPool.start>[0]> = {}) {
  const p = await WorkerPool.start<Job, any>({ file, size: 2, name: 'test', ...opts });
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

describe('worker pool', () => {
  it('starts small, grows while jobs wait, and hands idle workers back', async () => {
    const pool = await start({ size: 3, initial: 1, idleMs: 300 });
    expect(pool.stats.workers).toBe(1);
    const res = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.run({ op: 'sleep', value: i, ms: 150 })));
    expect(res.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(pool.stats.workers).toBeGreaterThan(1);
    expect(pool.stats.workers).toBeLessThanOrEqual(3);
    const deadline = Date.now() + 5000;
    while (pool.stats.workers > 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(pool.stats).toMatchObject({ workers: 1, restarts: 0 });
    // and it still works, and grows again
    const again = await Promise.all(Array.from({ length: 4 }, (_, i) => pool.run({ op: 'sleep', value: i, ms: 100 })));
    expect(again).toHaveLength(4);
  });

  it('runs jobs and reports the ready info', async () => {
    const pool = await start();
    expect(pool.info).toEqual({ hello: 'world' });
    const res = await Promise.all(Array.from({ length: 10 }, (_, i) => pool.run({ op: 'echo', value: i })));
    expect(res.map((r) => r.value)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(pool.stats).toMatchObject({ workers: 2, busy: 0, queued: 0, restarts: 0 });
  });

  it('passes a job error on with its code', async () => {
    const pool = await start();
    const e = await rejection(pool.run({ op: 'fail' }));
    expect(e.code).toBe('bad_image');
    expect((await pool.run({ op: 'echo', value: 1 })).value).toBe(1);
  });

  it('fails the job of a crashing worker, replaces the worker and keeps serving', async () => {
    const pool = await start();
    for (const op of ['crash', 'exit']) {
      const e = await rejection(pool.run({ op }));
      expect(e.code).toBe('internal');
      expect(e.message).toMatch(/crashed/);
    }
    const res = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.run({ op: 'echo', value: i })));
    expect(res).toHaveLength(6);
    // the replacement workers start asynchronously (slower on a loaded machine): wait for them, bounded
    await vi.waitFor(() => expect(pool.stats.workers).toBe(2), { timeout: 15_000, interval: 50 });
    expect(pool.stats.restarts).toBe(2);
  });

  it('fails a job that overruns the time limit and replaces its worker', async () => {
    const pool = await start({ size: 1, jobTimeoutMs: 300 });
    const t = Date.now();
    const e = await rejection(pool.run({ op: 'hang' }));
    expect(Date.now() - t).toBeLessThan(5000);
    expect(e.message).toMatch(/longer than 300 ms/);
    expect((await pool.run({ op: 'echo', value: 'after' })).value).toBe('after');
  });

  it('refuses jobs beyond the queue limit with busy', async () => {
    const pool = await start({ size: 1, maxQueue: 2 });
    const running = [pool.run({ op: 'sleep', ms: 200, value: 1 }), pool.run({ op: 'sleep', ms: 10, value: 2 }), pool.run({ op: 'sleep', ms: 10, value: 3 })];
    const e = await rejection(pool.run({ op: 'echo' }));
    expect(e.code).toBe('busy');
    expect((await Promise.all(running)).map((r) => r.value)).toEqual([1, 2, 3]);
  });

  it('closes cleanly: running jobs finish, queued ones fail, later ones are refused', async () => {
    const pool = await start({ size: 1 });
    const running = pool.run({ op: 'sleep', ms: 100, value: 'done' });
    const queued = pool.run({ op: 'echo', value: 'queued' });
    await new Promise((r) => setTimeout(r, 20));
    const closing = pool.close();
    expect((await rejection(queued)).code).toBe('unavailable');
    expect((await running).value).toBe('done');
    await closing;
    expect((await rejection(pool.run({ op: 'echo' }))).code).toBe('unavailable');
  });

  it('rejects start() with the reason when a worker cannot start', async () => {
    await expect(WorkerPool.start({ file, size: 2, workerData: { startup: 'fatal' } })).rejects.toThrow(/cannot load the test model/);
    await expect(WorkerPool.start({ file, size: 1, workerData: { startup: 'throw' } })).rejects.toThrow(/boom at start-up/);
    await expect(WorkerPool.start({ file, size: 1, workerData: { startup: 'never' }, startTimeoutMs: 300 })).rejects.toThrow(/did not start within 300 ms/);
  });
});
