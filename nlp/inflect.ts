/**
 * Singular / plural forms of English nouns, using compromise's lexicon and noun transforms (no full parse:
 * a lexicon lookup plus a suffix rule, a few microseconds) with guards for the words its rules mangle
 * ("bus" -> "bu") and a cache, since the same handful of household words come back again and again.
 */
import nlp from 'compromise';

type Transform = (word: string, model: object) => string;

const model = nlp.model() as { one: { lexicon: Record<string, string | string[]> } };
const transforms = (nlp.methods() as {
  two: { transform: { noun: { toSingular: Transform; toPlural: Transform } } };
}).two.transform.noun;
const lexicon = model.one.lexicon;

/** the compromise lexicon tags of a word ([] when unknown) */
export function lexiconTags(word: string): string[] {
  const t = Object.prototype.hasOwnProperty.call(lexicon, word) ? lexicon[word] : undefined;
  if (t === undefined) return [];
  return Array.isArray(t) ? t : [t];
}

/** words whose final "s" is not a plural ending */
function sNotPlural(word: string): boolean {
  return /(ss|us|is|ics|ous)$/.test(word) || word.length <= 3;
}

const CACHE_MAX = 2000;
const singularCache = new Map<string, string>();
const pluralCache = new Map<string, string>();
const isPluralCache = new Map<string, boolean>();

function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(key, value);
  return value;
}

function singularWord(word: string): string {
  const cached = singularCache.get(word);
  if (cached !== undefined) return cached;
  let out = word;
  const tags = lexiconTags(word);
  if (tags.includes('Plural') || (word.endsWith('s') && !sNotPlural(word) && !tags.includes('Singular'))) {
    const s = transforms.toSingular(word, model);
    if (s && s.length >= 2) out = s;
  }
  return remember(singularCache, word, out);
}

function pluralWord(word: string): string {
  const cached = pluralCache.get(word);
  if (cached !== undefined) return cached;
  let out: string;
  if (isPluralWord(word)) out = word;
  else {
    const tags = lexiconTags(word);
    // uncountable nouns ("sheep", "broccoli") keep their form
    out = tags.includes('Uncountable') ? word : transforms.toPlural(word, model) || word;
  }
  return remember(pluralCache, word, out);
}

function isPluralWord(word: string): boolean {
  const cached = isPluralCache.get(word);
  if (cached !== undefined) return cached;
  const tags = lexiconTags(word);
  let out: boolean;
  if (tags.includes('Plural')) out = true; // mice, people, children, keys
  else if (tags.includes('Singular')) out = false;
  else if (!word.endsWith('s') || sNotPlural(word)) out = false;
  else out = singularWord(word) !== word; // scissors, trousers, glasses, mugs
  return remember(isPluralCache, word, out);
}

function lastWordOp(phrase: string, op: (w: string) => string): string {
  const i = phrase.lastIndexOf(' ');
  if (i < 0) return op(phrase);
  return phrase.slice(0, i + 1) + op(phrase.slice(i + 1));
}

/** "knives" -> "knife", "wine glasses" -> "wine glass", "cups" -> "cup"; singular input comes back as is */
export function singular(phrase: string): string {
  return lastWordOp(phrase, singularWord);
}

/** "cup" -> "cups", "wine glass" -> "wine glasses", "mouse" -> "mice"; plural input comes back as is */
export function plural(phrase: string): string {
  return lastWordOp(phrase, pluralWord);
}

/** whether a noun phrase is grammatically plural ("keys", "glasses", "scissors", "mice" -> true) */
export function isPlural(phrase: string): boolean {
  const i = phrase.lastIndexOf(' ');
  return isPluralWord(i < 0 ? phrase : phrase.slice(i + 1));
}
