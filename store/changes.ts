/**
 * Account changes that end credentials (a device revoked, a user removed, a password changed, a logout), as
 * an in-process signal: the voice guard re-checks its open sockets when one arrives (assistant/voice-guard.ts).
 * PostgreSQL also carries it between instances (NOTIFY, store/postgres.ts).
 */
export class ChangeFeed {
  private readonly fns = new Set<() => void>();

  get listeners(): number {
    return this.fns.size;
  }

  on(fn: () => void): () => void {
    this.fns.add(fn);
    return () => void this.fns.delete(fn);
  }

  emit(): void {
    for (const fn of [...this.fns]) {
      try {
        fn();
      } catch {
        /* a listener's failure is its own */
      }
    }
  }
}
