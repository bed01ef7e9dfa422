/**
 * The text bench's load cannot flatter: its questions are over 1,000 distinct requests, and both load
 * generators (wrk with its Lua script, autocannon through its API) hand them out round-robin across all
 * connections. Checked at a plain HTTP server that counts the bodies it receives.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchQuestions } from '../dist/bench/questions.js';
import { runLoad } from '../dist/bench/load.js';
import { COCO_LABELS } from '../dist/nlp/coco-labels.js';
import { parseRequest } from '../dist/nlp/parse.js';
import { itWhenReady } from './helpers/needs.js';

const haveWrk = (() => {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    return (e as { status?: number }).status === 1; // wrk --version exits 1
  }
})();

describe('text bench questions', () => {
  it('are over 1,000 distinct requests for items, the same on every run, in a shuffled order', () => {
    const q = benchQuestions(COCO_LABELS);
    expect(new Set(q).size).toBe(q.length);
    expect(q.length).toBeGreaterThanOrEqual(1000);
    expect(benchQuestions(COCO_LABELS)).toEqual(q);
    expect(q.filter((t) => parseRequest(t).intent === 'not_a_request')).toEqual([]);
    // neighbours differ: not the same item asked 14 times in a row
    const firstWords = q.slice(0, 50).map((t) => t.split(' ').slice(-1)[0]);
    expect(new Set(firstWords).size).toBeGreaterThan(30);
    expect(() => benchQuestions(['cup'], 1000)).toThrow(/only \d+ distinct questions/);
  });
});

describe('load generators rotate the bodies', () => {
  let server: http.Server;
  let url = '';
  const received = new Map<string, number>();
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.set(body, (received.get(body) ?? 0) + 1);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/query`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const bodies = Array.from({ length: 400 }, (_, i) => JSON.stringify({ text: `question number ${i}` }));
  const check = async (loader: 'wrk' | 'autocannon') => {
    received.clear();
    const r = await runLoad({ url, method: 'POST', headers: { 'content-type': 'application/json' }, bodies, connections: 8, seconds: 2, loader });
    expect(r.errors).toBe(0);
    expect(r.requests).toBeGreaterThan(bodies.length);
    // every body reached the server, each about equally often
    expect(received.size).toBe(bodies.length);
    const counts = [...received.values()];
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(Math.ceil(Math.max(...counts) * 0.2) + 8);
    expect(r.distinct).toBe(bodies.length);
  };

  it('autocannon (API driver in a second process)', () => check('autocannon'), 60_000);
  itWhenReady('wrk (Lua script)', haveWrk ? [] : ['wrk (apt-get install wrk)'], () => check('wrk'), 60_000);
});
