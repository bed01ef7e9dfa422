/**
 * Openings: the first words of the replies the server is likely to speak, synthesised ahead of time so that a
 * reply's first audio is ready the moment its text is (Piper takes ~100-300 ms of CPU for a first piece).
 *
 * For every item some camera has seen (a reply "Your cup was ..." can only be about one of those), and for the
 * openings every reply shares ("I last saw", "Did you mean", "Sorry"), nlp/reply.ts composes sample replies
 * in its own wording and the engine's warm() prepares their first pieces, behind any real reply. The list is
 * read at start and again every `everyMs` (new items appear as cameras see them).
 */
import { sampleReplies, spokenLabel } from '../nlp/reply.js';
import type { Store } from '../store/types.js';
import type { Tts } from './tts/types.js';

export interface OpeningsLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface Openings {
  /** resolves when the current round of warming is done */
  idle(): Promise<void>;
  /** reads the seen items again and warms what is new (resolves when that round is done) */
  refresh(): Promise<void>;
  /** a camera saw these labels: a label not prepared yet starts a refresh at once */
  seen(labels: readonly string[]): void;
  stop(): void;
}

/** The names of every item some camera has seen, as replies say them, for every user. */
export async function seenItems(store: Store): Promise<string[]> {
  const names = new Set<string>();
  for (const u of await store.listUsers()) for (const it of await store.listItems(u.id)) names.add(spokenLabel(it.label));
  return [...names].sort();
}

export function startOpenings(o: { store: Store; tts: Tts; timeZone: string; examples: readonly string[]; everyMs?: number; log?: OpeningsLog }): Openings {
  const warm = o.tts.warm?.bind(o.tts);
  const done = new Set<string>();
  let round: Promise<void> = Promise.resolve();
  let stopped = false;
  const once = async (): Promise<void> => {
    if (!warm || stopped) return;
    let items: string[];
    try {
      items = await seenItems(o.store);
    } catch (e) {
      if (!stopped) o.log?.warn(`speech openings: could not list the seen items: ${(e as Error).message}`);
      return;
    }
    if (stopped) return;
    // the shared openings come with the first item; an empty store still warms them (with a placeholder item)
    const fresh = items.filter((i) => !done.has(i));
    if (!fresh.length && done.size) return;
    const todo = fresh.length ? fresh : ['thing'];
    const now = Date.now();
    const replies = todo.flatMap((item) => sampleReplies(item, { now, timeZone: o.timeZone, examples: o.examples }));
    const t0 = performance.now();
    const r = await warm(replies);
    for (const i of todo) done.add(i);
    const what = fresh.length ? `${todo.length} item${todo.length === 1 ? '' : 's'}` : 'the replies every item shares (no item seen yet)';
    if (r.warmed) o.log?.info(`speech openings: ${r.warmed} prepared for ${what} in ${((performance.now() - t0) / 1000).toFixed(1)} s${r.skipped ? ` (${r.skipped} left out: the bound)` : ''}`);
  };
  const refresh = (): Promise<void> => {
    round = round.then(once, once);
    return round;
  };
  void refresh();
  const timer = setInterval(() => void refresh(), Math.max(1000, o.everyMs ?? 60_000));
  timer.unref();
  return {
    idle: () => round,
    refresh,
    seen: (labels) => {
      if (!stopped && labels.some((l) => !done.has(spokenLabel(l)))) void refresh();
    },
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
