/**
 * The text pipeline shared by `POST /v1/query` and the voice socket:
 * text -> intent (nlp/parse) -> label (nlp/vocabulary) -> lookup (store) -> reply (nlp/reply).
 */
import { performance } from 'node:perf_hooks';
import { NOT_DETECTABLE_WORDS } from '../nlp/synonyms.js';
import { PERSONAL_ITEMS } from './asr/grammar.js';
import { DEFAULT_THRESHOLDS, decideHearing, readFollowUp, type HearingThresholds, type Hypothesis } from '../nlp/hearing.js';
import { composeReply, spokenLabel } from '../nlp/reply.js';
import type { Intent, IntentName, Outcome } from '../nlp/types.js';
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
  sighting: (SightingView & { id: number; snapshot_url: string | null }) | null;
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
  /**
   * what a speech recogniser heard: its N-best list, best first, each with its share of the list's mass.
   * Without it `text` is taken as said for certain (typed questions).
   */
  alternatives?: readonly Hypothesis[];
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
    const resolve = (item: string) => vocab.resolve(item);
    const heard: Hypothesis[] = opts.alternatives?.length ? [...opts.alternatives] : [{ text, confidence: 1 }];

    // an answer to the question the assistant asked last turn ("did you mean your cup?" / "which thing?")
    if (dialog.pending) {
      const f = readFollowUp(heard[0]?.text ?? text);
      const pending = dialog.pending;
      const ended = !(heard[0]?.text ?? text).trim() || f.kind === 'no' || (f.kind === 'yes' && pending.kind === 'which');
      if (ended) return this.simple('cancelled', text, dialog, now, t0, { intent: 'not_a_request', item: null });
      if (f.kind === 'yes' && pending.kind === 'confirm')
        return this.lookup(userId, { intent: 'find_item', item: pending.item }, pending.label, now, t0, dialog);
      if (f.kind === 'item') {
        const m = resolve(f.item);
        return this.lookup(userId, { intent: 'find_item', item: f.item }, m.kind === 'label' ? m.label : null, now, t0, dialog);
      }
      // something else: a new question
    }

    // spoken questions: the recogniser's pieces of items are weighed (typed ones are taken as written)
    const h = decideHearing(heard, resolve, this.thresholds, opts.alternatives?.length ? this.phraseCheck() : undefined);
    switch (h.kind) {
      case 'not_heard':
        return this.simple('not_heard', text, dialog, now, t0, { intent: 'not_a_request', item: null });
      case 'not_request':
        return this.simple('not_understood', h.text, dialog, now, t0, { intent: 'not_a_request', item: null });
      case 'confirm': {
        // asked by the label's own name ("did you mean your handbag?"), not the recogniser's pieces ("paint purse")
        const item = spokenLabel(h.label).toLowerCase();
        return this.simple('clarify', h.text, { ...dialog, pending: { kind: 'confirm', item, label: h.label } }, now, t0, { intent: h.intent.intent, item }, h.label);
      }
      case 'which': {
        // "where is it": a plain question without an item, as typed or heard for sure
        const plain = !h.unknown && heard.length === 1 && h.intent.item === null;
        // an unsure item is not echoed ("I don't know what a map map is"): the recogniser may have made it up
        return this.simple(plain ? 'no_item' : h.unknown ? 'unknown_item' : 'clarify', h.text, { ...dialog, pending: { kind: 'which' } }, now, t0, { intent: h.intent.intent, item: null });
      }
      case 'answer':
        return this.lookup(userId, h.intent, h.label, now, t0, dialog);
    }
  }

  private phrases: { vocab: unknown; set: Set<string> } | null = null;
  /** "is this exactly a phrase of the vocabulary" (cached per vocabulary) */
  private phraseCheck(): (item: string) => boolean {
    const vocab = this.labels.vocabulary;
    if (this.phrases?.vocab !== vocab) this.phrases = { vocab, set: new Set([...vocab.phrases(), ...PERSONAL_ITEMS, ...NOT_DETECTABLE_WORDS].map((p) => p.toLowerCase())) };
    const set = this.phrases.set;
    return (item) => set.has(item.toLowerCase());
  }

  /** thresholds for spoken questions (nlp/hearing.ts); tests and the benchmark may change them */
  thresholds: HearingThresholds = DEFAULT_THRESHOLDS;

  /** a reply without a lookup; follow_up when it asks something (pending set) */
  private simple(outcome: Outcome, _text: string, dialog: DialogContext, now: number, t0: number, intent: Intent, label: string | null = null): Answer {
    const vocab = this.labels.vocabulary;
    const reply = composeReply({ outcome, intent: intent.intent, item: intent.item, label, examples: vocab.examples(3), now, timeZone: this.timeZone });
    const asks = dialog.pending !== null && (outcome === 'clarify' || outcome === 'no_item' || outcome === 'unknown_item');
    return {
      reply,
      intent: intent.intent,
      outcome,
      item: intent.item,
      label,
      sighting: null,
      timings: { nlp_ms: round(performance.now() - t0), lookup_ms: 0 },
      dialog: { ...dialog, pending: asks ? dialog.pending : null, at: now },
      follow_up: asks,
    };
  }

  /** the request is understood: resolve, look up, word the reply */
  private async lookup(userId: number, parsed: Intent, knownLabel: string | null, now: number, t0: number, dialog: DialogContext): Promise<Answer> {
    const vocab = this.labels.vocabulary;
    let outcome: Outcome;
    let label: string | null = null;
    if (parsed.intent === 'not_a_request') outcome = 'not_understood';
    else if (!parsed.item) outcome = 'no_item';
    else {
      const m = knownLabel ? ({ kind: 'label', label: knownLabel } as const) : vocab.resolve(parsed.item);
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
    const asks = outcome === 'no_item';
    return {
      reply,
      intent: parsed.intent,
      outcome,
      item: parsed.item,
      label,
      sighting: sighting ? sightingView(sighting) : null,
      timings: { nlp_ms: round(t1 - t0 + (t3 - t2)), lookup_ms: round(t2 - t1) },
      dialog: label
        ? { lastItem: parsed.item, lastLabel: label, pending: null, at: now }
        : { ...dialog, pending: asks ? { kind: 'which' } : null, at: now },
      follow_up: asks,
    };
  }
}
