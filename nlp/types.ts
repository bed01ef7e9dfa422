/**
 * The NLP contract: text -> Intent (parse.ts), spoken item -> detector label (vocabulary.ts),
 * lookup result -> spoken-style reply (reply.ts). Pure functions; no I/O.
 */
import type { Detection, Box } from '../store/types.js';

/** What the person asked for. */
export type IntentName =
  /** "where is my cup", "have you seen my phone", "I lost my keys" */
  | 'find_item'
  /** "when did you last see my cup" */
  | 'last_seen'
  /** "what's in the kitchen?", "what's on the desk?": items whose latest sighting is in a place (zone or room) */
  | 'place_items'
  /** "where has my cup been today?": its moves across rooms and zones, newest first */
  | 'item_history'
  /** "show me my cup": the answer, and the snapshot opened on the page */
  | 'show_item'
  /** "and my phone?", "what about the keys?": the last question again, about another item (or place) */
  | 'follow_up'
  /** anything else ("what's the weather", "", "hello") */
  | 'not_a_request';

export interface Intent {
  intent: IntentName;
  /** the item as the person said it, lower case, fillers and determiners removed ("coffee mug"); null when none */
  item: string | null;
  /** place_items (and a follow_up about a place): the place as said ("kitchen counter"), without determiners */
  place?: string | null;
  /** item_history: which stretch of time ("today" when not said) */
  period?: Period | null;
}

/** the stretch of time a history question is about */
export type Period = 'today' | 'yesterday' | 'week';

export type LabelMatch =
  | { kind: 'label'; label: string }
  /** a real thing, but not one the active detector knows (keys, wallet, glasses with COCO) */
  | { kind: 'not_detectable' };

export interface Vocabulary {
  /** the active model's labels */
  readonly labels: readonly string[];
  /** maps a spoken item ("mugs", "mobile phone", "telly") to a label */
  resolve(item: string): LabelMatch;
  /** every word or phrase that names a label (labels, plurals, synonyms): feeds the ASR grammar */
  phrases(): string[];
  /** a few labels worth suggesting ("I can find things like cups, phones and laptops") */
  examples(n: number): string[];
}

/** Where the sighting lands in the reply: which outcome, and the facts to word it. */
export type Outcome =
  | 'found'
  | 'never_seen'
  | 'not_detectable'
  | 'not_understood'
  | 'no_item'
  | 'unknown_place'
  | 'nothing_there'
  /** speech: nothing was heard ("Sorry, I didn't catch that.") */
  | 'not_heard'
  /** speech: unsure; asks back ("Did you mean your cup?" with a label, "Sorry, which thing ...?" without) */
  | 'clarify'
  /** a request about a thing nobody taught the system ("I don't know what a thermos is") */
  | 'unknown_item'
  /** the person said no (or nothing) to a clarifying question */
  | 'cancelled';

export interface ReplyInput {
  outcome: Outcome;
  intent: IntentName;
  /** the item as said ("mug"); used to echo the person's own word */
  item: string | null;
  label: string | null;
  sighting?: {
    seenAt: number;
    score: number;
    box: Box;
    room: string | null;
    /** the camera zone the item stood in ("kitchen counter") */
    zone?: string | null;
    deviceName: string;
    neighbours: Detection[];
  };
  /** suggestions for not_detectable / not_understood */
  examples: string[];
  now: number;
  timeZone: string;
}
