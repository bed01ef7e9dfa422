/**
 * A simple energy voice-activity detector for hands-free listening. Pure: feed s16le mono chunks, get events.
 *
 * The audio is cut into frames (20 ms). A frame is "loud" when its RMS level is above `thresholdDb` (absolute,
 * dBFS) and either
 *  - its level is above the tracked noise floor plus `marginDb`, or
 *  - its speech bands (200 Hz - 4 kHz, `bands` of them) stand out from their own floors by more than
 *    `bandMarginDb` on average, and by `bandZ` standard deviations of that average in the room. This hears a
 *    voice under steady noise nearly as loud as itself (pink noise 10 dB under the voice: the level rule
 *    opened on 4 of 17 tune clips, this on 17), and asks more in babble, which rises and falls like speech.
 * The floors follow quiet frames quickly and creep towards loud ones slowly (so a steady new noise, a fan,
 * stops counting as speech after a while). Measured with bench/pi-vad.ts on the spoken corpus.
 *
 *  - An utterance opens once `minSpeechMs` of loud frames have been seen with no silent gap longer than
 *    `gapMs` between them (shorter bursts - a click, a cough - are ignored). The `start` event is followed by
 *    an `audio` event carrying the `preRollMs` before the first loud frame and everything since, so the first
 *    syllable is not cut.
 *  - While open, every frame is passed on as `audio`.
 *  - It closes (`end`, reason `silence`) after `hangoverMs` of continuous quiet, the hangover included in the
 *    audio; or (reason `max_length`) after `maxUtteranceMs`.
 */
import { s16leToFloat32, rms, toDbfs } from '../protocol/pcm.js';

export interface VadOptions {
  sampleRate: number;
  frameMs?: number;
  /** absolute floor for speech, dBFS */
  thresholdDb?: number;
  /** speech must be this far above the noise floor, dB */
  marginDb?: number;
  minSpeechMs?: number;
  /** longest quiet gap inside a starting utterance, ms */
  gapMs?: number;
  hangoverMs?: number;
  preRollMs?: number;
  maxUtteranceMs?: number;
  /**
   * a frame is also loud when its speech bands stand out from their own noise floors by this much on
   * average, dB (0: off): hears a voice under steady noise as loud as itself, which the whole-band level misses
   */
  bandMarginDb?: number;
  /**
   * ... and by this many standard deviations of that average in the room (frames not loud): in babble, whose
   * bands rise and fall all the time, the band rule needs more than in a steady fan's noise
   */
  bandZ?: number;
  /** speech bands, log-spaced from 200 Hz to 4 kHz */
  bands?: number;
}

export type VadEvent = { type: 'start' } | { type: 'audio'; pcm: Buffer } | { type: 'end'; reason: 'silence' | 'max_length'; speechMs: number };

export const VAD_DEFAULTS = {
  frameMs: 20,
  thresholdDb: -50,
  marginDb: 10,
  minSpeechMs: 200,
  gapMs: 200,
  hangoverMs: 700,
  preRollMs: 500,
  maxUtteranceMs: 12_000,
  bandMarginDb: 4,
  bandZ: 4,
  bands: 12,
};

export class EnergyVad {
  readonly o: Required<VadOptions>;
  private readonly frameBytes: number;
  private pending = Buffer.alloc(0);
  /** recent frames (pre-roll ring + a candidate utterance's frames) */
  private held: Buffer[] = [];
  private state: 'quiet' | 'candidate' | 'speech' = 'quiet';
  private floorDb: number | null = null;
  private loudMs = 0;
  private quietMs = 0;
  private openMs = 0;
  private readonly preRollFrames: number;
  private readonly spectrum: BandSpectrum | null;
  private bandFloor: Float64Array | null = null;
  /** the band rise's mean and variance in the room (frames not loud) */
  private riseMean = 0;
  private riseVar = 4;

  constructor(opts: VadOptions) {
    this.o = { ...VAD_DEFAULTS, ...opts } as Required<VadOptions>;
    if (!(this.o.sampleRate > 0)) throw new RangeError('VAD needs a sample rate');
    this.frameBytes = Math.max(2, Math.round((this.o.sampleRate * this.o.frameMs) / 1000)) * 2;
    this.preRollFrames = Math.ceil(this.o.preRollMs / this.o.frameMs);
    this.spectrum = this.o.bandMarginDb > 0 && this.o.bands > 0 ? new BandSpectrum(this.frameBytes / 2, this.o.sampleRate, this.o.bands) : null;
  }

  /** true while an utterance is open */
  get speaking(): boolean {
    return this.state === 'speech';
  }

  /** the current noise floor estimate, dBFS (null before the first frame) */
  get noiseFloorDb(): number | null {
    return this.floorDb;
  }

  /** forgets everything but the noise floor (e.g. after the reply has been played) */
  reset(): void {
    this.pending = Buffer.alloc(0);
    this.held = [];
    this.state = 'quiet';
    this.loudMs = this.quietMs = this.openMs = 0;
  }

  push(chunk: Buffer): VadEvent[] {
    const events: VadEvent[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= this.frameBytes) {
      this.frame(Buffer.from(buf.subarray(off, off + this.frameBytes)), events);
      off += this.frameBytes;
    }
    this.pending = Buffer.from(buf.subarray(off));
    buf = Buffer.alloc(0);
    return events;
  }

  /** ends an open utterance at the end of the input (the remaining partial frame is included) */
  flush(): VadEvent[] {
    const events: VadEvent[] = [];
    if (this.state === 'speech') {
      if (this.pending.length) events.push({ type: 'audio', pcm: this.pending });
      events.push({ type: 'end', reason: 'silence', speechMs: this.openMs });
    }
    this.reset();
    return events;
  }

  private frame(frame: Buffer, events: VadEvent[]): void {
    const o = this.o;
    const samples = s16leToFloat32(frame);
    const l = rms(samples);
    const db = l > 0 ? toDbfs(l) : -120;
    if (this.floorDb === null) this.floorDb = db;
    const above = db > o.thresholdDb;
    let loud = above && db > this.floorDb + o.marginDb;
    if (this.spectrum) {
      const bands = this.spectrum.levels(samples);
      const f = (this.bandFloor ??= Float64Array.from(bands));
      // the speech bands' mean rise over their floors, dB (a band under its floor counts as 0)
      let rise = 0;
      for (let b = 0; b < bands.length; b++) rise += Math.max(0, bands[b] - f[b]);
      rise /= bands.length;
      const need = Math.max(o.bandMarginDb, this.riseMean + o.bandZ * Math.sqrt(this.riseVar));
      loud ||= above && rise > need;
      for (let b = 0; b < bands.length; b++) f[b] = follow(f[b], bands[b], loud, 0.1);
      if (!loud) {
        const d = rise - this.riseMean;
        this.riseMean += 0.02 * d;
        this.riseVar += 0.02 * (d * d - this.riseVar);
      }
    }
    this.floorDb = follow(this.floorDb, db, loud, 0.3);

    switch (this.state) {
      case 'quiet':
        this.held.push(frame);
        if (this.held.length > this.preRollFrames + 1) this.held.shift();
        if (loud) {
          this.state = 'candidate';
          this.loudMs = o.frameMs;
          this.quietMs = 0;
          this.maybeOpen(events);
        }
        return;
      case 'candidate':
        this.held.push(frame);
        if (loud) {
          this.loudMs += o.frameMs;
          this.quietMs = 0;
          this.maybeOpen(events);
        } else {
          this.quietMs += o.frameMs;
          if (this.quietMs > o.gapMs) {
            // too short: noise. Keep only the pre-roll window.
            this.state = 'quiet';
            this.held = this.held.slice(-(this.preRollFrames + 1));
            this.loudMs = this.quietMs = 0;
          }
        }
        return;
      case 'speech':
        events.push({ type: 'audio', pcm: frame });
        this.openMs += o.frameMs;
        if (loud) this.quietMs = 0;
        else this.quietMs += o.frameMs;
        if (this.quietMs >= o.hangoverMs) this.close(events, 'silence');
        else if (this.openMs >= o.maxUtteranceMs) this.close(events, 'max_length');
        return;
    }
  }

  private maybeOpen(events: VadEvent[]): void {
    if (this.loudMs < this.o.minSpeechMs) return;
    this.state = 'speech';
    // pre-roll frames before the candidate began, then the candidate itself
    const candidateFrames = this.held.length;
    const audio = Buffer.concat(this.held);
    this.openMs = candidateFrames * this.o.frameMs;
    this.held = [];
    this.quietMs = 0;
    events.push({ type: 'start' }, { type: 'audio', pcm: audio });
  }

  private close(events: VadEvent[], reason: 'silence' | 'max_length'): void {
    events.push({ type: 'end', reason, speechMs: this.openMs - (reason === 'silence' ? this.quietMs : 0) });
    this.state = 'quiet';
    this.held = [];
    this.loudMs = this.quietMs = this.openMs = 0;
  }
}

/** a noise floor (dB) after a frame at `x`: quickly down (`down` of the way), slowly up; very slowly while loud */
function follow(floor: number, x: number, loud: boolean, down: number): number {
  return floor + (x < floor ? down : loud ? 0.002 : 0.05) * (x - floor);
}

/** band levels of a frame (Hann window, radix-2 FFT), dB, in `count` log-spaced bands from 200 Hz to 4 kHz */
export class BandSpectrum {
  private readonly n: number;
  private readonly re: Float64Array;
  private readonly im: Float64Array;
  private readonly win: Float64Array;
  /** first bin of each band, and one past the last band */
  private readonly edges: number[];
  private readonly out: Float64Array;

  constructor(frameSamples: number, sampleRate: number, count: number) {
    let n = 1;
    while (n < frameSamples) n *= 2;
    this.n = n;
    this.re = new Float64Array(n);
    this.im = new Float64Array(n);
    this.win = Float64Array.from({ length: frameSamples }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / Math.max(1, frameSamples - 1)));
    const lo = 200;
    const hi = Math.min(4000, sampleRate * 0.45);
    const binOf = (hz: number) => Math.round((hz * n) / sampleRate);
    const edges: number[] = [];
    for (let b = 0; b <= count; b++) edges.push(binOf(lo * Math.pow(hi / lo, b / count)));
    // every band at least one bin wide
    for (let b = 1; b < edges.length; b++) edges[b] = Math.max(edges[b], edges[b - 1] + 1);
    this.edges = edges;
    this.out = new Float64Array(count);
  }

  levels(samples: Float32Array): Float64Array {
    const { n, re, im, win } = this;
    re.fill(0);
    im.fill(0);
    for (let i = 0; i < win.length && i < samples.length; i++) re[i] = samples[i] * win[i];
    fft(re, im);
    for (let b = 0; b < this.out.length; b++) {
      let p = 1e-12;
      for (let k = this.edges[b]; k < this.edges[b + 1] && k < n / 2; k++) p += re[k] * re[k] + im[k] * im[k];
      this.out[b] = 10 * Math.log10(p / (this.edges[b + 1] - this.edges[b]));
    }
    return this.out;
  }
}

/** in-place iterative radix-2 FFT (length a power of two) */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const a = (-2 * Math.PI) / len;
    const wr = Math.cos(a);
    const wi = Math.sin(a);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const p = i + k;
        const q = p + len / 2;
        const tr = re[q] * cr - im[q] * ci;
        const ti = re[q] * ci + im[q] * cr;
        re[q] = re[p] - tr;
        im[q] = im[p] - ti;
        re[p] += tr;
        im[p] += ti;
        const ncr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = ncr;
      }
    }
  }
}
