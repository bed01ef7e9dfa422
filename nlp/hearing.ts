/**
 * Don't guess: what the recogniser heard (its N-best list with each hypothesis' share of mass) -> what to
 * do with it. Pure; the thresholds were chosen on the corpus' TUNE split only (audio-fixtures/make-corpus.ts,
 * `node dist/bench/recognition.js --split tune`).
 *
 * Every hypothesis is parsed (nlp/parse) and read as one of: a request about a detector label, a request
 * about a thing the detector cannot see ("keys"), a request whose item was not heard or is not in the
 * recogniser's vocabulary ("where is my [unk]"), or not a request. The readings' masses are added up;
 *   - nothing heard at all                         -> not_heard ("Sorry, I didn't catch that.")
 *   - a label reading with mass >= ANSWER_AT      -> answer about it (the most likely hypothesis holding it)
 *   - a label reading with mass >= CONFIRM_AT     -> confirm ("Did you mean your cup?"), never the answer
 *   - a request, but no item reading is sure      -> which ("Sorry, which thing are you looking for?")
 *   - an undetectable thing dominates             -> that thing ("I can't recognise keys ...")
 *   - mostly not a request                        -> not a request
 * so an item the person did not say is never answered without asking first.
 */
import nlp from 'compromise';
import { parseHeard, parseHeardGuess, parseRequest } from './parse.js';
import type { Intent, LabelMatch } from './types.js';

export interface Hypothesis {
  text: string;
  /** share of the N-best list's mass, 0..1 */
  confidence: number;
}

/** the decision thresholds (shares of N-best mass); chosen on the TUNE split */
export interface HearingThresholds {
  /** answer about a label when its readings hold at least this much of the mass */
  answerAt: number;
  /** below answerAt but at least this: ask "did you mean your X?" */
  confirmAt: number;
}

export const DEFAULT_THRESHOLDS: HearingThresholds = { answerAt: 0.7, confirmAt: 0.2 };

export type Hearing =
  | { kind: 'not_heard' }
  | { kind: 'not_request'; text: string }
  /** sure enough: answer this text (its parse names `label`, or an undetectable item) */
  | { kind: 'answer'; text: string; intent: Intent; label: string | null; confidence: number }
  /** a label is likely but not sure: ask first */
  | { kind: 'confirm'; text: string; intent: Intent; label: string; confidence: number }
  /** a request whose item was not heard or is unknown */
  | { kind: 'which'; text: string; intent: Intent; unknown: boolean };

type Reading = { key: string; mass: number; best: { text: string; intent: Intent; confidence: number; match: LabelMatch | null } };

/**
 * Decides what was asked. `alternatives` best first (an empty list or a single entry with confidence 1 when
 * the recogniser gave no N-best list); `resolve` maps an item to a label (the vocabulary).
 */
export function decideHearing(
  alternatives: readonly Hypothesis[],
  resolve: (item: string) => LabelMatch,
  t: HearingThresholds = DEFAULT_THRESHOLDS,
  /**
   * true for a phrase the vocabulary names as it is ("tv remote", and things people ask about that the
   * detector cannot see: "keys"). Given (speech), heard items that are not such a phrase ("paint purse",
   * "state lorries": a recogniser's pieces, resolved by their last word) count half: they can be asked
   * about, not answered; and unknown single words ("good") count as an item not heard.
   */
  isPhrase?: (item: string) => boolean,
): Hearing {
  const heard = alternatives.filter((a) => a.text.trim());
  if (!heard.length) return { kind: 'not_heard' };
  const total = alternatives.reduce((s, a) => s + Math.max(0, a.confidence), 0) || 1;
  const readings = new Map<string, Reading>();
  for (const a of alternatives) {
    const share = Math.max(0, a.confidence) / total;
    let key: string;
    let intent: Intent = { intent: 'not_a_request', item: null };
    let match: LabelMatch | null = null;
    const add = (key: string, mass: number, intent: Intent, match: LabelMatch | null) => {
      const r = readings.get(key);
      if (r) r.mass += mass;
      else readings.set(key, { key, mass, best: { text: a.text, intent, confidence: mass, match } });
    };
    if (!a.text.trim()) {
      add('silence', share, intent, null);
      continue;
    }
    const read = parseHeardGuess(a.text);
    intent = read.intent;
    // a request read only by guessing a misheard verb: half its mass is "a request, item unsure"
    const weight = read.guessed ? 0.5 : 1;
    if (read.guessed && intent.item) add('no_item', share * 0.5, { intent: intent.intent, item: null }, null);
    // the other kinds of question (places, history, "and my phone?") are answered from the best hypothesis
    // before this decision; here only item requests count as requests
    if (intent.intent !== 'find_item' && intent.intent !== 'last_seen') add('none', share, intent, null);
    else if (!intent.item) add('no_item', share, intent, null);
    else
      for (const [item, m, part] of !isPhrase || isPhrase(intent.item) ? [[intent.item, resolve(intent.item), 1] as const] : itemReadings(intent.item, resolve)) {
        const loose = isPhrase && m.kind === 'label' && item.includes(' ') && !isPhrase(item);
        // speech: a thing the detector cannot see counts only when it is a thing people ask about ("keys");
        // other words ("good", "men") are a recogniser's guesses for an item it could not place
        if (isPhrase && m.kind !== 'label' && !isPhrase(item)) add('no_item', share * weight * part, { intent: intent.intent, item: null }, null);
        else add(readingKey(item, m), share * weight * part * (loose ? 0.5 : 1), { intent: intent.intent, item }, m);
        if (loose) add('no_item', share * weight * part * 0.5, { intent: intent.intent, item: null }, null);
      }
  }
  const sorted = [...readings.values()].sort((a, b) => b.mass - a.mass);
  const labels = sorted.filter((r) => r.key.startsWith('label:'));
  const topLabel = labels[0];
  const requestMass = sorted.filter((r) => r.key !== 'none' && r.key !== 'silence').reduce((s, r) => s + r.mass, 0);
  const labelOf = (r: Reading) => (r.best.match?.kind === 'label' ? r.best.match.label : null);
  if (topLabel && topLabel.mass >= t.answerAt)
    return { kind: 'answer', text: topLabel.best.text, intent: topLabel.best.intent, label: labelOf(topLabel), confidence: round(topLabel.mass) };
  const top = sorted[0];
  if (top.key === 'silence' && top.mass >= 0.5 && requestMass < t.confirmAt) return { kind: 'not_heard' };
  // mostly not a request (and no item likely enough to ask about)
  if (requestMass < 0.5 && !(topLabel && topLabel.mass >= t.answerAt)) {
    const none = sorted.find((r) => r.key === 'none');
    if (none) return { kind: 'not_request', text: none.best.text };
  }
  const nd = sorted.find((r) => r.key.startsWith('nd:'));
  // a thing the detector cannot see, heard more surely than any label: say so (no lookup, no wrong item)
  if (nd && nd.mass >= t.answerAt && (!topLabel || nd.mass > topLabel.mass))
    return { kind: 'answer', text: nd.best.text, intent: nd.best.intent, label: null, confidence: round(nd.mass) };
  if (topLabel && topLabel.mass >= t.confirmAt && (!nd || topLabel.mass >= nd.mass))
    return { kind: 'confirm', text: topLabel.best.text, intent: topLabel.best.intent, label: labelOf(topLabel)!, confidence: round(topLabel.mass) };
  const req = sorted.find((r) => r.key !== 'none' && r.key !== 'silence')!;
  if (!req) return { kind: 'not_request', text: heard[0].text };
  return { kind: 'which', text: req.best.text, intent: req.best.intent, unknown: readings.has('no_item') || !!nd };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/**
 * What a reading is about: a label, or a thing the detector cannot see by its name ("glasses" and "glass",
 * "keys" and "key": one thing). The N-best list's readings and the second look's are compared by it.
 */
function readingKey(item: string, m: LabelMatch): string {
  return m.kind === 'label' ? `label:${m.label}` : `nd:${item.replace(/s$/, '')}`;
}

/**
 * What an item heard in a request may be: normally itself. A recogniser often adds a stray word after the
 * item ("my backpack van", "my cup bag"); when the item's first word(s) name a label on their own and the
 * whole names a different label (or nothing the detector sees), both readings share the mass, so neither is
 * answered without asking.
 */
function itemReadings(item: string, resolve: (item: string) => LabelMatch): Array<[string, LabelMatch, number]> {
  const whole = resolve(item);
  const words = item.split(' ');
  if (words.length < 2) return [[item, whole, 1]];
  for (let k = words.length - 1; k >= 1; k--) {
    const head = words.slice(0, k).join(' ');
    const m = resolve(head);
    if (m.kind !== 'label') continue;
    if (whole.kind === 'label' && whole.label === m.label) return [[item, whole, 1]];
    return [
      [head, m, 0.5],
      [item, whole, 0.5],
    ];
  }
  return [[item, whole, 1]];
}

// ---------------------------------------------------------------------------------------------------------------
// answers to a question the assistant asked ("did you mean your cup?", "which thing?")

const YES = /^(?:yes|yeah|yep|yup|yes please|sure|correct|right|that's right|that is right|exactly|affirmative|ok|okay|uh huh|i did|i do|it is|please|yes it is|yes i did)$/;
const NO = /^(?:no|nope|nah|no thanks|no thank you|not really|wrong|never mind|nevermind|forget it|cancel|stop|nothing|no i didn't|no i did not|that's wrong|no it isn't)$/;

export type FollowUpAnswer = { kind: 'yes' } | { kind: 'no' } | { kind: 'item'; item: string } | { kind: 'other' };

/** Reads the answer to a clarifying question: yes, no, an item ("the cup", "no, my phone"), or something else. */
export function readFollowUp(text: string): FollowUpAnswer {
  const t = text
    .toLowerCase()
    .replace(/[^a-z' ]+/g, ' ')
    .replace(/\b(?:um|uh|er|hmm)\b/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (!t) return { kind: 'other' };
  if (YES.test(t)) return { kind: 'yes' };
  if (NO.test(t)) return { kind: 'no' };
  // "no, my phone" / "no the phone": a correction
  const rest = t.replace(/^(?:no|nope|nah|not that|i said|i meant|i mean)\b\s*(?:it's |it is |i meant |i said |i mean )?/, '');
  const req = parseRequest(rest);
  if (req.intent !== 'not_a_request' && req.item) return { kind: 'item', item: req.item };
  // a bare item: "the cup", "my keys"
  const bare = rest.replace(/^(?:my|the|a|an|our|your)\s+/, '');
  if (bare && bare.split(' ').length <= 3 && req.intent === 'not_a_request') {
    const again = parseRequest(`where is my ${bare}`);
    if (again.item) return { kind: 'item', item: again.item };
  }
  if (/^(?:yes|yeah|yep)\b/.test(t)) return { kind: 'yes' };
  if (/^(?:no|nope|nah)\b/.test(t)) return { kind: 'no' };
  return { kind: 'other' };
}

// ---------------------------------------------------------------------------------------------------------------
// the second look: the same audio decoded without the grammar (the speech model's own vocabulary)

/** what a decode without the grammar heard: its words with their confidences (libvosk's own, 0..1) */
export interface SecondLook {
  text: string;
  words: ReadonlyArray<{ word: string; conf: number }>;
}

export interface SecondLookSettings {
  /** a word no label or phrase of the vocabulary names counts as the item asked about when the look is this sure of it */
  unknownAt: number;
  /**
   * the look names the label asked about ("did you mean your X?"), or a thing the grammar's N-best list also
   * read, at least this surely: answered about it
   */
  agreeAt: number;
  /** the look names, by a phrase of the vocabulary, a thing the grammar did not hear, at least this surely: answered about it */
  switchAt: number;
}

/** chosen on the TUNE split (`node dist/bench/recognition.js --split tune --fast --show`) */
export const DEFAULT_SECOND_LOOK: SecondLookSettings = { unknownAt: 0.55, agreeAt: 0.4, switchAt: 0.8 };

/** the verdict of a second look, kept in the question log */
export type SecondLookVerdict = 'agree' | 'other_item' | 'unknown_item' | 'no_evidence';

/** whether a decision is unsure enough to take a second look (the only ones that pay for it) */
export const wantsSecondLook = (h: Hearing): boolean => h.kind === 'confirm' || h.kind === 'which';

const LEAD = new Set(['my', 'the', 'a', 'an', 'our', 'your', 'his', 'her', 'their']);

/**
 * The item a free decode names: the parsed request's item, else (its request words are often garbled: "way up
 * my calculator", "hey look you tell me where my stapler is please") the word after the last "my"/"the". An
 * item of several words that the vocabulary does not name as a whole is named by its longest ending that it
 * does name ("dumb knife" -> "knife", "to mum wallet" -> "wallet"), as the vocabulary reads a head noun.
 */
function lookItem(look: SecondLook, isPhrase: (item: string) => boolean): { item: string; conf: number; reduced: boolean } | null {
  const words = look.words.filter((w) => w.word && w.word !== '[unk]');
  const read = parseHeard(look.text);
  let item = (read.intent === 'find_item' || read.intent === 'last_seen') && read.item ? read.item : null;
  if (!item) {
    let at = -1;
    words.forEach((w, i) => {
      if (LEAD.has(w.word) && i + 1 < words.length) at = i + 1;
    });
    if (at < 0) return null;
    item = words[at].word;
  }
  let parts = item.split(' ');
  let reduced = false;
  if (parts.length > 1 && !isPhrase(item))
    for (let k = 1; k < parts.length; k++)
      if (isPhrase(parts.slice(k).join(' '))) {
        parts = parts.slice(k);
        item = parts.join(' ');
        reduced = true;
        break;
      }
  const ws = words.filter((w) => parts.includes(w.word));
  if (!ws.length) return null;
  return { item, conf: Math.min(...ws.map((w) => w.conf)), reduced };
}

/** edit distance at most 1 ("cart" / "cat"): a free decode's spelling of the word the grammar heard */
function nearWord(a: string, b: string): boolean {
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  let j = 0;
  while (j < a.length - i && j < b.length - i && a[a.length - 1 - j] === b[b.length - 1 - j]) j++;
  return Math.max(a.length, b.length) - i - j <= 1;
}

/** a thing's name (a noun that is not a pronoun, a verb or a function word), by compromise's lexicon */
function isThing(word: string): boolean {
  if (word.length < 3) return false;
  const doc = nlp(word);
  return doc.has('#Noun') && !doc.has('(#Pronoun|#Verb|#Adverb|#Preposition|#Conjunction|#Determiner|#Adjective)');
}

/**
 * Weighs an unsure decision ("did you mean ...?", "which thing?") against what a second recogniser, one without
 * the grammar, heard in the same audio (asr/listener.ts: Moonshine, which knows everyday English words):
 *   - it names, surely (>= unknownAt), a single thing that is neither a label nor a word of the vocabulary
 *     ("stapler", "binoculars"), and not the grammar's word misspelt ("cart" for the "cat" asked about): the
 *     person asked about something the system does not know -> which (unknown), never "did you mean your
 *     <nearest known word>?";
 *   - it names the label asked about, or a thing (a label, or one the detector cannot see: "wallet") that the
 *     grammar's N-best list also read (>= agreeAt): two recognisers over different graphs agree -> answer it;
 *   - it names, surely (>= switchAt) and by a phrase of the vocabulary as said, a label the grammar did not hear
 *     at all ("bottle" where the grammar heard "balls") -> answer about it;
 *   - otherwise the decision stands.
 */
export function reviseHearing(
  h: Hearing,
  alternatives: readonly Hypothesis[],
  look: SecondLook,
  resolve: (item: string) => LabelMatch,
  isPhrase: (item: string) => boolean,
  s: SecondLookSettings = DEFAULT_SECOND_LOOK,
): { hearing: Hearing; verdict: SecondLookVerdict } {
  if (h.kind !== 'confirm' && h.kind !== 'which') return { hearing: h, verdict: 'no_evidence' };
  const seen = lookItem(look, isPhrase);
  if (!seen) return { hearing: h, verdict: 'no_evidence' };
  // what the grammar's N-best list read as items (and the label asked about)
  const listed = new Map<string, { item: string; m: LabelMatch }>();
  let asked: string | null = null;
  if (h.kind === 'confirm') {
    const m: LabelMatch = { kind: 'label', label: h.label };
    asked = readingKey(h.label, m);
    listed.set(asked, { item: h.intent.item ?? h.label, m });
  }
  for (const a of alternatives) {
    const r = parseHeard(a.text);
    if (!r.item) continue;
    const rm = resolve(r.item);
    // (as said: "state lorries" is no reading of a truck)
    if (isPhrase(r.item)) listed.set(readingKey(r.item, rm), { item: r.item, m: rm });
  }
  let item = seen.item;
  let m = resolve(item);
  // a word the vocabulary does not know, spelt one letter away from an item the list read ("cart" / "cat",
  // "bow" / "bowl"): the free decode's spelling of the same sounds, so that item
  if (m.kind !== 'label' && !isPhrase(item) && !item.includes(' ')) {
    // (the listed item's head word: "state lorries" is lorries, not "state")
    const near = [...listed.values()].filter((x) => {
      const head = x.item.split(' ').at(-1)!;
      return head.length >= 3 && nearWord(head.replace(/s$/, ''), item.replace(/s$/, ''));
    });
    const keys = new Set(near.map((x) => readingKey(x.item, x.m)));
    if (keys.size === 1) ({ item, m } = near[0]);
    else if (keys.size > 1) return { hearing: h, verdict: 'no_evidence' };
  }
  if (m.kind !== 'label' && !item.includes(' ') && !isPhrase(item) && seen.conf >= s.unknownAt && isThing(item))
    return { hearing: { kind: 'which', text: h.text, intent: { intent: h.intent.intent, item: null }, unknown: true }, verdict: 'unknown_item' };
  // a thing the detector cannot see counts only as a phrase people ask about ("wallet"), not any word
  if (m.kind !== 'label' && !isPhrase(item)) return { hearing: h, verdict: 'no_evidence' };
  const itemKey = readingKey(item, m);
  const label = m.kind === 'label' ? m.label : null;
  const answer = (verdict: SecondLookVerdict): { hearing: Hearing; verdict: SecondLookVerdict } =>
    itemKey === asked && h.kind === 'confirm'
      ? { hearing: { kind: 'answer', text: h.text, intent: h.intent, label: h.label, confidence: h.confidence }, verdict }
      : { hearing: { kind: 'answer', text: look.text, intent: { intent: h.intent.intent === 'last_seen' ? 'last_seen' : 'find_item', item }, label, confidence: seen.conf }, verdict };
  if (listed.has(itemKey) && seen.conf >= s.agreeAt) return answer(itemKey === asked ? 'agree' : 'other_item');
  // (named as said: an ending of a longer item, "cup bag" -> "bag", only confirms what the list read)
  if (label && !seen.reduced && isPhrase(item) && seen.conf >= s.switchAt) return answer('other_item');
  return { hearing: h, verdict: 'no_evidence' };
}

