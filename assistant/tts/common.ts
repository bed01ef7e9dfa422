/**
 * What every engine does the same way: checking its options, the checks at the start of `synthesize()`, and
 * the cancellable reply iterator (a consumer that goes away stops the work at the next piece boundary).
 */
import { AppError } from '../errors.js';
import { isSilentText, prepareText } from './text.js';
import type { SynthesizeOptions, TtsOptions } from './types.js';

/** Checks a sample rate (8000..48000, whole). Throws AppError('bad_request'). */
export function checkSampleRate(rate: number): number {
  if (!Number.isInteger(rate) || rate < 8000 || rate > 48000) throw new AppError('bad_request', `sample rate must be 8000..48000, got ${rate}`);
  return rate;
}

/** The options every engine takes, checked: output rate, speaking rate 0.5..2, volume 0..2. Throws AppError('bad_request'). */
export function checkTtsOptions(opts: TtsOptions): { sampleRate: number; rate: number; volume: number } {
  const sampleRate = checkSampleRate(opts.sampleRate ?? 16000);
  const rate = opts.rate ?? 1;
  if (!(rate >= 0.5 && rate <= 2)) throw new AppError('bad_request', `speaking rate must be 0.5..2, got ${rate}`);
  const volume = opts.volume ?? 1;
  if (!(volume >= 0 && volume <= 2)) throw new AppError('bad_request', `volume must be 0..2, got ${volume}`);
  return { sampleRate, rate, volume };
}

/**
 * The start of every `synthesize()`: the text prepared (NFKC, whitespace; over MAX_TTS_CHARS throws
 * AppError('validation')), null when there is nothing to say, AppError('unavailable') once the engine is
 * closed, the call's sample rate checked (AppError('bad_request')).
 */
export function beginSynthesis(text: string, opts: SynthesizeOptions, engine: { closed: boolean; sampleRate: number }): { text: string; sampleRate: number } | null {
  const t = prepareText(text);
  if (!t || isSilentText(t)) return null;
  if (engine.closed) throw new AppError('unavailable', 'text-to-speech has been closed');
  return { text: t, sampleRate: checkSampleRate(opts.sampleRate ?? engine.sampleRate) };
}

/** A reply's cancellation: `cancelled` turns true once, and `onCancel` callbacks run then (or at once if already). */
export class Cancel {
  cancelled = false;
  private readonly fns: Array<() => void> = [];
  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    for (const f of this.fns.splice(0)) {
      try {
        f();
      } catch {
        /* a canceller never fails the caller */
      }
    }
  }
  onCancel(f: () => void): void {
    if (this.cancelled) f();
    else this.fns.push(f);
  }
}

/**
 * An AsyncIterable over `run`'s chunks whose consumer can go away at any moment: `return()` (a `break` in
 * `for await`), `throw()`, or `signal` aborting cancels the reply at once (queued pieces are dropped, a
 * pending `next()` ends with done) instead of waiting for the generator to reach its next `yield`.
 */
export function cancellable(run: (c: Cancel) => AsyncGenerator<Buffer>, signal?: AbortSignal): AsyncIterable<Buffer> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Buffer> {
      const c = new Cancel();
      let unlisten = () => {};
      if (signal) {
        if (signal.aborted) c.cancel();
        else {
          const abort = () => c.cancel();
          signal.addEventListener('abort', abort, { once: true });
          unlisten = () => signal.removeEventListener('abort', abort);
          c.onCancel(unlisten);
        }
      }
      const gen = run(c);
      return {
        next: () =>
          gen.next().then(
            (r) => {
              if (r.done) unlisten();
              return r;
            },
            (e: unknown) => {
              c.cancel();
              throw e;
            },
          ),
        return: (v?: unknown) => {
          c.cancel();
          return gen.return(v as never);
        },
        throw: (e?: unknown) => {
          c.cancel();
          return gen.throw(e);
        },
      };
    },
  };
}
