/**
 * The voice socket's guard (assistant/voice-guard.ts) over real WebSockets with the real Vosk recogniser:
 * sockets closed with a typed error within 1 s when their device is revoked, their user removed or their
 * session ended (also when the change comes from another process), per-device and per-user stream shares,
 * and the idle timeout for a started utterance that gets no audio.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp, manifestLabels } from '../dist/assistant/app.js';
import { loadConfig } from '../dist/assistant/config.js';
import { addDevice, addUser } from '../dist/assistant/accounts.js';
import { createAsr, type Asr } from '../dist/assistant/asr/index.js';
import { buildVocabulary } from '../dist/nlp/vocabulary.js';
import { voskProvider } from '../dist/models/vosk.js';
import { SqliteStore } from '../dist/store/sqlite.js';
import { ASR_MODEL, MODELS_DIR, tempDir } from './asr-speech.js';
import { Client } from './helpers/server.js';
import path from 'node:path';

let app: FastifyInstance;
let asr: Asr;
let base: string;
let dataDir: string;

class Sock {
  events: any[] = [];
  closed: { code: number; at: number } | null = null;
  private waiters: (() => void)[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer, bin: boolean) => {
      if (!bin) this.events.push(JSON.parse(d.toString('utf8')));
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('close', (code) => {
      this.closed = { code, at: Date.now() };
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('error', () => {});
  }
  static open(headers: Record<string, string>): Promise<Sock> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/listen`, { headers });
      const s = new Sock(ws);
      ws.once('open', () => s.until((e) => e.type === 'ready').then(() => resolve(s), reject));
      ws.once('unexpected-response', (req, res) => {
        req.destroy();
        reject(new Error(`HTTP ${res.statusCode}`));
      });
    });
  }
  async until(pred: (e: any) => boolean, ms = 10_000): Promise<any> {
    const deadline = Date.now() + ms;
    for (;;) {
      const e = this.events.find(pred);
      if (e) return e;
      if (this.closed) throw new Error(`closed ${this.closed.code}; events ${JSON.stringify(this.events)}`);
      if (Date.now() > deadline) throw new Error(`timed out; events ${JSON.stringify(this.events)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }
  async closedWithin(ms: number): Promise<{ code: number; at: number }> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (!this.closed) throw new Error(`still open after ${ms} ms; events ${JSON.stringify(this.events)}`);
    return this.closed;
  }
  /** sends start; resolves with "listening" or the error that refused it */
  async start(): Promise<any> {
    const from = this.events.length;
    this.ws.send(JSON.stringify({ type: 'start', sample_rate: 16000 }));
    const deadline = Date.now() + 10_000;
    for (;;) {
      const e = this.events.slice(from).find((x) => x.type === 'listening' || x.type === 'error');
      if (e) return e;
      if (this.closed || Date.now() > deadline) throw new Error(`no answer to start; events ${JSON.stringify(this.events)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  audio(ms = 100) {
    this.ws.send(Buffer.alloc(Math.round((16000 * ms) / 1000) * 2), { binary: true });
  }
  close() {
    this.ws.terminate();
  }
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  await voskProvider.ensure({ modelsDir: MODELS_DIR, model: ASR_MODEL });
  dataDir = tempDir('wa-guard-');
  const config = loadConfig([], {}, {
    port: 0,
    dataDir,
    logLevel: 'warn',
    noModels: true,
    timeZone: 'UTC',
    modelsDir: MODELS_DIR,
    asrModel: ASR_MODEL,
    asrWorkers: 1,
    maxStreams: 16,
    maxStreamsPerDevice: 2,
    maxStreamsPerUser: 3,
    maxVoiceConnectionsPerDevice: 4,
    utteranceIdleSeconds: 1,
    voiceRecheckSeconds: 0.5,
  });
  const vocab = buildVocabulary(manifestLabels('yolox_nano')!);
  asr = await createAsr(config, vocab.phrases(), { preferred: vocab.labels });
  app = await buildApp(config, { logger: false, asr, speech: null });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
}, 300_000);

afterAll(async () => {
  await app?.close();
  await asr?.close();
});

let n = 0;
async function owner(): Promise<{ id: number; client: Client; password: string; name: string }> {
  const name = `u${++n}`;
  const password = `pw-${name}-secret`;
  const u = await addUser(app.store, name, password, false);
  const client = new Client(base);
  expect((await client.login(name, password)).status).toBe(200);
  return { id: u.id, client, password, name };
}

describe('voice guard', () => {
  it('closes a revoked device’s socket within 1 s with a typed error, also mid-utterance', async () => {
    const me = await owner();
    const cam = await addDevice(app.store, me.id, 'kitchen pi', 'kitchen');
    const idle = await Sock.open(bearer(cam.token));
    const busy = await Sock.open(bearer(cam.token));
    expect((await busy.start()).type).toBe('listening');
    busy.audio();
    const t0 = Date.now();
    expect((await me.client.del(`/v1/devices/${cam.device.id}`)).status).toBe(204);
    for (const s of [idle, busy]) {
      const c = await s.closedWithin(1000);
      expect(c.code).toBe(1008);
      expect(c.at - t0).toBeLessThan(1000);
      expect(s.events.at(-1)).toMatchObject({ type: 'error', code: 'unauthorized' });
    }
    // and it cannot come back
    await expect(Sock.open(bearer(cam.token))).rejects.toThrow(/401/);
    expect(app.voiceGuard!.held({ deviceId: cam.device.id })).toBe(0);
  });

  it('closes the sockets of a removed user and of an ended session', async () => {
    const admin = await addUser(app.store, `admin${++n}`, 'admin-password-1', true);
    const adminClient = new Client(base);
    expect((await adminClient.login(admin.name, 'admin-password-1')).status).toBe(200);
    const gone = await owner();
    const cam = await addDevice(app.store, gone.id, 'pi', null);
    const s1 = await Sock.open(bearer(cam.token));
    const t0 = Date.now();
    expect((await adminClient.del(`/v1/users/${gone.id}`)).status).toBe(204);
    expect((await s1.closedWithin(1000)).at - t0).toBeLessThan(1000);
    expect(s1.events.at(-1)).toMatchObject({ type: 'error', code: 'unauthorized' });

    // a browser-style session (cookie): logging out this browser ends its voice socket
    const me = await owner();
    const s2 = await Sock.open({ cookie: me.client.cookie });
    const other = new Client(base);
    await other.login(me.name, me.password);
    const s3 = await Sock.open({ cookie: other.cookie });
    const t1 = Date.now();
    expect((await me.client.del('/v1/session')).status).toBe(204);
    expect((await s2.closedWithin(1000)).at - t1).toBeLessThan(1000);
    expect(s2.events.at(-1)).toMatchObject({ type: 'error', code: 'unauthorized' });
    // the other browser's socket stays; "log out everywhere" ends it
    await new Promise((r) => setTimeout(r, 700));
    expect(s3.closed).toBeNull();
    const t2 = Date.now();
    expect((await other.del('/v1/session?everywhere=true')).status).toBe(204);
    expect((await s3.closedWithin(1000)).at - t2).toBeLessThan(1000);
  });

  it('notices a revocation made by another process (the CLI on the same database) within the re-check period', async () => {
    const me = await owner();
    const cam = await addDevice(app.store, me.id, 'pi', null);
    const s = await Sock.open(bearer(cam.token));
    // a second handle on the same SQLite file: this server gets no in-process signal
    const outside = new SqliteStore(path.join(dataDir, 'whereabouts.db'));
    try {
      const t0 = Date.now();
      expect(await outside.revokeDevice(cam.device.id, Date.now())).toBe(true);
      const c = await s.closedWithin(2000);
      expect(c.code).toBe(1008);
      expect(c.at - t0).toBeLessThan(1500); // re-check every 0.5 s here (5 s by default)
    } finally {
      await outside.close();
    }
  });

  it('one device holds at most its share of the speech streams; a user at most theirs; others still get one', async () => {
    const me = await owner();
    const a = await addDevice(app.store, me.id, 'a', null);
    const b = await addDevice(app.store, me.id, 'b', null);
    const theirs = await owner();
    const c = await addDevice(app.store, theirs.id, 'c', null);
    const aSocks = await Promise.all([0, 1, 2].map(() => Sock.open(bearer(a.token))));
    const aStarts = await Promise.all(aSocks.map((s) => s.start()));
    expect(aStarts.map((e) => e.type)).toEqual(['listening', 'listening', 'error']);
    expect(aStarts[2]).toMatchObject({ code: 'busy' });
    expect(aStarts[2].message).toMatch(/this device/);
    // the same user's other device gets one more (user share 3), then busy
    const bSocks = await Promise.all([0, 1].map(() => Sock.open(bearer(b.token))));
    expect((await bSocks[0].start()).type).toBe('listening');
    const over = await bSocks[1].start();
    expect(over).toMatchObject({ type: 'error', code: 'busy' });
    expect(over.message).toMatch(/account/);
    // someone else is not affected
    const cSock = await Sock.open(bearer(c.token));
    expect((await cSock.start()).type).toBe('listening');
    // a finished stream gives its share back
    for (const s of aSocks.slice(0, 2)) s.audio();
    aSocks[0].ws.send(JSON.stringify({ type: 'stop' }));
    await aSocks[0].until((e) => e.type === 'transcript' || e.type === 'done' || (e.type === 'error' && e.code !== 'busy'));
    await new Promise((r) => setTimeout(r, 200));
    expect((await aSocks[2].start()).type).toBe('listening');
    for (const s of [...aSocks, ...bSocks, cSock]) s.close();
  });

  it('a device keeps at most its number of voice connections open', async () => {
    const me = await owner();
    const cam = await addDevice(app.store, me.id, 'pi', null);
    const four = await Promise.all([0, 1, 2, 3].map(() => Sock.open(bearer(cam.token))));
    const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/listen`, { headers: bearer(cam.token) });
    const fifth = new Sock(ws);
    const c = await fifth.closedWithin(5000);
    expect(c.code).toBe(1008);
    expect(fifth.events.at(-1)).toMatchObject({ type: 'error', code: 'busy' });
    // closing one makes room
    four[0].close();
    await new Promise((r) => setTimeout(r, 300));
    const again = await Sock.open(bearer(cam.token));
    expect(again.closed).toBeNull();
    for (const s of [...four, again]) s.close();
  });

  it('a started utterance with no audio ends with a timeout error and gives its stream back', async () => {
    const me = await owner();
    const cam = await addDevice(app.store, me.id, 'pi', null);
    const s = await Sock.open(bearer(cam.token));
    const t0 = Date.now();
    expect((await s.start()).type).toBe('listening');
    expect(app.voiceGuard!.held({ deviceId: cam.device.id })).toBe(1);
    const e = await s.until((x) => x.type === 'error', 5000);
    expect(e.code).toBe('timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(Date.now() - t0).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 100));
    expect(app.voiceGuard!.held({ deviceId: cam.device.id })).toBe(0);
    // a socket that keeps sending audio is not timed out
    s.events.length = 0;
    expect((await s.start()).type).toBe('listening');
    for (let i = 0; i < 15; i++) {
      s.audio();
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(s.events.filter((x) => x.type === 'error')).toEqual([]);
    s.close();
  });
});
