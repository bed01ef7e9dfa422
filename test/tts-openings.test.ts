/**
 * Reply openings prepared ahead (Piper's warm(), assistant/openings.ts), through the real voice
 * (models/files/en_US-joe-medium.onnx; CI fetches it with `whereabouts models`): a reply that starts with a
 * prepared opening gets it without a synthesis, real replies go before warming, the byte bound holds, and the
 * server prepares "Your cup was" as soon as a camera has seen a cup, then answers with it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTts } from '../dist/assistant/tts/index.js';
import { PiperTts } from '../dist/assistant/tts/piper.js';
import { planPieces } from '../dist/assistant/tts/piper-voice.js';
import { sampleReplies } from '../dist/nlp/reply.js';
import { REPO, startTestServer } from './helpers/server.js';
import { doneSince, until } from './helpers/piper.js';

const VOICE = path.join(REPO, 'models', 'files', 'en_US-joe-medium.onnx');
const haveVoice = fs.existsSync(VOICE) && fs.existsSync(`${VOICE}.json`);
const inCI = /^(1|true|yes)$/i.test(process.env.CI ?? '');
const needVoice = haveVoice || inCI;

const firsts = (replies: readonly string[]) => [...new Set(replies.map((r) => planPieces(r)[0].text))];

describe('sample replies (the wording the openings come from)', () => {
  it('start the way real replies about the item start: "Your cup was", "Your keys were", and the shared openings', () => {
    const now = Date.UTC(2026, 0, 1, 12);
    const cup = firsts(sampleReplies('cup', { now, timeZone: 'UTC' }));
    expect(cup).toEqual(expect.arrayContaining(['Your cup was', 'I last saw', 'I think I saw', "I haven't seen", 'Did you mean', 'Sorry']));
    expect(firsts(sampleReplies('keys', { now, timeZone: 'UTC' }))).toContain('Your keys were');
    // only the found reply's opening names the item
    const shared = cup.filter((t) => !/cup/.test(t));
    expect(firsts(sampleReplies('teddy bear', { now, timeZone: 'UTC' })).filter((t) => !/teddy/.test(t))).toEqual(shared);
  });
});

describe.skipIf(!needVoice)('openings with the real voice', () => {
  let piper: PiperTts;
  beforeAll(async () => {
    piper = (await createTts({ ttsEngine: 'piper', voice: VOICE, ttsWorkers: 1, ttsCacheMb: 0 })) as PiperTts;
  }, 60_000);
  afterAll(async () => piper?.close());

  it('a reply that starts with a prepared opening gets it without a synthesis; preparing it twice does nothing', async () => {
    const w = await piper.warm(['Your cup was on the counter, in the kitchen, four minutes ago.', 'I last saw your keys in the hallway, yesterday.']);
    expect(w).toEqual({ warmed: 2, held: 0, skipped: 0 });
    expect(await piper.warm(['Your cup was in the garage, an hour ago.'])).toEqual({ warmed: 0, held: 1, skipped: 0 });
    const st = piper.openingStats();
    expect(st.held).toBe(2);
    expect(st.bytes).toBeGreaterThan(10_000);
    const from = piper.piecesDone;
    const hits = st.hits;
    const chunks: Buffer[] = [];
    for await (const c of piper.synthesize('Your cup was in the kitchen, on the left of the picture, four minutes ago.')) chunks.push(c);
    expect(piper.openingStats().hits).toBe(hits + 1);
    const made = doneSince(piper, from);
    expect(made).not.toContain('Your cup was');
    expect(made[0]).toBe('in the kitchen');
    // the opening's audio, then the rest: about as long as the whole reply synthesised piece by piece
    const whole = Buffer.concat(chunks).length / 2 / piper.sampleRate;
    expect(whole).toBeGreaterThan(2.5);
    // a reply that does not start that way is synthesised whole
    const from2 = piper.piecesDone;
    for await (const _ of piper.synthesize('Your mug was on the shelf, ten minutes ago.')) void _;
    expect(doneSince(piper, from2)[0]).toBe('Your mug was');
    expect(piper.openingStats().hits).toBe(hits + 1);
    // the usual cut would give "Your cup was seen" (before "by"); the prepared "Your cup was" starts it instead
    expect(planPieces('Your cup was seen by the kitchen cam a minute ago.')[0].text).toBe('Your cup was seen');
    const from3 = piper.piecesDone;
    for await (const _ of piper.synthesize('Your cup was seen by the kitchen cam a minute ago.')) void _;
    expect(piper.openingStats().hits).toBe(hits + 2);
    expect(doneSince(piper, from3)).toEqual(['seen by the kitchen cam a minute ago']);
  }, 60_000);

  it('real replies go before warming: a reply asked while 20 openings wait gets its audio before they are done', async () => {
    const items = ['bicycle', 'car', 'bus', 'train', 'truck', 'boat', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'kite', 'vase', 'clock', 'oven', 'sink', 'toaster', 'bowl'];
    const warming = piper.warm(items.map((i) => `Your ${i} was on the table, a minute ago.`));
    await until(() => piper.openingStats().warming > 0);
    const t0 = performance.now();
    let firstAt = -1;
    let warmingAtFirst = -1;
    for await (const _ of piper.synthesize('I think I saw your remote under the cushion, an hour ago.')) {
      if (firstAt < 0) {
        firstAt = performance.now() - t0;
        warmingAtFirst = piper.openingStats().warming;
      }
    }
    // at most the opening already on the worker went first: most are still waiting
    expect(warmingAtFirst).toBeGreaterThanOrEqual(15);
    const r = await warming;
    expect(r.warmed).toBe(20);
    expect(piper.openingStats().warming).toBe(0);
  }, 120_000);

  it('keeps to its byte bound, and a bound of 0 prepares nothing', async () => {
    const replies = ['Your laptop was on the desk, a minute ago.', 'Your backpack was by the door, a minute ago.', 'Your umbrella was in the hall, a minute ago.'];
    // the voice's durations are drawn at random (noise_w), so the bound comes from these openings' size: half
    // of all three, i.e. 1.5 openings of average length: one fits, all three do not
    const probe = new PiperTts({ voice: VOICE, cacheBytes: 0 });
    let all: number;
    try {
      expect((await probe.warm(replies)).warmed).toBe(3);
      all = probe.openingStats().bytes;
    } finally {
      await probe.close();
    }
    const small = new PiperTts({ voice: VOICE, openingBytes: Math.round(all / 2), cacheBytes: 0 });
    const none = new PiperTts({ voice: VOICE, openingBytes: 0, cacheBytes: 0 });
    try {
      const r = await small.warm(replies);
      expect(r.warmed).toBeGreaterThanOrEqual(1);
      expect(r.warmed + r.skipped).toBe(3);
      expect(r.skipped).toBeGreaterThanOrEqual(1);
      expect(small.openingStats().bytes).toBeLessThanOrEqual(Math.round(all / 2));
      expect(await none.warm(['Your laptop was on the desk, a minute ago.'])).toEqual({ warmed: 0, held: 0, skipped: 1 });
      expect(none.piecesDone).toBe(0);
    } finally {
      await small.close();
      await none.close();
    }
  }, 120_000);
});

describe.skipIf(!needVoice)('the server prepares openings for the items its cameras see', () => {
  it('after a cup is seen, "Your cup was" is prepared and the spoken answer starts with it', async () => {
    const s = await startTestServer({ ttsEngine: 'piper', voice: VOICE, ttsWorkers: 1, ttsCacheMb: 0, metricsToken: 'openings-metrics-token' });
    try {
      const piper = (s.app.speech as unknown as { tts: PiperTts }).tts;
      expect(piper.engine).toBe('piper');
      expect(s.app.openings).not.toBeNull();
      // the shared openings come first, with nothing seen yet
      await until(() => piper.openingStats().held >= 8 && piper.openingStats().warming === 0);
      const admin = await s.user('ada', { admin: true });
      const cam = await s.device(admin.id, 'kitchen-cam', 'kitchen');
      const held = piper.openingStats().held;
      const post = await cam.client.post('/v1/sightings', { detections: [{ label: 'cup', score: 0.9, box: [0.45, 0.4, 0.1, 0.15] }] });
      expect(post.status).toBe(201);
      await until(() => piper.openingStats().held > held && piper.openingStats().warming === 0);
      const metrics = (await s.client('openings-metrics-token').get('/metrics')).raw.toString('utf8');
      expect(metrics).toMatch(new RegExp(`^whereabouts_tts_openings ${piper.openingStats().held}$`, 'm'));
      expect(metrics).toMatch(/^whereabouts_tts_openings_warming 0$/m);

      const hits = piper.openingStats().hits;
      const from = piper.piecesDone;
      const r = await fetch(`${s.url}/v1/query`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cam.token}`, 'content-type': 'application/json', accept: 'audio/wav' },
        body: JSON.stringify({ text: 'where is my cup' }),
      });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/audio\/wav/);
      expect((await r.arrayBuffer()).byteLength).toBeGreaterThan(44 + 16000);
      expect(piper.openingStats().hits).toBe(hits + 1);
      expect(doneSince(piper, from)).not.toContain('Your cup was');
    } finally {
      await s.close();
    }
  }, 180_000);
});
