/**
 * Spoken item -> detector label. Built from whatever labels the active detection model has (COCO or a user's own
 * model); nothing here assumes a particular label set. Resolution order for "my blue coffee mugs":
 *   1. normalise (lower case, no determiners/possessives, "pair of scissors" -> "scissors", "cup of tea" -> "cup")
 *   2. the whole phrase, then ever shorter endings of it ("blue coffee mugs", "coffee mugs", "mugs"): the head noun
 *      is the last word, modifiers in front of it fall away, but a phrase is never cut from the end
 *      ("car keys" is keys, never car)
 *   3. each candidate is looked up as said, as its singular ("mugs" -> "mug") and without spaces, in one index of
 *      labels, label plurals, caller synonyms, a few look-alikes that must stay not_detectable ("glasses" are
 *      spectacles, not wine glasses) and the default household synonyms, in that priority.
 */
import { isPlural, lexiconTags, plural, singular } from './inflect.js';
import { DEFAULT_SYNONYMS, NOT_DETECTABLE_WORDS, QUANTITY_WORDS } from './synonyms.js';
import type { LabelMatch, Vocabulary } from './types.js';
import { normalizeLabel } from './normalize.js';

export interface VocabularyOptions {
  /**
   * Extra words for labels, `{ label: [words] }` ("cup": ["beaker"]). These come before the built-in household
   * synonyms. An entry written the other way round (`{ word: [label] }`, key not a label) is accepted too.
   */
  synonyms?: Record<string, string[]>;
}

const NOT_DETECTABLE = Symbol('not_detectable');
type Target = string | typeof NOT_DETECTABLE;

const LEADING_STRIP = new Set([
  'my', 'the', 'our', 'a', 'an', 'your', 'his', 'her', 'their', 'its', 'this', 'that', 'these', 'those', 'some',
  'any', 'one', 'both', 'all', 'other', 'another', 'mine', 'um', 'uh', 'er', 'erm', 'unk',
]);
/** words that start a trailing qualifier: "remote for the tv", "bag with my laptop", "cup and saucer" */
const CUT_WORDS = new Set(['for', 'with', 'from', 'in', 'on', 'at', 'and', 'or', 'that', 'which', 'under', 'near',
  'inside', 'by', 'behind', 'beside', 'next']);

// (in its own module, which loads no lexicon: the speech workers use it too)
export { normalizeLabel };

/** "'cup'" -> "cup", but a plural possessive keeps its mark ("kids'") */
function trimQuotes(w: string): string {
  const plainStart = w.replace(/^'+/, '');
  return plainStart.endsWith("s'") ? plainStart.replace(/'+$/, "'") : plainStart.replace(/'+$/, '');
}

const ADJECTIVE_TAGS = new Set(['Adjective', 'Comparative', 'Superlative']);
const FILLERS = new Set(['the', 'a', 'an', 'um', 'uh', 'er', 'erm', 'unk']);

/** normalised item words without determiners, possessors and fillers ("my son's teddy bear" -> "teddy bear") */
export function itemWords(item: string, cutQualifiers = true): string[] {
  let words = normalizeLabel(item.replace(/\[unk\]|<unk>/gi, ' '))
    .split(' ')
    .map(trimQuotes)
    .filter((w) => w.length > 0);
  if (cutQualifiers) {
    // cut trailing qualifiers, except "X of Y" which names X (or Y after a quantity word)
    const ofAt = words.indexOf('of');
    if (ofAt > 0) {
      const left = words.slice(0, ofAt);
      const lastLeft = left[left.length - 1];
      words = QUANTITY_WORDS.has(lastLeft) ? words.slice(ofAt + 1) : left;
    }
    // "red and white umbrella" keeps its "and"; "cup and saucer" is the cup
    const cut = words.findIndex(
      (w, i) => i > 0 && CUT_WORDS.has(w) && !(w === 'and' && lexiconTags(words[i - 1]).some((t) => ADJECTIVE_TAGS.has(t))),
    );
    if (cut > 0) words = words.slice(0, cut);
  }
  // possessors: everything up to the last "x's" / "xs'" word ("my wife's friend's bag" -> "bag")
  let lastPossessive = -1;
  words.forEach((w, i) => {
    if (/'s$|s'$/.test(w) && i < words.length - 1) lastPossessive = i;
  });
  if (lastPossessive >= 0) words = words.slice(lastPossessive + 1);
  words = words.map((w) => w.replace(/'/g, ''));
  // determiners and fillers, at the start and wherever the recogniser sprinkled them
  words = words.filter((w) => !FILLERS.has(w));
  while (words.length > 0 && LEADING_STRIP.has(words[0])) words.shift();
  while (words.length > 0 && LEADING_STRIP.has(words[words.length - 1]) && words.length > 1) words.pop();
  return words;
}

const PREFERRED_EXAMPLES = [
  'cup', 'cell phone', 'laptop', 'book', 'remote', 'backpack', 'bottle', 'handbag', 'umbrella', 'keys', 'wallet',
  'glasses', 'phone', 'mug', 'bag', 'remote control', 'scissors', 'teddy bear', 'toothbrush', 'tv',
];

const RESOLVE_CACHE_MAX = 1000;

class IndexedVocabulary implements Vocabulary {
  readonly labels: readonly string[];
  private readonly index = new Map<string, Target>();
  /** normalised label -> label as the model names it */
  private readonly byNorm = new Map<string, string>();
  private readonly cache = new Map<string, LabelMatch>();

  constructor(labels: readonly string[], opts: VocabularyOptions = {}) {
    this.labels = Object.freeze([...labels]);
    for (const label of labels) {
      const n = normalizeLabel(label);
      if (n && !this.byNorm.has(n)) this.byNorm.set(n, label);
    }

    // 1. the labels themselves, then their inflections and spelling variants
    for (const [n, label] of this.byNorm) this.add(n, label);
    for (const [n, label] of this.byNorm) this.addVariants(n, label);

    // 2. the caller's synonyms
    const user: Array<[string, string]> = [];
    for (const [key, values] of Object.entries(opts.synonyms ?? {})) {
      const k = normalizeLabel(key);
      const keyLabel = this.byNorm.get(k);
      if (keyLabel !== undefined) {
        for (const v of values) user.push([normalizeLabel(v), keyLabel]);
      } else {
        const target = values.map((v) => this.byNorm.get(normalizeLabel(v))).find((l) => l !== undefined);
        if (target !== undefined) user.push([k, target]);
      }
    }
    for (const [w, label] of user) this.add(w, label);
    for (const [w, label] of user) this.addVariants(w, label, false);

    // 3. built-in household synonyms whose label this model has
    const builtIn: Array<[string, string]> = [];
    for (const [labelName, words] of DEFAULT_SYNONYMS) {
      const label = this.byNorm.get(labelName);
      if (label === undefined) continue;
      for (const w of words) builtIn.push([normalizeLabel(w), label]);
    }
    for (const [w, label] of builtIn) this.add(w, label);

    // 4. look-alikes that must not fall through to a label by inflection ("glasses" is not the plural of the
    //    "glass" synonym of "wine glass"), unless the model has a label for them (then step 1 or 3 took them)
    for (const w of NOT_DETECTABLE_WORDS) {
      const head = w.slice(w.lastIndexOf(' ') + 1);
      if (this.index.get(head) !== undefined && this.byNorm.has(head)) continue; // "reading glasses" with a glasses label
      this.add(w, NOT_DETECTABLE);
    }

    // 5. plurals and spellings of the built-in synonyms
    for (const [w, label] of builtIn) this.addVariants(w, label, false);
  }

  private add(phrase: string, target: Target): void {
    if (phrase && !this.index.has(phrase)) this.index.set(phrase, target);
  }

  /**
   * Plural (and, for labels, singular) forms, the joined-up spelling ("cellphone") and British/American spellings.
   * Synonyms only get plurals: their singulars would be odd words in the recogniser's grammar ("sunny").
   */
  private addVariants(phrase: string, target: Target, isLabel = true): void {
    if (!/[a-z]/.test(phrase) || / of /.test(phrase)) return;
    const forms = new Set<string>();
    forms.add(plural(phrase));
    if (isLabel && isPlural(phrase)) forms.add(singular(phrase));
    if (isLabel && phrase.includes(' ')) {
      forms.add(phrase.replace(/ /g, ''));
      forms.add(plural(phrase).replace(/ /g, ''));
    }
    // British/American spellings that differ in one common word
    for (const [a, b] of [['drier', 'dryer'], ['dryer', 'drier'], ['donut', 'doughnut'], ['doughnut', 'donut'],
      ['airplane', 'aeroplane'], ['aeroplane', 'airplane'], ['colour', 'color'], ['grey', 'gray']] as const) {
      if (new RegExp(`\\b${a}\\b`).test(phrase)) {
        const alt = phrase.replace(new RegExp(`\\b${a}\\b`, 'g'), b);
        forms.add(alt);
        forms.add(plural(alt));
      }
    }
    for (const f of forms) this.add(f, target);
  }

  private lookup(phrase: string): Target | undefined {
    const direct = this.index.get(phrase);
    if (direct !== undefined) return direct;
    const sg = singular(phrase);
    if (sg !== phrase) {
      const s = this.index.get(sg);
      if (s !== undefined) return s;
    }
    if (phrase.includes(' ')) {
      const joined = this.index.get(phrase.replace(/ /g, ''));
      if (joined !== undefined) return joined;
    }
    return undefined;
  }

  resolve(item: string): LabelMatch {
    const cached = this.cache.get(item);
    if (cached !== undefined) return cached;
    const result = this.resolveUncached(item);
    if (this.cache.size >= RESOLVE_CACHE_MAX) this.cache.clear();
    this.cache.set(item, result);
    return result;
  }

  private resolveUncached(item: string): LabelMatch {
    // a label that itself contains "of"/"and"/"in" ("cup of tea" in a custom model) is taken whole first
    const whole = this.lookup(itemWords(item, false).join(' '));
    if (whole === NOT_DETECTABLE) return { kind: 'not_detectable' };
    if (whole !== undefined) return { kind: 'label', label: whole };
    const words = itemWords(item);
    for (let i = 0; i < words.length; i++) {
      const target = this.lookup(words.slice(i).join(' '));
      if (target === NOT_DETECTABLE) return { kind: 'not_detectable' };
      if (target !== undefined) return { kind: 'label', label: target };
    }
    return { kind: 'not_detectable' };
  }

  phrases(): string[] {
    const out: string[] = [];
    for (const [phrase, target] of this.index) if (target !== NOT_DETECTABLE) out.push(phrase);
    return out.sort();
  }

  private readonly exampleCache = new Map<number, string[]>();

  examples(n: number): string[] {
    // the label set never changes in a vocabulary: work the answer out once per n
    const hit = this.exampleCache.get(n);
    if (hit) return [...hit];
    const out: string[] = [];
    const push = (label: string | undefined): void => {
      if (label !== undefined && !out.includes(label)) out.push(label);
    };
    for (const p of PREFERRED_EXAMPLES) push(this.byNorm.get(p));
    for (const label of this.byNorm.values()) if (normalizeLabel(label) !== 'person') push(label);
    for (const label of this.byNorm.values()) push(label);
    const picked = out.slice(0, Math.max(0, Math.floor(n)));
    this.exampleCache.set(n, picked);
    return [...picked];
  }
}

export function buildVocabulary(labels: readonly string[], opts?: VocabularyOptions): Vocabulary {
  return new IndexedVocabulary(labels, opts);
}
