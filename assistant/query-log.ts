/**
 * The record of questions asked (shown on the admin page). Written in batches off the request path so a
 * question costs no disk sync; at most one flush interval of log lines is lost in a crash — never a
 * sighting, which is written synchronously.
 */
import type { NewQueryLogEntry, Store } from '../store/types.js';

export class QueryLog {
  private pending: NewQueryLogEntry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly onError: (err: unknown) => void,
    private readonly intervalMs = 200,
  ) {}

  add(e: NewQueryLogEntry): void {
    this.pending.push(e);
    if (this.pending.length >= 500) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  /** writes everything pending; resolves when it is stored */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return this.flushing;
    // one transaction for the whole batch: one disk sync, however many questions
    this.flushing = this.flushing.then(() => this.store.logQueries(batch).catch(this.onError));
    return this.flushing;
  }
}
