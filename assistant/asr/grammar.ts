/**
 * The Vosk grammar. libvosk turns the JSON array of "sentences" it is given into a small bigram language
 * model (counts with discount 0.5; see Recognizer::UpdateGrammarFst in vosk-api), closed over the words
 * used. So the list is built as a weighted corpus rather than a word list:
 *   - every request phrasing three times, ending in an item ("where did i leave my cup"): its own bigrams;
 *   - every item phrase after "my" (twice), after "the", and alone: P(item | my) is the same for all items;
 *   - "my [unk]" / "the [unk]" with the weight of a few items, so an unknown thing after "where is my" comes
 *     back as [unk] instead of the nearest known item;
 *   - fillers, a few hundred common English words and "[unk]" on their own, so speech that is not a request
 *     ("tell me a joke") lands on ordinary words or [unk] instead of being forced onto item names.
 * Built from the ways people ask (REQUEST_PHRASES), FILLERS, COMMON_WORDS, every phrase that names an item
 * (Vocabulary.phrases(): labels, plurals, synonyms) and everyday things a detector may not know (PERSONAL_ITEMS). Independent of the nlp implementation: it takes plain
 * strings. Rebuild it (Asr.setPhrases) whenever the labels change.
 */

export const UNK = '[unk]';

/** How people ask: spoken word sequences that an item follows. */
export const REQUEST_PHRASES: readonly string[] = [
  'where is my',
  'where are my',
  'where is the',
  'where are the',
  "where's my",
  "where's the",
  'where did i leave my',
  'where did i put my',
  'where did i leave the',
  'where did i put the',
  'where have i left my',
  'where have i put my',
  'have you seen my',
  'have you seen the',
  'did you see my',
  'did you see the',
  'can you find my',
  'can you find the',
  'could you find my',
  'help me find my',
  'find my',
  'find the',
  'i lost my',
  'i have lost my',
  "i've lost my",
  "i can't find my",
  'i cannot find my',
  'i need my',
  'do you know where my',
  'do you know where the',
  'when did you last see my',
  'when did you last see the',
  'when did you see my',
  'when was my',
  'when was the',
  'what about my',
  'what about the',
  'is there a',
  'is there any',
  // the questions that come next (nlp/questions.ts): history, show me, follow-ups
  'where has my',
  'where have my',
  'where has the',
  'where did my',
  'when did you last see',
  'show me my',
  'show me the',
  'can you show me my',
  'show me a picture of my',
  'let me see my',
  'and my',
  'and the',
  'how about my',
];

/**
 * Questions about a place (a zone or a room): "what's on the kitchen counter", "what's in the kitchen". Each is
 * followed by a place name (GrammarOptions.places: the zones drawn on the cameras and the rooms).
 */
export const PLACE_REQUEST_PHRASES: readonly string[] = [
  "what's on the",
  "what's in the",
  'what is on the',
  'what is in the',
  'what is there on the',
  'is there anything on the',
  'is there anything in the',
  'anything on the',
  'what do you see on the',
  'what do you see in the',
  'and on the',
  'and in the',
  'what about the',
];

/** Endings after the item ("where is my cup please", "when was my cup last seen"). */
export const REQUEST_ENDINGS: readonly string[] = ['please', 'last seen', 'now', 'again', 'today', 'been', 'been today', 'go today', 'been yesterday', 'moved today'];

/**
 * Everyday things people lose that a detector may not know (keys, wallet, ...). They are in the grammar so
 * that "where are my keys" is heard as keys (and answered "I can't see keys") instead of being forced onto
 * the nearest detectable item ("where are my keyboards").
 */
export const PERSONAL_ITEMS: readonly string[] = [
  'keys', 'car keys', 'house keys', 'keyring', 'wallet', 'purse', 'glasses', 'sunglasses', 'reading glasses',
  'watch', 'ring', 'necklace', 'earrings', 'passport', 'charger', 'phone charger', 'headphones', 'earphones',
  'earbuds', 'jacket', 'coat', 'hat', 'scarf', 'gloves', 'shoes', 'slippers', 'pen', 'pencil', 'tablet', 'camera',
  'medicine', 'pills', 'inhaler', 'hearing aid', 'lipstick', 'hairbrush', 'comb', 'lighter', 'screwdriver',
  'hammer', 'lunch box', 'water bottle', 'batteries', 'torch', 'flashlight',
];

/** Words people wrap requests in. */
export const FILLERS: readonly string[] = [
  'um',
  'uh',
  'er',
  'hmm',
  'oh',
  'hey',
  'hi',
  'hello',
  'okay',
  'so',
  'and',
  'please',
  'thanks',
  'thank you',
  'again',
  'now',
  'today',
  'yesterday',
  'whereabouts',
  'assistant',
  'computer',
  // answers to a clarifying question ("did you mean your cup?")
  'yes',
  'yeah',
  'yep',
  'no',
  'nope',
  "that's right",
  'never mind',
];

/**
 * Lower case, words only: "Cell-Phone!" -> "cell phone", "I’m" -> "i'm". Digits and other symbols are dropped
 * (the model has no spelling for them), so "tv2" -> "tv".
 */
export function normalizePhrase(s: string): string {
  return s
    .toLowerCase()
    .replace(/[\u2018\u2019`]/g, "'")
    .replace(/[_\-/]+/g, ' ')
    .replace(/[^a-z' ]+/g, ' ')
    .replace(/(^|\s)'+|'+(?=\s|$)/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Frequent English words (a general-purpose frequency list, not tuned to any test sentence): they give
 * speech that is not a request somewhere to land other than an item name.
 */
export const COMMON_WORDS: readonly string[] = (
  'the of and to in is it you that he was for on are with as i his they be at one have this from or had by hot ' +
  'word but what some we can out other were all there when up use your how said an each she which do their time if ' +
  'will way about many then them write would like so these her long make thing see him two has look more day could ' +
  'go come did number sound no most people my over know water than call first who may down side been now find any ' +
  'new work part take get place made live where after back little only round man year came show every good me give ' +
  'our under name very through just form sentence great think say help low line differ turn cause much mean before ' +
  'move right boy old too same tell does set three want air well also play small end put home read hand port large ' +
  'spell add even land here must big high such follow act why ask men change went light kind off need house picture ' +
  'try us again animal point mother world near build self earth father head stand own page should country found ' +
  'answer school grow study still learn plant cover food sun four between state keep eye never last let thought city ' +
  "tree cross farm hard start might story saw far sea draw left late run don't while press close night real life " +
  'few north open seem together next white children begin got walk example ease paper group always music those both ' +
  'mark often letter until mile river feet care second enough plain girl usual young ready above ever red list ' +
  'though feel talk soon body family direct pose leave song measure door product black short numeral class wind ' +
  'question happen complete ship area half rock order fire south problem piece told knew pass since top whole king ' +
  'space heard best hour better true during hundred five remember step early hold west ground interest reach fast ' +
  'verb sing listen six table travel less morning ten simple several vowel toward war lay against pattern slow center ' +
  'love person money serve appear road map rain rule govern pull cold notice voice unit power town fine certain fly ' +
  'fall lead cry dark machine note wait plan figure star box noun field rest correct able pound done beauty drive ' +
  'stood contain front teach week final gave green oh quick develop ocean warm free minute strong special mind ' +
  'behind clear tail produce fact street inch multiply nothing course stay wheel full force blue object decide ' +
  'surface deep moon island foot system busy test record plane stead dry wonder laugh thousand ago ran check game ' +
  "shape equate miss brought heat snow tire bring yes distant fill east paint language among okay hello thanks it's " +
  "i'm that's"
).split(' ');

const REQUEST_WEIGHT = 3;

/**
 * Item words kept for typed questions but left out of the recogniser's grammar: rare words for things that
 * sound like common item words, which the recogniser otherwise picks for them ("cot" for "cat" and "cup",
 * "tumbler" for "thermos"). Chosen on the recognition corpus' tune split.
 */
export const NOT_SPOKEN: ReadonlySet<string> = new Set(['cot', 'cots', 'crib', 'cribs', 'tumbler', 'tumblers', 'moggie', 'moggies', 'moggy', 'mitt', 'mitts', 'loo', 'loos', 'pup', 'pups', 'tele', 'teles']);

export interface GrammarOptions {
  /** the model's vocabulary check (vosk_model_find_word >= 0); sentences with an unknown word are dropped */
  inVocabulary?: (word: string) => boolean;
  /** told about each unknown word once, with an item phrase that holds it */
  onDrop?: (phrase: string, word: string) => void;
  /** weight of "my [unk]" against one item (default 5) */
  unkWeight?: number;
  /** add the common-word corpus (default true) */
  common?: boolean;
  /** add PERSONAL_ITEMS to the item phrases (default true) */
  personalItems?: boolean;
  /** spellings to keep when two phrases sound the same ("cell phone" vs "cellphone"): the detector's labels */
  preferred?: readonly string[];
  /** place names (camera zones, rooms) for "what's on the kitchen counter" */
  places?: readonly string[];
}

/** The item phrases, normalised and de-duplicated, in input order. */
export function itemPhrases(phrases: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const p of phrases) {
    if (typeof p !== 'string') continue;
    const n = normalizePhrase(p);
    if (n && !seen.has(n)) {
      seen.add(n);
      out.push(n);
    }
  }
  return out;
}

/**
 * The grammar "sentences" for Vosk (see the top of this file). Deterministic: same input, same output.
 * Sentences holding a word the model does not know are dropped (when opts.inVocabulary is given).
 */
export function buildGrammar(phrases: readonly string[], opts: GrammarOptions = {}): string[] {
  const vocabCache = new Map<string, boolean>();
  const reported = new Set<string>();
  const known = (w: string): boolean => {
    if (w === UNK || !opts.inVocabulary) return true;
    let k = vocabCache.get(w);
    if (k === undefined) vocabCache.set(w, (k = opts.inVocabulary(w)));
    return k;
  };
  const usable = (p: string): boolean => {
    const bad = p.split(' ').find((w) => !known(w));
    if (bad === undefined) return true;
    if (!reported.has(bad)) {
      reported.add(bad);
      opts.onDrop?.(p, bad);
    }
    return false;
  };
  const all = itemPhrases([...phrases, ...(opts.personalItems === false ? [] : PERSONAL_ITEMS)]).filter((p) => !NOT_SPOKEN.has(p));
  // "back pack" / "backpack", "cell phone" / "cellphone": one spelling per sound, so the recogniser does not
  // split its belief between them; the preferred one (a label), else the one-word one
  const preferred = new Set(itemPhrases(opts.preferred ?? []));
  const bySound = new Map<string, string>();
  for (const p of all) {
    const key = p.replace(/ /g, '');
    const cur = bySound.get(key);
    if (cur === undefined) bySound.set(key, p);
    else if (!preferred.has(cur) && (preferred.has(p) || !p.includes(' '))) bySound.set(key, p);
  }
  const keepSpelling = new Set(bySound.values());
  const items = all.filter((p) => keepSpelling.has(p)).filter(usable);
  const out: string[] = [];
  const requests = REQUEST_PHRASES.map(normalizePhrase).filter(usable);
  const fill = items.length ? items : [UNK];
  // each phrasing a few times (with different items), so its own word pairs outweigh item words
  for (let k = 0; k < REQUEST_WEIGHT; k++) requests.forEach((r, i) => out.push(`${r} ${fill[(i * REQUEST_WEIGHT + k) % fill.length]}`));
  REQUEST_ENDINGS.map(normalizePhrase)
    .filter(usable)
    .forEach((e, i) => out.push(`${fill[i % fill.length]} ${e}`));
  for (const it of items) out.push(`my ${it}`, `my ${it}`, `the ${it}`, it);
  // places: every place question with some place, and each place after "the" and alone
  const places = itemPhrases(opts.places ?? []).filter(usable);
  if (places.length) {
    const placeRequests = PLACE_REQUEST_PHRASES.map(normalizePhrase).filter(usable);
    for (let k = 0; k < REQUEST_WEIGHT; k++) placeRequests.forEach((r, i) => out.push(`${r} ${places[(i * REQUEST_WEIGHT + k) % places.length]}`));
    for (const p of places) out.push(`the ${p}`, `the ${p}`, p);
  }
  const unkWeight = Math.max(0, Math.round(opts.unkWeight ?? 5));
  for (let i = 0; i < unkWeight; i++) out.push(`my ${UNK}`, `my ${UNK}`, `the ${UNK}`);
  for (const f of FILLERS) {
    const n = normalizePhrase(f);
    if (n && usable(n)) out.push(n);
  }
  if (opts.common !== false) {
    const itemWords = new Set(items.flatMap((p) => p.split(' ')));
    for (const w of COMMON_WORDS) if (!itemWords.has(w) && usable(w)) out.push(w);
  }
  for (let i = 0; i < 20; i++) out.push(UNK);
  return out;
}

export function grammarJson(list: readonly string[]): string {
  return JSON.stringify(list);
}

/** Removes "[unk]" tokens and extra spaces from a recogniser result. */
export function cleanTranscript(text: string): string {
  return text
    .split(/\s+/)
    .filter((w) => w && w !== UNK && w !== '<unk>')
    .join(' ');
}
