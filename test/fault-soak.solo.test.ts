/**
 * The fault and soak suite (issue 16): a real `whereabouts serve` process with its models, attacked and
 * broken from outside, bounded to about two minutes.
 *
 * - bursts of oversized uploads: 120 unauthenticated 16 MB uploads (with and without Expect: 100-continue)
 *   all refused with 401 before their body is read, RSS peak < idle + 150 MB; 32 authenticated ones 201 or
 *   503 busy, RSS peak <= 700 MB; both back under idle + 50 MB within 30 s;
 * - slow-loris bodies cut off while the server keeps answering;
 * - 500 WebSocket connections dropped abruptly mid-utterance leave no stream, connection or share behind;
 * - a device holding streams gets only its share, others are served, its idle utterances time out;
 * - kill -9 during writes: every acknowledged sighting is there after the restart;
 * - PostgreSQL stopped and frozen (SIGSTOP) under load: 503 `unavailable`, never a 500 or a hang, /healthz
 *   says so, and everything recovers with no acknowledged write lost.
 *
 * Solo: it measures the server's memory and needs the cores to itself.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type BenchServer } from '../dist/bench/server.js';
import { bigJpeg, burst } from '../dist/bench/bursts.js';
import { procMemory, sleep } from '../dist/bench/util.js';
import { SqliteStore } from '../dist/store/sqlite.js';
import { addDevice, addUser } from '../dist/assistant/accounts.js';
import { findPgBin, inCI, createDatabase, startPostgres, type PgServer } from './helpers/pg.js';
import { REPO, tempDir } from './helpers/tmp.js';

const MODELS_DIR = process.env.WHEREABOUTS_MODELS_DIR ? path.resolve(process.env.WHEREABOUTS_MODELS_DIR) : path.join(REPO, 'models', 'files');
const MB16 = 16 * 1024 * 1024;

async function seed(dataDir: string, devices: number): Promise<string[]> {
  fs.mkdirSync(dataDir, { recursive: true });
  const store = new SqliteStore(path.join(dataDir, 'whereabouts.db'));
  try {
    const u = await addUser(store, 'soak', 'soak-password-1', true);
    const out: string[] = [];
    for (let i = 0; i < devices; i++) out.push((await addDevice(store, u.id, `cam ${i}`, 'kitchen')).token);
    return out;
  } finally {
    await store.close();
  }
}

async function metric(s: BenchServer, name: string): Promise<number> {
  const text = await s.metrics();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

async function timed<T>(p: Promise<T>): Promise<{ v: T; ms: number }> {
  const t0 = Date.now();
  const v = await p;
  return { v, ms: Date.now() - t0 };
}

function wsOpen(url: string, token: string): Promise<{ ws: WebSocket; events: any[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/listen`, { headers: { authorization: `Bearer ${token}` } });
    const events: any[] = [];
    ws.on('message', (d: Buffer, bin: boolean) => {
      if (!bin) events.push(JSON.parse(d.toString('utf8')));
    });
    ws.on('error', () => {});
    ws.once('open', () => resolve({ ws, events }));
    ws.once('unexpected-response', (req, res) => {
      req.destroy();
      reject(new Error(`HTTP ${res.statusCode}`));
    });
  });
}

async function waitFor<T>(what: string, fn: () => T | Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('fault and soak', () => {
  let s: BenchServer;
  let tokens: string[];

  beforeAll(async () => {
    const dataDir = tempDir('wa-soak-');
    tokens = await seed(dataDir, 12);
    s = await startServer({
      dataDir,
      modelsDir: MODELS_DIR,
      extraArgs: ['--body-idle-seconds', '1', '--utterance-idle-seconds', '1', '--voice-recheck-seconds', '1', '--max-streams-per-device', '2', '--max-streams-per-user', '12', '--max-voice-connections-per-device', '30'],
    });
    // one real frame first, so the detector's first-use memory counts as idle
    const small = await (await import('sharp')).default(Buffer.alloc(640 * 480 * 3, 90), { raw: { width: 640, height: 480, channels: 3 } }).jpeg().toBuffer();
    const r = await fetch(s.url + '/v1/frames', { method: 'POST', headers: { authorization: `Bearer ${tokens[0]}`, 'content-type': 'image/jpeg' }, body: small });
    expect(r.status).toBe(201);
    await sleep(2000);
  }, 180_000);

  afterAll(async () => {
    await s?.stop();
  });

  it('bursts of oversized uploads: refused before reading, bounded memory, memory handed back', async () => {
    const image = await bigJpeg(MB16);
    const results = [];
    for (const expectContinue of [true, false]) {
      const r = await burst(s, `120 x 16 MB, no token${expectContinue ? '' : ', no Expect'}`, 120, image, {}, expectContinue);
      results.push(r);
      expect(r.statuses).toEqual({ '401': 120 });
      if (expectContinue) expect(r.sentMiB).toBe(0); // not a byte of any body was sent, let alone read
      expect(r.peakMiB - r.idleMiB).toBeLessThan(150);
      expect(r.backInSeconds).not.toBeNull();
    }
    const a = await burst(s, '32 x 16 MB, device token', 32, image, { authorization: `Bearer ${tokens[1]}` }, true);
    results.push(a);
    expect(Object.keys(a.statuses).sort()).toEqual(expect.arrayContaining(['201']));
    for (const k of Object.keys(a.statuses)) expect(['201', '503']).toContain(k);
    // bounded growth over the server's own idle memory (the models' share of it is not this test's business:
    // 700 MiB absolute before the second recogniser's ~110 MiB came)
    expect(a.peakMiB).toBeLessThanOrEqual(results[0].idleMiB + 300);
    expect(a.backInSeconds).not.toBeNull();
    console.log(results.map((x) => `${x.what}: ${JSON.stringify(x.statuses)} idle ${x.idleMiB} MiB, peak ${x.peakMiB} MiB, back in ${x.backInSeconds} s`).join('\n'));
    expect(await metric(s, 'whereabouts_request_body_bytes_in_flight')).toBe(0);
  }, 150_000);

  it('slow-loris bodies are cut off while the server keeps answering', async () => {
    const u = new URL(s.url);
    const closed: number[] = [];
    const t0 = Date.now();
    const socks = Array.from({ length: 40 }, (_, i) => {
      const c = net.connect(Number(u.port), u.hostname);
      c.on('error', () => {});
      c.on('close', () => closed.push(Date.now() - t0));
      c.write(`POST /v1/frames HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${tokens[2 + (i % 4)]}\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000\r\n\r\n`);
      // half stall after a few bytes, half trickle a byte every 300 ms
      c.write(Buffer.alloc(16, 1));
      if (i % 2) {
        const t = setInterval(() => (c.destroyed ? clearInterval(t) : c.write(Buffer.alloc(1, 1))), 300);
      }
      return c;
    });
    // meanwhile the server answers at once
    const h = await timed(fetch(s.url + '/healthz').then((r) => r.status));
    expect(h.v).toBe(200);
    expect(h.ms).toBeLessThan(1500);
    await waitFor('every slow connection closed by the server', () => closed.length === socks.length, 15_000);
    expect(Math.max(...closed)).toBeLessThan(12_000);
    expect(await metric(s, 'whereabouts_request_body_bytes_in_flight')).toBe(0);
  }, 30_000);

  it('500 WebSocket connections dropped abruptly mid-utterance leave nothing behind', async () => {
    const pcm = Buffer.alloc(3200);
    let listening = 0;
    for (let wave = 0; wave < 5; wave++) {
      const socks = await Promise.all(Array.from({ length: 100 }, (_, i) => wsOpen(s.url, tokens[2 + (i % 10)])));
      for (const { ws } of socks) ws.send(JSON.stringify({ type: 'start', sample_rate: 16000 }));
      await sleep(150);
      for (const { ws } of socks) if (ws.readyState === ws.OPEN) ws.send(pcm);
      await sleep(50);
      listening += socks.filter((x) => x.events.some((e) => e.type === 'listening')).length;
      // abrupt: no close frame, the TCP connection just goes
      for (const { ws } of socks) (ws as unknown as { _socket: net.Socket })._socket.destroy();
    }
    expect(listening).toBeGreaterThan(0);
    await waitFor('no voice connection, stream or share left', async () => {
      const [a, b, c] = await Promise.all([
        metric(s, 'whereabouts_voice_streams_active'),
        metric(s, 'whereabouts_voice_streams_held'),
        metric(s, 'whereabouts_voice_connections_watched'),
      ]);
      return a === 0 && b === 0 && c === 0;
    }, 10_000);
    // the shares were given back: a device can start its full share again
    const again = await Promise.all([0, 1].map(() => wsOpen(s.url, tokens[2])));
    for (const { ws } of again) ws.send(JSON.stringify({ type: 'start', sample_rate: 16000 }));
    await waitFor('both listening', () => again.every((x) => x.events.some((e) => e.type === 'listening')), 5000);
    for (const { ws } of again) ws.terminate();
  }, 60_000);

  it('a device holding streams gets only its share; others are served; its silent utterances time out', async () => {
    const hog = await Promise.all(Array.from({ length: 6 }, () => wsOpen(s.url, tokens[3])));
    for (const { ws } of hog) ws.send(JSON.stringify({ type: 'start', sample_rate: 16000 }));
    await waitFor('answers to every start', () => hog.every((x) => x.events.some((e) => e.type === 'listening' || e.type === 'error')), 5000);
    const got = hog.map((x) => (x.events.find((e) => e.type === 'listening' || e.type === 'error') as any).type === 'listening' ? 'listening' : x.events.find((e) => e.type === 'error').code);
    expect(got.filter((g) => g === 'listening')).toHaveLength(2);
    expect(got.filter((g) => g === 'busy')).toHaveLength(4);
    const other = await wsOpen(s.url, tokens[4]);
    other.ws.send(JSON.stringify({ type: 'start', sample_rate: 16000 }));
    await waitFor('another device listening', () => other.events.some((e) => e.type === 'listening'), 5000);
    other.ws.send(Buffer.alloc(3200));
    // the hog sends no audio: its streams end with timeout after ~1 s, and it has its share again
    const listeners = hog.filter((_, i) => got[i] === 'listening');
    await waitFor('timeouts', () => listeners.every((x) => x.events.some((e) => e.type === 'error' && e.code === 'timeout')), 5000);
    expect(await metric(s, 'whereabouts_voice_streams_held')).toBeLessThanOrEqual(1);
    for (const x of [...hog, other]) x.ws.terminate();
  }, 30_000);
});

describe('kill -9 during writes', () => {
  it('every acknowledged sighting is there after the restart (SQLite)', async () => {
    const dataDir = tempDir('wa-kill-');
    const [token] = await seed(dataDir, 1);
    let acked = 0;
    let attempted = 0;
    for (let round = 0; round < 2; round++) {
      const srv = await startServer({ dataDir, extraArgs: ['--no-models'] });
      let stop = false;
      const writer = async () => {
        while (!stop) {
          attempted++;
          try {
            const r = await fetch(srv.url + '/v1/sightings', {
              method: 'POST',
              headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
              body: JSON.stringify({ detections: [{ label: 'cup', score: 0.9, box: [0.1, 0.1, 0.2, 0.2] }, { label: 'book', score: 0.8, box: [0.5, 0.5, 0.2, 0.2] }] }),
            });
            if (r.status === 201) acked += 2;
          } catch {
            /* the server is gone */
          }
        }
      };
      const writers = Array.from({ length: 6 }, writer);
      await sleep(1500);
      srv.proc.kill('SIGKILL');
      await new Promise((r) => srv.proc.once('exit', r));
      stop = true;
      await Promise.all(writers);
      srv.rss.stop();
    }
    const store = new SqliteStore(path.join(dataDir, 'whereabouts.db'));
    try {
      const n = await store.countSightings();
      expect(acked).toBeGreaterThan(20);
      expect(n).toBeGreaterThanOrEqual(acked);
      expect(n).toBeLessThanOrEqual(attempted * 2);
    } finally {
      await store.close();
    }
  }, 90_000);
});

const haveBin = !!findPgBin();
describe.runIf(haveBin || inCI())('PostgreSQL stopped and frozen under load', () => {
  let pgs: PgServer;
  let srv: BenchServer;
  let token: string;
  let dbUrl: string;
  let deviceId: number;

  beforeAll(async () => {
    pgs = await startPostgres();
    const db = await createDatabase(pgs.url, 'wa_soak');
    dbUrl = db;
    const { openPostgresStore } = await import('../dist/store/postgres.js');
    const store = await openPostgresStore(db);
    const u = await addUser(store, 'pg', 'pg-password-1', false);
    const d = await addDevice(store, u.id, 'cam', 'hall');
    token = d.token;
    deviceId = d.device.id;
    await store.close();
    const url = new URL(db);
    url.searchParams.set('statement_timeout_ms', '2000');
    url.searchParams.set('pool_connect_timeout_ms', '2000');
    srv = await startServer({ dataDir: tempDir('wa-soak-pg-'), database: url.toString(), extraArgs: ['--no-models'] });
  }, 120_000);

  afterAll(async () => {
    await srv?.stop();
    pgs?.destroy();
  });

  /** the postmaster and its children (backends, checkpointer, ...) */
  function postgresPids(): number[] {
    const master = Number(fs.readFileSync(path.join(pgs.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const pids = [master];
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === master) pids.push(Number(d));
      } catch {
        /* gone */
      }
    }
    return pids;
  }

  it('answers 503 unavailable (never 500, never a hang), /healthz says so, and recovers without losing an acknowledged write', async () => {
    const statuses = new Map<number, number>();
    let acked = 0;
    let slowest = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const t0 = Date.now();
        try {
          const r = await fetch(srv.url + '/v1/sightings', {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ detections: [{ label: 'cup', score: 0.9, box: [0.1, 0.1, 0.2, 0.2] }] }),
            signal: AbortSignal.timeout(20_000),
          });
          await r.arrayBuffer();
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status === 201) acked++;
        } catch {
          statuses.set(0, (statuses.get(0) ?? 0) + 1);
        }
        slowest = Math.max(slowest, Date.now() - t0);
        await sleep(20);
      }
    };
    const health = async () => {
      const r = await fetch(srv.url + '/healthz', { signal: AbortSignal.timeout(5000) });
      return { status: r.status, body: (await r.json()) as any };
    };
    const workers = Array.from({ length: 4 }, worker);
    await sleep(800);
    expect((await health()).status).toBe(200);

    // stopped
    await pgs.stop('immediate');
    const down = await waitFor('healthz 503 while stopped', async () => {
      const h = await health();
      return h.status === 503 ? h : null;
    }, 8000);
    expect(down.body).toMatchObject({ ok: false, store: 'postgres', error: { code: 'unavailable' } });
    await sleep(1000);
    await pgs.start();
    await waitFor('healthz 200 after the restart', async () => (await health()).status === 200, 15_000);
    await sleep(500);

    // frozen: every PostgreSQL process stopped with SIGSTOP (connections stay open, nothing answers)
    const pids = postgresPids();
    for (const p of pids) process.kill(p, 'SIGSTOP');
    try {
      const t0 = Date.now();
      const frozen = await health();
      expect(frozen.status).toBe(503);
      expect(Date.now() - t0).toBeLessThan(4000);
      await sleep(4000);
    } finally {
      for (const p of pids) process.kill(p, 'SIGCONT');
    }
    await waitFor('healthz 200 after thawing', async () => (await health()).status === 200, 20_000);
    await sleep(1000);
    stop = true;
    await Promise.all(workers);

    const seen = Object.fromEntries(statuses);
    console.log(`PostgreSQL faults: statuses ${JSON.stringify(seen)}, slowest request ${slowest} ms`);
    for (const k of statuses.keys()) expect([201, 503]).toContain(k);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    expect(slowest).toBeLessThan(15_000);
    // no acknowledged write lost
    const { openPostgresStore } = await import('../dist/store/postgres.js');
    const check = await openPostgresStore(dbUrl);
    try {
      expect(acked).toBeGreaterThan(10);
      expect(await check.countSightings()).toBeGreaterThanOrEqual(acked);
    } finally {
      await check.close();
    }
  }, 120_000);

  it('a device revoked through one instance loses its voice socket on the other within 1 s (NOTIFY)', async () => {
    const other = await startServer({ dataDir: tempDir('wa-soak-pg2-'), database: dbUrl, extraArgs: ['--no-models', '--voice-recheck-seconds', '60'] });
    try {
      const sock = await wsOpen(other.url, token);
      await waitFor('ready', () => sock.events.some((e) => e.type === 'ready'), 5000);
      let closedAt = 0;
      let closeCode = 0;
      sock.ws.on('close', (code) => {
        closedAt = Date.now();
        closeCode = code;
      });
      // the owner revokes it through the first instance
      const login = await fetch(srv.url + '/v1/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'pg', password: 'pg-password-1' }) });
      expect(login.status).toBe(200);
      const csrf = ((await login.json()) as any).csrf_token;
      const cookie = login.headers.getSetCookie()[0].split(';')[0];
      const t0 = Date.now();
      const del = await fetch(`${srv.url}/v1/devices/${deviceId}`, { method: 'DELETE', headers: { cookie, 'x-csrf-token': csrf } });
      expect(del.status).toBe(204);
      await waitFor('the socket on the other instance closed', () => closedAt > 0, 3000);
      expect(closedAt - t0).toBeLessThan(1000); // re-checks are 60 s apart here: only the notification is this fast
      expect(closeCode).toBe(1008);
      expect(sock.events.at(-1)).toMatchObject({ type: 'error', code: 'unauthorized' });
    } finally {
      await other.stop();
    }
  }, 60_000);
});
