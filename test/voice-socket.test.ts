/**
 * The voice turn through a real WebSocket, the real Vosk model with its Silero VAD and real flite speech:
 * semantic endpointing hands-free (the client streams room noise and never sends stop) on complete,
 * incomplete and hesitating questions; barge-in (cancel, and a new start while the reply plays); the
 * watchdog; and listening again after a reply that asks a question (follow-up).
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp, manifestLabels } from '../dist/assistant/app.js';
import { loadConfig } from '../dist/assistant/config.js';
import { addDevice, addUser } from '../dist/assistant/accounts.js';
import { createAsr, type Asr } from '../dist/assistant/asr/index.js';
import { createSpeech } from '../dist/assistant/speech.js';
import { buildVocabulary } from '../dist/nlp/vocabulary.js';
import { utteranceEnds, voiceFlushes } from '../dist/assistant/metrics.js';
import { voskProvider } from '../dist/models/vosk.js';
import { ASR_MODEL, MODELS_DIR, noise, say, tempDir } from './asr-speech.js';

let asr: Asr;
let speech: Awaited<ReturnType<typeof createSpeech>>;
const apps: FastifyInstance[] = [];

interface Server {
  app: FastifyInstance;
  url: string;
  token: string;
}

async function server(opts: { voice?: Record<string, number>; speech?: unknown } = {}): Promise<Server> {
  const config = loadConfig([], {}, { port: 0, dataDir: tempDir('wa-voice-'), logLevel: 'warn', noModels: true, timeZone: 'UTC', modelsDir: MODELS_DIR, asrModel: ASR_MODEL });
  const app = await buildApp(config, { asr, speech: (opts.speech ?? speech) as never, voice: opts.voice });
  await app.listen({ host: '127.0.0.1', port: 0 });
  apps.push(app);
  const addr = app.server.address();
  const user = await addUser(app.store, 'alice', 'alice-password-1', true);
  const token = (await addDevice(app.store, user.id, 'kitchen pi', 'kitchen')).token;
  return { app, url: `ws://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/v1/listen`, token };
}

/** a client that records every event and binary frame with its arrival time */
class Client {
  events: Array<any> = [];
  binary: Array<{ at: number; bytes: number; after: number }> = [];
  private waiters: Array<() => void> = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer, isBinary: boolean) => {
      if (isBinary) this.binary.push({ at: performance.now(), bytes: d.length, after: this.events.length });
      else this.events.push({ ...JSON.parse(d.toString('utf8')), at: performance.now() });
      for (const w of this.waiters.splice(0)) w();
    });
    ws.on('close', () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static async open(s: Server): Promise<Client> {
    const ws = new WebSocket(s.url, { headers: { authorization: `Bearer ${s.token}` } });
    const c = new Client(ws);
    await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
    await c.waitFor((e) => e.type === 'ready');
    return c;
  }
  async waitFor(pred: (e: any) => boolean, from = 0, ms = 30_000): Promise<number> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.events.findIndex((e, k) => k >= from && pred(e));
      if (i >= 0) return i;
      if (Date.now() > deadline) throw new Error(`timed out; events: ${JSON.stringify(this.events).slice(0, 2000)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }
  json(m: unknown) {
    this.ws.send(JSON.stringify(m));
  }
  /** streams audio in 20 ms frames, `speed` times real time; stops early when `until` says so */
  async stream(pcm: Buffer, speed = 4, until: () => boolean = () => false) {
    const frame = 640;
    const t0 = performance.now();
    for (let o = 0, i = 0; o < pcm.length; o += frame, i++) {
      if (until() || this.ws.readyState !== WebSocket.OPEN) return;
      const due = t0 + (i * 20) / speed;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      this.ws.send(pcm.subarray(o, o + frame));
    }
  }
  close() {
    this.ws.close();
  }
}

/** quiet room noise (about -50 dBFS), as a microphone gives between words */
const room = (seconds: number, seed = 7) => noise(seconds, 16000, 0.006, seed);
const silence = (seconds: number) => Buffer.alloc(Math.round(seconds * 16000) * 2);
const cat = (...b: Buffer[]) => Buffer.concat(b);
/** a spoken phrase with a little lead-in and no trailing silence */
const speak = (text: string, opts: Parameters<typeof say>[1] = {}) => say(text, { lead: 0.1, tail: 0, ...opts });

/** one hands-free question: start, the audio, then room noise until the transcript; never a stop */
async function handsFree(c: Client, pcm: Buffer, noiseAfter = 4) {
  const from = c.events.length;
  c.json({ type: 'start', sample_rate: 16000 });
  await c.waitFor((e) => e.type === 'listening', from);
  const heard = () => c.events.slice(from).some((e) => e.type === 'transcript' || e.type === 'error');
  await c.stream(cat(pcm, room(noiseAfter)), 4, heard);
  const t = await c.waitFor((e) => e.type === 'transcript' || e.type === 'error', from);
  const end = await c.waitFor((e) => e.type === 'done' || e.type === 'error', t);
  return { transcript: c.events[t], reply: c.events.slice(from, end + 1).find((e) => e.type === 'reply'), events: c.events.slice(from, end + 1) };
}

beforeAll(async () => {
  await voskProvider.ensure({ modelsDir: MODELS_DIR, model: ASR_MODEL });
  const vocab = buildVocabulary(manifestLabels('yolox_nano')!);
  asr = await createAsr({ modelsDir: MODELS_DIR, asrModel: ASR_MODEL, asrEngine: 'vosk', asrWorkers: 1, maxStreams: 8, logLevel: 'warn' }, vocab.phrases(), { preferred: vocab.labels });
  speech = await createSpeech({ ttsEngine: 'flite' });
}, 300_000);

afterAll(async () => {
  for (const a of apps) await a.close();
  await asr?.close();
  await speech?.close();
});

describe('semantic endpointing through the real model (hands-free: no stop)', () => {
  let s: Server;
  beforeAll(async () => {
    s = await server();
  });

  it('the recogniser streams carry the Silero VAD, which hears the audio through RNNoise', () => {
    const st = asr.open(16000);
    expect(st.hasVad).toBe(true);
    expect(st.denoised).toBe(true);
    st.abort();
  });

  it('a complete question ends on a short quiet, long before the recogniser would', async () => {
    const c = await Client.open(s);
    const x = await handsFree(c, speak('where is my cup'));
    expect(x.transcript.reason).toBe('endpoint');
    expect(x.transcript.text).toContain('cup');
    expect(x.reply.label).toBe('cup');
    c.close();
  });

  it('an incomplete question is not ended on a short quiet: it waits for the hesitation bound', async () => {
    const c = await Client.open(s);
    const from = c.events.length;
    c.json({ type: 'start', sample_rate: 16000 });
    await c.waitFor((e) => e.type === 'listening', from);
    // "where is my" then 1 s of room noise: not over yet
    await c.stream(cat(speak('where is my'), room(1.0)), 4);
    await new Promise((r) => setTimeout(r, 400));
    expect(c.events.slice(from).map((e) => e.type)).not.toContain('transcript');
    // more quiet, past the hesitation bound: over, with what was said
    await c.stream(room(2.5), 4, () => c.events.slice(from).some((e) => e.type === 'transcript'));
    const t = await c.waitFor((e) => e.type === 'transcript', from);
    expect(c.events[t].reason).toBe('endpoint');
    await c.waitFor((e) => e.type === 'done', t);
    c.close();
  });

  it('a hesitation before the item still gives the item', async () => {
    const c = await Client.open(s);
    for (const [pcm, item] of [
      [cat(speak('where is my'), room(0.9), speak('um', { voice: 'en-us' }), room(0.6), speak('umbrella', { voice: 'en-gb' })), 'umbrella'],
      [cat(speak('have you seen my', { engine: 'flite', voice: 'slt' }), room(1.1), speak('laptop', { engine: 'flite', voice: 'slt' })), 'laptop'],
      [cat(speak('where are my'), silence(0.8), speak('keys')), 'keys'],
    ] as Array<[Buffer, string]>) {
      const x = await handsFree(c, pcm);
      expect(x.transcript.text, JSON.stringify(x.events)).toContain(item);
    }
    c.close();
  }, 60_000);

  it('a sentence that trails off without beginning a request ends well before an unfinished request does', async () => {
    const c = await Client.open(s);
    /** audio heard past the end of the spoken words when the server ended the utterance, ms */
    const after = async (text: string) => {
      const pcm = speak(text);
      const x = await handsFree(c, pcm);
      expect(x.transcript.reason).toBe('endpoint');
      return { x, ms: x.transcript.heard_ms - (pcm.length / 2 / 16000) * 1000 };
    };
    // what /metrics serves: why utterances ended, and the flushes of unfinished words gone quiet
    const ends = async (words: string) => (await utteranceEnds.get()).values.find((v) => v.labels.reason === 'endpoint' && v.labels.words === words)?.value ?? 0;
    const flushes = async () => (await voiceFlushes.get()).values[0]?.value ?? 0;
    const before = { trailing: await ends('trailing'), incomplete: await ends('incomplete'), flushes: await flushes() };
    const trailing = await after('play some music and');
    expect(trailing.x.transcript.text).toBe('play some music and');
    expect(trailing.x.reply.intent).toBe('not_a_request');
    const unfinished = await after('where is my');
    expect(unfinished.x.transcript.text).toBe('where is my');
    // trailing: 800 ms of quiet; unfinished: the 2 s hesitation bound. Where each one's quiet starts differs
    // (espeak's own trailing silence, Silero's lag): measured here 556 ms apart, 36 ms with a 2 s trailing wait
    expect(unfinished.ms - trailing.ms, JSON.stringify([trailing.x.transcript, unfinished.x.transcript])).toBeGreaterThan(400);
    expect(await ends('trailing')).toBe(before.trailing + 1);
    expect(await ends('incomplete')).toBe(before.incomplete + 1);
    expect(await flushes()).toBeGreaterThanOrEqual(before.flushes + 2);
    c.close();
  }, 60_000);

  it('a sentence that is not a request is answered too', async () => {
    const c = await Client.open(s);
    const x = await handsFree(c, speak('turn on the lights'));
    expect(x.transcript.reason).toBe('endpoint');
    expect(x.reply.intent).toBe('not_a_request');
    c.close();
  });
});

describe('barge-in, watchdog and follow-up through a real socket', () => {
  it('cancel while the reply plays stops its audio; done says cancelled; the next question works', async () => {
    // real flite speech, handed out slowly (as a slow synthesiser would), so there is a reply to interrupt
    const slow = {
      sampleRate: speech!.sampleRate,
      wav: (t: string) => speech!.wav(t),
      async *stream(t: string) {
        for await (const c of speech!.stream(t)) {
          for (let o = 0; o < c.length; o += 2048) {
            yield c.subarray(o, o + 2048);
            await new Promise((r) => setTimeout(r, 40));
          }
        }
      },
    };
    const s = await server({ speech: slow });
    const c = await Client.open(s);
    const from = c.events.length;
    c.json({ type: 'start', sample_rate: 16000 });
    await c.stream(cat(speak('where is my cup'), silence(0.3)), 8);
    c.json({ type: 'stop' });
    const a = await c.waitFor((e) => e.type === 'audio', from);
    c.json({ type: 'cancel' });
    const d = await c.waitFor((e) => e.type === 'done', a);
    expect(c.events[d].reason).toBe('cancelled');
    const announced = c.events.slice(from).filter((e) => e.type === 'audio').reduce((n, e) => n + e.bytes, 0);
    await new Promise((r) => setTimeout(r, 500));
    // the framing stayed whole (every announced byte came) and nothing followed the done
    const got = c.binary.filter((b) => b.after > from).reduce((n, b) => n + b.bytes, 0);
    expect(got).toBe(announced);
    expect(c.events.length).toBe(d + 1);
    expect(c.binary.filter((b) => b.after > d).length).toBe(0);
    // the reply had more to say than was sent
    const full = (await speech!.wav(c.events.find((e) => e.type === 'reply').text)).length - 44;
    expect(announced).toBeLessThan(full);

    // barge-in by a new start while the reply plays: the reply stops, the new question is heard and answered
    const from2 = c.events.length;
    c.json({ type: 'start', sample_rate: 16000 });
    await c.stream(cat(speak('where is my laptop'), silence(0.3)), 8);
    c.json({ type: 'stop' });
    const a2 = await c.waitFor((e) => e.type === 'audio', from2);
    c.json({ type: 'start', sample_rate: 16000 });
    const l = await c.waitFor((e) => e.type === 'listening', a2);
    await c.stream(cat(speak('where is my umbrella', { voice: 'en-gb' }), silence(0.3)), 8);
    c.json({ type: 'stop' });
    const t = await c.waitFor((e) => e.type === 'transcript', l);
    expect(c.events[t].text).toContain('umbrella');
    const dn = await c.waitFor((e) => e.type === 'done', t, 60_000);
    expect(c.events[dn].reason).toBeUndefined();
    expect(c.events.slice(a2, l).map((e) => e.type)).not.toContain('done');
    c.close();
  }, 90_000);

  it('the watchdog ends an utterance whose answer never comes with a typed error; the socket keeps serving', async () => {
    let hang = true;
    const stuck = {
      sampleRate: 16000,
      wav: async () => Buffer.alloc(44),
      async *stream(t: string) {
        if (hang) await new Promise(() => {}); // a synthesiser that never answers
        for await (const c of speech!.stream(t)) yield c;
      },
    };
    const s = await server({ speech: stuck, voice: { watchdogMs: 1500 } });
    const c = await Client.open(s);
    c.json({ type: 'start', sample_rate: 16000 });
    await c.stream(cat(speak('where is my cup'), silence(0.3)), 8);
    const t0 = performance.now();
    c.json({ type: 'stop' });
    const e = await c.waitFor((e) => e.type === 'error' || e.type === 'done');
    expect(c.events[e]).toMatchObject({ type: 'error', code: 'timeout' });
    const took = c.events[e].at - t0;
    expect(took).toBeGreaterThan(1400);
    expect(took).toBeLessThan(5000);
    hang = false;
    const from = c.events.length;
    c.json({ type: 'start', sample_rate: 16000 });
    await c.stream(cat(speak('where is my cup'), silence(0.3)), 8);
    c.json({ type: 'stop' });
    const d = await c.waitFor((e) => e.type === 'done' || e.type === 'error', from);
    expect(c.events[d].type).toBe('done');
    c.close();
  }, 60_000);

  it('a reply that asks a question: the socket listens again without a start, hears the answer, and ends quietly on silence', async () => {
    const s = await server({ voice: { followUpMs: 1500 } });
    // the answerer asks back once (as a clarifying answer does); the rest is the real pipeline
    const answerer = s.app.answerer;
    const orig = answerer.answer.bind(answerer);
    let ask = true;
    answerer.answer = async (...a: Parameters<typeof orig>) => {
      const r = await orig(...a);
      const followUp = ask;
      ask = false;
      return { ...r, follow_up: followUp };
    };
    const c = await Client.open(s);
    const first = await handsFree(c, speak('where is my cup'));
    expect(first.reply.follow_up).toBe(true);
    const done = first.events.at(-1);
    expect(done).toMatchObject({ type: 'done', follow_up: true });
    const l = await c.waitFor((e) => e.type === 'listening', c.events.indexOf(done));
    expect(c.events[l].follow_up).toBe(true);
    // the answer, on the same connection, no start
    const from = l + 1;
    await c.stream(cat(room(0.3), speak('where is my laptop'), room(3)), 4, () => c.events.slice(from).some((e) => e.type === 'transcript'));
    const t = await c.waitFor((e) => e.type === 'transcript', from);
    expect(c.events[t].text).toContain('laptop');
    const d2 = await c.waitFor((e) => e.type === 'done', t);
    expect(c.events[d2].follow_up).toBeUndefined();
    expect(c.events.slice(t, d2).find((e) => e.type === 'reply').label).toBe('laptop');

    // asked again, and nobody answers: done (no_speech) after the follow-up wait, and the socket stays usable
    ask = true;
    const second = await handsFree(c, speak('where is my cup'));
    expect(second.events.at(-1)).toMatchObject({ type: 'done', follow_up: true });
    const l2 = await c.waitFor((e) => e.type === 'listening', c.events.length - 1);
    const quiet = c.stream(room(4), 2, () => c.events.slice(l2).some((e) => e.type === 'done'));
    const d3 = await c.waitFor((e) => e.type === 'done', l2, 10_000);
    expect(c.events[d3].reason).toBe('no_speech');
    await quiet;
    const again = await handsFree(c, speak('where is my cup'));
    expect(again.reply.label).toBe('cup');
    c.close();
  }, 90_000);
});
