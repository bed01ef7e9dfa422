/**
 * Hearing right, through a real server, the real Vosk model and real WebSockets: each outcome of the "don't
 * guess" decision on clips of the spoken corpus (audio-fixtures/corpus), the N-best list on the transcript
 * event, and the clarifying turn on one connection ("Did you mean your ...?" -> "yes" / "no" / silence / an
 * item). The answers to the clarifying question are spoken by espeak-ng at test time.
 */
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp, manifestLabels } from '../dist/assistant/app.js';
import { loadConfig } from '../dist/assistant/config.js';
import { addDevice, addUser } from '../dist/assistant/accounts.js';
import { createAsr, type Asr } from '../dist/assistant/asr/index.js';
import { buildVocabulary } from '../dist/nlp/vocabulary.js';
import { voskProvider } from '../dist/models/vosk.js';
import { findMoonshine, moonshineProvider } from '../dist/models/moonshine.js';
import { ASR_MODEL, MODELS_DIR, REPO, frames, say, tempDir } from './asr-speech.js';
import { createDatabase, inCI, pgMissingReason, sharedPgUrl } from './helpers/pg.js';

const corpus = JSON.parse(fs.readFileSync(path.join(REPO, 'audio-fixtures', 'corpus', 'manifest.json'), 'utf8')) as {
  clips: Array<{ id: string; file: string; text: string; category: string; expect: { outcome: string; label: string | null } }>;
};
const clip = (prefix: string) => {
  const c = corpus.clips.find((x) => x.id.startsWith(prefix));
  if (!c) throw new Error(`no corpus clip ${prefix}`);
  return { ...c, pcm: fs.readFileSync(path.join(REPO, 'audio-fixtures', c.file)).subarray(44) };
};

let app: FastifyInstance;
let asr: Asr;
let base: string;
let token: string;
let cookie: string;

/** the question log over HTTP, as the admin page reads it (newest first) */
async function questions(server = base, session = cookie): Promise<any[]> {
  const r = await fetch(`${server}/v1/queries?limit=20`, { headers: { cookie: session } });
  expect(r.status).toBe(200);
  return ((await r.json()) as { queries: any[] }).queries;
}

class Voice {
  events: any[] = [];
  private waiters: (() => void)[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (d: Buffer, bin: boolean) => {
      if (!bin) this.events.push(JSON.parse(d.toString('utf8')));
      for (const w of this.waiters.splice(0)) w();
    });
  }
  static open(server = base, device = token): Promise<Voice> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${server.replace('http', 'ws')}/v1/listen`, { headers: { authorization: `Bearer ${device}` } });
      const v = new Voice(ws);
      ws.once('open', () => resolve(v));
      ws.once('error', reject);
    });
  }
  async waitFor(pred: (e: any) => boolean, from: number, ms = 60_000): Promise<number> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.events.findIndex((e, k) => k >= from && pred(e));
      if (i >= 0) return i;
      if (Date.now() > deadline) throw new Error(`timed out; events: ${JSON.stringify(this.events).slice(0, 1500)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => (clearTimeout(t), r()));
      });
    }
  }
  /** one push-to-talk utterance; resolves with its transcript and reply events */
  async ask(pcm: Buffer): Promise<{ transcript: any; reply: any }> {
    const from = this.events.length;
    this.ws.send(JSON.stringify({ type: 'start', sample_rate: 16000, audio: false }));
    for (const f of frames(pcm, 3200)) this.ws.send(f);
    this.ws.send(JSON.stringify({ type: 'stop' }));
    const end = await this.waitFor((e) => e.type === 'done' || e.type === 'error', from);
    const evs = this.events.slice(from, end + 1);
    const err = evs.find((e) => e.type === 'error');
    if (err) throw new Error(`socket error: ${JSON.stringify(err)}`);
    return { transcript: evs.find((e) => e.type === 'transcript'), reply: evs.find((e) => e.type === 'reply') };
  }
  close() {
    this.ws.close();
  }
}

beforeAll(async () => {
  await voskProvider.ensure({ modelsDir: MODELS_DIR, model: ASR_MODEL });
  const config = loadConfig([], {}, {
    port: 0,
    dataDir: tempDir('wa-hears-'),
    logLevel: 'warn',
    noModels: true,
    timeZone: 'UTC',
    modelsDir: MODELS_DIR,
    asrModel: ASR_MODEL,
    asrWorkers: 1,
    maxStreams: 8,
    maxUtteranceSeconds: 15,
  });
  const vocab = buildVocabulary(manifestLabels('yolox_nano')!);
  // the second look's recogniser, as `whereabouts models` installs it
  await moonshineProvider.ensure({ modelsDir: MODELS_DIR, noModels: false, asrEngine: 'vosk' }, { from: null, offline: false, mirror: null, out: () => undefined, stderr: process.stderr });
  const look = findMoonshine(MODELS_DIR);
  if (!look.ok) throw new Error(look.reason);
  // a loaded test machine decodes slowly: the second look is waited for (the product bounds it at 3 s), and the
  // turn's watchdog waits as long
  asr = await createAsr(config, vocab.phrases(), { preferred: vocab.labels, secondLookMs: 120_000, secondLook: { encoder: look.encoder, decoder: look.decoder } });
  app = await buildApp(config, { logger: false, asr, voice: { watchdogMs: 180_000 } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const user = await addUser(app.store, 'hana', 'hana-password-1', true);
  token = (await addDevice(app.store, user.id, 'hall pi', 'hall')).token;
  const login = await fetch(`${base}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'hana', password: 'hana-password-1' }) });
  expect(login.status).toBe(200);
  cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
}, 600_000);

afterAll(async () => {
  await app?.close();
  await asr?.close();
});

describe('hearing right: each outcome through the real model and a real socket', () => {
  it('a clear request: N-best list and word confidences on the transcript, answered about the item', async () => {
    const v = await Voice.open();
    const { transcript, reply } = await v.ask(clip('000-where-is-my-cup.flite-kal16.clean').pcm);
    expect(transcript.text).toBe('where is my cup');
    expect(transcript.alternatives.length).toBeGreaterThanOrEqual(1);
    expect(transcript.alternatives[0].text).toBe('where is my cup');
    const mass = transcript.alternatives.reduce((s: number, a: any) => s + a.confidence, 0);
    expect(mass).toBeGreaterThan(0.99);
    expect(mass).toBeLessThan(1.01);
    expect(transcript.words.map((w: any) => w.word)).toEqual(['where', 'is', 'my', 'cup']);
    for (const w of transcript.words) expect(w.conf).toBeGreaterThan(0);
    expect(reply).toMatchObject({ outcome: 'never_seen', label: 'cup', follow_up: false });
    v.close();
  });

  it('noise only: "I didn\'t catch that"', async () => {
    const v = await Voice.open();
    for (const id of ['noise-babble-mid', 'noise-hum-50', 'noise-white-loud']) {
      const { transcript, reply } = await v.ask(clip(id).pcm);
      expect(transcript.text, id).toBe('');
      expect(reply, id).toMatchObject({ outcome: 'not_heard', label: null, follow_up: false });
      expect(reply.text).toBe("Sorry, I didn't catch that.");
    }
    v.close();
  });

  it('non-requests are never finds', async () => {
    const v = await Voice.open();
    for (const c of corpus.clips.filter((x) => x.category === 'nonrequest').slice(0, 6)) {
      const { reply } = await v.ask(clip(c.id).pcm);
      expect(reply.label, c.id).toBeNull();
      expect(['not_understood', 'not_heard'], `${c.id}: ${JSON.stringify(reply)}`).toContain(reply.outcome);
    }
    v.close();
  });

  it('things nobody taught the system are never answered as another item', async () => {
    for (const c of corpus.clips.filter((x) => x.category === 'oog').slice(0, 8)) {
      const v = await Voice.open(); // fresh conversation: a question asked back must not steer the next clip
      const { transcript, reply } = await v.ask(clip(c.id).pcm);
      const answeredAbout = reply.outcome === 'found' || reply.outcome === 'never_seen' ? reply.label : null;
      expect(answeredAbout, `${c.id}: heard "${transcript.text}" -> ${JSON.stringify(reply)}`).toBeNull();
      v.close();
    }
   }, 600_000);

  it('the question log keeps the alternatives and word confidences of a spoken question (read over HTTP)', async () => {
    const v = await Voice.open();
    const { transcript } = await v.ask(clip('000-where-is-my-cup.flite-kal16.clean').pcm);
    v.close();
    const q = (await questions()).find((x) => x.source === 'voice' && x.text === 'where is my cup');
    expect(q, 'the spoken question is logged').toBeDefined();
    expect(q.heard.alternatives).toEqual(transcript.alternatives.map((a: any) => ({ text: a.text, confidence: a.confidence })));
    expect(q.heard.words).toEqual(transcript.words.map((w: any) => ({ word: w.word, conf: w.conf })));
    // a sure answer takes no second look
    expect(q.heard.check).toBeNull();
    expect(q.timings.second_look_ms).toBeUndefined();
  });

  it('an item nobody taught the system, heard by the grammar as a known word: the second look refuses it', async () => {
    // "can you find my binoculars" (espeak-ng en+f3, babble at 5 dB): the grammar can only hear its own words
    // ("can you find my dog?"); the second recogniser, without a grammar, hears "binoculars", a thing the system
    // does not know
    const c = clip('267-can-you-find-my-binoculars');
    const v = await Voice.open();
    const { transcript, reply } = await v.ask(c.pcm);
    v.close();
    expect(reply, `heard "${transcript.text}" -> ${JSON.stringify(reply)}`).toMatchObject({ outcome: 'unknown_item', label: null });
    expect(reply.text).not.toMatch(/did you mean/i);
    const q = (await questions()).find((x) => x.source === 'voice' && x.text === transcript.text);
    expect(q.heard.check.verdict).toBe('unknown_item');
    expect(q.heard.check.text).toContain('binoculars');
    expect(q.timings.second_look_ms).toBeGreaterThan(0);
  }, 300_000);

  it('a different object heard by the grammar ("balls"): answered about the one asked for, not asked about the wrong one', async () => {
    // "hey, could you tell me where my bottle is please" (Piper, fast): the grammar's list leans to "balls";
    // the second recogniser hears "bottle", surely, as the vocabulary names it
    const c = clip('037-hey-could-you-tell-me-where-my-bottle-is-please');
    const v = await Voice.open();
    const { transcript, reply } = await v.ask(c.pcm);
    v.close();
    expect(reply, `heard "${transcript.text}" -> ${JSON.stringify(reply)}`).toMatchObject({ outcome: 'never_seen', label: 'bottle', follow_up: false });
    const q = (await questions()).find((x) => x.source === 'voice' && x.text === transcript.text);
    // the list alone asked back ("did you mean ...?") and the second look named the bottle; or (endpointing on
    // a loaded machine may cut the audio differently) the list alone was already sure of the bottle
    if (q.heard.check) expect(q.heard.check).toMatchObject({ verdict: 'other_item', text: 'hey could you tell me where my bottle is please' });
    else expect(app.answerer.sameHearing(q.heard.alternatives[0].text, q.heard.alternatives, true), JSON.stringify(q.heard)).toBe(true);
  }, 300_000);

  it('"did you mean ...?" becomes the answer when the decode without the grammar hears the same item', async () => {
    // "hey, could you tell me where my toothbrush is please" (Piper, slow): the grammar's list is split between
    // "toothbrushes" and other readings; the second look hears "toothbrushes" as well
    const c = clip('103-hey-could-you-tell-me-where-my-toothbrush-is-please');
    const v = await Voice.open();
    const { transcript, reply } = await v.ask(c.pcm);
    v.close();
    expect(reply, `heard "${transcript.text}" -> ${JSON.stringify(reply)}`).toMatchObject({ outcome: 'never_seen', label: 'toothbrush', follow_up: false });
    const q = (await questions()).find((x) => x.source === 'voice' && x.text === transcript.text);
    // the list alone was unsure and the second look agreed; or (endpointing on a loaded machine may cut the
    // audio differently) the list alone was already sure, and then no second look was taken
    if (q.heard.check) expect(q.heard.check).toMatchObject({ verdict: 'agree' });
    else expect(app.answerer.sameHearing(q.heard.alternatives[0].text, q.heard.alternatives, true), JSON.stringify(q.heard)).toBe(true);
   }, 300_000);

  it('a thing the detector cannot see is named, not swapped for a label', async () => {
    const v = await Voice.open();
    const { reply } = await v.ask(clip('234-i-cant-find-my-charger').pcm);
    expect(reply).toMatchObject({ outcome: 'not_detectable', item: 'charger', label: null });
    v.close();
  });
});

const pgUrl = sharedPgUrl();
if (!pgUrl && inCI()) {
  describe('the question log on PostgreSQL', () => {
    it('needs a PostgreSQL server', () => {
      throw new Error(`PostgreSQL tests cannot run in CI: ${pgMissingReason()}`);
    });
  });
} else if (!pgUrl) console.warn(`[voice-hears PostgreSQL test] skipped: ${pgMissingReason()}`);

describe.skipIf(!pgUrl)('the question log on PostgreSQL', () => {
  it('a spoken question with a second look is logged with what was heard (real model, socket, PostgreSQL, HTTP)', async () => {
    const config = loadConfig([], {}, {
      port: 0,
      dataDir: tempDir('wa-hears-pg-'),
      database: await createDatabase(pgUrl!),
      logLevel: 'warn',
      noModels: true,
      timeZone: 'UTC',
      modelsDir: MODELS_DIR,
      asrModel: ASR_MODEL,
      maxStreams: 8,
    });
    const pgApp = await buildApp(config, { logger: false, asr, voice: { watchdogMs: 180_000 } });
    try {
      await pgApp.listen({ host: '127.0.0.1', port: 0 });
      const addr = pgApp.server.address();
      const server = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
      const user = await addUser(pgApp.store, 'pia', 'pia-password-1', true);
      const device = (await addDevice(pgApp.store, user.id, 'desk pi', 'study')).token;
      const login = await fetch(`${server}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'pia', password: 'pia-password-1' }) });
      expect(login.status).toBe(200);
      const session = (login.headers.get('set-cookie') ?? '').split(';')[0];
      const v = await Voice.open(server, device);
      const { transcript, reply } = await v.ask(clip('267-can-you-find-my-binoculars').pcm);
      v.close();
      expect(reply.outcome).toBe('unknown_item');
      const q = (await questions(server, session)).find((x) => x.source === 'voice');
      expect(pgApp.store.kind).toBe('postgres');
      expect(q.heard.alternatives).toEqual(transcript.alternatives.map((a: any) => ({ text: a.text, confidence: a.confidence })));
      expect(q.heard.words.length).toBeGreaterThan(0);
      expect(q.heard.check).toMatchObject({ verdict: 'unknown_item' });
    } finally {
      await pgApp.close();
    }
  }, 300_000);
});

/**
 * The clarifying turn's mechanics need a question that stays unsure: here the second look is told to change
 * nothing (its thresholds out of reach), since the second recogniser settles the test's unsure question ("where
 * is my cup bag": it hears "where is my cup and pack", the cup surely). The second look itself is tested above.
 */
function withoutSecondLook() {
  let saved: typeof app.answerer.secondLookSettings;
  beforeAll(() => {
    saved = app.answerer.secondLookSettings;
    app.answerer.secondLookSettings = { unknownAt: 2, agreeAt: 2, switchAt: 2 };
  });
  afterAll(() => {
    app.answerer.secondLookSettings = saved;
  });
}

describe('the clarifying turn on one connection', () => {
  withoutSecondLook();
  // two items heard in a row ("my cup bag": a cup, or a bag?): asked back, never answered. Spoken clearly,
  // so the recogniser hears both words the same way however the audio is cut into frames.
  const unsurePcm = say('where is my cup bag', { engine: 'flite', voice: 'slt' });
  const unsure = () => unsurePcm;

  it('unsure -> "Did you mean your cup?" (follow_up); "yes" completes the question', async () => {
    const v = await Voice.open();
    const first = await v.ask(unsure());
    expect(first.reply, JSON.stringify(first)).toMatchObject({ outcome: 'clarify', label: 'cup', follow_up: true });
    expect(first.reply.text).toBe('Did you mean your cup?');
    const second = await v.ask(say('yes', { voice: 'en-us' }));
    expect(second.reply, JSON.stringify(second)).toMatchObject({ outcome: 'never_seen', label: 'cup', follow_up: false });
    v.close();
  });

  it('"no" ends it politely, and so does silence', async () => {
    const v = await Voice.open();
    const first = await v.ask(unsure());
    expect(first.reply.follow_up, JSON.stringify(first)).toBe(true);
    const no = await v.ask(say('no', { voice: 'en-us' }));
    expect(no.reply).toMatchObject({ outcome: 'cancelled', label: null, follow_up: false, text: 'Okay, never mind.' });
    const again = await v.ask(unsure());
    expect(again.reply.follow_up, JSON.stringify(again)).toBe(true);
    const quiet = await v.ask(Buffer.alloc(16000 * 2));
    expect(quiet.reply).toMatchObject({ outcome: 'cancelled', follow_up: false });
    v.close();
  });

  it('an item in answer is looked up; the next question is a fresh one', async () => {
    const v = await Voice.open();
    expect((await v.ask(unsure())).reply.follow_up).toBe(true);
    const item = await v.ask(say('the laptop', { voice: 'en-us' }));
    expect(item.reply, JSON.stringify(item)).toMatchObject({ outcome: 'never_seen', label: 'laptop', follow_up: false });
    const next = await v.ask(clip('000-where-is-my-cup.flite-kal16.clean').pcm);
    expect(next.reply).toMatchObject({ label: 'cup', follow_up: false });
    v.close();
  });
});

describe('the clarifying turn from the Pi client (whereabouts-pi listen --input A --input B)', () => {
  withoutSecondLook();
  it('A is asked back ("Did you mean your cup?"), B ("yes") answers it on the same connection without a start', async () => {
    const { defaults } = await import('../dist/pi-client/config.js');
    const { silentLogger } = await import('../dist/pi-client/log.js');
    const { FileSink, FileSource } = await import('../dist/pi-client/audio.js');
    const { Ui, runListen } = await import('../dist/pi-client/listen.js');
    const dir = tempDir('wa-hears-pi-');
    const wav = (name: string, pcm: Buffer) => {
      const h = Buffer.alloc(44);
      h.write('RIFF', 0);
      h.writeUInt32LE(36 + pcm.length, 4);
      h.write('WAVEfmt ', 8);
      h.writeUInt32LE(16, 16);
      h.writeUInt16LE(1, 20);
      h.writeUInt16LE(1, 22);
      h.writeUInt32LE(16000, 24);
      h.writeUInt32LE(32000, 28);
      h.writeUInt16LE(2, 32);
      h.writeUInt16LE(16, 34);
      h.write('data', 36);
      h.writeUInt32LE(pcm.length, 40);
      const f = path.join(dir, name);
      fs.writeFileSync(f, Buffer.concat([h, pcm]));
      return f;
    };
    const a = wav('a.wav', say('where is my cup bag', { engine: 'flite', voice: 'slt' }));
    const b = wav('b.wav', say('yes', { voice: 'en-us', tail: 1.5 }));
    const lines: string[] = [];
    const out = { write: (s: string) => (lines.push(...s.split('\n').filter(Boolean)), true), isTTY: false } as unknown as NodeJS.WritableStream;
    const code = await runListen({
      config: { ...defaults(), server: base, token },
      log: silentLogger,
      ui: new Ui({ json: true, partials: false, out }),
      source: new FileSource(a, 16000),
      more: [new FileSource(b, 16000)],
      sink: new FileSink(path.join(dir, 'reply.raw')),
      mode: 'file',
      once: true,
      audio: false,
    });
    expect(code).toBe(0);
    const ev = lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
    const replies = ev.filter((e) => e.type === 'reply');
    expect(replies, JSON.stringify(ev)).toHaveLength(2);
    expect(replies[0]).toMatchObject({ outcome: 'clarify', label: 'cup', follow_up: true, text: 'Did you mean your cup?' });
    expect(ev.filter((e) => e.type === 'listening')[1]?.follow_up).toBe(true);
    expect(replies[1]).toMatchObject({ label: 'cup', follow_up: false });
    expect(['found', 'never_seen']).toContain(replies[1].outcome);
  }, 90_000);
});
