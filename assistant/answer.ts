/**
 * The text pipeline shared by `POST /v1/query` and the voice socket:
 * text -> intent (nlp/parse) -> label (nlp/vocabulary) -> lookup (store) -> reply (nlp/reply).
 */
import { performance } from 'node:perf_hooks';
import { parseRequest } from '../nlp/parse.js';
import { composeReply } from '../nlp/reply.js';
import type { IntentName, Outcome } from '../nlp/types.js';
import type { Store } from '../store/types.js';
import { emptyDialog, liveDialog, type DialogContext } from './dialog.js';
import type { LabelBook } from './labels.js';
import type { SightingView } from './protocol.js';
import { sightingView } from './views.js';

export interface Answer {
  reply: string;
  intent: IntentName;
  outcome: Outcome;
  item: string | null;
  label: string | null;
  sighting: (SightingView & { id: number; first_seen_at: string; snapshot_url: string | null }) | null;
  timings: { nlp_ms: number; lookup_ms: number };
  /** the conversation after this turn (pass it to the next `answer` call of the same conversation) */
  dialog: DialogContext;
  /** the reply asks a question and the client should listen for the answer without another button press */
  follow_up: boolean;
}

export interface AnswerOptions {
  now?: number;
  /** the conversation so far (from the previous Answer.dialog) */
  dialog?: DialogContext | null;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export class Answerer {
  constructor(
    private readonly store: Store,
    private readonly labels: LabelBook,
    private readonly timeZone: string,
  ) {}

  async answer(userId: number, text: string, opts: AnswerOptions = {}): Promise<Answer> {
    const now = opts.now ?? Date.now();
    const dialog = liveDialog(opts.dialog, now) ?? emptyDialog(now);
    const t0 = performance.now();
    const vocab = this.labels.vocabulary;
    const parsed = parseRequest(text);
    let outcome: Outcome;
    let label: string | null = null;
    if (parsed.intent === 'not_a_request') outcome = 'not_understood';
    else if (!parsed.item) outcome = 'no_item';
    else {
      const m = vocab.resolve(parsed.item);
      if (m.kind === 'label') {
        label = m.label;
        outcome = 'found'; // provisional until the lookup
      } else outcome = 'not_detectable';
    }
    const t1 = performance.now();
    const sighting = label ? await this.store.latestSighting(userId, label) : null;
    const t2 = performance.now();
    if (label && !sighting) outcome = 'never_seen';
    const reply = composeReply({
      outcome,
      intent: parsed.intent,
      item: parsed.item,
      label,
      sighting: sighting
        ? { seenAt: sighting.seenAt, score: sighting.score, box: sighting.box, room: sighting.room, deviceName: sighting.deviceName, neighbours: sighting.neighbours }
        : undefined,
      examples: vocab.examples(3),
      now,
      timeZone: this.timeZone,
    });
    const t3 = performance.now();
    return {
      reply,
      intent: parsed.intent,
      outcome,
      item: parsed.item,
      label,
      sighting: sighting ? sightingView(sighting) : null,
      timings: { nlp_ms: round(t1 - t0 + (t3 - t2)), lookup_ms: round(t2 - t1) },
      dialog: label ? { lastItem: parsed.item, lastLabel: label, pending: null, at: now } : { ...dialog, pending: null, at: now },
      follow_up: false,
    };
  }
}
