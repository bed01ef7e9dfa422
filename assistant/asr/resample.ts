/**
 * Streaming band-limited resampler for s16 mono audio (windowed-sinc, Blackman window), used to bring
 * 8000..48000 Hz client audio to the model's 16000 Hz. State carries across calls, so chunk boundaries
 * are seamless. Pure JS; cheap (tens of multiply-adds per output sample).
 */

const ZERO_CROSSINGS = 10;
const TABLE_RES = 512; // kernel samples per unit (input sample) of the prototype

export class Resampler {
  readonly inRate: number;
  readonly outRate: number;
  private readonly step: number; // input samples per output sample
  private readonly cutoff: number; // normalised to the input Nyquist (<= 1)
  private readonly half: number; // kernel half-width in input samples
  private readonly table: Float32Array; // kernel h(x) for x in [0, half] at TABLE_RES/cutoff resolution
  private readonly scale: number; // table index per input sample distance
  /** input history (floats), starting at absolute input index `base` */
  private buf: Float32Array = new Float32Array(0);
  private base = 0;
  /** absolute input position (fractional) of the next output sample */
  private pos = 0;
  private totalIn = 0;

  constructor(inRate: number, outRate: number) {
    if (!(inRate > 0) || !(outRate > 0)) throw new RangeError('sample rates must be positive');
    this.inRate = inRate;
    this.outRate = outRate;
    this.step = inRate / outRate;
    this.cutoff = Math.min(1, outRate / inRate) * 0.95;
    this.half = Math.ceil(ZERO_CROSSINGS / this.cutoff);
    // h(x) = cutoff * sinc(cutoff * x) * blackman(x / half), x in input samples
    const n = Math.ceil(this.half * TABLE_RES) + 2;
    this.table = new Float32Array(n);
    this.scale = TABLE_RES;
    for (let i = 0; i < n; i++) {
      const x = i / TABLE_RES;
      if (x > this.half) break;
      const a = Math.PI * this.cutoff * x;
      const sinc = x === 0 ? 1 : Math.sin(a) / a;
      const w = 0.42 + 0.5 * Math.cos((Math.PI * x) / this.half) + 0.08 * Math.cos((2 * Math.PI * x) / this.half);
      this.table[i] = this.cutoff * sinc * w;
    }
  }

  get passthrough(): boolean {
    return this.inRate === this.outRate;
  }

  /** Resamples the next block of input; returns the output samples that are ready. */
  process(input: Int16Array): Int16Array {
    if (this.passthrough) return input;
    // append input to history
    const merged = new Float32Array(this.buf.length + input.length);
    merged.set(this.buf);
    for (let i = 0; i < input.length; i++) merged[this.buf.length + i] = input[i];
    this.buf = merged;
    this.totalIn += input.length;
    return this.emit(false);
  }

  /** Emits what is left (pads the tail with silence). */
  flush(): Int16Array {
    if (this.passthrough) return new Int16Array(0);
    const pad = new Float32Array(this.buf.length + this.half + 1);
    pad.set(this.buf);
    this.buf = pad;
    const out = this.emit(true);
    this.buf = new Float32Array(0);
    return out;
  }

  private emit(final: boolean): Int16Array {
    const end = this.base + this.buf.length; // absolute index one past the last buffered sample
    // an output at position p needs input up to floor(p) + half
    const limit = final ? this.totalIn : end - this.half - 1;
    const count = Math.max(0, Math.ceil((limit - this.pos) / this.step));
    const out = new Int16Array(count);
    const t = this.table;
    const half = this.half;
    const scale = this.scale;
    const buf = this.buf;
    const base = this.base;
    let p = this.pos;
    for (let o = 0; o < count; o++) {
      const c = Math.floor(p);
      let acc = 0;
      const lo = Math.max(c - half + 1, base);
      const hi = Math.min(c + half, end - 1);
      for (let k = lo; k <= hi; k++) {
        const d = Math.abs(p - k) * scale;
        const i = d | 0;
        if (i + 1 >= t.length) continue;
        const f = d - i;
        acc += buf[k - base] * (t[i] + (t[i + 1] - t[i]) * f);
      }
      const v = Math.round(acc);
      out[o] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
      p += this.step;
    }
    this.pos = p;
    // drop history no longer needed
    const keepFrom = Math.max(base, Math.floor(p) - half - 1);
    if (keepFrom > base) {
      this.buf = this.buf.slice(keepFrom - base);
      this.base = keepFrom;
    }
    return out;
  }
}

/** Little-endian s16 bytes -> Int16Array (copies; works for any byte offset). Odd trailing byte ignored. */
export function bytesToInt16(b: Uint8Array): Int16Array {
  const n = b.byteLength >> 1;
  const out = new Int16Array(n);
  const dv = new DataView(b.buffer, b.byteOffset, n * 2);
  for (let i = 0; i < n; i++) out[i] = dv.getInt16(i * 2, true);
  return out;
}

/** Int16Array -> little-endian bytes (a view when the platform is little-endian). */
export function int16ToBytes(s: Int16Array): Uint8Array {
  return new Uint8Array(s.buffer, s.byteOffset, s.byteLength);
}
