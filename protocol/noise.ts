/**
 * Room noise of a colour, as a stream: the spoken corpus (audio-fixtures/make-corpus.ts) mixes it under its clips, and the
 * hands-free benches (bench/voice.ts, bench/endpoint.ts) keep the same room going after a clip ends, the way a
 * microphone keeps hearing the room it is in. Deterministic from a seed; the filters keep their state from one
 * `take` to the next, so frames taken one after another are one continuous noise.
 */

import { float32ToS16le } from './pcm.js';

export type NoiseColour = 'white' | 'pink' | 'babble';

/** mulberry32 */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** standard normal deviates (Box-Muller, both halves used) */
export function gaussian(rnd: () => number): () => number {
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u1 = Math.max(rnd(), 1e-12);
    const u2 = rnd();
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
}

/**
 * Unnormalised noise of a colour at `rate` Hz: white (Gaussian), pink (Paul Kellet's economy filter) or
 * babble (speech-shaped and syllable-rate modulated: low-passed pink, amplitude-modulated at 3-6 Hz, the rate
 * redrawn every 0.1 s).
 */
export class NoiseSource {
  private readonly g: () => number;
  private readonly rnd: () => number;
  private b0 = 0;
  private b1 = 0;
  private b2 = 0;
  private lp = 0;
  private phase = 0;
  private f = 4;
  private i = 0;

  constructor(
    readonly colour: NoiseColour,
    seed: number,
    private readonly rate = 16000,
  ) {
    this.g = gaussian(prng(seed));
    this.rnd = prng(seed ^ 0x5bd1e995);
  }

  take(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let k = 0; k < n; k++, this.i++) {
      const w = this.g();
      if (this.colour === 'white') out[k] = w;
      else if (this.colour === 'pink') {
        this.b0 = 0.99765 * this.b0 + w * 0.099046;
        this.b1 = 0.963 * this.b1 + w * 0.2965164;
        this.b2 = 0.57 * this.b2 + w * 1.0526913;
        out[k] = this.b0 + this.b1 + this.b2 + w * 0.1848;
      } else {
        this.b0 = 0.99765 * this.b0 + w * 0.099046;
        this.b1 = 0.963 * this.b1 + w * 0.2965164;
        this.lp += 0.25 * (this.b0 + this.b1 + w * 0.2 - this.lp);
        if (this.i % Math.round(this.rate / 10) === 0) this.f = 3 + this.rnd() * 3;
        this.phase += (2 * Math.PI * this.f) / this.rate;
        out[k] = this.lp * (0.35 + 0.65 * Math.max(0, Math.sin(this.phase)));
      }
    }
    return out;
  }
}

/**
 * A microphone's room after a clip: noise of the clip's colour at a given RMS (full scale 1), as s16le frames,
 * continuous from one frame to the next. The colour's own RMS is measured once on a warm-up of another seed.
 */
export class RoomNoise {
  private readonly src: NoiseSource;
  private readonly gain: number;

  constructor(colour: NoiseColour, rms: number, seed: number, rate = 16000) {
    const probe = new NoiseSource(colour, seed ^ 0x9e3779b9, rate).take(rate * 4).subarray(rate);
    let s = 0;
    for (const x of probe) s += x * x;
    // full scale 32767 (float32ToS16le scales by 32768)
    this.gain = ((rms / (Math.sqrt(s / probe.length) || 1)) * 32767) / 32768;
    this.src = new NoiseSource(colour, seed, rate);
    // past the filters' start-up (pink's slowest pole settles in about 0.1 s)
    this.src.take(Math.round(rate / 4));
  }

  /** the next `samples` samples, s16le */
  frame(samples: number): Buffer {
    const g = this.gain;
    return float32ToS16le(Float64Array.from(this.src.take(samples), (v) => v * g));
  }
}
