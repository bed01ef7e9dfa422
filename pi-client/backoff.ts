/**
 * Exponential backoff with jitter, capped: attempt n waits a random time in
 * [(1 - jitter) * b, b] where b = min(maxMs, initialMs * factor^n). `reset()` after a success.
 * Pure apart from the injectable random source (tests pass their own).
 */
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** 0 = no jitter, 1 = "full jitter" (anywhere in [0, b]); default 0.5 */
  jitter?: number;
  random?: () => number;
}

export class Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: number;
  private readonly random: () => number;
  private n = 0;

  constructor(o: BackoffOptions = {}) {
    this.initialMs = Math.max(1, o.initialMs ?? 500);
    this.maxMs = Math.max(this.initialMs, o.maxMs ?? 30_000);
    this.factor = Math.max(1, o.factor ?? 2);
    this.jitter = Math.min(1, Math.max(0, o.jitter ?? 0.5));
    this.random = o.random ?? Math.random;
  }

  /** failures since the last reset */
  get attempts(): number {
    return this.n;
  }

  /** the upper bound of the next delay (without jitter) */
  ceiling(): number {
    // factor^n overflows to Infinity for large n; min() caps it
    return Math.min(this.maxMs, this.initialMs * Math.pow(this.factor, this.n));
  }

  /** the delay before the next try; counts one more failure */
  next(): number {
    const b = this.ceiling();
    this.n++;
    const r = Math.min(1, Math.max(0, this.random()));
    return Math.round(b * (1 - this.jitter) + b * this.jitter * r);
  }

  reset(): void {
    this.n = 0;
  }
}

/** a sleep that `wake()` (or an abort signal) can cut short */
export class Sleeper {
  private timer: NodeJS.Timeout | null = null;
  private resolve: (() => void) | null = null;

  sleep(ms: number): Promise<void> {
    this.wake();
    return new Promise<void>((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(() => this.wake(), Math.max(0, ms));
    });
  }

  wake(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const r = this.resolve;
    this.resolve = null;
    r?.();
  }
}
