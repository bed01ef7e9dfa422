/**
 * RNNoise in front of the Silero VAD (assistant/asr/denoise.ts) through the real WebAssembly build and the real
 * Silero model: the stream mechanics (length kept, streams independent, closed streams refuse audio), what it
 * does to room noise, and why it is there: in pink and babble noise the VAD hears the quiet after a question
 * within a few windows of the speaker's last word, where without it the quiet only begins 0.4-0.9 s later
 * (spoken-corpus clips of the tune split, their room going on after them as a microphone hears it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rnnoise } from '../assistant/asr/denoise.js';
import { SileroVad, VAD_RATE, sileroModelPath } from '../assistant/asr/vad.js';
import { RoomNoise, type NoiseColour } from '../protocol/noise.js';
import { rms, s16leToFloat32 } from '../protocol/pcm.js';
import { decodeWav, parseWav } from '../protocol/wav.js';
import { roomRms } from '../bench/voice.js';
import { speechBounds } from '../bench/speech-bounds.js';

const CORPUS = path.join(import.meta.dirname, '..', 'audio-fixtures', 'corpus');
const manifest = JSON.parse(fs.readFileSync(path.join(CORPUS, 'manifest.json'), 'utf8')) as {
  clips: Array<{ file: string; split: string; condition: string; room: { noise: string }; speech?: { startMs: number; endMs: number } }>;
};

const gaussian = (n: number, sd: number, seed: number) => {
  let s = seed >>> 0;
  const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) + 0.5) / 2 ** 32;
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(rnd())) * Math.cos(2 * Math.PI * rnd()) * sd);
};

/** `x` in uneven pieces, as a socket delivers audio */
function pieces(x: Float32Array): Float32Array[] {
  const out: Float32Array[] = [];
  for (let o = 0, k = 0; o < x.length; k++) {
    const n = Math.min(x.length - o, [37, 320, 1000, 481, 2048][k % 5]);
    out.push(x.subarray(o, o + n));
    o += n;
  }
  return out;
}

const join = (parts: Float32Array[]) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
};

describe('RNNoise in front of the VAD', () => {
  let rn: Rnnoise;
  let vad: SileroVad;

  beforeAll(async () => {
    rn = await Rnnoise.load();
    vad = await SileroVad.load(sileroModelPath()!);
  });
  afterAll(async () => {
    await vad?.close();
  });

  it('gives back as much audio as it is given, whatever the pieces; streams are independent; a closed one refuses audio', () => {
    const x = gaussian(VAD_RATE * 2, 0.05, 1);
    const a = rn.stream();
    const b = rn.stream();
    const other = rn.stream();
    // another stream's audio in between must not change this one's output (its own recurrent state)
    const outA = join(pieces(x).map((p) => (other.process(gaussian(p.length, 0.3, 9)), a.process(p))));
    const outB = b.process(x);
    // whole 10 ms frames out; the rest waits: never more than a frame and the resamplers' delay behind
    expect(outA.length).toBeLessThanOrEqual(x.length);
    expect(x.length - outA.length).toBeLessThan(VAD_RATE / 50);
    expect(outB.length).toBe(outA.length);
    let worst = 0;
    for (let i = 0; i < outA.length; i++) worst = Math.max(worst, Math.abs(outA[i] - outB[i]));
    expect(worst).toBeLessThan(1e-6);
    for (const s of [a, b, other]) s.close();
    a.close();
    expect(() => a.process(x)).toThrow(/closed/);
  });

  it('takes steady room noise down by more than 15 dB, at 16 kHz and at 48 kHz input', () => {
    for (const rate of [16000, 48000]) {
      const s = rn.stream(rate);
      // loud enough that nothing is brought up first (the level stage only raises quiet audio)
      const x = gaussian(rate * 3, 0.15, 2);
      const y = s.process(x);
      s.close();
      // past the first second (the suppressor learns the noise); the output is at 16 kHz either way
      const before = rms(x, rate, x.length);
      const after = rms(y, VAD_RATE, y.length);
      expect(20 * Math.log10(before / after), `${rate} Hz`).toBeGreaterThan(15);
    }
  });

  // clips of the tune split asked in pink (snr10) and babble (snr5) noise
  const noisy = ['052-wheres-my-umbrella.flite-kal16.snr10.wav', '071-i-lost-my-scissors.espeak-en-gb.snr10.wav', '016-do-you-know-where-my-laptop-is.flite-awb.snr5.wav', '230-uh-where-did-i-put-my-glasses.espeak-en-gb-rp.snr5.wav'];

  it('in pink and babble noise, the VAD hears the quiet after a question within a few windows of its last word', async () => {
    const late: number[] = [];
    for (const name of noisy) {
      const m = manifest.clips.find((c) => c.file === `corpus/wav/${name}`)!;
      expect(m.split).toBe('tune');
      const bytes = fs.readFileSync(path.join(CORPUS, 'wav', name));
      const w = decodeWav(bytes, { sampleRate: VAD_RATE });
      const pcm = Buffer.from(parseWav(bytes).data);
      // the clip, then its room going on (same colour and level) for 1.5 s
      const room = new RoomNoise(m.room.noise as NoiseColour, roomRms(pcm, VAD_RATE, { ...speechBounds(pcm, VAD_RATE), ...m.speech! }), 7);
      const audio = join([w.samples, s16leToFloat32(room.frame(VAD_RATE * 1.5))]);
      const end = m.speech!.endMs;
      // where the quiet the endpointer counts (150 ms of it) is first reached after the end of speech, ms after it
      const heardQuiet = async (denoise: boolean) => {
        const v = vad.stream();
        const d = denoise ? rn.stream() : null;
        let at = 0;
        try {
          for (let o = 0; o < audio.length; o += 320) {
            await v.feed(vad, d ? d.process(audio.subarray(o, o + 320)) : audio.subarray(o, o + 320));
            at = v.judgedMs;
            if (at > end && v.speech && v.silenceMs >= 150) return at - end;
          }
          return Infinity;
        } finally {
          d?.close();
        }
      };
      const withIt = await heardQuiet(true);
      const without = await heardQuiet(false);
      expect(withIt, `${name}: with RNNoise`).toBeLessThanOrEqual(350);
      late.push(without - withIt);
    }
    // without it the quiet comes at least 0.2 s later for most of them (its decay in noise)
    expect(late.filter((d) => d >= 200).length, `how much later without RNNoise, ms: ${late.join(', ')}`).toBeGreaterThanOrEqual(3);
  });
});
