/**
 * The level meter beside the VAD (assistant/asr/loudness.ts): on made-up audio with a known noise floor and
 * a known end of sound, and the same rule over a whole clip as the benchmarks' end of speech.
 */
import { describe, expect, it } from 'vitest';
import { LoudnessTracker } from '../dist/assistant/asr/loudness.js';
import { speechBounds } from '../dist/bench/speech-bounds.js';
import { mulberry32 } from '../dist/bench/seed.js';

const RATE = 16000;
/** Gaussian noise at `noiseDb` dBFS RMS, with a 300 Hz tone at `toneDb` from `from` to `to` ms */
function clip(ms: number, noiseDb: number, toneDb: number, from: number, to: number): Float32Array {
  const rnd = mulberry32(1);
  const x = new Float32Array(Math.round((RATE * ms) / 1000));
  const n = Math.pow(10, noiseDb / 20);
  const a = Math.pow(10, toneDb / 20) * Math.SQRT2;
  for (let i = 0; i < x.length; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    const t = (i * 1000) / RATE;
    x[i] = g * n + (t >= from && t < to ? a * Math.sin((2 * Math.PI * 300 * i) / RATE) : 0);
  }
  return x;
}
const s16 = (x: Float32Array) => Buffer.from(Int16Array.from(x, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32767)))).buffer);

describe('level meter', () => {
  it('says how long it has been quiet since the sound ended, fed in any pieces', () => {
    const x = clip(2000, -55, -20, 300, 1300);
    const m = new LoudnessTracker(RATE);
    // pieces that do not line up with its 20 ms frames
    for (let o = 0; o < x.length; o += 333) m.push(x.subarray(o, Math.min(x.length, o + 333)));
    expect(m.quietMs).toBeGreaterThanOrEqual(680);
    expect(m.quietMs).toBeLessThanOrEqual(720);
    expect(m.rangeDb).toBeGreaterThan(30);
  });
  it('while the sound goes on it is not quiet; in noise its range is narrow', () => {
    const m = new LoudnessTracker(RATE);
    m.push(clip(1000, -30, -25, 300, 2000));
    expect(m.quietMs).toBeLessThanOrEqual(20);
    expect(m.rangeDb).toBeLessThan(12);
  });
  it('over a whole clip it gives the benchmarks\' end of speech', () => {
    const x = clip(2000, -55, -20, 300, 1300);
    const b = speechBounds(s16(x), RATE);
    expect(b.startMs).toBe(300);
    expect(b.endMs).toBe(1300);
  });
});
