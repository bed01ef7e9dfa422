/** Smoke test of `npm run bench`: a quick run of the lookup and text sections prints its tables and JSON. */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO, tempDir } from './helpers/tmp.js';

function run(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // its own process group: a bench killed for overrunning takes the server it started with it
    const p = spawn(process.execPath, [path.join(REPO, 'dist', 'bench', 'run.js'), ...args], { cwd: REPO, detached: true });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        p.kill('SIGKILL');
      }
    }, timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('bench', () => {
  it('node dist/bench/run.js --quick --only lookup,text prints the tables and writes JSON', async () => {
    const dir = tempDir('wa-bench-test-');
    const out = path.join(dir, 'r.json');
    const r = await run(['--quick', '--only', 'lookup,text', '--seconds', '2', '--sightings', '20000', '--loader', 'autocannon', '--out', out], 230_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Machine: .+, \d+ cores/m);
    expect(r.stdout).toContain('### Text queries: POST /v1/query, 20,000 sightings');
    expect(r.stdout).toMatch(/^\| JSON +\| \d+ +\| [\d,]+ \([\d,]+\) +\| [\d,]+ +\| [\d.]+ +\|/m);
    expect(r.stdout).toContain('### Lookup');
    expect(r.stdout).toMatch(/^\| sqlite +\| 1,000,000 +\| [\d.]+ +\| 5000 +\| [\d.]+ +\|/m);
    expect(r.stdout).toContain('### Targets');
    const j = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(j.text.rows[0].load.requests).toBeGreaterThan(0);
    expect(j.text.rows[0].load.errors).toBe(0);
    expect(j.text.rows[0].stages.lookup).toBeGreaterThan(0);
    // the questions rotate: over 1,000 distinct ones, and the load generator sent one per request up to that
    expect(j.text.rows[0].questions).toBeGreaterThanOrEqual(1000);
    expect(j.text.rows[0].load.distinct).toBeGreaterThanOrEqual(Math.min(1000, j.text.rows[0].load.requests));
    // the plans are the store's own statements': "latest" is an index seek that stops at the first row (no
    // full scan, no sort); "neighbours" seeks the frame's own sightings by index (sorting those few is fine)
    const [latestPlan, neighboursPlan] = String(j.lookup.rows[1].plan).split(' | ');
    expect(latestPlan).toMatch(/^latest: SEARCH s USING INDEX sightings_user_label_seen/);
    expect(latestPlan).not.toMatch(/SCAN|TEMP B-TREE/);
    expect(neighboursPlan).toMatch(/^neighbours: SEARCH sightings USING INDEX sightings_frame/);
    expect(neighboursPlan).not.toMatch(/SCAN/);
    expect(j.lookup.rows.map((x: { sightings: number }) => x.sightings)).toEqual([10_000, 1_000_000]);
    expect(j.lookup.rows[1].ms.p99).toBeLessThan(50);
    expect(j.voice).toBeNull();
    expect(j.server.idleRssMiB).toBeGreaterThan(20);
    fs.rmSync(dir, { recursive: true, force: true });
    // seeding a million sightings takes ~50 s on an idle 2-core machine and several times that on a busy one
  }, 240_000);
});
