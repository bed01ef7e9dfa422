/** Starts `whereabouts serve` as a child process on a data folder and waits until it answers /healthz. */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { REPO, RssSampler, procMemory, sleep } from './util.js';

/** the server's command line; WHEREABOUTS_BENCH_CLI points elsewhere for A/B runs (e.g. a patched copy of dist/) */
export const CLI = process.env.WHEREABOUTS_BENCH_CLI ? path.resolve(process.env.WHEREABOUTS_BENCH_CLI) : path.join(REPO, 'dist', 'assistant', 'cli.js');

export interface BenchServer {
  proc: ChildProcess;
  pid: number;
  url: string;
  port: number;
  metricsToken: string;
  rss: RssSampler;
  startSeconds: number;
  health: Record<string, unknown>;
  logs(): string;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

export interface ServeOptions {
  dataDir: string;
  modelsDir?: string;
  database?: string;
  extraArgs?: string[];
  nodeArgs?: string[];
  env?: Record<string, string>;
}

export async function startServer(o: ServeOptions): Promise<BenchServer> {
  const port = await freePort();
  const metricsToken = `bench-${process.pid}-${Date.now()}`;
  const args = ['serve', '--data-dir', o.dataDir, '--port', String(port), '--log-level', 'warn', '--metrics-token', metricsToken];
  if (o.modelsDir) args.push('--models-dir', o.modelsDir);
  if (o.database) args.push('--database', o.database);
  args.push(...(o.extraArgs ?? []));
  const t0 = performance.now();
  const proc = spawn(process.execPath, [...(o.nodeArgs ?? []), CLI, ...args], {
    cwd: REPO,
    env: { ...process.env, ...o.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let logs = '';
  const keep = (d: Buffer) => {
    logs += d.toString();
    if (logs.length > 200_000) logs = logs.slice(-100_000);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  let health: Record<string, unknown> = {};
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`the server exited (${proc.exitCode}):\n${logs}`);
    try {
      const r = await fetch(url + '/healthz');
      if (r.ok) {
        health = (await r.json()) as Record<string, unknown>;
        break;
      }
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`the server did not start in 120 s:\n${logs}`);
    }
    await sleep(50);
  }
  const startSeconds = (performance.now() - t0) / 1000;
  const rss = new RssSampler(proc.pid!);
  return {
    proc,
    pid: proc.pid!,
    url,
    port,
    metricsToken,
    rss,
    startSeconds,
    health,
    logs: () => logs,
    async metrics() {
      const r = await fetch(url + '/metrics', { headers: { authorization: `Bearer ${metricsToken}` } });
      return r.ok ? await r.text() : '';
    },
    stop() {
      return new Promise<void>((resolve) => {
        rss.stop();
        if (proc.exitCode !== null) return resolve();
        const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        proc.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        proc.kill('SIGTERM');
      });
    },
  };
}

export function memoryOf(s: BenchServer) {
  return procMemory(s.pid);
}

/** sums a histogram's _sum and _count per label value from Prometheus text, e.g. stage */
export function histogramTotals(text: string, name: string, label: string): Map<string, { sum: number; count: number }> {
  const out = new Map<string, { sum: number; count: number }>();
  const re = new RegExp(`^${name}_(sum|count)\\{([^}]*)\\} (\\S+)$`, 'gm');
  for (const m of text.matchAll(re)) {
    const lv = new RegExp(`${label}="([^"]*)"`).exec(m[2])?.[1];
    if (lv === undefined) continue;
    const e = out.get(lv) ?? { sum: 0, count: 0 };
    if (m[1] === 'sum') e.sum += Number(m[3]);
    else e.count += Number(m[3]);
    out.set(lv, e);
  }
  return out;
}

/** mean ms per stage between two scrapes */
export function stageMeansMs(before: string, after: string): Record<string, number> {
  const a = histogramTotals(before, 'whereabouts_stage_seconds', 'stage');
  const b = histogramTotals(after, 'whereabouts_stage_seconds', 'stage');
  const out: Record<string, number> = {};
  for (const [k, v] of b) {
    const p = a.get(k) ?? { sum: 0, count: 0 };
    const n = v.count - p.count;
    if (n > 0) out[k] = ((v.sum - p.sum) / n) * 1000;
  }
  return out;
}

/** the value of an unlabelled counter or gauge in Prometheus text (NaN when absent) */
export function sampleValue(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}
