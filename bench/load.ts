/**
 * HTTP load from a second process: wrk when it is installed (C, light on the CPU the server needs),
 * otherwise autocannon (a dev dependency). Both report throughput and latency percentiles.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO } from './util.js';

export interface LoadSpec {
  url: string;
  method: 'POST' | 'GET';
  headers: Record<string, string>;
  /** bodies used round-robin (wrk) or the first one (autocannon) */
  bodies: string[];
  connections: number;
  seconds: number;
  loader: 'wrk' | 'autocannon';
}

export interface LoadResult {
  loader: string;
  requests: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** non-2xx replies and socket errors */
  errors: number;
}

export function haveWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    // wrk --version exits 1 but prints its version
    return (e as { status?: number }).status === 1;
  }
}

const lua = (s: string) => JSON.stringify(s); // JSON string literals are valid Lua long-enough strings for ASCII

function wrkScript(spec: LoadSpec): string {
  const hdr = Object.entries(spec.headers)
    .map(([k, v]) => `wrk.headers[${lua(k)}] = ${lua(v)}`)
    .join('\n');
  return `
wrk.method = ${lua(spec.method)}
${hdr}
local bodies = { ${spec.bodies.map(lua).join(', ')} }
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout + e.status))
end
`;
}

function runProc(cmd: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.loader === 'wrk') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-wrk-'));
    const script = path.join(dir, 'load.lua');
    fs.writeFileSync(script, wrkScript(spec));
    try {
      const r = await runProc('wrk', ['-t1', `-c${spec.connections}`, `-d${spec.seconds}s`, '--timeout', '10s', '-s', script, spec.url]);
      const m = /WRKJSON (\{.*\})/.exec(r.out);
      if (!m) throw new Error(`wrk failed (${r.code}): ${r.out}\n${r.err}`);
      const j = JSON.parse(m[1]) as Record<string, number>;
      const secs = j.duration_us / 1e6;
      return { loader: 'wrk', requests: j.requests, seconds: secs, rps: j.requests / secs, p50: j.p50 / 1000, p90: j.p90 / 1000, p99: j.p99 / 1000, max: j.max / 1000, errors: j.errors };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const bin = path.join(REPO, 'node_modules', 'autocannon', 'autocannon.js');
  const args = [bin, '--json', '-c', String(spec.connections), '-d', String(spec.seconds), '-m', spec.method, '-t', '10'];
  for (const [k, v] of Object.entries(spec.headers)) args.push('-H', `${k}=${v}`);
  if (spec.bodies[0] !== undefined && spec.method !== 'GET') args.push('-b', spec.bodies[0]);
  args.push(spec.url);
  const r = await runProc(process.execPath, args);
  const start = r.out.indexOf('{');
  if (start < 0) throw new Error(`autocannon failed (${r.code}): ${r.err}`);
  const j = JSON.parse(r.out.slice(start)) as {
    requests: { total: number };
    duration: number;
    latency: { p50: number; p90: number; p99: number; max: number };
    non2xx: number;
    errors: number;
    timeouts: number;
  };
  return {
    loader: 'autocannon',
    requests: j.requests.total,
    seconds: j.duration,
    rps: j.requests.total / j.duration,
    p50: j.latency.p50,
    p90: j.latency.p90,
    p99: j.latency.p99,
    max: j.latency.max,
    errors: j.non2xx + j.errors + j.timeouts,
  };
}
