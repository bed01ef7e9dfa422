/**
 * Two real assistant processes (`whereabouts serve --database postgres://...`) on one PostgreSQL: they start
 * together without a migration race, share sightings, sessions and the login rate limit, and ride out a
 * PostgreSQL stop/restart under load with clear 503s and no lost acknowledged sighting.
 *
 * This suite stops and restarts PostgreSQL, so it runs its own private server (test/helpers/pg.ts), not the
 * run-wide one.
 */
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { findPgBin, startPostgres, type PgServer } from './helpers/pg.js';
import { describeWhenReady, itWhenReady, missingPaths } from './helpers/needs.js';
import { serve } from './helpers/proc.js';
import { Client } from './helpers/server.js';
import { REPO, tempDir } from './helpers/tmp.js';
import { openPostgresStore } from '../dist/store/postgres.js';
import { POSTGRES_MIGRATIONS } from '../dist/store/postgres-migrations.js';
import { addDevice, addUser } from '../dist/assistant/accounts.js';

const pgMissing = findPgBin() ? [] : ['the PostgreSQL binaries (apt-get install postgresql)'];

type Instance = Awaited<ReturnType<typeof serve>>;

/** A voice question needs the real models (Vosk + the detector, which `serve` loads without --no-models). */
const MODELS_DIR = path.join(REPO, 'models', 'files');
const VOICE_FIXTURE = path.join(REPO, 'audio-fixtures', 'wav', 'where-is-my-cup.en-us.s150.wav');
const voiceMissing = missingPaths({
  'the speech model': path.join(MODELS_DIR, 'vosk-model-small-en-us-0.15'),
  'the detector': path.join(MODELS_DIR, 'yolox_nano.onnx'),
  'the speech fixture': VOICE_FIXTURE,
});

const BOX = [0.4, 0.4, 0.1, 0.15];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** both instances, started at the same moment on the same (fresh) database */
async function startPair(db: string, dataDir: string, extra: string[] = []): Promise<[Instance, Instance]> {
  const args = ['--database', db, '--no-models', '--data-dir', dataDir, '--log-level', 'warn', '--time-zone', 'UTC', ...extra];
  const [a, b] = await Promise.allSettled([serve(args), serve(args)]);
  if (a.status === 'rejected' || b.status === 'rejected') {
    for (const r of [a, b]) if (r.status === 'fulfilled') await r.value.stop();
    throw (a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason) as Error;
  }
  return [a.value, b.value];
}

describeWhenReady('scale-out on PostgreSQL', pgMissing, () => {
  let server: PgServer;
  const instances: Instance[] = [];
  const dirs: string[] = [];
  const scratch = () => {
    const d = tempDir('wa-scale-');
    dirs.push(d);
    return d;
  };
  const onExit = () => server?.destroy();

  beforeAll(async () => {
    server = await startPostgres();
    process.once('exit', onExit);
  });
  afterAll(async () => {
    for (const i of instances) await i.stop().catch(() => {});
    server?.destroy();
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
    process.removeListener('exit', onExit);
  });

  async function sql(db: string, text: string, values: unknown[] = []) {
    const c = new pg.Client({ connectionString: db });
    c.on('error', () => {});
    await c.connect();
    try {
      return (await c.query(text, values)).rows;
    } finally {
      await c.end();
    }
  }

  it('two instances started at the same moment on a fresh database migrate it once, without a race', async () => {
    const db = await server.createDatabase('wa_race');
    const [a, b] = await startPair(db, scratch());
    instances.push(a, b);
    try {
      for (const i of [a, b]) expect((await (await fetch(i.url + '/healthz')).json()).store).toBe('postgres');
      const rows = await sql(db, 'SELECT version, name FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
      expect(a.logs() + b.logs()).not.toMatch(/already exists|duplicate key|migration .* failed/i);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  describe('a household on two instances', () => {
    let db: string;
    let A: Instance;
    let B: Instance;
    let userId: number;
    let deviceToken: string;
    const password = 'correct horse battery staple';

    beforeAll(async () => {
      db = await server.createDatabase('wa_pair');
      const dataDir = scratch();
      // fresh database again, both at once; then the household is made through a third connection
      [A, B] = await startPair(db, dataDir, ['--login-attempts', '3']);
      instances.push(A, B);
      const store = await openPostgresStore(db);
      try {
        const u = await addUser(store, 'ann', password, true);
        userId = u.id;
        await addUser(store, 'cy', password, false);
        deviceToken = (await addDevice(store, u.id, 'kitchen cam', 'kitchen')).token;
      } finally {
        await store.close();
      }
    });

    it('a sighting posted to one instance answers a question on the other', async () => {
      const camA = new Client(A.url, deviceToken);
      const camB = new Client(B.url, deviceToken);
      const posted = await camA.post('/v1/sightings', {
        detections: [
          { label: 'cup', score: 0.91, box: BOX },
          { label: 'dining table', score: 0.8, box: [0, 0.5, 1, 0.5] },
        ],
      });
      expect(posted.status).toBe(201);
      const asked = await camB.post('/v1/query', { text: 'where is my mug?' });
      expect(asked.status).toBe(200);
      expect(asked.body.outcome).toBe('found');
      expect(asked.body.label).toBe('cup');
      expect(asked.body.reply).toMatch(/kitchen/i);
      expect(asked.body.sighting.id).toBe(posted.body.sightings[0].id);
      // and the history agrees on both
      const [ha, hb] = await Promise.all([camA.get('/v1/sightings?label=cup'), camB.get('/v1/sightings?label=cup')]);
      expect(hb.body).toEqual(ha.body);
    });

    itWhenReady('a voice question on a third instance (with models) answers from a sighting posted to the first', voiceMissing, async () => {
      const dataDir = scratch();
      const V = await serve(['--database', db, '--data-dir', dataDir, '--models-dir', MODELS_DIR, '--log-level', 'warn', '--time-zone', 'UTC', '--vision-workers', '1', '--asr-workers', '1']);
      instances.push(V);
      try {
        const { parseWav } = await import('../dist/protocol/wav.js');
        const wav = parseWav(fs.readFileSync(VOICE_FIXTURE));
        const ws = new WebSocket(V.url.replace(/^http/, 'ws') + '/v1/listen', { headers: { authorization: `Bearer ${deviceToken}` } });
        const events: any[] = [];
        const finished = new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no reply: ${JSON.stringify(events)}`)), 60_000);
          ws.on('message', (data, isBinary) => {
            if (isBinary) return;
            const ev = JSON.parse(data.toString());
            events.push(ev);
            if (ev.type === 'done' || ev.type === 'error') {
              clearTimeout(t);
              resolve();
            }
          });
          ws.on('error', reject);
        });
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve());
          ws.once('error', reject);
        });
        ws.send(JSON.stringify({ type: 'start', sample_rate: wav.sampleRate, audio: false }));
        const chunk = Math.round(wav.sampleRate / 10) * 2; // 100 ms frames
        for (let i = 0; i < wav.data.length; i += chunk) ws.send(wav.data.subarray(i, i + chunk));
        ws.send(JSON.stringify({ type: 'stop' }));
        await finished;
        ws.close();
        const reply = events.find((e) => e.type === 'reply');
        expect(reply, JSON.stringify(events)).toBeTruthy();
        expect(reply.label).toBe('cup');
        expect(reply.outcome).toBe('found');
        expect(reply.text).toMatch(/kitchen/i);
      } finally {
        await V.stop();
      }
    }, 180_000);

    it('logging out through one instance ends the session on both', async () => {
      const onA = new Client(A.url);
      expect((await onA.login('ann', password)).status).toBe(200);
      const onB = new Client(B.url);
      onB.cookie = onA.cookie;
      onB.csrf = onA.csrf;
      expect((await onB.get('/v1/session')).status).toBe(200);
      expect((await onA.del('/v1/session')).status).toBe(204);
      const after = await onB.get('/v1/session');
      expect(after.status).toBe(401);
      expect(after.body.error.code).toBe('unauthorized');
    });

    it('failed logins on one instance count on the other (the rate limit is shared)', async () => {
      const onA = new Client(A.url);
      const onB = new Client(B.url);
      expect((await onA.login('cy', 'wrong-1')).status).toBe(401);
      expect((await onA.login('cy', 'wrong-2')).status).toBe(401);
      expect((await onB.login('cy', 'wrong-3')).status).toBe(401);
      // three failures (limit 3) across both: even the right password waits now, on either instance
      const r = await onB.login('cy', password);
      expect(r.status).toBe(429);
      expect(r.body.error.code).toBe('rate_limited');
      expect((await onA.login('cy', password)).status).toBe(429);
    });

    it('PostgreSQL stopped and restarted under load: clear 503s meanwhile, recovery by itself, no acknowledged sighting lost', async () => {
      const acked = new Map<number, string>(); // sighting id -> label it was acknowledged with
      const failures: Array<{ status: number; code: string; ms: number }> = [];
      let slowest = 0;
      let seq = 0;
      let running = true;

      async function post(inst: Instance): Promise<number> {
        const label = ['cup', 'book', 'laptop', 'remote'][seq++ % 4];
        const t = Date.now();
        let status = 0;
        let code = '';
        try {
          const res = await fetch(inst.url + '/v1/sightings', {
            method: 'POST',
            headers: { authorization: `Bearer ${deviceToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ detections: [{ label, score: 0.7, box: BOX }] }),
            signal: AbortSignal.timeout(30_000),
          });
          status = res.status;
          const body = (await res.json()) as any;
          if (status === 201) for (const s of body.sightings) acked.set(s.id, s.label);
          else code = body?.error?.code ?? '';
        } catch (e) {
          code = `fetch: ${(e as Error).name}`;
        }
        const ms = Date.now() - t;
        slowest = Math.max(slowest, ms);
        if (status !== 201) failures.push({ status, code, ms });
        return status;
      }

      // rows from the earlier tests, before any load
      const preexisting = new Set((await sql(db, 'SELECT id FROM sightings')).map((r) => Number(r.id)));
      // four devices' worth of steady load, spread over both instances
      const workers = Array.from({ length: 4 }, async (_, w) => {
        const inst = w % 2 ? B : A;
        while (running) {
          const s = await post(inst);
          await sleep(s === 201 ? 20 : 100);
        }
      });

      async function waitForBoth(): Promise<number> {
        const t = Date.now();
        for (const inst of [A, B]) {
          for (;;) {
            if ((await post(inst)) === 201) break;
            if (Date.now() - t > 60_000) throw new Error(`instance did not recover:\n${inst.logs().slice(-3000)}`);
            await sleep(200);
          }
        }
        return Date.now() - t;
      }

      const report: string[] = [];
      try {
        await sleep(1000);
        const healthy = acked.size;
        expect(healthy).toBeGreaterThan(10);
        expect(failures).toEqual([]);

        for (const mode of ['fast', 'immediate'] as const) {
          const before = failures.length;
          await server.stop(mode);
          await sleep(2500);
          const down = failures.slice(before);
          expect(down.length).toBeGreaterThan(0);
          const t = Date.now();
          await server.start();
          const startMs = Date.now() - t;
          const recoverMs = await waitForBoth();
          report.push(`${mode} stop: ${down.length} failed requests while down, PostgreSQL back in ${startMs} ms, both instances serving ${recoverMs} ms later`);
          await sleep(1000);
        }
      } finally {
        running = false;
        await Promise.all(workers);
      }

      // every failure was a clear, prompt 503 "unavailable"
      const kinds = [...new Set(failures.map((f) => `${f.status} ${f.code}`))];
      report.push(`${acked.size} sightings acknowledged; ${failures.length} requests failed (${kinds.join(', ')}); slowest request ${slowest} ms`);
      expect(kinds).toEqual(['503 unavailable']);
      expect(slowest).toBeLessThan(10_000);
      // both processes are still the ones we started
      expect(A.proc.exitCode).toBeNull();
      expect(B.proc.exitCode).toBeNull();

      // no acknowledged sighting lost: each one is stored, with its label; anything extra can only come from
      // a request whose commit raced the shutdown (the client saw a failure, the row made it), never more
      const stored = await sql(db, 'SELECT id, label FROM sightings WHERE user_id = $1', [userId]);
      const have = new Map(stored.map((r) => [Number(r.id), r.label as string]));
      const missing = [...acked].filter(([id, label]) => have.get(id) !== label);
      expect(missing).toEqual([]);
      const extra = [...have.keys()].filter((id) => !acked.has(id) && !preexisting.has(id));
      report.push(`stored: all ${acked.size} acknowledged sightings (+ ${preexisting.size} from before the load, + ${extra.length} in-doubt commits)`);
      expect(extra.length).toBeLessThanOrEqual(failures.length);
      expect(have.size - preexisting.size).toBeGreaterThanOrEqual(acked.size);
      // latest_sightings agrees with the rows
      const counts = await sql(db, `SELECT l.label, l.count, (SELECT count(*) FROM sightings s WHERE s.user_id = l.user_id AND s.label = l.label) AS n
                                    FROM latest_sightings l WHERE l.user_id = $1`, [userId]);
      for (const r of counts) expect(Number(r.count)).toBe(Number(r.n));
      console.log(`[pg-scaleout] ${report.join('\n[pg-scaleout] ')}`);
    }, 180_000);
  });
});
