/**
 * Piper under concurrency, through the real voice (models/files/en_US-joe-medium.onnx; CI fetches it with
 * `whereabouts models`): first pieces before later ones, replies whose consumer went away leave the queue
 * (iterator return, AbortSignal, an HTTP client gone), the cache of clause audio (hits, misses, sharing, its
 * byte bound), and bad input still giving clear errors. The cache's own bookkeeping is tested without a voice.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTts, synthesizeToPcm, type Tts } from '../dist/assistant/tts/index.js';
import { PiperTts } from '../dist/assistant/tts/piper.js';
import { ClauseCache, clauseKey } from '../dist/assistant/tts/clause-cache.js';
import { planPieces } from '../dist/assistant/tts/piper-voice.js';
import { AppError } from '../dist/assistant/errors.js';
import { REPO, startTestServer } from './helpers/server.js';
import { doneSince, until } from './helpers/piper.js';

const VOICE = path.join(REPO, 'models', 'files', 'en_US-joe-medium.onnx');
const haveVoice = fs.existsSync(VOICE) && fs.existsSync(`${VOICE}.json`);
const inCI = /^(1|true|yes)$/i.test(process.env.CI ?? '');
if (!haveVoice) console.warn(`[tts-queue] ${VOICE} is missing: run \`whereabouts models\` (these tests fail under CI=true)`);
const needVoice = haveVoice || inCI;

/** seven pieces: "Your cup is" | "on the kitchen counter," | "next to the kettle," | ... | "four minutes ago." */
const LONG = 'Your cup is on the kitchen counter, next to the kettle, beside the toaster, under the shelf, near the window, four minutes ago.';
const SHORT = 'I last saw your keys in the hallway, yesterday.';

const texts = (t: string) => planPieces(t).map((p) => p.text);

describe('clause cache bookkeeping (no voice)', () => {
  const audio = (bytes: number, gain = 1) => ({ pcm: Buffer.alloc(bytes), gain });
  it('least recently used goes first once the bytes pass the bound; hits and misses are counted', () => {
    const c = new ClauseCache(10_000);
    for (const k of 'abcdefgh') c.set(k, audio(1000)); // 8 x (1000 bytes + key + overhead) fit
    expect(c.size).toBe(8);
    expect(c.get('a')).toBeDefined(); // a is now the most recent
    c.set('i', audio(1000)); // over 10,000: b (the least recently used) goes
    expect(c.has('b')).toBe(false);
    expect(c.has('a') && c.has('c') && c.has('i')).toBe(true);
    expect(c.size).toBe(8);
    expect(c.bytes).toBeLessThanOrEqual(10_000);
    expect(c.evictions).toBe(1);
    expect(c.get('b')).toBeUndefined();
    expect([c.hits, c.misses]).toEqual([1, 1]);
  });

  it('an entry over an eighth of the bound is not kept; bound 0 keeps and counts nothing; a lower bound evicts', () => {
    const c = new ClauseCache(8000);
    c.set('big', audio(1200));
    expect(c.has('big')).toBe(false);
    c.set('small', audio(500));
    expect(c.has('small')).toBe(true);
    c.limitBytes = 0;
    expect([c.size, c.bytes, c.enabled]).toEqual([0, 0, false]);
    c.set('x', audio(10));
    expect(c.get('x')).toBeUndefined();
    expect([c.hits, c.misses]).toEqual([0, 0]);
    expect(() => new ClauseCache(-1)).toThrow(/>= 0/);
  });

  it('the key tells apart voice, settings, rate, text, punctuation and seams', () => {
    const base = { voice: '/v/a.onnx', lengthScale: 1, volume: 1, sampleRate: 16000, text: 'Your cup is', end: '', joinBefore: false, joinAfter: true };
    const keys = new Set([
      clauseKey(base),
      clauseKey({ ...base, voice: '/v/b.onnx' }),
      clauseKey({ ...base, lengthScale: 0.8 }),
      clauseKey({ ...base, volume: 0.5 }),
      clauseKey({ ...base, sampleRate: 22050 }),
      clauseKey({ ...base, text: 'Your cup was' }),
      clauseKey({ ...base, end: '.' }),
      clauseKey({ ...base, joinAfter: false }),
      clauseKey({ ...base, joinBefore: true }),
    ]);
    expect(keys.size).toBe(9);
    expect(clauseKey({ ...base })).toBe(clauseKey(base));
  });
});

describe.skipIf(!needVoice)('piper queue with the real voice', () => {
  let piper: PiperTts;
  beforeAll(async () => {
    // one worker, cache off: every piece is synthesised, in the order the queue decides
    piper = (await createTts({ ttsEngine: 'piper', voice: VOICE, ttsWorkers: 1, ttsCacheMb: 0 })) as PiperTts;
  }, 120_000);
  afterAll(async () => piper?.close());

  it('the first piece of a later reply overtakes the later pieces of an earlier long reply', async () => {
    const long = texts(LONG);
    const short = texts(SHORT);
    expect(long.length).toBe(7);
    expect(short.length).toBe(3);
    const from = piper.piecesDone;
    const a = piper.synthesize(LONG)[Symbol.asyncIterator]();
    await a.next(); // A's first piece is out; its other six wait in the queue (one of them on the worker)
    const aDone = (async () => {
      while (!(await a.next()).done);
    })();
    const tB = performance.now();
    let bFirstMs = -1;
    for await (const _ of piper.synthesize(SHORT)) if (bFirstMs < 0) bFirstMs = performance.now() - tB;
    await aDone;
    const order = doneSince(piper, from);
    expect(order.filter((t) => long.includes(t)).length).toBe(7);
    expect(order.filter((t) => short.includes(t)).length).toBe(3);
    // B's first piece comes right after the piece the worker had when B arrived (A's second or third)
    const b0 = order.indexOf(short[0]);
    expect(b0).toBeGreaterThan(0);
    expect(b0).toBeLessThanOrEqual(3);
    expect(order.indexOf(short[0])).toBeLessThan(order.indexOf(long[3]));
    // and B's second piece (index 1) before A's later ones (index >= 2 not yet started)
    expect(order.indexOf(short[1])).toBeLessThan(order.indexOf(long[4]));
    expect(order[order.length - 1]).toBe(long[6]);
    console.log(`[tts-queue] order: ${order.map((t) => (short.includes(t) ? `B:${t}` : `A:${t}`)).join(' | ')}; B's first audio ${bFirstMs.toFixed(0)} ms`);
  }, 120_000);

  it('a reply whose consumer stops (return) leaves the queue: at most the piece on the worker is finished', async () => {
    const long = texts(LONG);
    const from = piper.piecesDone;
    const dropped = piper.piecesDropped;
    const a = piper.synthesize(LONG)[Symbol.asyncIterator]();
    expect((await a.next()).done).toBe(false);
    expect(piper.queueStats().queued + piper.queueStats().busy).toBe(6);
    const r = await a.return!();
    expect(r.done).toBe(true);
    expect(piper.queueStats().queued).toBe(0);
    expect(piper.piecesDropped - dropped).toBeGreaterThanOrEqual(5);
    // the worker is free for the next reply at once (after the piece it had)
    const pcm = await synthesizeToPcm(piper, SHORT);
    expect(pcm.length).toBeGreaterThan(16000);
    const ofA = doneSince(piper, from).filter((t) => long.includes(t));
    expect(ofA.length).toBeLessThanOrEqual(2); // its first piece, and the one the worker had
    expect(piper.queueStats()).toEqual({ queued: 0, busy: 0 });
  }, 120_000);

  it('an AbortSignal drops a reply still waiting for its first audio: next() ends at once, nothing of it is synthesised', async () => {
    const from = piper.piecesDone;
    const dropped = piper.piecesDropped;
    const busy = piper.synthesize(LONG)[Symbol.asyncIterator]();
    await busy.next(); // A's first piece is out; the worker has its second ("on the kitchen counter,"), five wait
    const ac = new AbortController();
    const b = piper.synthesize(SHORT, { signal: ac.signal })[Symbol.asyncIterator]();
    const bFirst = b.next();
    await new Promise((r) => setImmediate(r)); // B's three pieces are queued (first in line)
    expect(piper.queueStats().queued).toBe(5 + 3);
    ac.abort();
    const t = performance.now();
    expect((await bFirst).done).toBe(true);
    expect(performance.now() - t).toBeLessThan(1000); // not after a piece of synthesis
    expect(piper.piecesDropped - dropped).toBe(3);
    while (!(await busy.next()).done);
    const order = doneSince(piper, from);
    for (const s of texts(SHORT)) expect(order).not.toContain(s);
    // an already aborted signal: nothing at all
    const pre = new AbortController();
    pre.abort();
    expect(await synthesizeToPcm(piper, SHORT, { signal: pre.signal })).toHaveLength(0);
  }, 120_000);

  it('bad input still gives clear errors, and the engine keeps working', async () => {
    const err = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        return e as AppError;
      }
      throw new Error('no error');
    };
    const long = await err(synthesizeToPcm(piper, 'word '.repeat(400)));
    expect(long).toBeInstanceOf(AppError);
    expect([long.code, long.message]).toEqual(['validation', 'text to speak is 1999 characters long; the limit is 1000']);
    const rate = await err(synthesizeToPcm(piper, SHORT, { sampleRate: 7000 }));
    expect([rate.code, rate.message]).toEqual(['bad_request', 'sample rate must be 8000..48000, got 7000']);
    expect(await synthesizeToPcm(piper, '  ... ')).toHaveLength(0);
    expect(() => new PiperTts({ voice: VOICE, rate: 3 })).toThrow(/speaking rate must be 0.5..2, got 3/);
    expect(() => new PiperTts({ voice: VOICE, volume: -1 })).toThrow(/volume must be 0..2, got -1/);
    expect(() => new PiperTts({ voice: path.join(REPO, 'no-such-voice.onnx') })).toThrow(/is missing/);
    expect(piper.queueStats()).toEqual({ queued: 0, busy: 0 });
    expect((await synthesizeToPcm(piper, SHORT)).length).toBeGreaterThan(16000);
  }, 120_000);
});

describe.skipIf(!needVoice)('piper clause cache with the real voice', () => {
  let piper: PiperTts;
  beforeAll(async () => {
    piper = (await createTts({ ttsEngine: 'piper', voice: VOICE, ttsWorkers: 1, ttsCacheMb: 1 })) as PiperTts;
  }, 120_000);
  afterAll(async () => piper?.close());

  it('a repeated reply is not synthesised again: every clause a hit, the same audio', async () => {
    const text = "Sorry, I didn't catch that.";
    const n = planPieces(text).length;
    const a = await synthesizeToPcm(piper, text);
    const done = piper.piecesDone;
    const hits = piper.cache.hits;
    const misses = piper.cache.misses;
    const b = await synthesizeToPcm(piper, text);
    expect(piper.piecesDone).toBe(done);
    expect(piper.cache.hits - hits).toBe(n);
    expect(piper.cache.misses).toBe(misses);
    expect(b.equals(a)).toBe(true);
    // another output rate is other audio: a miss, synthesised
    await synthesizeToPcm(piper, text, { sampleRate: 22050 });
    expect(piper.piecesDone - done).toBe(n);
    expect(piper.cache.misses - misses).toBe(n);
  }, 120_000);

  it('a shared clause: only the new clauses of a reply are synthesised, loudness follows the reply', async () => {
    await synthesizeToPcm(piper, 'Your cup was on the dining table in the kitchen, four minutes ago.');
    const done = piper.piecesDone;
    const from = piper.piecesDone;
    const pcm = await synthesizeToPcm(piper, 'Your cup was on the dining table in the kitchen, yesterday at 6 pm.');
    expect(piper.piecesDone - done).toBe(1);
    expect(doneSince(piper, from)).toEqual(['yesterday at 6 pm']);
    expect(pcm.length).toBeGreaterThan(32000);
  }, 120_000);

  it('the same clause asked for twice at once is synthesised once', async () => {
    const text = 'Did you mean your scissors?';
    const done = piper.piecesDone;
    const shared = piper.cacheShared;
    const [a, b] = await Promise.all([synthesizeToPcm(piper, text), synthesizeToPcm(piper, text)]);
    expect(piper.piecesDone - done).toBe(planPieces(text).length);
    expect(piper.cacheShared - shared).toBe(planPieces(text).length);
    expect(a.equals(b)).toBe(true);
  }, 120_000);

  it('stays within its byte bound, least recently used out', async () => {
    const limit = piper.cache.limitBytes;
    expect(limit).toBe(1024 * 1024);
    piper.cache.clear();
    const first = 'I last saw your umbrella by the front door.';
    await synthesizeToPcm(piper, first);
    expect(piper.cache.size).toBe(planPieces(first).length);
    const ev = piper.cache.evictions;
    const rooms = 'kitchen hallway garage office bedroom bathroom study garden attic cellar porch loft landing nursery pantry laundry library workshop shed basement'.split(' ');
    // each reply adds its middle clause ("on the shelf in the garage,"); its first and last are hits, kept fresh;
    // upstairs and downstairs: enough new clauses for two evictions whatever the voice's pace (20 were not always)
    for (const r of ['upstairs', 'downstairs'].flatMap((w) => rooms.map((room) => `${w} ${room}`))) {
      await synthesizeToPcm(piper, `Your tennis racket is on the shelf in the ${r}, about three hours ago.`);
      expect(piper.cache.bytes).toBeLessThanOrEqual(limit);
      if (piper.cache.evictions - ev >= 2) break;
    }
    expect(piper.cache.evictions - ev).toBeGreaterThanOrEqual(2);
    // the oldest reply's clauses went first: asking for it again synthesises them again
    const done = piper.piecesDone;
    await synthesizeToPcm(piper, first);
    expect(piper.piecesDone - done).toBe(planPieces(first).length);
  }, 300_000);
});

describe.skipIf(!needVoice)('spoken replies over HTTP', () => {
  it('a client that goes away takes its reply out of the synthesiser queue; /metrics counts cache hits and misses', async () => {
    // no openings prepared in the background: this test counts what the queue holds and drops
    const s = await startTestServer({ ttsEngine: 'piper', voice: VOICE, ttsWorkers: 1, ttsCacheMb: 4, ttsOpeningsMb: 0 });
    try {
      const speech = s.app.speech as unknown as { tts: Tts };
      const piper = speech.tts as PiperTts;
      expect(piper.engine).toBe('piper');
      const admin = await s.user('ada', { admin: true });
      const { token } = await s.device(admin.id, 'kitchen-pi');
      const from = piper.piecesDone;
      const dropped = piper.piecesDropped;
      const ac = new AbortController();
      const gone = fetch(`${s.url}/v1/speak`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ text: LONG }),
        signal: ac.signal,
      }).catch((e: Error) => e);
      await until(() => piper.queueStats().queued >= 5);
      ac.abort();
      expect(await gone).toBeInstanceOf(Error);
      await until(() => piper.queueStats().queued === 0 && piper.queueStats().busy === 0);
      expect(piper.piecesDropped - dropped).toBeGreaterThanOrEqual(5);
      expect(doneSince(piper, from).length).toBeLessThanOrEqual(2);

      // a client that stays gets its WAV; the second time from the cache
      const c = s.client(token);
      const w1 = await c.post('/v1/speak', { text: SHORT });
      expect(w1.status).toBe(200);
      const done = piper.piecesDone;
      const w2 = await c.post('/v1/speak', { text: SHORT });
      expect(w2.raw.equals(w1.raw)).toBe(true);
      expect(piper.piecesDone).toBe(done);
      const m = await admin.client.get('/metrics');
      const count = (r: string) => Number(new RegExp(`^whereabouts_tts_cache_lookups_total\\{result="${r}"\\} (\\d+)`, 'm').exec(String(m.raw))?.[1]);
      expect(count('hit')).toBe(piper.cache.hits);
      expect(count('hit')).toBeGreaterThanOrEqual(3);
      expect(count('miss')).toBe(piper.cache.misses);
      expect(String(m.raw)).toMatch(/^whereabouts_tts_cache_bytes \d+/m);
      expect(String(m.raw)).toMatch(/^whereabouts_worker_queue_depth\{pool="tts"\} 0/m);
    } finally {
      await s.close();
    }
  }, 180_000);
});

describe.skipIf(!needVoice)('the Piper workers yield the CPU to the recognisers (--tts-nice)', () => {
  /** nice value of every thread of this process, by thread id (field 19 of /proc/self/task/<tid>/stat) */
  const nices = () =>
    new Map(
      fs.readdirSync('/proc/self/task').map((t) => {
        const stat = fs.readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
        return [Number(t), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])] as const;
      }),
    );

  it('the worker thread and the threads onnxruntime starts for it run at the nice value; nothing else does', async () => {
    const before = nices();
    const tts = (await createTts({ ttsEngine: 'piper', voice: VOICE, ttsNice: 7, ttsCacheMb: 0 })) as PiperTts;
    try {
      expect(tts.nice).toBe(7);
      const pcm = await synthesizeToPcm(tts, 'Your cup was on the table.');
      expect(pcm.length).toBeGreaterThan(8000);
      const after = nices();
      const niced = [...after].filter(([tid, n]) => !before.has(tid) && n === 7);
      // the worker's own thread and onnxruntime's pool thread(s) (2 intra-op threads: the caller and one more)
      expect(niced.length).toBeGreaterThanOrEqual(2);
      // the server's threads (this one included) keep their priority
      expect(before.get(Number(fs.readFileSync('/proc/thread-self/stat', 'utf8').split(' ')[0]))).toBe(0);
      for (const [tid, n] of after) if (before.has(tid)) expect(n, `thread ${tid}`).toBe(before.get(tid));
    } finally {
      await tts.close();
    }
    // and 0 starts its threads at the server's priority (onnxruntime keeps one idle thread for the process after
    // its first session, niced above if that was ours: it runs no inference)
    const mid = nices();
    const plain = (await createTts({ ttsEngine: 'piper', voice: VOICE, ttsNice: 0, ttsCacheMb: 0 })) as PiperTts;
    try {
      await synthesizeToPcm(plain, 'Your cup was on the table.');
      const fresh = [...nices()].filter(([tid]) => !mid.has(tid));
      expect(fresh.length).toBeGreaterThanOrEqual(1);
      for (const [tid, n] of fresh) expect(n, `thread ${tid}`).toBe(0);
    } finally {
      await plain.close();
    }
  }, 60_000);
});
