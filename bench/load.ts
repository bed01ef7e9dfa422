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
  /** bodies used round-robin across all connections, by either load generator */
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
  /** distinct bodies the load generator sent (counted by it, not assumed) */
  distinct: number;
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
i = 0 -- global: done() reads it from each thread (thread:get)
local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[((i - 1) % #bodies) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  -- requests built per thread (one thread: one round-robin over the bodies)
  local built = 0
  for _, t in ipairs(threads) do built = built + (t:get("i") or 0) end
  local distinct = math.min(built, #bodies)
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,"errors":%d,"distinct":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout + e.status, distinct))
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
      return { loader: 'wrk', requests: j.requests, seconds: secs, rps: j.requests / secs, p50: j.p50 / 1000, p90: j.p90 / 1000, p99: j.p99 / 1000, max: j.max / 1000, errors: j.errors, distinct: j.distinct };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  // the API in a second process (bench/autocannon-run.ts), so that the bodies rotate like wrk's
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-ac-'));
  const specFile = path.join(dir, 'spec.json');
  fs.writeFileSync(specFile, JSON.stringify({ url: spec.url, method: spec.method, headers: spec.headers, bodies: spec.method === 'GET' ? [] : spec.bodies, connections: spec.connections, seconds: spec.seconds }));
  let r: { code: number | null; out: string; err: string };
  try {
    r = await runProc(process.execPath, [path.join(REPO, 'dist', 'bench', 'autocannon-run.js'), specFile]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const m = /ACJSON (\{.*\})/.exec(r.out);
  if (!m) throw new Error(`autocannon failed (${r.code}): ${r.err}`);
  const j = JSON.parse(m[1]) as {
    requests: { total: number };
    duration: number;
    latency: { p50: number; p90: number; p99: number; max: number };
    non2xx: number;
    errors: number;
    timeouts: number;
    distinct: number;
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
    distinct: j.distinct,
  };
}
