/**
 * The record of questions asked (shown on the admin page). Written in batches off the request path so a
 * question costs no disk sync; at most one flush interval of log lines is lost in a crash — never a
 * sighting, which is written synchronously.
 */
import type { HeardRecord, NewQueryLogEntry, Store } from '../store/types.js';
import type { Answer } from './answer.js';
import type { Principal } from './plugins/auth.js';

export class QueryLog {
  private pending: NewQueryLogEntry[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly onError: (err: unknown) => void,
    private readonly intervalMs = 200,
  ) {}

  /** records one answered question, asked by a user or a device; `heard`: what the recogniser heard (voice) */
  addAnswer(p: Principal, source: 'text' | 'voice', text: string, a: Answer, timings: Record<string, number>, heard: HeardRecord | null = null): void {
    this.add({
      userId: p.user.id,
      deviceId: p.kind === 'device' ? p.device.id : null,
      source,
      text,
      reply: a.reply,
      intent: a.intent,
      outcome: a.outcome,
      label: a.label,
      timings,
      heard,
      createdAt: Date.now(),
    });
  }

  add(e: NewQueryLogEntry): void {
    if (this.closed) {
      // the store is closing or closed: say so rather than try a write that cannot succeed
      this.onError(new Error('a question answered while the server was shutting down was not logged (the question log is closed)'));
      return;
    }
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

  /**
   * Writes everything pending, waits for writes under way, and takes no more: call it before the store
   * closes (the server's close does, plugins/context.ts). Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
