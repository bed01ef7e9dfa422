/**
 * AudioWorklet processor for "hold to talk": mono float input at the context's rate -> s16le at the
 * target rate (box-filter decimation, which also low-passes), posted to the page in ~100 ms frames.
 * Runs in the AudioWorkletGlobalScope, whose globals are typed here by hand (not in lib.dom).
 */
export {};

interface WorkletScope {
  sampleRate: number;
  registerProcessor(name: string, ctor: unknown): void;
  AudioWorkletProcessor: new (options?: unknown) => { readonly port: MessagePort };
}
const scope = globalThis as unknown as WorkletScope;

class PcmS16le extends scope.AudioWorkletProcessor {
  private readonly ratio: number;
  private readonly out: Int16Array;
  private n = 0;
  private acc = 0;
  private count = 0;
  private phase = 0;

  constructor(options: { processorOptions?: { targetRate?: number } }) {
    super(options);
    const target = Math.min(options.processorOptions?.targetRate ?? 16000, scope.sampleRate);
    this.ratio = scope.sampleRate / target;
    this.out = new Int16Array(Math.round(target / 10));
  }

  process(inputs: Float32Array[][]): boolean {
    const ch = inputs[0]?.[0];
    if (!ch) return true;
    for (let i = 0; i < ch.length; i++) {
      this.acc += ch[i];
      this.count++;
      this.phase += 1;
      if (this.phase >= this.ratio) {
        this.phase -= this.ratio;
        const v = Math.max(-1, Math.min(1, this.acc / this.count));
        this.acc = 0;
        this.count = 0;
        this.out[this.n++] = v < 0 ? v * 0x8000 : v * 0x7fff;
        if (this.n === this.out.length) {
          const frame = this.out.slice().buffer;
          this.port.postMessage(frame, [frame]);
          this.n = 0;
        }
      }
    }
    return true;
  }
}

scope.registerProcessor('pcm-s16le', PcmS16le);
