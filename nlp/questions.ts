/**
 * The questions people ask after "where is my X?", as request frames over the normalised token string that
 * nlp/parse.ts makes (lower case, contractions expanded, fillers gone):
 *
 *   place_items   "what's in the kitchen?", "what's on the desk?", "is there anything on the sofa?"
 *   item_history  "where has my cup been today?", "where did my keys go yesterday?", "history of my cup"
 *   show_item     "show me my cup", "can you show me a picture of my phone", "let me see my cup"
 *   follow_up     "and my phone?", "what about the remote?", "and on the desk?" (the last question again)
 *
 * Kept apart from the "where is" frames of parse.ts; parse.ts tries these first. The item is cleaned by the
 * caller's cleaner (the same one "where is" uses), so what Ask accepts here is what it accepts there.
 */
import type { Intent, Period } from './types.js';

export type ItemCleaner = (raw: string | undefined) => { item: string | null; notRequest: boolean };

const PREP = '(on|in|at|inside|under|underneath|by|near|in front of|behind|around)';
const PERIODS: Record<string, Period> = {
  today: 'today', 'so far today': 'today', 'all day': 'today', 'this morning': 'today', 'this afternoon': 'today',
  'this evening': 'today', 'earlier today': 'today', 'today so far': 'today', lately: 'week', recently: 'week',
  'this week': 'week', 'over the last few days': 'week', 'the last few days': 'week', 'in the last few days': 'week',
  yesterday: 'yesterday', 'last night': 'yesterday', 'yesterday morning': 'yesterday', 'yesterday afternoon': 'yesterday',
  'yesterday evening': 'yesterday',
};
const PERIOD = `(${Object.keys(PERIODS).sort((a, b) => b.length - a.length).join('|')})`;
const SOFT_END = '(?: (?:please|now|right now|at the moment|currently|then|thanks|thank you))*';

/** "places" that are not places: "what's on tv tonight", "what's in the news", "what's on your mind" */
const NOT_PLACES = new Set([
  'news', 'the news', 'tv', 'telly', 'the telly', 'the tv', 'television', 'the television', 'the radio', 'radio',
  'mind', 'your mind', 'my mind', 'it', 'them', 'this', 'that', 'there', 'here', 'it for me', 'the menu', 'menu',
  'the agenda', 'agenda', 'the calendar', 'my calendar', 'calendar', 'the schedule', 'schedule', 'my schedule',
  'the diary', 'my diary', 'store', 'the cards', 'the weather', 'netflix', 'the box', 'a name', 'the way',
  'stock', 'sale', 'offer', 'the air', 'the list', 'my list', 'my plate', 'your plate', 'the line', 'the table',
  'your head', 'my head', 'the cards for', 'the horizon', 'the pipeline', 'the works',
]);
const PLACE_TRAILING = /(?: (?:now|right now|at the moment|currently|today|tonight|please|then|at all|these days|anymore|any more))+$/;
const DETERMINER = /^(?:the|my|our|your|a|an|this|that) /;

function cleanPlace(raw: string | undefined): string | null {
  if (!raw) return null;
  let p = raw.trim().replace(PLACE_TRAILING, '').trim();
  if (!p || NOT_PLACES.has(p)) return null;
  const bare = p.replace(DETERMINER, '');
  if (NOT_PLACES.has(bare) || /^(?:it|them|this|that|there|here|you|me|us)\b/.test(bare)) return null;
  if (bare.split(' ').length > 5) return null;
  p = bare;
  return p || null;
}

const PLACE_FRAMES: RegExp[] = [
  new RegExp(`^what (?:is|are|was|were|things are|stuff is|items are|else is)(?: there| left| lying| sitting| lying around| kept| stored)? ${PREP} (.+?)${SOFT_END}$`),
  new RegExp(`^what (?:do|can|did|could) you (?:see|spot|find|have) ${PREP} (.+?)$`),
  new RegExp(`^what (?:have|has) (?:you|the cameras?) (?:seen|spotted|got) ${PREP} (.+?)$`),
  new RegExp(`^(?:is|are|was|were) there (?:anything|something|any things|anything at all|stuff|things|any items|items) ${PREP} (.+?)$`),
  new RegExp(`^(?:anything|something) ${PREP} (.+?)$`),
  new RegExp(`^(?:list|name|show me|tell me|give me) (?:everything|all the things|all the items|the things|the items|the stuff|things|items|stuff|what is|what you saw|what you see)(?: that is| that are| you saw| you see| left)? ${PREP} (.+?)$`),
  new RegExp(`^(?:everything|things|items|stuff) ${PREP} (.+?)$`),
  new RegExp(`^which (?:things|items|stuff|objects) (?:are|were|did you see|have you seen) ${PREP} (.+?)$`),
];

const HISTORY_FRAMES: Array<[RegExp, number, number]> = [
  // [pattern, item group, period group (0: none)]
  [new RegExp(`^where (?:all )?(?:has|have|had) (.+?) been(?: (?:to|at|in))?(?: ${PERIOD})?$`), 1, 2],
  [new RegExp(`^where (?:did|has|have) (.+?) (?:go|gone|been|travel|travelled|traveled|move|moved|wander|wandered|get to|got to) ${PERIOD}$`), 1, 2],
  [new RegExp(`^where (?:was|were|is) (.+?) ${PERIOD}$`), 1, 2],
  [new RegExp(`^(?:has|have|did) (.+?) (?:moved|been moved|move|moved around|gone anywhere|go anywhere|been anywhere)(?: ${PERIOD})?$`), 1, 2],
  [new RegExp(`^(?:show me |tell me |give me |what is |what are )?(?:the )?(?:history|movements|moves|whereabouts history|trail|timeline|journey) of (.+?)(?: ${PERIOD})?$`), 1, 2],
  [new RegExp(`^(?:(?:my|the|our) )?(\\w+(?: \\w+)?)'?s (?:history|movements|moves|timeline|trail|journey)(?: ${PERIOD})?$`), 1, 2],
  [new RegExp(`^(?:when and where|where and when) (?:did you|have you) (?:see|seen|saw) (.+?)(?: ${PERIOD})?$`), 1, 2],
  [new RegExp(`^(?:in )?which (?:rooms|places) (?:has|have|did) (.+?) (?:been|go|gone|been in|go to)(?: ${PERIOD})?$`), 1, 2],
];

const SHOW_FRAMES: RegExp[] = [
  /^(?:(?:can|could|would|will) you )?(?:show|display|bring up|pull up|open|put up) (?:me |us )?(?:a |the |your )?(?:latest |last |newest )?(?:picture|photo|photograph|snapshot|image|shot|pic|camera image|camera shot|frame) (?:of|with) (.+?)$/,
  /^(?:(?:can|could|would|will) you )?(?:show|display|bring up|pull up) (?:me |us )?(?:where )?((?:my|our|the|your) .+?)(?: is| are)?$/,
  /^(?:(?:can|could|would|will) you )?(?:show|display) (?:me|us) (.+?)$/,
  /^(?:let me|i want to|i would like to|can i|could i) (?:see|look at|have a look at|view) (?:a picture of |a photo of |the picture of |the snapshot of )?(.+?)$/,
];
/** things "show me ..." can be about that are not items */
const NOT_SHOWABLE = /^(?:the |a |an |some |your |my )?(?:weather|news|time|way|menu|settings|options|money|forecast|how|what|when|why|who|around|history|list|timeline|results|score|scores|answer|door|instructions|help)\b/;

const FOLLOW_UP =
  /^(?:(?:ok|okay|right|alright|and|so|oh|hmm) )*(?:and|and what about|and how about|what about|how about|also|plus|and also|and then|then|or|and the same for|same for|same question for|same for the) (.+?)(?: then| too| as well| also| please| again)*$/;
const FOLLOW_UP_PLACE = new RegExp(`^(?:(?:ok|okay|and|so) )*(?:and|what about|how about|and what about|and how about) ${PREP} (.+?)$`);
/** follow-ups that ask about nothing */
const NO_FOLLOW_UP = /^(?:then|so|you|yours|it|that|this|them|those|these|me|us|now|so on|more|again|what|why|how|when|where|who|yes|no|nothing|everything|else|anything else)$/;

/**
 * One of the next questions, or null so that parse.ts goes on with its own frames.
 * `tokens` is the normalised text before wrappers were removed; `stripWrappers` removes "hey", "could you tell
 * me" and the like; `clean` turns the raw item words into the item (as for "where is").
 */
export function parseNextQuestion(tokens: string, stripWrappers: (s: string) => string, clean: ItemCleaner): Intent | null {
  if (!tokens) return null;
  // follow-ups first, before "and" is stripped as a wrapper
  const fp = FOLLOW_UP_PLACE.exec(tokens);
  if (fp) {
    const place = cleanPlace(fp[2]);
    if (place) return { intent: 'follow_up', item: null, place };
  }
  const f = FOLLOW_UP.exec(tokens);
  if (f && !/^(?:where|when|what|which|how|is|are|have|has|did|do|can|could|show|i|we)\b/.test(f[1])) {
    const raw = f[1].trim();
    if (NO_FOLLOW_UP.test(raw)) return { intent: 'not_a_request', item: null };
    const { item, notRequest } = clean(raw);
    if (notRequest || !item) return { intent: 'not_a_request', item: null };
    return { intent: 'follow_up', item };
  }

  const s = stripWrappers(tokens);
  if (!s) return null;

  for (const re of PLACE_FRAMES) {
    const m = re.exec(s);
    if (!m) continue;
    const place = cleanPlace(m[2]);
    if (!place) return { intent: 'not_a_request', item: null };
    return { intent: 'place_items', item: null, place };
  }

  for (const [re, itemGroup, periodGroup] of HISTORY_FRAMES) {
    const m = re.exec(s);
    if (!m) continue;
    const { item, notRequest } = clean(m[itemGroup]);
    if (notRequest) return { intent: 'not_a_request', item: null };
    if (!item && /^where (?:has|have) (?:you|i|we) been/.test(s)) return { intent: 'not_a_request', item: null };
    const p = periodGroup ? m[periodGroup] : undefined;
    return { intent: 'item_history', item, period: p ? PERIODS[p] : 'today' };
  }

  // "show me where my cup is" is a show request around a "where" question
  const sw = /^(?:(?:please|hey|ok|okay) )*(?:(?:can|could|would|will) you )?show (?:me|us) where (.+?)(?: is| are)$/.exec(tokens);
  if (sw) {
    const { item, notRequest } = clean(sw[1]);
    if (!notRequest && item) return { intent: 'show_item', item };
  }
  for (const re of SHOW_FRAMES) {
    const m = re.exec(s);
    if (!m) continue;
    const raw = m[1].trim();
    if (NOT_SHOWABLE.test(raw) || /^(?:where|when|what|how|why|who)\b/.test(raw)) return null;
    const { item, notRequest } = clean(raw);
    if (notRequest) return { intent: 'not_a_request', item: null };
    return { intent: 'show_item', item };
  }
  return null;
}
