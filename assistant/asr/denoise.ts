/**
 * RNNoise (Xiph's recurrent noise suppressor, BSD-3; the WebAssembly build in the npm package
 * @echogarden/rnnoise-wasm) in front of the Silero VAD, for the recogniser workers.
 *
 * Why: in a noisy room Silero's speech probability does not fall when the speaker stops; it decays over 400-900
 * ms (its recurrent state, and noise that looks a little like speech), so a hands-free question in babble or pink
 * noise was only judged over half a second after its last word. On the same audio with the noise suppressed
 * first, the probability falls within one to four 32 ms windows of the end of speech (measured on the spoken
 * corpus' tune split: docs/benchmarks.md). The recogniser still hears the audio as it came (suppression
 * distorts speech; it would cost recognition), and so does the level meter: only the VAD's view is denoised.
 *
 * RNNoise works on 48 kHz frames of 480 samples (10 ms) in 16-bit scale; the VAD's audio is 16 kHz, so each
 * stream resamples up, denoises, and resamples down (protocol/pcm.ts Resampler). About 28 ms of CPU per second
 * of audio per stream on this machine kind (x86-64, 2 cores); the denoised audio lags the input by the two
 * resamplers' and RNNoise's delay (a few ms), which only makes the measured quiet a little shorter.
 */
import { Resampler } from '../../protocol/pcm.js';

const FRAME = 480;
const RATE = 48000;
const SCALE = 32768;
const OUT_RATE = 16000;
/** the level the loudest frame is brought up to (RMS, full scale 1: -20 dBFS) and the most gain for it (+30 dB) */
const TARGET_RMS = 0.1;
const MAX_GAIN = 31.6;

/** the functions of the Emscripten module used here */
interface RnnoiseModule {
  _rnnoise_create(model: number): number;
  _rnnoise_destroy(state: number): void;
  _rnnoise_process_frame(state: number, out: number, input: number): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAPF32: Float32Array;
}

/** one loaded RNNoise module (per worker thread: WebAssembly instances are not shared between threads) */
export class Rnnoise {
  private constructor(
    private readonly m: RnnoiseModule,
    /** one input and one output frame, shared by the streams (a worker denoises one frame at a time) */
    private readonly inPtr: number,
    private readonly outPtr: number,
  ) {}

  static async load(): Promise<Rnnoise> {
    // a variable specifier: the package is plain JavaScript without type declarations
    const spec = '@echogarden/rnnoise-wasm';
    const mod = (await import(spec)) as { default: () => Promise<RnnoiseModule> };
    const m = await mod.default();
    const inPtr = m._malloc(FRAME * 4);
    const outPtr = m._malloc(FRAME * 4);
    if (!inPtr || !outPtr) throw new Error('RNNoise: out of WebAssembly memory');
    return new Rnnoise(m, inPtr, outPtr);
  }

  /** a denoiser for one stream of audio at `rate` (close it when the stream ends: it holds WebAssembly memory) */
  stream(rate = 16000): DenoiseStream {
    const state = this.m._rnnoise_create(0);
    if (!state) throw new Error('RNNoise: could not create a denoiser state');
    return new DenoiseStream(this, state, rate);
  }

  /** denoises one 480-sample 48 kHz frame (16-bit scale) in place; returns RNNoise's own voice probability */
  frame(state: number, x: Float32Array): number {
    // HEAPF32 is looked up each time: a memory growth replaces it
    const heap = this.m.HEAPF32;
    heap.set(x, this.inPtr >> 2);
    const p = this.m._rnnoise_process_frame(state, this.outPtr, this.inPtr);
    x.set(this.m.HEAPF32.subarray(this.outPtr >> 2, (this.outPtr >> 2) + FRAME));
    return p;
  }

  destroy(state: number): void {
    this.m._rnnoise_destroy(state);
  }
}

/** one stream's denoiser: mono float audio at its rate in (full scale 1), the same audio denoised out at 16 kHz (the VAD's rate) */
export class DenoiseStream {
  private readonly up: Resampler;
  private readonly down: Resampler;
  /** 48 kHz samples waiting for a whole frame (16-bit scale) */
  private pending = new Float32Array(FRAME);
  private pendingLen = 0;
  private state: number;
  /** the loudest 10 ms frame so far (RMS) and the gain now applied (see level()) */
  private peak = 0;
  private gain = MAX_GAIN;
  private frameAcc = 0;
  private frameN = 0;
  private readonly frameLen: number;

  constructor(
    private readonly lib: Rnnoise,
    state: number,
    rate: number,
  ) {
    this.state = state;
    this.up = new Resampler(rate, RATE);
    this.down = new Resampler(RATE, OUT_RATE);
    this.frameLen = Math.max(1, Math.round(rate / 100));
  }

  /**
   * RNNoise hears level: a quiet voice (-40 dBFS, a person across the room) comes out of it largely suppressed,
   * as noise would. So the audio is brought up first: the gain puts the loudest 10 ms frame heard so far at
   * TARGET_RMS, never below 1 (nothing is turned down) and at most MAX_GAIN (+30 dB). It only ever falls (the
   * loudest frame only grows), a frame at a time, so the noise before the first word is heard loud and the
   * speech after it at its own level.
   */
  private level(x: Float32Array): Float32Array {
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      out[i] = x[i] * this.gain;
      this.frameAcc += x[i] * x[i];
      if (++this.frameN === this.frameLen) {
        const r = Math.sqrt(this.frameAcc / this.frameN);
        this.frameAcc = 0;
        this.frameN = 0;
        if (r > this.peak) {
          this.peak = r;
          this.gain = Math.max(1, Math.min(MAX_GAIN, TARGET_RMS / r));
        }
      }
    }
    return out;
  }

  /** the audio so far denoised (whole 10 ms frames; the rest waits for the next call) */
  process(x: Float32Array): Float32Array {
    if (!this.state) throw new Error('RNNoise: the denoiser was closed');
    const y = this.up.process(this.level(x));
    const frames = Math.floor((this.pendingLen + y.length) / FRAME);
    const out = new Float32Array(frames * FRAME);
    let o = 0;
    let i = 0;
    while (i < y.length) {
      const k = Math.min(FRAME - this.pendingLen, y.length - i);
      for (let j = 0; j < k; j++) this.pending[this.pendingLen + j] = y[i + j] * SCALE;
      this.pendingLen += k;
      i += k;
      if (this.pendingLen === FRAME) {
        this.lib.frame(this.state, this.pending);
        for (let j = 0; j < FRAME; j++) out[o + j] = this.pending[j] / SCALE;
        o += FRAME;
        this.pendingLen = 0;
      }
    }
    return this.down.process(out);
  }

  close(): void {
    if (!this.state) return;
    this.lib.destroy(this.state);
    this.state = 0;
  }
}
