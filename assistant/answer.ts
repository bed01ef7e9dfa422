/**
 * The text pipeline shared by `POST /v1/query` and the voice socket:
 * text -> intent (nlp/parse) -> label (nlp/vocabulary) -> lookup (store) -> reply (nlp/reply).
 */
import { performance } from 'node:perf_hooks';
import { parseRequest } from '../nlp/parse.js';
import { composeHistoryReply, composePlaceReply, composeReply, groupStays, type Stay } from '../nlp/reply.js';
import { matchPlaces, placeKey } from '../nlp/places.js';
import type { Intent, IntentName, Outcome, Period } from '../nlp/types.js';
import type { ItemSummary, PlacedSighting, Store } from '../store/types.js';
import { PlaceBook } from './places.js';
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
    // the questions that come next (follow-ups, places, history, show): answerNext below
    const parsed = followUp(parseRequest(text), dialog);
    if (NEXT_INTENTS.has(parsed.intent)) return this.answerNext(userId, parsed, now, t0);
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
      sighting: sighting ? sightingInput(sighting) : undefined,
      examples: outcome === 'found' || outcome === 'never_seen' ? [] : await this.examples(userId),
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
      dialog: label
        ? { lastItem: parsed.item, lastLabel: label, pending: null, at: now, lastIntent: parsed.intent === 'last_seen' ? 'last_seen' : 'find_item', lastPlace: null }
        : { ...dialog, pending: null, at: now },
      follow_up: false,
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
