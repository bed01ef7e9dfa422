import { execFileSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTts, synthesizeToPcm, synthesizeToWav, MAX_TTS_CHARS, splitSentences, prepareText, type Tts } from '../dist/assistant/tts/index.js';
import { analyzeSpeech, s16leToFloat32, toDbfs } from '../dist/protocol/pcm.js';
import { parseWav } from '../dist/protocol/wav.js';
import { REPLY_AUDIO_CHUNK_BYTES } from '../dist/protocol/protocol.js';

const REPLY = 'Your cup was on the dining table in the kitchen, four minutes ago.'; // 12 words

function hasEspeak(): boolean {
  try {
    execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function collect(tts: Tts, text: string): Promise<{ chunks: Buffer[]; firstMs: number; totalMs: number }> {
  const t0 = performance.now();
  let firstMs = -1;
  const chunks: Buffer[] = [];
  for await (const c of tts.synthesize(text)) {
    if (firstMs < 0) firstMs = performance.now() - t0;
    chunks.push(c);
  }
  return { chunks, firstMs, totalMs: performance.now() - t0 };
}

function checkSpeech(pcm: Buffer, rate: number, minSec: number, maxSec: number): void {
  const s = analyzeSpeech(s16leToFloat32(pcm), rate);
  expect(s.durationSec).toBeGreaterThan(minSec);
  expect(s.durationSec).toBeLessThan(maxSec);
  expect(toDbfs(s.rms)).toBeGreaterThan(-35); // well above silence
  expect(s.peak).toBeGreaterThan(0.1);
  expect(s.activeFraction).toBeGreaterThan(0.4); // mostly voiced, with pauses
  expect(s.activeFraction).toBeLessThan(0.99); // ... but there are pauses
}

const engines = [
  { name: 'flite', available: true },
  { name: 'espeak-ng', available: hasEspeak() },
];

for (const { name, available } of engines) {
  describe.skipIf(!available)(`tts engine ${name}`, () => {
    let tts: Tts;
    beforeAll(async () => {
      tts = await createTts({ ttsEngine: name });
    });
    afterAll(async () => {
      await tts?.close();
    });

    it('reports its engine and 16 kHz', () => {
      expect(tts.engine).toBe(name);
      expect(tts.sampleRate).toBe(16000);
    });

    it('speaks a reply sentence: non-silent speech of plausible length, in <= 8 KiB even chunks', async () => {
      await collect(tts, 'Warm up.');
      const { chunks, firstMs, totalMs } = await collect(tts, REPLY);
      expect(chunks.length).toBeGreaterThan(1);
      for (const c of chunks) {
        expect(c.length).toBeGreaterThan(0);
        expect(c.length).toBeLessThanOrEqual(REPLY_AUDIO_CHUNK_BYTES);
        expect(c.length % 2).toBe(0);
      }
      checkSpeech(Buffer.concat(chunks), 16000, 1.5, 6);
      console.log(`[${name}] first chunk ${firstMs.toFixed(1)} ms, whole reply ${totalMs.toFixed(1)} ms`);
    });

    it('synthesizeToWav wraps exactly the streamed PCM in a 16 kHz mono 16-bit WAV', async () => {
      const streamed = Buffer.concat((await collect(tts, REPLY)).chunks);
      const wav = await synthesizeToWav(tts, REPLY);
      const w = parseWav(wav);
      expect(w).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16 });
      expect(w.data.equals(streamed)).toBe(true);
    });

    it('empty and whitespace-only text give zero bytes, not an error', async () => {
      expect((await synthesizeToPcm(tts, '')).length).toBe(0);
      expect((await synthesizeToPcm(tts, '  \n\t ')).length).toBe(0);
      expect((await synthesizeToPcm(tts, ' ... ')).length).toBe(0);
      const wav = await synthesizeToWav(tts, '');
      expect(wav.length).toBe(44);
      expect(parseWav(wav).frames).toBe(0);
    });

    it('several sentences come out longer than one; long text is fine up to the cap', async () => {
      const one = await synthesizeToPcm(tts, 'I saw your phone.');
      const three = await synthesizeToPcm(tts, 'I saw your phone. It was on the sofa! Is that right?');
      expect(three.length).toBeGreaterThan(one.length * 2);
      const long = 'Your book was on the shelf in the study. '.repeat(24).slice(0, MAX_TTS_CHARS);
      const pcm = await synthesizeToPcm(tts, long);
      checkSpeech(pcm, 16000, 30, 120);
    }, 30_000);

    it('text over the cap is a clear validation error', async () => {
      await expect(synthesizeToPcm(tts, 'a '.repeat(MAX_TTS_CHARS))).rejects.toMatchObject({
        code: 'validation',
        message: expect.stringMatching(/limit is 1000/),
      });
    });

    it('concurrent requests both complete with identical audio for identical text', async () => {
      const [a, b] = await Promise.all([synthesizeToPcm(tts, REPLY), synthesizeToPcm(tts, REPLY)]);
      expect(a.length).toBeGreaterThan(32000);
      expect(a.equals(b)).toBe(true);
    });

    it('stopping the iteration early is fine and the engine stays usable', async () => {
      for await (const c of tts.synthesize('I saw your laptop. It was on the desk. That was an hour ago.')) {
        expect(c.length).toBeGreaterThan(0);
        break;
      }
      expect((await synthesizeToPcm(tts, 'Still here.')).length).toBeGreaterThan(8000);
    });

    it('an AbortSignal ends a reply at once: the pending next() is done, and the engine stays usable', async () => {
      const three = 'I saw your laptop. It was on the desk. That was an hour ago.';
      const whole = await synthesizeToPcm(tts, three);
      const ac = new AbortController();
      const it = tts.synthesize(three, { signal: ac.signal })[Symbol.asyncIterator]();
      const first = await it.next();
      expect(first.done).toBe(false);
      ac.abort();
      let got = first.value!.length;
      for (let r = await it.next(); !r.done; r = await it.next()) got += r.value.length;
      expect(got).toBeLessThan(whole.length); // what was already made may come out, nothing after it
      const pre = new AbortController();
      pre.abort();
      expect(await synthesizeToPcm(tts, three, { signal: pre.signal })).toHaveLength(0);
      expect((await synthesizeToPcm(tts, 'Still here.')).length).toBeGreaterThan(8000);
    });

    it('does not block the event loop for long while speaking', async () => {
      const h = monitorEventLoopDelay({ resolution: 5 });
      h.enable();
      for (let i = 0; i < 5; i++) await synthesizeToPcm(tts, REPLY);
      h.disable();
      const maxMs = h.max / 1e6;
      console.log(`[${name}] event-loop delay during 5 replies: max ${maxMs.toFixed(1)} ms, mean ${(h.mean / 1e6).toFixed(1)} ms`);
      expect(maxMs).toBeLessThan(250); // generous: shared CI cores; typical is ~5-25 ms
    });
  });
}

describe('tts misc', () => {
  it('unknown engine is refused', async () => {
    await expect(createTts({ ttsEngine: 'festival' })).rejects.toMatchObject({ code: 'bad_request' });
  });

  it('closed engine refuses work', async () => {
    const tts = await createTts({ ttsEngine: 'flite' });
    await tts.close();
    await expect(synthesizeToPcm(tts, 'hello there')).rejects.toMatchObject({ code: 'unavailable' });
    expect((await synthesizeToPcm(tts, '')).length).toBe(0);
  });

  it('flite voices and rates other than the default work', async () => {
    const slt = await createTts({ ttsEngine: 'flite' }, { voice: 'slt' });
    const slow = await createTts({ ttsEngine: 'flite' }, { rate: 0.7 });
    const kal8k = await createTts({ ttsEngine: 'flite' }, { voice: 'kal' }); // 8 kHz voice, resampled
    try {
      const a = await synthesizeToPcm(slt, REPLY);
      checkSpeech(a, 16000, 1.5, 6);
      const normal = (await synthesizeToPcm(kal8k, REPLY)).length;
      checkSpeech(await synthesizeToPcm(kal8k, REPLY), 16000, 1.5, 6);
      expect((await synthesizeToPcm(slow, REPLY)).length).toBeGreaterThan(normal * 1.2);
    } finally {
      await Promise.all([slt.close(), slow.close(), kal8k.close()]);
    }
  });

  it('text preparation: whitespace collapsed, control characters dropped, sentences split', () => {
    expect(prepareText('  Your\tcup\n\nis  here.\u0000 ')).toBe('Your cup is here.');
    expect(splitSentences('I saw it. It was there! Ok? Yes...')).toEqual(['I saw it.', 'It was there!', 'Ok?', 'Yes...']);
    expect(splitSentences('Version 2.5 is out. ... Fine.')).toEqual(['Version 2.5 is out. ...', 'Fine.']);
    expect(splitSentences('!!!')).toEqual([]);
  });
});
