/**
 * Text (typed, or a speech recogniser's lower-case unpunctuated output) -> Intent.
 *
 * The request frames ("where is ...", "have you seen ...", "I can't find ...", "when did you last see ...") are
 * matched with anchored patterns over a normalised token string: contractions expanded, fillers, greetings, the
 * wake word and polite wrappers ("could you tell me ...") removed. The item is what the frame leaves over, cut at
 * relative clauses and trailing place/time words, without determiners, possessors or fillers. Long leftovers
 * (three words and more) get a compromise noun-phrase pass, cached, to find where the noun phrase really ends
 * ("phone my mum gave me" -> "phone"). Whole results are cached too: the same questions come back all the time.
 */
import nlp from 'compromise';
import { lexiconTags } from './inflect.js';
import type { Intent, IntentName } from './types.js';
import { parseNextQuestion } from './questions.js';

// ---------------------------------------------------------------------------------------------------------------
// normalisation

const CONTRACTIONS: Record<string, string> = {
  "where's": 'where is', wheres: 'where is', "where're": 'where are', "where'd": 'where did', whered: 'where did',
  "where've": 'where have', "what's": 'what is', whats: 'what is', "when's": 'when is', whens: 'when is',
  "it's": 'it is', "that's": 'that is', "there's": 'there is', "here's": 'here is', "who's": 'who is',
  "how's": 'how is', "can't": 'can not', cant: 'can not', cannot: 'can not', "won't": 'will not',
  "i've": 'i have', ive: 'i have', "we've": 'we have', "you've": 'you have', "i'm": 'i am', im: 'i am',
  "i'd": 'i would', "i'll": 'i will', "we're": 'we are', "you're": 'you are', "they're": 'they are',
  "ain't": 'is not', wanna: 'want to', gotta: 'have to', dunno: 'do not know', lemme: 'let me', gimme: 'give me',
  dont: 'do not', didnt: 'did not', doesnt: 'does not', havent: 'have not', hasnt: 'has not', couldnt: 'could not',
  isnt: 'is not', arent: 'are not', wasnt: 'was not', werent: 'were not', u: 'you', ya: 'you', ur: 'your',
  whereabout: 'whereabouts',
};

/** dropped wherever they occur */
const FILLERS = new Set([
  'um', 'umm', 'ummm', 'uh', 'uhh', 'uhm', 'er', 'erm', 'err', 'hmm', 'hm', 'hmmm', 'mm', 'mmm', 'ah', 'ahh',
  'please', 'pls', 'plz', 'kindly', 'just', 'actually', 'exactly', 'honestly', 'possibly', 'unk',
]);

function trimQuotes(w: string): string {
  const s = w.replace(/^'+/, '');
  return s.endsWith("s'") ? s.replace(/'+$/, "'") : s.replace(/'+$/, '');
}

function normalise(text: string): string[] {
  const s = text
    .toLowerCase()
    .replace(/[\u2018\u2019`\u00b4]/g, "'")
    .replace(/\[unk\]|<unk>/g, ' ')
    .replace(/[^a-z0-9' ]+/g, ' ');
  const out: string[] = [];
  for (const raw of s.split(' ')) {
    if (!raw) continue;
    const w = trimQuotes(raw);
    if (!w) continue;
    const expanded = CONTRACTIONS[w] ?? (w.endsWith("n't") ? `${w.slice(0, -3)} not` : w);
    for (const t of expanded.split(' ')) if (!FILLERS.has(t)) out.push(t);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// wrappers in front of the question

const GREETING =
  /^(?:hey|hi|hello|hiya|ok|okay|oi|yo|oh|excuse me|sorry|so|well|right|alright|all right|and|but|now|then|quick question|question|good morning|good afternoon|good evening|listen|the|whereabouts(?! (?:is|are|was|were|of)\b))(?: |$)/;

const META =
  /^(?:(?:could|can|would|will) you (?:tell me|let me know|remind me|check|say|find out|show me|work out)|tell me|let me know|remind me|show me|check|(?:do|would) you (?:happen to )?know|you know|(?:do you have|have you got|have you|got) any idea|any idea|no idea|(?:i|we) (?:wonder|was wondering|am wondering|were wondering|want to know|would like to know|need to know|do not know|did not know|have no idea|can not remember|can not recall|do not remember|forgot|forget|have forgotten|can not think|do not recall)|if|whether)(?= (?:where|when|what|which|you|anyone|i|if|whether)\b) /;

function stripWrappers(s: string): string {
  for (let guard = 0; guard < 12; guard++) {
    const before = s;
    s = s.replace(GREETING, '').replace(META, '');
    if (s === before) break;
  }
  return s
    .replace(/^whereabouts (is|are|was|were)\b/, 'where $1')
    .replace(/^where (?:on earth|in the world|the hell|the heck|oh where|exactly) /, 'where ');
}

// ---------------------------------------------------------------------------------------------------------------
// request frames: [pattern, intent]; group 1 (optional) is the item

const SEE = '(?:see|seen|saw|spot|spotted|notice|noticed|detect|detected|catch sight of|caught sight of)';
const PUT =
  '(?:leave|left|put|place|placed|drop|dropped|stash|stashed|hide|hid|hidden|keep|kept|see|seen|saw|set|lose|lost|spot|spotted|park|parked|store|stored|move|moved|take|took|taken|throw|threw|thrown|find|found|have|had|use|used|chuck|chucked|shove|shoved|stick|stuck|last have|last use|last see|last put|last leave)';
const WHO = '(?:i|we|you|someone|somebody|anyone|anybody|they|he|she|the kids|the children|my \\w+)';
const GONE =
  '(?:go|gone|get to|got to|gotten to|end up|ended up|disappear to|disappeared to|disappear|disappeared|vanish to|vanished to|wander off to|wandered off to|go to|be|be hiding|run off to)';
const ITEM = '(?: (.*?))?';

const FRAMES: ReadonlyArray<readonly [RegExp, IntentName]> = [
  // last seen
  [new RegExp(`^when (?:did|have|had|do) (?:you|anyone|we|i|the cameras?) (?:last |most recently |first )?${SEE}${ITEM}(?: last| last time| most recently)?$`), 'last_seen'],
  [new RegExp(`^when (?:was|were|is|are)${ITEM} (?:last |most recently )?${SEE}(?: last)?$`), 'last_seen'],
  [new RegExp(`^when (?:is|was) the (?:last|most recent) time (?:you|anyone|the cameras?|i|we) (?:saw|seen|see|spotted|had|noticed|used)${ITEM}$`), 'last_seen'],
  [new RegExp(`^(?:what time|what day|how long ago) (?:did|have) (?:you|the cameras?) (?:last )?${SEE}${ITEM}$`), 'last_seen'],
  [new RegExp(`^(?:what time|what day|how long ago) (?:was|were)${ITEM} (?:last )?${SEE}$`), 'last_seen'],
  [/^(?:when|what time) did (?:i|we) (?:last )?(?:have|use|see|put down|leave|put)(?: (.*?))?$/, 'last_seen'],
  [new RegExp(`^(?:the )?last (?:time you saw|time you spotted|sighting of|seen)${ITEM}$`), 'last_seen'],

  // find
  [/^(?:what (?:are|is) )?(?:the )?whereabouts of(?: (.*?))?$/, 'find_item'],
  [/^where (?:is|are|was|were|abouts is|abouts are|s)(?: (.*?))?$/, 'find_item'],
  [new RegExp(`^where (?:did|have|had|do|would|might|could|should|can) ${WHO} (?:last |ever |just |possibly |have |might have |last have )?${PUT}${ITEM}$`), 'find_item'],
  [new RegExp(`^where (?:did|has|have|could|would|might|can|do|does) (.+?) ${GONE}$`), 'find_item'],
  [new RegExp(`^where (?:i|we|you|someone|somebody|they) (?:have |had |might have |must have |last )?${PUT}${ITEM}$`), 'find_item'],
  [/^where (.+?) (?:is|are|was|were|went|has gone|have gone|got to|has got to|have got to|ended up|has ended up|is now|are now|might be|could be|can be|would be|will be|is at|are at|is hiding|are hiding|disappeared to|has disappeared to|might have gone|could have gone)$/, 'find_item'],
  [new RegExp(`^(?:have|has|did|had) (?:you|anyone|anybody|somebody|someone|the cameras?) (?:ever |recently |by any chance |happened to |happen to |at all )?(?:${SEE}|found|find|come across|came across|got eyes on|clocked)${ITEM}$`), 'find_item'],
  [new RegExp(`^(?:you|anyone|the cameras?) (?:have |has )?(?:${SEE}|found)${ITEM}$`), 'find_item'],
  [/^(?:(?:can|could|would|will) you )?(?:help (?:me|us) )?(?:to )?(?:find|locate|look for|search for|track down|hunt down|spot|find me|see|check for|point out|point me to)(?: (.*?))?$/, 'find_item'],
  [/^(?:i|we) (?:seem to |think (?:i|we) |must |might |may |have just |have gone and |went and )?(?:have |had )?(?:lost|misplaced|mislaid|lost track of|lose track of)(?: (.*?))?$/, 'find_item'],
  [/^(?:i|we) (?:still |really |simply )?(?:can not|could not|do not|did not|am unable to) (?:seem to |manage to )?(?:find|locate|see|spot)(?: (.*?))?$/, 'find_item'],
  [/^(?:(?:i am|we are|am) )?(?:still )?(?:looking|searching|hunting) (?:for|around for)(?: (.*?))?$/, 'find_item'],
  [/^(?:i|we) (?:need|want|would like|have|got|am trying|are trying) to (?:find|locate|track down)(?: (.*?))?$/, 'find_item'],
  [/^(?:what|who) (?:happened to|has happened to|did (?:i|you|we) do with|have (?:i|we) done with)(?: (.*?))?$/, 'find_item'],
  [/^(?:in )?which room (?:is|are|was|were|did i leave|did i put|did you see)(?: (.*?))?$/, 'find_item'],
  [/^(?:is|are) ((?:my|our|the) .+?) (?:around|anywhere|somewhere|here|nearby|about|in|on|at|upstairs|downstairs)(?: .*)?$/, 'find_item'],
  [/^(.+?) where (?:is|are|was|were) (?:it|they)$/, 'find_item'],
  [/^((?:my|our|the) .+?) (?:is|are|has|have|has gone|have gone|went|has got|have got|got|gone|has been|have been) (?:missing|lost|gone|disappeared|vanished|walkabout|awol|astray)$/, 'find_item'],
  // last resort, for a speech recogniser's slips ("where alarm my scissors" for "where are my scissors",
  // "where my phone"): "where", at most two stray words, "my"/"our", and a short item
  [/^where (?:\w+ ){0,2}(?:my|our) (\w+(?: \w+){0,2})$/, 'find_item'],
];

// ---------------------------------------------------------------------------------------------------------------
// the item

const DETERMINERS = new Set([
  'my', 'the', 'our', 'a', 'an', 'your', 'his', 'her', 'their', 'its', 'this', 'that', 'these', 'those', 'some',
  'any', 'all', 'both', 'other', 'another', 'every', 'each', 'me', 'us', 'of',
]);
/** a find request about "it": the person did not say what */
const NO_ITEM = new Set([
  'it', 'them', 'they', 'this', 'that', 'these', 'those', 'one', 'ones', 'something', 'stuff', 'things', 'thing',
  'everything', 'anything', 'he', 'she', 'him', 'her', 'mine', 'ours', 'yours', 'theirs', 'his', 'hers', 'what',
  'which', 'where', 'when', 'item', 'object',
]);
/** "where am I", "where are you": not about an object at all */
const NOT_AN_ITEM = new Set(['i', 'me', 'you', 'we', 'us', 'myself', 'yourself', 'ourselves', 'out', 'going', 'from',
  'everybody', 'everyone', 'somebody', 'someone', 'anybody', 'anyone', 'nobody']);

/** words and phrases that trail after the item and are not part of it */
const TRAILING = new Set([
  'please', 'now', 'right now', 'at the moment', 'currently', 'again', 'today', 'yesterday', 'this morning',
  'this afternoon', 'this evening', 'this week', 'last night', 'tonight', 'lately', 'recently', 'earlier', 'before',
  'anywhere', 'somewhere', 'at all', 'by any chance', 'or not', 'then', 'too', 'for me', 'thanks', 'thank you',
  'cheers', 'mate', 'buddy', 'i think', 'do you know', 'you know', 'around', 'around here', 'about', 'here', 'there',
  'in here', 'over there', 'last', 'last time', 'most recently', 'is', 'are', 'was', 'were', 'be', 'go', 'gone',
  'went', 'got to', 'get to', 'ended up', 'end up', 'whereabouts', 'ok', 'okay', 'anyway', 'lol', 'hey', 'is it',
  'are they', 'it', 'they', 'at', 'to', 'in', 'on', 'the', 'a', 'an', 'my', 'our', 'of', 'and', 'or', 'again please',
  'last seen', 'seen', 'lying around', 'lying about', 'kicking about', 'kicking around', 'nearby', 'in the house',
  'at home', 'the house', 'recently seen', 'do you', 'did you', 'have you', 'mean', 'i mean', 'by chance', 'ever',
  'sir',
]);

/** a relative clause or place/time phrase starts here: "the book i was reading", "my phone in the kitchen" */
const CUT_AT = new Set([
  'that', 'which', 'who', 'i', 'we', 'you', 'he', 'she', 'they', 'in', 'at', 'on', 'inside', 'under', 'underneath',
  'behind', 'near', 'beside', 'next', 'by', 'from', 'with', 'for', 'since', 'when', 'after', 'before', 'because',
  'so', 'if', 'or', 'anywhere', 'somewhere', 'around', 'thank', 'thanks', 'cheers', 'is', 'are', 'was', 'were', 'has', 'have', 'had', 'last',
  'today', 'yesterday', 'again', 'please', 'upstairs', 'downstairs', 'outside', 'lately', 'recently', 'to',
]);

const ADJECTIVE_TAGS = ['Adjective', 'Comparative', 'Superlative'];

function cleanItem(raw: string | undefined): { item: string | null; notRequest: boolean } {
  if (!raw) return { item: null, notRequest: false };
  let words = raw.split(' ').filter((w) => w.length > 0);

  // leading determiners / fillers first so the cut below never sees "my" as the first word
  while (words.length > 0 && (DETERMINERS.has(words[0]) || words[0] === 'the')) words.shift();
  if (words.length === 0) return { item: null, notRequest: false };
  if (NOT_AN_ITEM.has(words[0])) return { item: null, notRequest: true };

  // "and": "keys and wallet" -> "keys", but "red and white umbrella" stays whole
  const cut = words.findIndex((w, i) => {
    if (i === 0) return false;
    if (w === 'and') return !lexiconTags(words[i - 1]).some((t) => ADJECTIVE_TAGS.includes(t));
    return CUT_AT.has(w);
  });
  if (cut > 0) words = words.slice(0, cut);

  // trailing junk, longest phrase first
  for (let changed = true; changed && words.length > 0; ) {
    changed = false;
    for (let k = Math.min(3, words.length); k >= 1; k--) {
      if (TRAILING.has(words.slice(-k).join(' '))) {
        words = words.slice(0, -k);
        changed = true;
        break;
      }
    }
  }

  // possessors: up to the last "x's" / "xs'" ("my son's teddy bear", "the kids' backpack")
  let lastPossessive = -1;
  for (let i = 0; i < words.length - 1; i++) if (/'s$|s'$/.test(words[i])) lastPossessive = i;
  words = words.slice(lastPossessive + 1);
  // a lone possessive ("where is john's") names no item; other apostrophes go
  if (words.length === 1 && /'s$|s'$/.test(words[0])) return { item: null, notRequest: false };
  words = words.map((w) => w.replace(/'/g, ''));

  // determiners again (after the possessor), and recogniser fillers inside ("my the cup")
  while (words.length > 0 && DETERMINERS.has(words[0])) words.shift();
  words = words.filter((w) => w !== 'the' && w !== 'a' && w !== 'an');
  if (words.length === 0) return { item: null, notRequest: false };
  if (words.length === 1 && NO_ITEM.has(words[0])) return { item: null, notRequest: false };
  if (NOT_AN_ITEM.has(words[0])) return { item: null, notRequest: true };

  if (words.length >= 3 && words.slice(1).some(looksLikeClause)) words = nounPhrase(words);
  return { item: words.join(' '), notRequest: false };
}

// ---------------------------------------------------------------------------------------------------------------
// compromise: where does a long noun phrase end?

/** lexicon tags that do not belong inside a household noun phrase ("phone my mum gave me") */
const CLAUSE_TAGS = new Set(['Pronoun', 'Possessive', 'PastTense', 'Copula', 'Determiner', 'Preposition',
  'Conjunction', 'Modal', 'Auxiliary', 'QuestionWord', 'Adverb', 'Date']);

/** a cheap lexicon lookup deciding whether the full parse is worth it */
function looksLikeClause(word: string): boolean {
  return lexiconTags(word).some((t) => CLAUSE_TAGS.has(t));
}

const NP_CACHE_MAX = 500;
const npCache = new Map<string, string[]>();

/**
 * The first noun phrase compromise finds in "where is my <words>", when it is a proper part of the words
 * ("phone my mum gave me" -> "phone"); otherwise the words unchanged. Cached: this is the one full parse.
 */
function nounPhrase(words: string[]): string[] {
  const key = words.join(' ');
  const cached = npCache.get(key);
  if (cached !== undefined) return cached;
  let out = words;
  try {
    const doc = nlp(`where is my ${key}`);
    const nouns = doc.nouns().out('array') as string[];
    for (const np of nouns) {
      let npWords = np.toLowerCase().replace(/[^a-z0-9' ]+/g, ' ').split(' ').filter((w) => w.length > 0);
      while (npWords.length > 0 && DETERMINERS.has(npWords[0])) npWords.shift();
      if (npWords.length === 0) continue;
      const at = indexOfRun(words, npWords);
      if (at >= 0) {
        // keep the modifiers in front of the head ("red and white umbrella"), drop what trails it
        const end = at + npWords.length;
        if (end < words.length) out = words.slice(0, end);
        break;
      }
    }
  } catch {
    out = words;
  }
  if (npCache.size >= NP_CACHE_MAX) npCache.clear();
  npCache.set(key, out);
  return out;
}

function indexOfRun(haystack: string[], needle: string[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

// ---------------------------------------------------------------------------------------------------------------

const NOT_A_REQUEST: Intent = Object.freeze({ intent: 'not_a_request', item: null }) as Intent;

function parseUncached(text: string): Intent {
  const tokens = normalise(text).join(' ');
  // the questions that come next ("what's on the desk?", "and my phone?"): nlp/questions.ts
  const next = parseNextQuestion(tokens, stripWrappers, cleanItem);
  if (next) return next;
  const s = stripWrappers(tokens);
  if (!s) return NOT_A_REQUEST;
  for (const [pattern, intent] of FRAMES) {
    const m = pattern.exec(s);
    if (!m) continue;
    let raw = m[1];
    // "find where my phone is", "help me find out where ...": the frame wraps another question
    if (raw && /^(?:out )?(?:where|when) /.test(raw)) {
      const inner = parseUncached(raw.replace(/^out /, ''));
      if (inner.intent !== 'not_a_request') return inner;
    }
    if (raw && /^out\b/.test(raw)) return NOT_A_REQUEST;
    const { item, notRequest } = cleanItem(raw);
    if (notRequest) return NOT_A_REQUEST;
    return { intent, item };
  }
  return NOT_A_REQUEST;
}

const CACHE_MAX = 1000;
const cache = new Map<string, Intent>();

/** Parse a typed or spoken request. Pure; results are cached by text. */
export function parseRequest(text: string): Intent {
  if (typeof text !== 'string' || text.length === 0) return { intent: 'not_a_request', item: null };
  // very long input is not a spoken question; keep the work bounded
  const t = text.length > 500 ? text.slice(0, 500) : text;
  let r = cache.get(t);
  if (r === undefined) {
    r = parseUncached(t);
    if (cache.size >= CACHE_MAX) cache.clear();
    cache.set(t, r);
  }
  return { ...r };
}

/**
 * Load compromise's tagger ahead of the first request that needs it (the first full parse costs tens of
 * milliseconds; later ones well under one). Optional: call once at server start.
 */
export function warmUp(): void {
  nounPhrase(['phone', 'my', 'mum', 'gave', 'me']);
  parseRequest('where is my cup');
}

// ---------------------------------------------------------------------------------------------------------------
// tolerant parsing of speech recogniser output (issue 13): stray words before, inside and after a request

/** where a request starts inside recogniser output: "okay know where is my clock" -> "where is my clock" */
const ANCHOR = /(?:^| )((?:where|have you|did you|can you|could you|find|i can not|i lost|i have lost|what about) .*)$/;
const ANCHOR_WORDS = /\b(?:where|have you|did you|can you|could you|find|i can not|i lost|i have lost|what about)\b/g;

/**
 * Like parseRequest, for what a speech recogniser heard: when the text as a whole is not a request, the
 * request may start after a few stray words ("a where's the cup", "the know where my remote", "when find my
 * laptop"), a verb may be misheard ("where did i pot the cup"), "is" may come out as "as" / "this" ("where as
 * my cup", "where my cup this"), "seen" as "see" ("can you seen the cup", "have you see my cup"). Only these
 * request anchors are tried, never a free search for nouns, so non-requests ("call mum", "remind me to buy
 * milk", "how tall is the eiffel tower") stay non-requests.
 */
export function parseHeard(text: string): Intent {
  return parseHeardGuess(text).intent;
}

/**
 * parseHeard, and whether the request was only read by guessing a misheard verb ("where did i books my
 * glasses": any one word where "put" should be). Such a reading is weaker evidence for its item: the
 * recogniser was unsure around it (nlp/hearing counts it half).
 */
export function parseHeardGuess(text: string): { intent: Intent; guessed: boolean } {
  const r = parseHeardStrict(text);
  if (r.intent !== 'not_a_request' && r.item) return { intent: r, guessed: false };
  const s = normalise(text).join(' ');
  const g = s.replace(/^(where (?:did|have|had) (?:i|we) )(?!leave |put |left |lose |lost )[a-z']+ ((?:my|the) [a-z])/, '$1put $2');
  if (g !== s) {
    const r2 = trimSlips(parseRequest(g));
    if (r2.intent !== 'not_a_request' && r2.item) return { intent: r2, guessed: true };
  }
  return { intent: r, guessed: false };
}

function parseHeardStrict(text: string): Intent {
  const direct = trimSlips(parseRequest(text));
  // (a place question has a place, not an item: "what's on the desk")
  if (direct.intent !== 'not_a_request' && (direct.item || direct.place)) return direct;
  const s = normalise(text).join(' ');
  if (!s) return direct;
  const fixed = repairSlips(s);
  if (fixed !== s) {
    const r = trimSlips(parseRequest(fixed));
    if (r.intent !== 'not_a_request' && (r.item || r.place)) return r;
  }
  // stray words in front: try from each request anchor, at most four words in
  for (const m of fixed.matchAll(ANCHOR_WORDS)) {
    const at = m.index ?? 0;
    if (at === 0) continue;
    if (fixed.slice(0, at).trim().split(' ').length > 4) break;
    const rest = fixed.slice(at);
    const r = trimSlips(parseRequest(rest.startsWith('what about ') ? rest.replace(/^what about /, 'where is ') : rest));
    if (r.intent !== 'not_a_request' && r.item) return r;
  }
  if (ANCHOR.test(fixed) && fixed.startsWith('what about ')) {
    const r = parseRequest(fixed.replace(/^what about /, 'where is '));
    if (r.intent !== 'not_a_request' && r.item) return r;
  }
  return direct;
}

/** short words a recogniser leaves after the item ("where is my cup this", "my mouse them", "my keys end") */
const TRAILING_SLIPS = new Set(['this', 'as', 'his', 'them', 'then', 'than', 'end', 'and', 'an', 'when', 'in', 'is', 'men', 'us', 'its', 'been', 'the', 'a', 'to', 'too', 'at', 'it']);

function trimSlips(r: Intent): Intent {
  if (!r.item) return r;
  const w = r.item.split(' ');
  while (w.length > 1 && TRAILING_SLIPS.has(w[w.length - 1])) w.pop();
  return w.length === r.item.split(' ').length ? r : { ...r, item: w.join(' ') };
}

/** recogniser slips on the request words (never on the item) */
function repairSlips(s: string): string {
  return s
    .replace(/^where (?:as|this|his|if|was) (my|the|our) /, 'where is $1 ')
    .replace(/^(where (?:did|have|had) (?:i|we) )(?:pot|pat|pit|port|pert|bought|part)( |$)/, '$1put$2')
    .replace(/^(?:way|we|where|what) about ((?:my|the) )/, 'what about $1')
    .replace(/^((?:can|could|did|have) you )(?:seen|scene|sean|see in)( |$)/, '$1see$2')
    .replace(/^have you see( |$)/, 'have you seen$1')
    .replace(/ (?:this|as|his)$/, ' is');
}
