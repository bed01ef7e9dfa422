/**
 * Small PCM helpers shared by TTS, ASR, the Pi client and the tests.
 *
 * Conventions: audio on the wire and on disk is s16le mono ("PCM"); inside, samples are Float32 in
 * [-1, 1). Every function here is pure and synchronous (no I/O).
 *
 *   s16leToFloat32(buf)           Buffer (s16le) -> Float32Array
 *   float32ToS16le(samples)       Float32Array -> Buffer (s16le), clipped and rounded
 *   resample(samples, from, to)   one-shot windowed-sinc resampling (any rates 8000..48000 and beyond)
 *   resampleS16le(buf, from, to)  the same on s16le buffers
 *   new Resampler(from, to)       streaming version: process(chunk) ... flush()
 *   rms / peak / toDbfs           levels (linear 0..1, or dBFS)
 *   analyzeSpeech(samples, rate)  duration, levels and the fraction of 20 ms frames that hold speech energy
 *   splitBuffer(buf, max)         cut a buffer into <= max byte pieces, never splitting a 16-bit sample
 */

/** Converts s16le bytes to Float32 samples in [-1, 1). A trailing odd byte is ignored. */
export function s16leToFloat32(buf: Uint8Array): Float32Array {
  const n = buf.byteLength >> 1;
  const out = new Float32Array(n);
  const dv = new DataView(buf.buffer, buf.byteOffset, n * 2);
  for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true) / 32768;
  return out;
}

/** Converts Float32 samples to s16le bytes (values outside [-1, 1] are clipped; NaN becomes 0). */
export function float32ToS16le(samples: ArrayLike<number>): Buffer {
  const n = samples.length;
  const out = Buffer.allocUnsafe(n * 2);
  for (let i = 0; i < n; i++) {
    let v = Math.round(samples[i] * 32768);
    if (!(v > -32768)) v = v === v ? -32768 : 0; // NaN -> 0
    else if (v > 32767) v = 32767;
    out.writeInt16LE(v, i * 2);
  }
  return out;
}

// ---- resampling ----------------------------------------------------------------------------------------

/** Kernel half-width, in zero crossings of the sinc. 16 gives ~-70..-80 dB stopband with the Kaiser window. */
const ZERO_CROSSINGS = 16;
/** Table entries per zero crossing (the kernel is linearly interpolated between them). */
const OVERSAMPLE = 512;
/** Cutoff as a fraction of the lower Nyquist frequency (leaves room for the transition band). */
const ROLLOFF = 0.9;
const KAISER_BETA = 8;

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 50; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-12) break;
  }
  return sum;
}

let kernelTable: Float64Array | null = null;
/** sinc(u) * kaiser(u / ZERO_CROSSINGS) for u = i / OVERSAMPLE, i = 0 .. ZERO_CROSSINGS * OVERSAMPLE (+1 guard). */
function kernel(): Float64Array {
  if (kernelTable) return kernelTable;
  const n = ZERO_CROSSINGS * OVERSAMPLE;
  const t = new Float64Array(n + 2);
  const i0b = besselI0(KAISER_BETA);
  for (let i = 0; i <= n; i++) {
    const u = i / OVERSAMPLE;
    const sinc = i === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
    const r = u / ZERO_CROSSINGS;
    const w = besselI0(KAISER_BETA * Math.sqrt(Math.max(0, 1 - r * r))) / i0b;
    t[i] = sinc * w;
  }
  t[n + 1] = 0;
  kernelTable = t;
  return t;
}

/** Largest polyphase bank (coefficients); rarer ratios use the interpolated kernel table instead. */
const MAX_BANK = 1 << 18;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Exact kernel value at a distance of `tau` input samples, for kernel scale fc (includes the fc gain). */
function kernelAt(tau: number, fc: number, i0b: number): number {
  const u = Math.abs(tau * fc);
  if (u >= ZERO_CROSSINGS) return 0;
  const sinc = u === 0 ? 1 : Math.sin(Math.PI * u) / (Math.PI * u);
  const r = u / ZERO_CROSSINGS;
  return fc * sinc * (besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0b);
}

function buildBank(L: number, fc: number, half: number) {
  const off = new Int32Array(L);
  const len = new Int32Array(L);
  const start = new Int32Array(L);
  const coefs: number[] = [];
  const i0b = besselI0(KAISER_BETA);
  for (let p = 0; p < L; p++) {
    const frac = p / L;
    const k0 = Math.ceil(frac - half);
    const k1 = Math.floor(frac + half);
    off[p] = k0;
    len[p] = k1 - k0 + 1;
    start[p] = coefs.length;
    for (let k = k0; k <= k1; k++) coefs.push(kernelAt(frac - k, fc, i0b));
  }
  return { off, len, start, coef: Float64Array.from(coefs) };
}

function checkRate(name: string, r: number): void {
  if (!Number.isFinite(r) || r <= 0 || Math.floor(r) !== r) throw new RangeError(`${name} must be a positive integer, got ${r}`);
}

/**
 * Streaming band-limited resampler (Kaiser-windowed sinc, 16 zero crossings, cutoff at 0.9 x the lower
 * Nyquist frequency, unity pass-band gain). Common ratios (48000/44100/22050/8000 <-> 16000, ...) use an
 * exact polyphase filter bank; other ratios interpolate a finely tabulated kernel. Works for any pair of
 * integer rates; the output of
 * `process(a) + process(b) + flush()` equals `resample(a + b)`, so chunk boundaries leave no trace.
 * Output length after flush is ceil(inputLength * to / from). The delay is compensated (output sample n is
 * centred on input time n * from / to).
 */
export class Resampler {
  readonly fromRate: number;
  readonly toRate: number;
  /** kernel scale: zero crossings per input sample */
  private readonly fc: number;
  /** half-width of the kernel in input samples */
  private readonly half: number;
  private readonly passthrough: boolean;
  /** polyphase bank for rational ratios with few phases: L = to/g phases, M = from/g input step */
  private readonly L: number;
  private readonly M: number;
  private readonly bank: { off: Int32Array; len: Int32Array; start: Int32Array; coef: Float64Array } | null;
  /** pending input, starting at absolute input index `base` */
  private buf = new Float32Array(0);
  private bufLen = 0;
  private base = 0;
  /** total input samples received */
  private inCount = 0;
  /** output samples produced */
  private outCount = 0;
  private flushed = false;

  constructor(fromRate: number, toRate: number) {
    checkRate('fromRate', fromRate);
    checkRate('toRate', toRate);
    this.fromRate = fromRate;
    this.toRate = toRate;
    this.passthrough = fromRate === toRate;
    this.fc = Math.min(1, toRate / fromRate) * ROLLOFF;
    this.half = ZERO_CROSSINGS / this.fc;
    const g = gcd(fromRate, toRate);
    this.L = toRate / g;
    this.M = fromRate / g;
    this.bank = !this.passthrough && this.L * (2 * this.half + 2) <= MAX_BANK ? buildBank(this.L, this.fc, this.half) : null;
  }

  /** Feeds input samples; returns the output samples that are complete so far (possibly none). */
  process(input: Float32Array): Float32Array {
    if (this.flushed) throw new Error('Resampler: process() after flush()');
    if (this.passthrough) {
      this.inCount += input.length;
      this.outCount += input.length;
      return input.slice();
    }
    this.append(input);
    return this.run(false);
  }

  /** Ends the stream: returns the remaining output (the tail is computed with zeros after the input). */
  flush(): Float32Array {
    if (this.flushed) return new Float32Array(0);
    this.flushed = true;
    if (this.passthrough) return new Float32Array(0);
    return this.run(true);
  }

  private append(input: Float32Array): void {
    const need = this.bufLen + input.length;
    if (need > this.buf.length) {
      const nb = new Float32Array(Math.max(need, this.buf.length * 2, 1024));
      nb.set(this.buf.subarray(0, this.bufLen));
      this.buf = nb;
    }
    this.buf.set(input, this.bufLen);
    this.bufLen += input.length;
    this.inCount += input.length;
  }

  private run(final: boolean): Float32Array {
    const { fromRate, toRate, fc, half, L, M, bank } = this;
    const total = final ? Math.ceil((this.inCount * toRate) / fromRate) : Infinity;
    const out: number[] = [];
    const buf = this.buf;
    const base = this.base;
    const end = base + this.bufLen; // absolute index one past the last buffered sample
    if (bank) {
      // exact polyphase: output n sits at input time (n*M)/L = ti + p/L
      const { off, len, start, coef } = bank;
      for (;;) {
        const n = this.outCount;
        if (n >= total) break;
        const num = n * M;
        const ti = Math.floor(num / L);
        const p = num - ti * L;
        const k0 = ti + off[p];
        const k1 = k0 + len[p]; // exclusive
        if (!final && k1 > end) break;
        const lo = Math.max(k0, 0, base);
        const hi = Math.min(k1, end);
        let acc = 0;
        const c0 = start[p] - k0;
        for (let k = lo; k < hi; k++) acc += buf[k - base] * coef[c0 + k];
        out.push(acc);
        this.outCount++;
      }
    } else {
      // any ratio: kernel table with linear interpolation
      const table = kernel();
      const step = fc * OVERSAMPLE; // table index per input sample of distance
      const maxIdx = ZERO_CROSSINGS * OVERSAMPLE;
      for (;;) {
        const n = this.outCount;
        if (n >= total) break;
        const t = (n * fromRate) / toRate; // absolute input time of this output sample
        const hiNeeded = Math.floor(t + half);
        if (!final && hiNeeded >= end) break;
        const lo = Math.max(Math.ceil(t - half), 0, base);
        const hi = Math.min(hiNeeded, end - 1);
        let acc = 0;
        for (let k = lo; k <= hi; k++) {
          const x = (t - k) * step;
          const p = x < 0 ? -x : x;
          if (p >= maxIdx) continue;
          const i = p | 0;
          const f = p - i;
          acc += buf[k - base] * (table[i] + (table[i + 1] - table[i]) * f);
        }
        out.push(acc * fc);
        this.outCount++;
      }
    }
    // drop input that no future output sample can reach
    const nextT = (this.outCount * fromRate) / toRate;
    const keepFrom = Math.max(base, Math.min(end, Math.ceil(nextT - half) - 1));
    const drop = keepFrom - base;
    if (drop > 0) {
      buf.copyWithin(0, drop, this.bufLen);
      this.bufLen -= drop;
      this.base = keepFrom;
    }
    return Float32Array.from(out);
  }
}

/** One-shot resampling of Float32 samples (see Resampler). Returns a copy when the rates are equal. */
export function resample(samples: Float32Array, fromRate: number, toRate: number): Float32Array {
  const r = new Resampler(fromRate, toRate);
  const a = r.process(samples);
  const b = r.flush();
  if (b.length === 0) return a;
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** One-shot resampling of s16le mono bytes. */
export function resampleS16le(buf: Uint8Array, fromRate: number, toRate: number): Buffer {
  if (fromRate === toRate) return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength & ~1);
  return float32ToS16le(resample(s16leToFloat32(buf), fromRate, toRate));
}

// ---- levels --------------------------------------------------------------------------------------------

/** Root mean square of the samples (0 for none). Float samples: 1.0 = full scale. */
export function rms(samples: ArrayLike<number>, start = 0, end = samples.length): number {
  if (end <= start) return 0;
  let s = 0;
  for (let i = start; i < end; i++) s += samples[i] * samples[i];
  return Math.sqrt(s / (end - start));
}

/** Largest absolute sample value (0 for none). */
export function peak(samples: ArrayLike<number>): number {
  let p = 0;
  for (let i = 0; i < samples.length; i++) {
    const a = Math.abs(samples[i]);
    if (a > p) p = a;
  }
  return p;
}

/** Linear level (1.0 = full scale) to dBFS; 0 gives -Infinity. */
export function toDbfs(level: number): number {
  return 20 * Math.log10(level);
}

export interface SpeechStats {
  durationSec: number;
  /** overall RMS, linear (1.0 = full scale) */
  rms: number;
  peak: number;
  /** number of 20 ms frames */
  frames: number;
  /** frames whose RMS is above the activity threshold */
  activeFrames: number;
  /** activeFrames / frames (0 for empty input) */
  activeFraction: number;
  activeSec: number;
  /** the frame RMS threshold used, dBFS */
  thresholdDbfs: number;
}

/**
 * A crude energy-based speech-activity measure: the input is cut into 20 ms frames; a frame is "active"
 * when its RMS is above all of: `minDbfs` (default -45 dBFS); the loudest frame minus `belowLoudestDb`
 * (default 30 dB); the noise floor (10th percentile of frame levels) plus `aboveFloorDb` (default 6 dB).
 * Silence and steady noise give activeFraction ~0; speech with pauses gives ~0.4..0.9.
 */
export function analyzeSpeech(
  samples: Float32Array,
  sampleRate: number,
  opts: { minDbfs?: number; belowLoudestDb?: number; aboveFloorDb?: number; frameMs?: number } = {},
): SpeechStats {
  const frameLen = Math.max(1, Math.round((sampleRate * (opts.frameMs ?? 20)) / 1000));
  const frames = Math.floor(samples.length / frameLen);
  const levels: number[] = [];
  let loudest = 0;
  for (let f = 0; f < frames; f++) {
    const l = rms(samples, f * frameLen, (f + 1) * frameLen);
    levels.push(l);
    if (l > loudest) loudest = l;
  }
  const minDb = opts.minDbfs ?? -45;
  const sorted = [...levels].sort((a, b) => a - b);
  const floor = sorted.length ? sorted[Math.floor(sorted.length * 0.1)] : 0;
  const thresholdDbfs = Math.max(minDb, toDbfs(loudest) - (opts.belowLoudestDb ?? 30), toDbfs(floor) + (opts.aboveFloorDb ?? 6));
  const thr = Math.pow(10, thresholdDbfs / 20);
  const activeFrames = levels.filter((l) => l > thr).length;
  return {
    durationSec: samples.length / sampleRate,
    rms: rms(samples),
    peak: peak(samples),
    frames,
    activeFrames,
    activeFraction: frames ? activeFrames / frames : 0,
    activeSec: (activeFrames * frameLen) / sampleRate,
    thresholdDbfs,
  };
}

// ---- chunking ------------------------------------------------------------------------------------------

/** Cuts a buffer into pieces of at most `maxBytes` (rounded down to a whole number of 16-bit samples). */
export function* splitBuffer(buf: Buffer, maxBytes: number): Generator<Buffer> {
  const step = Math.max(2, maxBytes & ~1);
  for (let i = 0; i < buf.length; i += step) yield buf.subarray(i, Math.min(buf.length, i + step));
}
