/**
 * The text pipeline shared by `POST /v1/query` and the voice socket:
 * text -> intent (nlp/parse) -> label (nlp/vocabulary) -> lookup (store) -> reply (nlp/reply).
 */
import { performance } from 'node:perf_hooks';
import { parseHeard } from '../nlp/parse.js';
import {
  DEFAULT_SECOND_LOOK,
  DEFAULT_THRESHOLDS,
  decideHearing,
  readFollowUp,
  reviseHearing,
  wantsSecondLook,
  type HearingThresholds,
  type Hypothesis,
  type SecondLook,
  type SecondLookSettings,
} from '../nlp/hearing.js';
import { NOT_DETECTABLE_WORDS } from '../nlp/synonyms.js';
import { composeHistoryReply, composePlaceReply, composeReply, groupStays, spokenLabel, type Stay } from '../nlp/reply.js';
import { matchPlaces, placeKey } from '../nlp/places.js';
import type { Intent, IntentName, Outcome, Period } from '../nlp/types.js';
import type { ItemSummary, PlacedSighting, Store } from '../store/types.js';
import { PlaceBook } from './places.js';
import { PERSONAL_ITEMS } from './asr/grammar.js';
import { emptyDialog, liveDialog, type DialogContext } from './dialog.js';
import type { LabelBook } from './labels.js';
import type { SightingView } from '../protocol/protocol.js';
import { sightingView } from './views.js';

export interface Answer {
  reply: string;
  intent: IntentName;
  outcome: Outcome;
  item: string | null;
  label: string | null;
  sighting: ReturnType<typeof sightingView> | null;
  timings: { nlp_ms: number; lookup_ms: number };
  /** the conversation after this turn (pass it to the next `answer` call of the same conversation) */
  dialog: DialogContext;
  /** the reply asks a question and the client should listen for the answer without another button press */
  follow_up: boolean;
  /** spoken questions: the second look, when one was taken (what it heard, its verdict, how long it took) */
  second_look?: { text: string; verdict: string; ms: number } | null;
  /** "show me my cup": the snapshot view to open on a screen (voice clients just speak the reply) */
  show_url?: string | null;
  /** "what's on the desk?": the items whose latest sighting is there */
  items?: Array<{ label: string; sighting: ReturnType<typeof sightingView> }>;
  /** "where has my cup been today?": where it stayed, newest first */
  history?: Array<{ zone: string | null; room: string | null; device: string; from: string; to: string }>;
  /** the place a place question was about, as known ("kitchen counter"); null when unknown */
  place?: string | null;
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
  /**
   * the second look at the same audio: a decode without the grammar, taken only when the N-best list leaves the
   * item unsure ("did you mean ...?", "which thing?"); null when it could not be taken
   */
  secondLook?: () => Promise<SecondLook | null>;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export class Answerer {
  private readonly places: PlaceBook;

  constructor(
    private readonly store: Store,
    private readonly labels: LabelBook,
    private readonly timeZone: string,
    places?: PlaceBook,
  ) {
    this.places = places ?? new PlaceBook(store, labels);
  }

  async answer(userId: number, text: string, opts: AnswerOptions = {}): Promise<Answer> {
    const now = opts.now ?? Date.now();
    const dialog = liveDialog(opts.dialog, now) ?? emptyDialog(now);
    const t0 = performance.now();
    const vocab = this.labels.vocabulary;
    const resolve = (item: string) => vocab.resolve(item);
    const speech = !!opts.alternatives?.length;
    const heard: Hypothesis[] = speech ? [...opts.alternatives!] : [{ text, confidence: 1 }];
    const said = heard[0]?.text ?? text;

    // an answer to the question the assistant asked last turn ("did you mean your cup?" / "which thing?")
    if (dialog.pending) {
      const f = readFollowUp(said);
      const pending = dialog.pending;
      if (!said.trim() || f.kind === 'no' || (f.kind === 'yes' && pending.kind === 'which'))
        return this.simple(userId, 'cancelled', dialog, now, t0, { intent: 'not_a_request', item: null });
      if (f.kind === 'yes' && pending.kind === 'confirm')
        return this.lookup(userId, { intent: 'find_item', item: pending.item }, pending.label, now, t0, dialog);
      if (f.kind === 'item') {
        const m = resolve(f.item);
        return this.lookup(userId, { intent: 'find_item', item: f.item }, m.kind === 'label' ? m.label : null, now, t0, dialog);
      }
      // something else: a new question
    }

    // the questions that come next (follow-ups, places, history, show): answerNext below. "and my phone?"
    // continues the last question and is answered as said.
    const top = parseHeard(said);
    const next = speech ? this.nextByVote(heard, followUp(top, dialog), dialog) : followUp(top, dialog);
    if (NEXT_INTENTS.has(next.intent)) return this.answerNext(userId, next, now, t0);
    if (top.intent === 'follow_up') return this.lookup(userId, next, null, now, t0, dialog);

    // spoken questions: the recogniser's pieces of items are weighed (typed ones are taken as written)
    let h = decideHearing(heard, resolve, this.thresholds, speech ? this.phraseCheck() : undefined);
    let look: Answer['second_look'] = null;
    if (speech && opts.secondLook && wantsSecondLook(h)) {
      const t = performance.now();
      const seen = await opts.secondLook();
      if (seen) {
        const r = reviseHearing(h, heard, seen, resolve, this.phraseCheck(), this.secondLookSettings);
        h = r.hearing;
        look = { text: seen.text, verdict: r.verdict, ms: round(performance.now() - t) };
      }
    }
    const a = await this.decided(userId, h, heard, dialog, now, t0);
    return look ? { ...a, second_look: look } : a;
  }

  private async decided(userId: number, h: ReturnType<typeof decideHearing>, heard: readonly Hypothesis[], dialog: DialogContext, now: number, t0: number): Promise<Answer> {
    switch (h.kind) {
      case 'not_heard':
        return this.simple(userId, 'not_heard', dialog, now, t0, { intent: 'not_a_request', item: null });
      case 'not_request':
        return this.simple(userId, 'not_understood', dialog, now, t0, { intent: 'not_a_request', item: null });
      case 'confirm': {
        // asked by the label's own name ("did you mean your handbag?"), not the recogniser's pieces ("paint purse")
        const item = spokenLabel(h.label).toLowerCase();
        return this.simple(userId, 'clarify', { ...dialog, pending: { kind: 'confirm', item, label: h.label } }, now, t0, { intent: h.intent.intent, item }, h.label);
      }
      case 'which': {
        // "where is it": a plain question without an item, as typed or heard for sure
        const plain = !h.unknown && heard.length === 1 && h.intent.item === null;
        // an unsure item is not echoed ("I don't know what a map map is"): the recogniser may have made it up
        return this.simple(userId, plain ? 'no_item' : h.unknown ? 'unknown_item' : 'clarify', { ...dialog, pending: { kind: 'which' } }, now, t0, { intent: h.intent.intent, item: null });
      }
      case 'answer':
        return this.lookup(userId, h.intent, h.label, now, t0, dialog);
    }
  }

  /**
   * Whether a recogniser's N-best list leads to the same decision as its best text taken as said (then an
   * answer prepared early from the words alone, e.g. a speculative one, stands). Pure and cheap: no lookup.
   */
  sameHearing(text: string, alternatives: readonly Hypothesis[] | undefined, secondLook = false): boolean {
    if (!alternatives?.length) return true;
    const resolve = (item: string) => this.labels.vocabulary.resolve(item);
    const a = decideHearing(alternatives, resolve, this.thresholds, this.phraseCheck());
    // an unsure decision takes a second look first, which the early answer did not
    if (secondLook && wantsSecondLook(a)) return false;
    const b = decideHearing([{ text, confidence: 1 }], resolve, this.thresholds);
    const key = (h: typeof a) => (h.kind === 'answer' || h.kind === 'confirm' ? `${h.kind}:${h.label}:${h.intent.intent}:${h.intent.item}` : h.kind);
    return key(a) === key(b);
  }

  /** thresholds for spoken questions (nlp/hearing.ts); tests and the benchmark may change them */
  thresholds: HearingThresholds = DEFAULT_THRESHOLDS;
  /** how the second look is weighed (nlp/hearing.ts reviseHearing) */
  secondLookSettings: SecondLookSettings = DEFAULT_SECOND_LOOK;

  private phrases: { vocab: unknown; set: Set<string> } | null = null;
  /** "is this exactly a phrase of the vocabulary, or a thing people ask about" (cached per vocabulary) */
  private phraseCheck(): (item: string) => boolean {
    const vocab = this.labels.vocabulary;
    if (this.phrases?.vocab !== vocab) this.phrases = { vocab, set: new Set([...vocab.phrases(), ...PERSONAL_ITEMS, ...NOT_DETECTABLE_WORDS].map((p) => p.toLowerCase())) };
    const set = this.phrases.set;
    return (item) => set.has(item.toLowerCase());
  }

  /** a reply without a lookup; follow_up when it asks something (pending set) */
  private async simple(userId: number, outcome: Outcome, dialog: DialogContext, now: number, t0: number, intent: Intent, label: string | null = null): Promise<Answer> {
    const asks = dialog.pending !== null && (outcome === 'clarify' || outcome === 'no_item' || outcome === 'unknown_item');
    const examples = outcome === 'not_heard' || outcome === 'clarify' || outcome === 'cancelled' ? [] : await this.examples(userId);
    const reply = composeReply({ outcome, intent: intent.intent, item: intent.item, label, examples, now, timeZone: this.timeZone });
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
      sighting: sighting ? sightingInput(sighting) : undefined,
      examples: outcome === 'found' || outcome === 'never_seen' ? [] : await this.examples(userId),
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
        ? { lastItem: parsed.item, lastLabel: label, pending: null, at: now, lastIntent: parsed.intent === 'last_seen' ? 'last_seen' : 'find_item', lastPlace: null }
        : { ...dialog, pending: asks ? { kind: 'which' } : null, at: now },
      follow_up: asks,
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // the questions that come next: "what's on the desk?", "where has my cup been today?", "show me my cup"
  // (each is one indexed store query; places come from the PlaceBook cache)

  private async answerNext(userId: number, parsed: Intent, now: number, t0: number): Promise<Answer> {
    if (parsed.intent === 'place_items') return this.answerPlace(userId, parsed, now, t0);
    const vocab = this.labels.vocabulary;
    const base = { intent: parsed.intent, item: parsed.item, follow_up: false };
    const done = (a: Omit<Answer, 'timings' | 'follow_up' | 'intent' | 'item'>, t1: number, t2: number): Answer => ({
      ...base,
      ...a,
      timings: { nlp_ms: round(t1 - t0 + (performance.now() - t2)), lookup_ms: round(t2 - t1) },
    });
    const keep = (label: string | null): DialogContext => ({
      lastItem: parsed.item,
      lastLabel: label,
      pending: null,
      at: now,
      lastIntent: parsed.intent as DialogContext['lastIntent'],
      lastPlace: null,
    });
    const examples = async () => this.examples(userId);
    const unresolved = async (outcome: Outcome): Promise<Answer> => {
      const t1 = performance.now();
      const reply = composeReply({ outcome, intent: 'find_item', item: parsed.item, label: null, examples: await examples(), now, timeZone: this.timeZone });
      return done({ reply, outcome, label: null, sighting: null, dialog: keep(null) }, t1, performance.now());
    };
    if (!parsed.item) return unresolved('no_item');
    const m = vocab.resolve(parsed.item);
    if (m.kind !== 'label') return unresolved('not_detectable');
    const label = m.label;
    const t1 = performance.now();

    if (parsed.intent === 'item_history') {
      const period = parsed.period ?? 'today';
      const { since, until } = periodBounds(period, now, this.timeZone);
      // one indexed query: the newest sightings of the label up to the end of the period
      const rows = await this.store.listSightings({ userId, label, until: until - 1, limit: HISTORY_ROWS });
      const t2 = performance.now();
      const inPeriod = rows.filter((r) => r.seenAt >= since);
      const stays = groupStays(inPeriod);
      const first = rows.find((r) => r.seenAt < since) ?? null;
      const reply = composeHistoryReply({
        item: parsed.item,
        label,
        period,
        stays,
        before: stays.length === 0 && first ? { zone: first.zoneName, room: first.room, deviceName: first.deviceName, seenAt: first.seenAt } : null,
        now,
        timeZone: this.timeZone,
      });
      const latest = inPeriod[0] ?? first;
      return done(
        {
          reply,
          outcome: rows.length ? 'found' : 'never_seen',
          label,
          sighting: latest ? sightingView(latest) : null,
          history: stays.map(stayView),
          dialog: keep(label),
        },
        t1,
        t2,
      );
    }

    // show_item: the find answer, and the snapshot view to open
    const sighting = await this.store.latestSighting(userId, label);
    const t2 = performance.now();
    const reply = composeReply({
      outcome: sighting ? 'found' : 'never_seen',
      intent: 'find_item',
      item: parsed.item,
      label,
      sighting: sighting ? sightingInput(sighting) : undefined,
      examples: [],
      now,
      timeZone: this.timeZone,
    });
    const view = sighting ? sightingView(sighting) : null;
    return done(
      {
        reply,
        outcome: sighting ? 'found' : 'never_seen',
        label,
        sighting: view,
        show_url: sighting?.frameId != null ? `/snapshot?frame=${sighting.frameId}&sighting=${sighting.id}` : null,
        dialog: keep(label),
      },
      t1,
      t2,
    );
  }

  private async answerPlace(userId: number, parsed: Intent, now: number, t0: number): Promise<Answer> {
    const said = parsed.place ?? '';
    const places = await this.places.forUser(userId, now);
    const zones = matchPlaces(said, places.zones.map((z) => ({ name: z.name, value: z.id })));
    const rooms = zones.length ? [] : matchPlaces(said, places.rooms.map((r) => ({ name: r, value: r })));
    const t1 = performance.now();
    let items: ItemSummary[] = [];
    let kind: 'zone' | 'room' | 'unknown' = 'unknown';
    let name = said;
    if (zones.length) {
      kind = 'zone';
      name = zones[0].name;
      items = await this.store.itemsInPlace(userId, { zoneIds: zones.map((z) => z.value) });
    } else if (rooms.length) {
      kind = 'room';
      name = rooms[0].name;
      items = await this.store.itemsInPlace(userId, { room: rooms[0].value });
    }
    const t2 = performance.now();
    const things = items.filter((i) => !places.placeLabels.has(i.label));
    const known = [...new Set([...places.zones.map((z) => z.name), ...places.rooms])];
    const reply = composePlaceReply({ place: name, kind, items: things.map((i) => ({ label: i.label, seenAt: i.latest.seenAt })), known, now, timeZone: this.timeZone });
    return {
      reply,
      intent: 'place_items',
      outcome: kind === 'unknown' ? 'unknown_place' : things.length ? 'found' : 'nothing_there',
      item: null,
      label: null,
      sighting: null,
      place: kind === 'unknown' ? null : name,
      items: things.map((i) => ({ label: i.label, sighting: sightingView(i.latest) })),
      timings: { nlp_ms: round(t1 - t0 + (performance.now() - t2)), lookup_ms: round(t2 - t1) },
      dialog: { lastItem: null, lastLabel: null, pending: null, at: now, lastIntent: 'place_items', lastPlace: kind === 'unknown' ? null : name },
      follow_up: false,
    };
  }

  /**
   * A spoken next question ("where has my cup been today"): the recogniser's alternatives that ask the same kind
   * of question vote for the item, weighted by their share of the N-best list, so one slip in the best text
   * ("clock" for "cup") does not decide alone.
   */
  private nextByVote(heard: readonly Hypothesis[], best: Intent, dialog: DialogContext): Intent {
    if (!NEXT_INTENTS.has(best.intent) || !best.item || heard.length < 2) return best;
    const vocab = this.labels.vocabulary;
    const votes = new Map<string, { intent: Intent; weight: number }>();
    for (const h of heard) {
      const p = followUp(parseHeard(h.text), dialog);
      if (p.intent !== best.intent || !p.item) continue;
      const m = vocab.resolve(p.item);
      const key = m.kind === 'label' ? m.label : `?${p.item}`;
      const v = votes.get(key);
      if (v) v.weight += h.confidence;
      else votes.set(key, { intent: p, weight: h.confidence });
    }
    let win: { intent: Intent; weight: number } | null = null;
    for (const v of votes.values()) if (!win || v.weight > win.weight) win = v;
    return win ? win.intent : best;
  }

  /** examples worth suggesting to this user: the model's, without the labels they count as places */
  private async examples(userId: number): Promise<string[]> {
    const places = await this.places.forUser(userId);
    return this.labels.vocabulary.examples(12).filter((l) => !places.placeLabels.has(l)).slice(0, 3);
  }
}

const NEXT_INTENTS = new Set<IntentName>(['place_items', 'item_history', 'show_item']);
/** the most sightings a history question reads (newest first) */
const HISTORY_ROWS = 200;

/**
 * "and my phone?": the last question again, about the phone ("when did you last see my cup?" -> last seen);
 * "and on the desk?" / "what about the desk?" after a place question -> that place. Without a conversation, a
 * follow-up about an item is a find question.
 */
export function followUp(p: Intent, dialog: DialogContext): Intent {
  if (p.intent !== 'follow_up') return p;
  const last = dialog.lastIntent ?? null;
  if (p.place) return { intent: 'place_items', item: null, place: p.place };
  if (last === 'place_items' && p.item) return { intent: 'place_items', item: null, place: p.item };
  const intent: IntentName = last === 'last_seen' || last === 'item_history' || last === 'show_item' ? last : 'find_item';
  return { intent, item: p.item, ...(intent === 'item_history' ? { period: 'today' as Period } : {}) };
}

/** start (inclusive) and end (exclusive) of a period in the given time zone */
export function periodBounds(period: Period, now: number, timeZone: string): { since: number; until: number } {
  const startOfToday = startOfDay(now, timeZone);
  if (period === 'yesterday') return { since: startOfDay(startOfToday - 12 * 3600_000, timeZone), until: startOfToday };
  if (period === 'week') return { since: now - 7 * 24 * 3600_000, until: now + 60_000 };
  return { since: startOfToday, until: now + 60_000 };
}

/** local midnight before `at` in the time zone */
function startOfDay(at: number, timeZone: string): number {
  let f: Intl.DateTimeFormat;
  try {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: 'numeric', minute: 'numeric', second: 'numeric', hourCycle: 'h23' });
  } catch {
    f = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', hour: 'numeric', minute: 'numeric', second: 'numeric', hourCycle: 'h23' });
  }
  const parts = Object.fromEntries(f.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
  const sinceMidnight = ((Number(parts.hour) % 24) * 3600 + Number(parts.minute) * 60 + Number(parts.second)) * 1000 + (at % 1000);
  return at - sinceMidnight;
}

function stayView(s: Stay) {
  return { zone: s.zone, room: s.room, device: s.deviceName, from: new Date(s.from).toISOString(), to: new Date(s.to).toISOString() };
}

function sightingInput(s: PlacedSighting & { neighbours: import('../store/types.js').Detection[] }) {
  return { seenAt: s.seenAt, score: s.score, box: s.box, room: s.room, zone: s.zoneName, deviceName: s.deviceName, neighbours: s.neighbours };
}
