/**
 * Is what the person has said so far a whole question? The semantic half of endpointing (voice/turn.ts):
 * "where is my cup" is complete, "where is my" or "where is my um" is not, "where is my phone" is complete
 * but could still grow ("... charger"), "turn on the lights" is a whole sentence that is not a request.
 *
 * Pure over the text, the names of things the recogniser can hear (the vocabulary's phrases and the
 * everyday things of the ASR grammar) and the question the assistant is waiting an answer to, if any.
 */
import { parseHeard, parseRequest } from '../../nlp/parse.js';
import type { Vocabulary } from '../../nlp/types.js';
import { PERSONAL_ITEMS, REQUEST_PHRASES, normalizePhrase } from '../asr/grammar.js';
import type { DialogContext } from '../dialog.js';
import type { Completeness } from './turn.js';

/** words a sentence does not end on: it goes on after them */
const CONTINUES = new Set([
  'the', 'a', 'an', 'my', 'your', 'our', 'his', 'her', 'their', 'its', 'this', 'that', 'these', 'those', 'some', 'any',
  'is', 'are', 'was', 'were', 'be', 'am', 'did', 'do', 'does', 'have', 'has', 'had', 'can', 'could', 'will', 'would',
  'to', 'of', 'in', 'on', 'at', 'for', 'with', 'from', 'by', 'and', 'or', 'but', 'if', 'about', 'where', 'when',
  'what', 'which', 'who', 'how', 'i', 'we', 'it', 'me', 'um', 'uh', 'er', 'hmm', 'erm', 'oh', 'so', 'like',
  'see', 'seen', 'find', 'leave', 'left', 'put', 'lost', 'last', 'know', 'need', 'there',
  // lead-ins: a question usually follows ("hey, could you tell me where my mug is")
  'hey', 'hi', 'hello', 'okay', 'ok', 'well', 'excuse', 'sorry', 'tell', 'show', 'could',
]);

/** greetings and fillers a question may open with, and the phrases among them ("could you tell me" + a question) */
const OPENINGS = new Set(['hey', 'hi', 'hello', 'okay', 'ok', 'well', 'so', 'um', 'uh', 'er', 'erm', 'hmm', 'oh', 'sorry', 'please']);

/** words a request often starts after ("hey, ...", "um, ...", "could you ..."): a pause after them may be long */
const LEAD_INS = new Set([...OPENINGS, 'excuse', 'tell', 'show', 'could']);
const OPENING_PHRASES = [
  ['excuse', 'me'],
  ['i', 'was', 'wondering'],
  ['i', 'wonder'],
  ['could', 'you', 'tell', 'me'],
  ['can', 'you', 'tell', 'me'],
  ['tell', 'me'],
];

/** the words after a question's opening ("hey so could you" -> "could you"), joined; "" when that is all */
function withoutOpening(words: readonly string[]): string {
  let i = 0;
  for (;;) {
    if (i < words.length && OPENINGS.has(words[i])) {
      i++;
      continue;
    }
    const p = OPENING_PHRASES.find((ph) => ph.every((w, k) => words[i + k] === w));
    if (p) {
      i += p.length;
      continue;
    }
    return words.slice(i).join(' ');
  }
}

/** words of asking for a thing: a sentence holding one may be becoming a request the recogniser half heard */
const ASKING = new Set(['where', 'find', 'seen', 'see', 'lost', 'left', 'leave', 'put']);

/** words that may follow the item of a whole request ("do you know where my laptop is", "where is my cup please") */
const AFTER_ITEM = new Set(['is', 'are', 'please', 'then', 'now', 'again', 'today', 'thanks', 'thank', 'you', 'gone', 'at']);

/** what comes right before an item in a request */
const POSSESSIVE = new Set(['my', 'the', 'a', 'our', 'your', 'his', 'her', 'their']);

const YES_NO = /^(?:yes|yeah|yep|yup|no|nope|nah|correct|right|that's right|that is right|exactly|sure|okay|ok|please|no thanks|not that)(?: (?:please|thanks|thank you))?$/;

export class CompletenessClassifier {
  private readonly items = new Set<string>();
  /** items that are the start of a longer item ("phone" of "phone charger") */
  private readonly prefixes = new Set<string>();
  private readonly starts: string[];

  constructor(vocabulary: Pick<Vocabulary, 'phrases' | 'resolve'>) {
    for (const p of [...vocabulary.phrases(), ...PERSONAL_ITEMS]) {
      const n = normalizePhrase(p);
      if (n) this.items.add(n);
    }
    const means = (item: string) => {
      const m = vocabulary.resolve(item);
      return m.kind === 'label' ? m.label : `?${item}`;
    };
    // "phone" is a prefix of "phone charger" (another thing); "laptop" of "laptop computer" is not (the same one)
    for (const n of this.items) {
      const w = n.split(' ');
      for (let k = 1; k < w.length; k++) {
        const head = w.slice(0, k).join(' ');
        if (this.items.has(head) && means(head) !== means(n)) this.prefixes.add(head);
      }
    }
    this.starts = REQUEST_PHRASES.map((p) => normalizePhrase(p));
  }

  /** the item phrase the words end with ("the red cup" -> "red cup" when known, else "cup"), or null */
  private trailingItem(words: string[]): string | null {
    for (let k = Math.min(4, words.length); k >= 1; k--) {
      const tail = words.slice(words.length - k).join(' ');
      if (this.items.has(tail)) return tail;
    }
    return null;
  }

  private itemClass(item: string): Completeness {
    return this.prefixes.has(item) ? 'prefix' : 'complete';
  }

  /**
   * `unknownTail`: the recogniser heard something out of its grammar after these words ("where is my" +
   * a thing it has no word for): a request for an unknown thing is whole too, given a little more quiet.
   */
  classify(text: string, dialog?: DialogContext | null, unknownTail = false): Completeness {
    const t = normalizePhrase(text);
    // no words yet (they come a little after the sound, and a pause may follow the first one: "where ... is
    // my"), or none the recogniser knows ("call mum" out of its grammar): longer than a sentence, shorter
    // than a hesitation before the item
    if (!t) return 'trailing';
    const words = t.split(' ');
    const last = words[words.length - 1];
    // "where is my" + an unknown thing: with any item in its place it is a request
    if (unknownTail && POSSESSIVE.has(last) && parseRequest(`${t} thing`).intent !== 'not_a_request') return 'prefix';
    // an answer to the assistant's own question
    if (dialog?.pending) {
      if (dialog.pending.kind === 'confirm' && YES_NO.test(t)) return 'complete';
      const it = this.trailingItem(words);
      if (it && !CONTINUES.has(last)) return this.itemClass(it);
    }
    // read as what a recogniser heard: stray words before the request, a misheard verb (nlp/parse parseHeard)
    const parsed = parseHeard(t);
    if (parsed.intent !== 'not_a_request') {
      const item = parsed.item ? normalizePhrase(parsed.item) : '';
      if (item && this.items.has(item)) {
        // a known item, and after it at most a few words a request ends with ("... my laptop is", "... please")
        const at = t.lastIndexOf(item);
        const after = at < 0 ? [] : t.slice(at + item.length).split(' ').filter(Boolean);
        if (after.length === 0) return this.itemClass(item);
        if (after.length <= 2 && after.every((w) => AFTER_ITEM.has(w))) return 'complete';
      }
      if (CONTINUES.has(last)) return 'incomplete';
      const it = this.trailingItem(words);
      if (it) return this.itemClass(it);
      // the words are over but what they name is unsure: a misheard item ("where is my course"), stray words
      // after it ("where is my mouse them"); not a hesitation's wait
      return 'unsure';
    }
    // the words after any greeting or filler ("hey, could you" -> "could you"; "excuse me" -> "")
    const core = withoutOpening(words);
    // only an opening so far ("hey", "excuse me", "i was wondering"): the question is still to come
    if (!core) return 'incomplete';
    // the beginning of a request ("where", "have you", "i can't find", "hey, could you")
    if (this.starts.some((s) => s.startsWith(core + ' ') || s === core)) return 'incomplete';
    // a request's words followed by something that does not read as an item
    if (this.starts.some((s) => core.startsWith(s + ' ')) && !CONTINUES.has(last)) return 'unsure';
    if (CONTINUES.has(last)) {
      // a lead-in ("hey", "um", "could"), one word (perhaps a misheard lead-in: "hey" heard as "a"), or
      // words of asking that stop where a thing would follow ("i think i put", "i think i put my"): the
      // request may be coming; otherwise a sentence that trails ("tell me a", "what time is it", "what's
      // the weather like"): it may go on, but not into an item
      const asking = ASKING.has(last) || (POSSESSIVE.has(last) && words.some((w) => ASKING.has(w)));
      return words.length < 2 || LEAD_INS.has(last) || asking ? 'incomplete' : 'trailing';
    }
    return 'statement';
  }
}
