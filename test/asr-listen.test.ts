/**
 * The voice socket `GET /v1/listen` over a real WebSocket, with the real Vosk model, the real TTS (flite) and
 * the committed speech fixtures (audio-fixtures/manifest.json).
 */
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp, manifestLabels } from '../dist/assistant/app.js';
import { loadConfig } from '../dist/assistant/config.js';
import { addDevice, addUser } from '../dist/assistant/accounts.js';
import { parseWav } from '../dist/protocol/wav.js';
import { analyzeSpeech, s16leToFloat32 } from '../dist/protocol/pcm.js';
import { createAsr, type Asr } from '../dist/assistant/asr/index.js';
import { buildVocabulary } from '../dist/nlp/vocabulary.js';
import { voskProvider } from '../dist/models/vosk.js';
import { ASR_MODEL, MODELS_DIR, REPO, frames, noise, say, tempDir } from './asr-speech.js';

/** V8's gc(), without starting the test process with --expose-gc (the flag can be set at run time) */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as unknown;
  if (typeof gc !== 'function') throw new Error('cannot expose the garbage collector');
  return gc as () => void;
}

interface Fixture {
  file: string;
  text: string;
  expect: { intent: string; item: string | null; label: string | null; outcome?: string };
}
const FIXTURES: Fixture[] = JSON.parse(fs.readFileSync(path.join(REPO, 'audio-fixtures', 'manifest.json'), 'utf8'));
const fixturePcm = (f: Fixture) => {
  const w = parseWav(fs.readFileSync(path.join(REPO, 'audio-fixtures', f.file)));
  return { pcm: Buffer.from(w.data), rate: w.sampleRate };
};

const MAX_STREAMS = 16;
let app: FastifyInstance;
let asr: Asr;
let base: string;
const logLines: string[] = [];
let token: string;

interface Exchange {
  events: any[];
  /** reply audio, concatenated */
  audio: Buffer;
  /** binary frame sizes */
  frameSizes: number[];
}

/** A protocol client over a real WebSocket. */
class Voice {
  events: any[] = [];
  binary: Buffer[] = [];
  private waiters: (() => void)[] = [];
  closed: { code: number; reason: string } | null = null;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      if (isBinary) this.binary.push(Buffer.from(d));
      else this.events.push(JSON.parse(d.toString('utf8')));
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static open(headers: Record<string, string> = { authorization: `Bearer ${token}` }): Promise<Voice> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/v1/listen`, { headers });
      const v = new Voice(ws);
      ws.once('open', () => resolve(v));
      ws.once('error', reject);
      ws.once('unexpected-response', (req, res) => {
        req.destroy(); // with this listener ws leaves the refused connection open
        reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode }));
      });
    });
  }

  /** waits until an event matching `pred` has arrived at or after index `from`; returns its index */
  async waitFor(pred: (e: any) => boolean, from = 0, ms = 30_000): Promise<number> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.events.findIndex((e, k) => k >= from && pred(e));
      if (i >= 0) return i;
      if (this.closed) throw new Error(`socket closed (${this.closed.code}) while waiting; events: ${JSON.stringify(this.events)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; events: ${JSON.stringify(this.events).slice(0, 2000)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  json(m: unknown) {
    this.ws.send(JSON.stringify(m));
  }

  /** one utterance: start, audio in 100 ms frames, stop; resolves at done or error */
  async ask(pcm: Buffer, rate = 16000, start: Record<string, unknown> = {}): Promise<Exchange> {
    const from = this.events.length;
    const bin = this.binary.length;
    this.json({ type: 'start', sample_rate: rate, ...start });
    for (const f of frames(pcm, Math.round(rate / 10) * 2)) this.ws.send(f);
    this.json({ type: 'stop' });
    const end = await this.waitFor((e) => e.type === 'done' || e.type === 'error', from, 60_000);
    const events = this.events.slice(from, end + 1);
    const got = this.binary.slice(bin);
    return { events, audio: Buffer.concat(got), frameSizes: got.map((b) => b.length) };
  }

  close() {
    this.ws.close();
  }
}

const types = (x: Exchange) => x.events.map((e) => e.type);

/** the reply audio is exactly what the audio events announced, in <= 8 KiB frames, and is speech */
function checkSpeech(x: Exchange, replyText: string) {
  const announced = x.events.filter((e) => e.type === 'audio').reduce((n, e) => n + e.bytes, 0);
  expect(announced).toBe(x.audio.length);
  for (const e of x.events.filter((e) => e.type === 'audio')) {
    expect(e.format).toBe('s16le');
    expect(e.sample_rate).toBe(16000);
  }
  expect(Math.max(...x.frameSizes)).toBeLessThanOrEqual(8192);
  const seconds = x.audio.length / 2 / 16000;
  // plausible length: roughly 6..25 characters per second of speech
  expect(seconds).toBeGreaterThan(replyText.length / 25);
  expect(seconds).toBeLessThan(replyText.length / 6 + 1);
  const stats = analyzeSpeech(s16leToFloat32(x.audio), 16000);
  expect(stats.activeFraction).toBeGreaterThan(0.3);
}

beforeAll(async () => {
  await voskProvider.ensure({ modelsDir: MODELS_DIR, model: ASR_MODEL });
  const config = loadConfig([], {}, {
    port: 0,
    dataDir: tempDir('wa-listen-'),
    logLevel: 'warn',
    noModels: true,
    timeZone: 'UTC',
    modelsDir: MODELS_DIR,
    asrModel: ASR_MODEL,
    asrWorkers: 2,
    maxStreams: MAX_STREAMS,
    // these tests drive many streams through one device token (the voice guard's shares are tested in voice-guard.test.ts)
    maxStreamsPerDevice: MAX_STREAMS,
    maxStreamsPerUser: MAX_STREAMS,
    maxVoiceConnectionsPerDevice: 1000,
    maxUtteranceSeconds: 15,
  });
  // the app owns no models here (no detector); the recogniser is made from the default model's vocabulary
  const vocab = buildVocabulary(manifestLabels('yolox_nano')!);
  asr = await createAsr(config, vocab.phrases(), { preferred: vocab.labels });
  // the server's JSON log lines, kept to check that one utterance is traceable through every stage
  app = await buildApp(config, { logger: { level: 'info', stream: { write: (line: string) => void logLines.push(line) } }, asr });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const user = await addUser(app.store, 'alice', 'alice-password-1', true);
  token = (await addDevice(app.store, user.id, 'kitchen pi', 'kitchen')).token;
}, 600_000);

afterAll(async () => {
  await app?.close();
  await asr?.close();
});

describe('GET /v1/listen (real model, real TTS)', () => {
  it('every audio fixture: expected item, partials before the transcript, a spoken reply', async () => {
    const misses: string[] = [];
    const run = async (list: Fixture[]) => {
      const v = await Voice.open();
      await v.waitFor((e) => e.type === 'ready');
      for (const f of list) {
        const { pcm, rate } = fixturePcm(f);
        const x = await v.ask(pcm, rate);
        const t = types(x);
        expect(t[0], f.file).toBe('listening');
        expect(t, `${f.file}: ${JSON.stringify(x.events)}`).toContain('transcript');
        const transcript = x.events.find((e) => e.type === 'transcript');
        const reply = x.events.find((e) => e.type === 'reply');
        expect(t.indexOf('partial'), f.file).toBeGreaterThan(0);
        expect(t.indexOf('partial')).toBeLessThan(t.indexOf('transcript'));
        expect(t[t.length - 1]).toBe('done');
        // the recogniser heard the item word(s)
        if (f.expect.item) expect(transcript.text, f.file).toContain(f.expect.item.split(' ')[0]);
        // and the whole pipeline got the expected item
        if (reply.item !== f.expect.item || reply.label !== f.expect.label || reply.intent !== f.expect.intent)
          misses.push(`${f.text} -> "${transcript.text}" -> ${reply.intent}/${reply.item}/${reply.label}`);
        expect(reply.text.length).toBeGreaterThan(5);
        expect(Object.keys(reply.timings).sort()).toEqual(['asr_ms', 'lookup_ms', 'nlp_ms', 'tts_ms']);
        checkSpeech(x, reply.text);
      }
      v.close();
    };
    const groups = [0, 1, 2, 3].map((g) => FIXTURES.filter((_, i) => i % 4 === g));
    await Promise.all(groups.map(run));
    console.log(`fixtures: ${FIXTURES.length - misses.length}/${FIXTURES.length} end to end${misses.length ? `; misses: ${misses.join('; ')}` : ''}`);
    // synthetic voices: at most one fixture may be misheard in a way the parser cannot recover
    expect(misses.length, misses.join('\n')).toBeLessThanOrEqual(1);
  }, 240_000);

  it('logs every stage of an utterance under one utterance id, with the connection\'s request id', async () => {
    const v = await Voice.open();
    await v.waitFor((e) => e.type === 'ready');
    const f = FIXTURES.find((x) => x.expect?.label === 'cup')!;
    const { pcm, rate } = fixturePcm(f);
    const before = logLines.length;
    const x = await v.ask(pcm, rate);
    expect(x.events.at(-1).type).toBe('done');
    v.close();
    const lines = logLines.slice(before).map((l) => JSON.parse(l));
    const started = lines.find((l) => l.msg === 'utterance started');
    expect(started?.utterance).toMatch(/^[0-9a-f-]{36}$/);
    const mine = lines.filter((l) => l.utterance === started.utterance);
    expect(mine.map((l) => l.msg)).toEqual(['utterance started', 'heard', 'answered', 'spoken']);
    expect(new Set(mine.map((l) => l.reqId)).size).toBe(1);
    expect(mine[0].reqId).toBeTruthy();
    expect(mine.find((l) => l.msg === 'answered')).toMatchObject({ stage: 'answer', label: 'cup' });
    expect(mine.find((l) => l.msg === 'heard').ms).toBeGreaterThan(0);
    // the words said stay out of the info-level log
    expect(JSON.stringify(mine)).not.toContain('"text"');
  });

  it('two utterances on one connection; reply without audio on request; vosk-server style messages', async () => {
    const v = await Voice.open();
    const a = await v.ask(say('where is my cup'));
    expect(a.events.find((e) => e.type === 'reply').label).toBe('cup');
    const b = await v.ask(say('have you seen my laptop', { engine: 'flite', voice: 'slt' }), 16000, { audio: false });
    expect(b.events.find((e) => e.type === 'reply').label).toBe('laptop');
    expect(types(b)).not.toContain('audio');
    expect(b.audio.length).toBe(0);
    // {"config":{...}} starts, {"eof":1} stops
    const from = v.events.length;
    v.json({ config: { sample_rate: 8000 } });
    for (const f of frames(say('where is my phone', { voice: 'en-gb', rate: 8000 }), 1600)) v.ws.send(f);
    v.json({ eof: 1 });
    const end = await v.waitFor((e) => e.type === 'done' || e.type === 'error', from);
    const events = v.events.slice(from, end + 1);
    expect(events.find((e) => e.type === 'reply')?.label, JSON.stringify(events)).toBe('cell phone');
    v.close();
  });

  it('ends the utterance by itself on trailing silence (endpoint) and drops audio still in flight', async () => {
    const v = await Voice.open();
    const from = v.events.length;
    v.json({ type: 'start', sample_rate: 16000 });
    const pcm = Buffer.concat([say('where is my umbrella', { voice: 'en-gb' }), Buffer.alloc(16000 * 2 * 3)]);
    for (const f of frames(pcm)) v.ws.send(f);
    const t = await v.waitFor((e) => e.type === 'transcript', from);
    expect(v.events[t].reason).toBe('endpoint');
    expect(v.events[t].text).toContain('umbrella');
    await v.waitFor((e) => e.type === 'done', t);
    for (const f of frames(Buffer.alloc(6400))) v.ws.send(f); // audio still in flight: dropped
    v.json({ type: 'stop' }); // the client's own stop, after the server ended it: ignored
    const x = await v.ask(say('where is my cup'));
    expect(x.events.find((e) => e.type === 'reply').label).toBe('cup');
    expect(v.events.filter((e) => e.type === 'error')).toEqual([]);
    v.close();
  });

  it('8 clients at once', async () => {
    const utterances = [
      say('where is my cup'),
      say('have you seen my laptop', { engine: 'flite', voice: 'slt' }),
      say('where is my phone', { voice: 'en-gb' }),
      say('where is my teddy bear', { engine: 'flite', voice: 'rms' }),
    ];
    const want = ['cup', 'laptop', 'cell phone', 'teddy bear'];
    const t0 = Date.now();
    const results = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const v = await Voice.open();
        const x = await v.ask(utterances[i % 4]);
        v.close();
        return x;
      }),
    );
    results.forEach((x, i) => {
      expect(x.events.find((e) => e.type === 'reply')?.label, JSON.stringify(x.events)).toBe(want[i % 4]);
      checkSpeech(x, x.events.find((e) => e.type === 'reply').text);
    });
    console.log(`8 concurrent voice questions answered (with speech) in ${Date.now() - t0} ms`);
  }, 120_000);

  describe('bad input gets a typed error (or a polite reply) and the server keeps serving', () => {
    it('text where audio is expected', async () => {
      const v = await Voice.open();
      v.json({ type: 'start', sample_rate: 16000 });
      await v.waitFor((e) => e.type === 'listening');
      v.ws.send('here is some text instead of audio');
      const i = await v.waitFor((e) => e.type === 'error');
      expect(v.events[i].code).toBe('bad_message');
      v.json({ type: 'hello' });
      const j = await v.waitFor((e) => e.type === 'error', i + 1);
      expect(v.events[j].code).toBe('bad_message');
      expect((await v.ask(say('where is my cup'))).events.find((e) => e.type === 'reply').label).toBe('cup');
      v.close();
    });

    it('audio before start', async () => {
      const v = await Voice.open();
      v.ws.send(Buffer.alloc(3200));
      const i = await v.waitFor((e) => e.type === 'error');
      expect(v.events[i].code).toBe('bad_audio');
      expect(v.closed).toBeNull();
      v.close();
    });

    it('odd byte counts and oversized frames', async () => {
      const v = await Voice.open();
      v.json({ type: 'start', sample_rate: 16000 });
      v.ws.send(Buffer.alloc(3201));
      const i = await v.waitFor((e) => e.type === 'error');
      expect(v.events[i].code).toBe('bad_audio');
      v.json({ type: 'start', sample_rate: 16000 });
      v.ws.send(Buffer.alloc(65 * 1024));
      const j = await v.waitFor((e) => e.type === 'error', i + 1);
      expect(v.events[j].code).toBe('bad_audio');
      v.close();
    });

    it('declared rates of 0, 1 MHz, 7999, 16000.5 and a wrong format', async () => {
      const v = await Voice.open();
      let from = 0;
      for (const start of [
        { type: 'start', sample_rate: 0 },
        { type: 'start', sample_rate: 1_000_000 },
        { type: 'start', sample_rate: 7999 },
        { type: 'start', sample_rate: 16000.5 },
        { type: 'start', sample_rate: 16000, format: 'f32le' },
        { type: 'start', sample_rate: 16000, channels: 2 },
      ]) {
        v.json(start);
        const i = await v.waitFor((e) => e.type === 'error', from);
        expect(v.events[i].code, JSON.stringify(start)).toBe('bad_audio');
        from = i + 1;
      }
      expect(asr.stats().streams).toBe(0);
      v.close();
    });

    it('60 s of noise: stops at the length limit with too_long or a polite reply', async () => {
      const v = await Voice.open();
      const from = v.events.length;
      v.json({ type: 'start', sample_rate: 16000 });
      for (const f of frames(noise(60, 16000, 0.1), 32000)) v.ws.send(f);
      v.json({ type: 'stop' });
      const end = await v.waitFor((e) => e.type === 'done' || e.type === 'error', from, 90_000);
      const e = v.events[end];
      if (e.type === 'error') expect(e.code).toBe('too_long');
      else {
        const t = v.events.find((x, k) => k >= from && x.type === 'transcript');
        expect(t.reason).toBe('max_length');
        expect(v.events.find((x, k) => k >= from && x.type === 'reply').item).toBeNull();
      }
      // the audio after the limit was dropped, not reported as errors
      expect(v.events.slice(from).filter((x) => x.type === 'error' && x.code !== 'too_long')).toEqual([]);
      expect((await v.ask(say('where is my cup'))).events.find((x) => x.type === 'reply').label).toBe('cup');
      v.close();
    }, 120_000);

    it('silence only: an empty transcript and a polite reply', async () => {
      const v = await Voice.open();
      const x = await v.ask(Buffer.alloc(16000 * 2 * 2));
      expect(x.events.find((e) => e.type === 'transcript').text).toBe('');
      const reply = x.events.find((e) => e.type === 'reply');
      expect(reply.outcome).toBe('not_heard');
      expect(reply.text).toBe("Sorry, I didn't catch that.");
      expect(reply.text.length).toBeGreaterThan(5);
      v.close();
    });

    it('no credentials: unauthorized, then closed; a bad token: HTTP 401 before the upgrade', async () => {
      const v = await Voice.open({});
      await v.waitFor((e) => e.type === 'error');
      expect(v.events[0]).toMatchObject({ type: 'error', code: 'unauthorized' });
      await new Promise((r) => setTimeout(r, 200));
      expect(v.closed?.code).toBe(1008);
      await expect(Voice.open({ authorization: 'Bearer wad_not_a_real_token' })).rejects.toMatchObject({ status: 401 });
    });

    it(`busy beyond ${MAX_STREAMS} streams`, async () => {
      const vs = await Promise.all(Array.from({ length: MAX_STREAMS }, () => Voice.open()));
      for (const v of vs) v.json({ type: 'start', sample_rate: 16000 });
      await Promise.all(vs.map((v) => v.waitFor((e) => e.type === 'listening')));
      const extra = await Voice.open();
      extra.json({ type: 'start', sample_rate: 16000 });
      const i = await extra.waitFor((e) => e.type === 'error');
      expect(extra.events[i].code).toBe('busy');
      vs[0].close();
      await new Promise((r) => setTimeout(r, 200));
      const x = await extra.ask(say('where is my cup'));
      expect(x.events.find((e) => e.type === 'reply').label).toBe('cup');
      for (const v of [...vs, extra]) v.close();
    });

    it('300 clients that vanish mid-utterance leave no recogniser and no memory behind', async () => {
      const pcm = say('where is my cup');
      const half = pcm.subarray(0, pcm.length >> 1);
      const warm = async () => {
        const v = await Voice.open();
        v.json({ type: 'start', sample_rate: 16000 });
        await v.waitFor((e) => e.type === 'listening');
        for (const f of frames(half)) v.ws.send(f);
        await new Promise((r) => setTimeout(r, 5));
        v.ws.terminate();
      };
      for (let i = 0; i < 20; i++) await warm();
      await new Promise((r) => setTimeout(r, 500));
      const gc = exposeGc();
      gc();
      const before = process.memoryUsage();
      for (let round = 0; round < 300 / 15; round++) await Promise.all(Array.from({ length: 15 }, warm));
      for (let i = 0; i < 50 && asr.stats().streams > 0; i++) await new Promise((r) => setTimeout(r, 100));
      expect(asr.stats().streams).toBe(0);
      const workers = await asr.workerStats();
      expect(workers.reduce((n, w) => n + w.recognizers, 0)).toBe(0);
      await new Promise((r) => setTimeout(r, 500));
      gc(); // a real full collection: the heap figure is what is still referenced, not garbage not yet collected
      const after = process.memoryUsage();
      const grow = (after.heapUsed - before.heapUsed) / 1e6;
      const rss = (after.rss - before.rss) / 1e6;
      console.log(`300 dropped clients: heap ${grow.toFixed(1)} MB, rss ${rss.toFixed(1)} MB, worker recognisers ${workers.map((w) => w.recognizers).join('+')}`);
      expect(grow).toBeLessThan(40);
      expect(rss).toBeLessThan(150);
      const v = await Voice.open();
      expect((await v.ask(pcm)).events.find((e) => e.type === 'reply').label).toBe('cup');
      v.close();
    }, 180_000);
  });
});
