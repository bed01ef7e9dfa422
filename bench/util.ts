/** Bench helpers: percentiles, the machine, /proc readings, a child-process RSS sampler, formatting. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '..', '..');

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return { n: s.length, min: s.length ? s[0] : NaN, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.length ? s[s.length - 1] : NaN, mean };
}

export function fmt(n: number | null | undefined, digits = 2): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  if (Math.abs(n) >= 100) return n.toFixed(Math.max(0, digits - 2));
  if (Math.abs(n) >= 10) return n.toFixed(Math.max(0, digits - 1));
  return n.toFixed(digits);
}

export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1].trim();
  } catch {
    /* not Linux */
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

export function cpuFlags(): string[] {
  try {
    const m = /^flags\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'));
    const all = new Set((m?.[1] ?? '').split(/\s+/));
    return ['avx2', 'fma', 'avx512f', 'avx512_vnni', 'amx_tile', 'neon', 'asimd'].filter((f) => all.has(f));
  } catch {
    return [];
  }
}

export interface Machine {
  cpu: string;
  cores: number;
  flags: string[];
  memGiB: number;
  node: string;
  platform: string;
  loadavg: number[];
}

export function machine(): Machine {
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    flags: cpuFlags(),
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** VmRSS / VmHWM of a process in MiB (Linux; null elsewhere) */
export function procMemory(pid: number): { rssMiB: number; hwmMiB: number } | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s*(\\d+)\\s*kB`, 'm').exec(s)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

/** CPU time (user+system) of a process, seconds (Linux) */
export function procCpuSeconds(pid: number): number | null {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // fields after the command: state(3) ... utime(14) stime(15) => indexes 11, 12 here
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return null;
  }
}

/** samples a process's RSS every `ms` and keeps the peak since the last `reset()` */
export class RssSampler {
  private peak = 0;
  private timer: NodeJS.Timeout;
  constructor(
    private readonly pid: number,
    ms = 100,
  ) {
    this.timer = setInterval(() => this.sample(), ms);
    this.timer.unref();
  }
  sample(): number {
    const m = procMemory(this.pid);
    if (m && m.rssMiB > this.peak) this.peak = m.rssMiB;
    return m?.rssMiB ?? NaN;
  }
  /** the peak RSS since the last reset, MiB, and starts a new window */
  reset(): number {
    this.sample();
    const p = this.peak;
    this.peak = 0;
    return p;
  }
  stop() {
    clearInterval(this.timer);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function log(msg: string) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** a markdown table */
export function table(head: string[], rows: Array<Array<string | number>>): string {
  const cells = rows.map((r) => r.map(String));
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(w[i])).join(' | ') + ' |';
  return [line(head), '| ' + w.map((n) => '-'.repeat(n)).join(' | ') + ' |', ...cells.map(line)].join('\n');
}
