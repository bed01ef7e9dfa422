/**
 * Lookup result -> one or two short spoken-style sentences. The text is read aloud by a speech synthesiser, so:
 * small numbers as words, times the way people say them ("yesterday at 6 pm", "6 oh 5 pm"), no symbols, no
 * abbreviations, no markdown. Pure: "now" and the time zone come in with the input.
 */
import type { Box, Detection } from '../store/types.js';
import { isPlural, plural } from './inflect.js';
import type { ReplyInput } from './types.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** below this score a sighting is worded as a guess ("I think I saw your cup ...") */
export const HEDGE_BELOW_SCORE = 0.5;
/** a sighting older than this is old ("... but that was three days ago, so it may have moved.") */
export const OLD_AFTER_MS = DAY;

// ---------------------------------------------------------------------------------------------------------------
// numbers and names

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven',
  'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** 4 -> "four", 42 -> "forty-two"; 100 and above stay digits (the synthesiser reads those fine) */
export function numberToWords(n: number): string {
  const i = Math.round(n);
  if (i < 0 || i >= 100) return String(i);
  if (i < 20) return ONES[i];
  const t = TENS[Math.floor(i / 10)];
  return i % 10 === 0 ? t : `${t}-${ONES[i % 10]}`;
}

/** how a label is said: "cell phone" -> "phone", "tv" -> "TV", "hair drier" -> "hair dryer" */
const SPOKEN_LABELS: Record<string, string> = {
  'cell phone': 'phone',
  tv: 'TV',
  tvmonitor: 'TV',
  'hair drier': 'hair dryer',
  'potted plant': 'plant',
  pottedplant: 'plant',
  'sports ball': 'ball',
  diningtable: 'dining table',
  person: 'person',
};

export function spokenLabel(label: string): string {
  const n = label.toLowerCase().replace(/[_\-]+/g, ' ').replace(/\s+/g, ' ').trim();
  return SPOKEN_LABELS[n] ?? fixCase(n);
}

/** "tv remote" -> "TV remote": words a synthesiser should spell out */
function fixCase(s: string): string {
  return s.replace(/\btv(s?)\b/g, 'TV$1').replace(/\bpc\b/g, 'PC');
}

function listing(words: string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

// ---------------------------------------------------------------------------------------------------------------
// time

interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: string;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October',
  'November', 'December'];

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    const opts: Intl.DateTimeFormatOptions = {
      year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'long',
      hourCycle: 'h23',
    };
    try {
      f = new Intl.DateTimeFormat('en-GB', { ...opts, timeZone });
    } catch {
      f = new Intl.DateTimeFormat('en-GB', { ...opts, timeZone: 'UTC' }); // unknown zone: say UTC times
    }
    if (formatters.size > 100) formatters.clear();
    formatters.set(timeZone, f);
  }
  return f;
}

function localTime(at: number, timeZone: string): LocalTime {
  const out: LocalTime = { year: 1970, month: 1, day: 1, hour: 0, minute: 0, weekday: '' };
  for (const p of formatter(timeZone).formatToParts(new Date(at))) {
    if (p.type === 'year') out.year = Number(p.value);
    else if (p.type === 'month') out.month = Number(p.value);
    else if (p.type === 'day') out.day = Number(p.value);
    else if (p.type === 'hour') out.hour = Number(p.value) % 24;
    else if (p.type === 'minute') out.minute = Number(p.value);
    else if (p.type === 'weekday') out.weekday = p.value;
  }
  return out;
}

/** "6 pm", "6 30 pm", "6 oh 5 pm", "midnight", "midday" */
export function describeClock(hour: number, minute: number): string {
  if (minute === 0 && hour === 0) return 'midnight';
  if (minute === 0 && hour === 12) return 'midday';
  const h12 = hour % 12 === 0 ? 12 : hour % 12;
  const period = hour < 12 ? 'am' : 'pm';
  if (minute === 0) return `${h12} ${period}`;
  return `${h12} ${minute < 10 ? `oh ${minute}` : minute} ${period}`;
}

function calendarDaysBetween(a: LocalTime, b: LocalTime): number {
  return Math.round((Date.UTC(b.year, b.month - 1, b.day) - Date.UTC(a.year, a.month - 1, a.day)) / DAY);
}

/**
 * When something was seen, as said aloud: "a few seconds ago", "about a minute ago", "four minutes ago",
 * "about two hours ago", "today at 8 am", "yesterday at 6 pm", "on Monday at 9 am", "on 3 March".
 */
export function describeAgo(seenAt: number, now: number, timeZone: string): string {
  const diff = now - seenAt;
  if (diff < 45 * SECOND) return 'a few seconds ago'; // includes small clock skew into the future
  if (diff < 90 * SECOND) return 'about a minute ago';
  if (diff < 45 * MINUTE) return `${numberToWords(Math.round(diff / MINUTE))} minutes ago`;
  if (diff < 90 * MINUTE) return 'about an hour ago';
  if (diff < 6 * HOUR) return `about ${numberToWords(Math.round(diff / HOUR))} hours ago`;
  const seen = localTime(seenAt, timeZone);
  const today = localTime(now, timeZone);
  const days = calendarDaysBetween(seen, today);
  const clock = describeClock(seen.hour, seen.minute);
  if (days <= 0) return `today at ${clock}`;
  if (days === 1) return `yesterday at ${clock}`;
  if (days < 7) return `on ${seen.weekday} at ${clock}`;
  const date = `${seen.day} ${MONTHS[seen.month - 1]}`;
  return seen.year === today.year ? `on ${date}` : `on ${date} ${seen.year}`;
}

/** the age of an old sighting, roughly: "over a day ago", "three days ago", "two weeks ago", "about two months ago" */
export function describeAge(ms: number): string {
  const days = Math.floor(ms / DAY);
  if (days < 2) return 'over a day ago';
  if (days < 14) return `${numberToWords(days)} days ago`;
  if (days < 60) return `${numberToWords(Math.floor(days / 7))} weeks ago`;
  if (days < 365) return `about ${numberToWords(Math.round(days / 30))} months ago`;
  const years = Math.floor(days / 365);
  return years === 1 ? 'over a year ago' : `over ${numberToWords(years)} years ago`;
}

// ---------------------------------------------------------------------------------------------------------------
// space

/**
 * Where the box is in the picture, by its centre: "on the left of the picture", "in the middle of the picture",
 * "at the top right of the picture", "at the bottom of the picture".
 */
export function describePosition(box: Box): string {
  const cx = box.x + box.w / 2;
  const cy = box.y + box.h / 2;
  const h = cx < 1 / 3 ? 'left' : cx > 2 / 3 ? 'right' : 'middle';
  const v = cy < 0.3 ? 'top' : cy > 0.7 ? 'bottom' : '';
  if (!v) return h === 'middle' ? 'in the middle of the picture' : `on the ${h} of the picture`;
  return h === 'middle' ? `at the ${v} of the picture` : `at the ${v} ${h} of the picture`;
}

/** things an item rests on (or in); matched on the label's last word so custom labels ("desk") work too */
const SUPPORTS: Record<string, 'on' | 'in'> = {
  table: 'on', desk: 'on', bed: 'on', couch: 'on', sofa: 'on', chair: 'on', bench: 'on', shelf: 'on',
  shelves: 'on', bookshelf: 'on', counter: 'on', worktop: 'on', countertop: 'on', cabinet: 'on', dresser: 'on',
  sideboard: 'on', stool: 'on', ottoman: 'on', nightstand: 'on', cupboard: 'on', drawers: 'on', windowsill: 'on',
  toilet: 'on', oven: 'on', microwave: 'on', refrigerator: 'on', suitcase: 'on',
  sink: 'in', bowl: 'in', basket: 'in', box: 'in', drawer: 'in', bin: 'in', tray: 'on',
};

function supportPreposition(label: string): 'on' | 'in' | null {
  const n = label.toLowerCase().replace(/[_\-]+/g, ' ').trim();
  const last = n.slice(n.lastIndexOf(' ') + 1);
  return SUPPORTS[n] ?? SUPPORTS[last] ?? null;
}

function isPerson(label: string): boolean {
  return /^(person|people|man|woman|child|human)$/.test(label.toLowerCase().trim());
}

function area(b: Box): number {
  return Math.max(0, b.w) * Math.max(0, b.h);
}

function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a.x + a.w, b.x + b.w) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.h, b.y + b.h) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** the shortest distance between two boxes (0 when they touch or overlap) */
function gap(a: Box, b: Box): number {
  const dx = Math.max(0, b.x - (a.x + a.w), a.x - (b.x + b.w));
  const dy = Math.max(0, b.y - (a.y + a.h), a.y - (b.y + b.h));
  return Math.hypot(dx, dy);
}

function centreDistance(a: Box, b: Box): number {
  return Math.hypot(a.x + a.w / 2 - (b.x + b.w / 2), a.y + a.h / 2 - (b.y + b.h / 2));
}

export interface Relation {
  /** "on", "in" or "next to" */
  preposition: 'on' | 'in' | 'next to';
  /** the neighbour's label */
  label: string;
  /** the phrase: "on the dining table", "next to the laptop", "next to a chair" */
  phrase: string;
}

/**
 * What the item was on or next to, from the other detections of the same frame: "on the dining table" when the
 * bottom of the item's box lies within a supporting neighbour (the smallest such), otherwise "next to ..." the
 * nearest neighbour that overlaps or nearly touches it. Never the item itself (same label, or a box that is
 * practically the same box), and a person only when nothing else is near.
 */
export function describeRelation(box: Box, label: string | null, neighbours: readonly Detection[]): Relation | null {
  const self = (label ?? '').toLowerCase();
  const others = neighbours.filter(
    (n) => n.score >= 0.25 && n.label.toLowerCase() !== self && area(n.box) > 0 && iou(n.box, box) < 0.85,
  );
  if (others.length === 0) return null;
  const count = (l: string): number => others.filter((o) => o.label === l).length;
  const named = (prep: Relation['preposition'], n: Detection): Relation => {
    const article = isPerson(n.label) ? '' : count(n.label) > 1 ? 'a ' : 'the ';
    const name = isPerson(n.label) ? 'someone' : spokenLabel(n.label);
    return { preposition: prep, label: n.label, phrase: `${prep} ${article}${name}` };
  };

  // on / in: the bottom centre of the item inside a support that is not smaller than the item
  const tol = 0.02;
  const bx = box.x + box.w / 2;
  const by = box.y + box.h;
  let support: Detection | null = null;
  for (const n of others) {
    if (supportPreposition(n.label) === null) continue;
    const b = n.box;
    const inside = bx >= b.x - tol && bx <= b.x + b.w + tol && by >= b.y - tol && by <= b.y + b.h + tol;
    if (!inside || area(box) > area(b) * 1.2) continue;
    if (support === null || area(b) < area(support.box)) support = n;
  }
  if (support !== null) return named(supportPreposition(support.label) ?? 'on', support);

  // next to: the nearest neighbour that overlaps or nearly touches, objects before people
  const reach = Math.min(0.15, Math.max(0.03, 0.5 * Math.max(box.w, box.h)));
  const near = others
    .filter((n) => gap(box, n.box) <= reach)
    .sort((a, b) => gap(box, a.box) - gap(box, b.box) || centreDistance(box, a.box) - centreDistance(box, b.box));
  const best = near.find((n) => !isPerson(n.label)) ?? near[0];
  return best ? named('next to', best) : null;
}

// ---------------------------------------------------------------------------------------------------------------
// places

const NO_ARTICLE = /^(?:the|my|our|a|an|his|her|their|your)\b|'s\b|s'(?:\s|$)/;
const BARE_PLACES = new Set(['upstairs', 'downstairs', 'outside', 'outdoors', 'indoors', 'home', 'inside']);
const ON_PLACES = /\b(?:landing|porch|balcony|patio|stairs|staircase|deck|terrace|veranda|verandah|driveway|drive)$/;
const BY_PLACES = /\b(?:front door|back door|door|entrance|gate)$/;

function tidyName(name: string): string {
  return name
    .replace(/[_]+|(?<=\w)-(?=\w)/g, ' ')
    .replace(/[^\p{L}\p{N}' ]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .split(' ')
    .map((w) => (/'s$|s'$/.test(w) || /[A-Z].*[A-Z]/.test(w) ? w : w.toLowerCase()))
    .join(' ');
}

/** "Kitchen" -> "in the kitchen", "Anna's room" -> "in Anna's room", "landing" -> "on the landing" */
export function describeRoom(room: string): string {
  const r = fixCase(tidyName(room));
  if (BARE_PLACES.has(r)) return r;
  const article = NO_ARTICLE.test(r) ? '' : 'the ';
  const prep = ON_PLACES.test(r) ? 'on' : BY_PLACES.test(r) ? 'by' : 'in';
  return `${prep} ${article}${r}`;
}

/** "hallway" -> "the hallway camera", "kitchen-cam" -> "the kitchen camera", "Camera 2" -> "camera 2" */
export function describeCamera(deviceName: string): string {
  let d = tidyName(deviceName).replace(/\b(?:cam|webcam)\b/g, 'camera');
  if (!d) return 'one of the cameras';
  if (!/\bcamera\b/.test(d)) d = `${d} camera`;
  // "camera 2" is a name; "hallway camera" is a description
  return NO_ARTICLE.test(d) || /^camera\b/.test(d) ? d : `the ${d}`;
}

// ---------------------------------------------------------------------------------------------------------------

function itemName(r: ReplyInput): string {
  const said = r.item?.trim();
  // the label's own words say it the label's spoken way ("hair drier" -> "hair dryer", "cell phone" -> "phone"):
  // the same words every reply about that item uses, whose first audio is prepared (assistant/openings.ts)
  if (said && r.label && said.toLowerCase() === r.label.toLowerCase()) return spokenLabel(r.label);
  if (said) return fixCase(said.toLowerCase());
  if (r.label) return spokenLabel(r.label);
  return 'thing';
}

function exampleSuggestion(examples: readonly string[], index: number, fallback: string): string {
  const label = examples[index] ?? examples[0];
  const name = label ? spokenLabel(label) : fallback;
  return `where ${isPlural(name.toLowerCase()) ? 'are' : 'is'} my ${name}?`;
}

function foundReply(r: ReplyInput, s: NonNullable<ReplyInput['sighting']>): string {
  const item = itemName(r);
  const were = isPlural(item.toLowerCase()) ? 'were' : 'was';
  const hedge = s.score < HEDGE_BELOW_SCORE;
  const old = r.now - s.seenAt > OLD_AFTER_MS;
  // "when did you last see it": with the date when it was not today
  const when = r.intent === 'last_seen' ? describeWhen(s.seenAt, r.now, r.timeZone) : describeAgo(s.seenAt, r.now, r.timeZone);
  const relation = describeRelation(s.box, r.label, s.neighbours ?? []);
  const zone = s.zone && s.zone.trim() ? s.zone.trim() : null;
  const room0 = s.room && s.room.trim() ? s.room : null;
  const camera = describeCamera(s.deviceName ?? '');
  const tail = old ? `, but that was ${describeAge(r.now - s.seenAt)}, so it may have moved.` : '.';
  const sp = (x: string | null): string => (x ? ` ${x}` : '');

  if (zone) {
    // the zone first ("on the kitchen counter"), then what it stood next to, then the room unless the zone
    // already says it; never left/right: the zone is the better answer
    const room = room0 && placeWords(room0) !== placeWords(zone) ? describeRoom(room0) : null;
    const next = relation && relation.preposition === 'next to' && !isPerson(relation.label) ? relation.phrase : null;
    const where = [describeZone(zone), next, room ?? (room0 ? null : `seen by ${camera}`)].filter((x): x is string => !!x).join(', ');
    if (r.intent === 'last_seen') return `${hedge ? 'I think I last saw' : 'I last saw'} your ${item} ${where}, ${when}${tail}`;
    return `${hedge ? `I think I saw your ${item}` : `Your ${item} ${were}`} ${where}, ${when}${tail}`;
  }

  const rel = relation?.phrase ?? null;
  // where in the picture helps when there is no object to relate the item to; not for old sightings
  const pos = old || (relation && !isPerson(relation.label)) ? null : describePosition(s.box);
  const room = room0 ? describeRoom(room0) : null;

  if (r.intent === 'last_seen') {
    const lead = hedge ? `I think I last saw your ${item}` : `I last saw your ${item}`;
    const where = room ?? `through ${camera}`;
    const detail = [rel, pos].filter((x): x is string => !!x).join(' ');
    return `${lead} ${where}${old ? ' ' : ', '}${when}${detail ? `, ${detail}` : ''}${tail}`;
  }
  if (room) {
    const lead = hedge ? `I think I saw your ${item}` : `Your ${item} ${were}`;
    const at = old ? ` ${when}` : `${pos ? `, ${pos}` : ''}, ${when}`;
    return `${lead}${sp(rel)} ${room}${at}${tail}`;
  }
  const detail = [rel, pos].filter((x): x is string => !!x).join(' ');
  if (hedge) return `I think ${camera} saw your ${item}${sp(detail)}, ${when}${tail}`;
  return `Your ${item} ${were}${detail ? ` ${detail},` : ''} seen by ${camera} ${when}${tail}`;
}

// ---------------------------------------------------------------------------------------------------------------
// asking back (nlp/hearing.ts decides when)

/** an article for "what a thermos is" / "what an abacus is" / "what scissors are" */
function whatItIs(item: string): string {
  const w = fixCase(item.trim().toLowerCase());
  if (isPlural(w)) return `what ${w} are`;
  return `what ${/^[aeiou]/.test(w) ? 'an' : 'a'} ${w} is`;
}

function clarifyingReply(r: ReplyInput): string {
  switch (r.outcome) {
    case 'not_heard':
      return "Sorry, I didn't catch that.";
    case 'clarify':
      if (r.label) return `Did you mean your ${r.item?.trim() ? fixCase(r.item.trim().toLowerCase()) : spokenLabel(r.label)}?`;
      return 'Sorry, which thing are you looking for?';
    case 'unknown_item':
      if (r.item?.trim()) return `I don't know ${whatItIs(r.item)}. Which thing are you looking for?`;
      return "Sorry, I can't recognise that. Which thing are you looking for?";
    default:
      return 'Okay, never mind.';
  }
}

/** The spoken answer for a lookup outcome. One or two short sentences. */
export function composeReply(r: ReplyInput): string {
  switch (r.outcome) {
    case 'found':
      if (r.sighting) return foundReply(r, r.sighting);
      return `I haven't seen your ${itemName(r)} yet.`;
    case 'never_seen':
      return `I haven't seen your ${itemName(r)} yet.`;
    case 'not_detectable': {
      const what = r.item?.trim() ? fixCase(plural(r.item.trim().toLowerCase())) : 'that';
      const ex = r.examples.slice(0, 3).map((l) => fixCase(plural(spokenLabel(l).toLowerCase())));
      // "Sorry," first: a prepared opening every reply shares, so the answer starts at once (the item's name
      // would make the first piece one nobody prepared: these items are never seen)
      const first = `Sorry, I can't recognise ${what} with the camera model I have.`;
      return ex.length > 0 ? `${first} I can find things like ${listing(ex)}.` : first;
    }
    case 'no_item':
      return `What are you looking for? Try: ${exampleSuggestion(r.examples, 1, 'phone')}`;
    case 'not_heard':
    case 'clarify':
    case 'unknown_item':
    case 'cancelled':
      return clarifyingReply(r);
    case 'not_understood':
    default:
      return `I can help you find things. Try asking: ${exampleSuggestion(r.examples, 0, 'cup')}`;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// zones, dates and the questions that come next ("what's on the desk?", "where has my cup been today?")

/** a place name as compared: lower case, no articles, single spaces */
function placeWords(name: string): string {
  return tidyName(name).toLowerCase().replace(/^(?:the|my|our) /, '');
}

const ZONE_IN = /\b(?:sink|bowl|basket|box|drawer|drawers|bin|tray|cupboard|wardrobe|cabinet|closet|corner|area|room|hall|hallway|kitchen|garage|cot|crib|pen|bag|fridge|oven|microwave)$/;
const ZONE_BY = /\b(?:door|front door|back door|entrance|gate|window|bed side|bedside|fireplace)$/;

/** "kitchen counter" -> "on the kitchen counter", "sink" -> "in the sink", "front door" -> "by the front door" */
export function describeZone(name: string): string {
  const z = fixCase(tidyName(name));
  if (BARE_PLACES.has(z.toLowerCase())) return z.toLowerCase();
  const article = NO_ARTICLE.test(z) ? '' : 'the ';
  const lower = z.toLowerCase();
  const prep = ZONE_BY.test(lower) ? 'by' : ZONE_IN.test(lower) ? 'in' : ON_PLACES.test(lower) ? 'on' : supportPreposition(lower) ?? 'on';
  return `${prep} ${article}${z}`;
}

/**
 * When, for "when did you last see it?": relative within a few hours ("four minutes ago", "today at 8 am"),
 * otherwise with the date: "yesterday, 12 March, at 6 pm", "on Monday 10 March at 9 am", "on 3 January 2024 at 6 pm".
 */
export function describeWhen(seenAt: number, now: number, timeZone: string): string {
  const seen = localTime(seenAt, timeZone);
  const today = localTime(now, timeZone);
  const days = calendarDaysBetween(seen, today);
  if (now - seenAt < 6 * HOUR || days <= 0) return describeAgo(seenAt, now, timeZone);
  const clock = describeClock(seen.hour, seen.minute);
  const date = `${seen.day} ${MONTHS[seen.month - 1]}${seen.year === today.year ? '' : ` ${seen.year}`}`;
  if (days === 1) return `yesterday, ${date}, at ${clock}`;
  if (days < 7) return `on ${seen.weekday} ${date} at ${clock}`;
  return `on ${date} at ${clock}`;
}

/** where one sighting was, for lists: "on the kitchen counter, in the kitchen", "in the hall", "by the hallway camera" */
export function describeStayPlace(p: { zone: string | null; room: string | null; deviceName: string }): string {
  const zone = p.zone && p.zone.trim() ? p.zone : null;
  const room = p.room && p.room.trim() ? p.room : null;
  if (zone) return room && placeWords(room) !== placeWords(zone) ? `${describeZone(zone)}, ${describeRoom(room)},` : describeZone(zone);
  if (room) return describeRoom(room);
  return `by ${describeCamera(p.deviceName)}`;
}

export interface Stay {
  zone: string | null;
  room: string | null;
  deviceName: string;
  /** the first and last time it was seen there (epoch ms) */
  from: number;
  to: number;
}

/** sightings (newest first) -> stays (newest first): consecutive sightings in the same zone/room are one stay */
export function groupStays(rows: ReadonlyArray<{ zoneName: string | null; room: string | null; deviceName: string; seenAt: number; firstSeenAt: number }>): Stay[] {
  const out: Stay[] = [];
  const key = (z: string | null, r: string | null, d: string) => `${z ? placeWords(z) : ''}\u0000${r ? placeWords(r) : `\u0001${d}`}`;
  for (const s of rows) {
    const last = out[out.length - 1];
    if (last && key(last.zone, last.room, last.deviceName) === key(s.zoneName, s.room, s.deviceName)) {
      last.from = Math.min(last.from, s.firstSeenAt, s.seenAt);
      last.to = Math.max(last.to, s.seenAt);
    } else out.push({ zone: s.zoneName, room: s.room, deviceName: s.deviceName, from: Math.min(s.firstSeenAt, s.seenAt), to: s.seenAt });
  }
  return out;
}

export interface HistoryReplyInput {
  item: string | null;
  label: string | null;
  period: 'today' | 'yesterday' | 'week';
  /** the stays within the period, newest first */
  stays: Stay[];
  /** the newest sighting before the period, when there is none in it */
  before: { zone: string | null; room: string | null; deviceName: string; seenAt: number } | null;
  now: number;
  timeZone: string;
}

const PERIOD_WORDS: Record<HistoryReplyInput['period'], [string, string]> = {
  today: ['Today', 'today'],
  yesterday: ['Yesterday', 'yesterday'],
  week: ['This week', 'this week'],
};
const MOST_STAYS = 4;

/** "Today your cup was in the kitchen at 2 pm; before that in the hall at 9 am." */
export function composeHistoryReply(h: HistoryReplyInput): string {
  const item = itemName({ item: h.item, label: h.label } as ReplyInput);
  const [Period, period] = PERIOD_WORDS[h.period];
  const at = (t: number): string => {
    if (h.period === 'week') return describeAgo(t, h.now, h.timeZone).replace(/^today /, '');
    const l = localTime(t, h.timeZone);
    return `at ${describeClock(l.hour, l.minute)}`;
  };
  if (h.stays.length === 0) {
    if (!h.before) return `I haven't seen your ${item} yet.`;
    const it = isPlural(item.toLowerCase()) ? 'them' : 'it';
    return `I haven't seen your ${item} ${period}. I last saw ${it} ${describeStayPlace(h.before).replace(/,$/, '')}, ${describeWhen(h.before.seenAt, h.now, h.timeZone)}.`;
  }
  const were = isPlural(item.toLowerCase()) ? 'were' : 'was';
  if (h.stays.length === 1) {
    const s = h.stays[0];
    const has = h.period === 'yesterday' ? `${were} only` : isPlural(item.toLowerCase()) ? 'have only been' : 'has only been';
    return `${Period} your ${item} ${has} ${describeStayPlace(s).replace(/,$/, '')}, last seen ${at(s.to)}.`;
  }
  const parts = h.stays.slice(0, MOST_STAYS).map((s) => `${describeStayPlace(s)} ${at(s.to)}`);
  const more = h.stays.length - MOST_STAYS;
  const tail = more > 0 ? `; and ${numberToWords(more)} more ${more === 1 ? 'place' : 'places'} before that` : '';
  return `${Period} your ${item} ${were} ${parts[0]}; before that ${parts.slice(1).join('; before that ')}${tail}.`;
}

export interface PlaceReplyInput {
  /** the place as said ("the desk") when it is not known; its name when it is */
  place: string;
  kind: 'zone' | 'room' | 'unknown';
  /** items whose latest sighting is there, newest first (places already left out) */
  items: Array<{ label: string; seenAt: number }>;
  /** the user's place names, for "I know the desk, the kitchen counter and the kitchen" */
  known: string[];
  now: number;
  timeZone: string;
}

const MOST_ITEMS = 6;

/** "On the desk I last saw your cup and phone, most recently four minutes ago." */
export function composePlaceReply(p: PlaceReplyInput): string {
  if (p.kind === 'unknown') {
    const said = tidyName(p.place).toLowerCase();
    const known = p.known.slice(0, 6).map((k) => `the ${tidyName(k).toLowerCase().replace(/^the /, '')}`);
    const first = `I don't know a place called the ${said.replace(/^the /, '')}.`;
    return known.length
      ? `${first} I know ${listing(known)}.`
      : `${first} You can draw zones like "desk" or "kitchen counter" on a camera's picture on the Devices page.`;
  }
  const where = p.kind === 'zone' ? describeZone(p.place) : describeRoom(p.place);
  const Where = where.charAt(0).toUpperCase() + where.slice(1);
  if (p.items.length === 0) return `I haven't seen anything ${where}.`;
  const names = p.items.slice(0, MOST_ITEMS).map((i) => spokenLabel(i.label));
  const more = p.items.length - MOST_ITEMS;
  if (more > 0) names.push(`${numberToWords(more)} more ${more === 1 ? 'thing' : 'things'}`);
  const newest = Math.max(...p.items.map((i) => i.seenAt));
  const recency = p.items.length > 1 ? `, most recently ${describeAgo(newest, p.now, p.timeZone)}` : `, ${describeAgo(newest, p.now, p.timeZone)}`;
  return `${Where} I last saw your ${listing(names)}${recency}.`;
}

// ---------------------------------------------------------------------------------------------------------------
// the openings a speech synthesiser can prepare ahead (assistant/openings.ts)

/**
 * Replies in this module's own wording about `item` (the name as it would be spoken), one for each way a reply
 * can start: found (plain, hedged, when it was last seen), not seen yet, asking back, not heard, not
 * understood. A synthesiser that prepares the first words of these (Piper's openings) has the start of most
 * real replies ready before their text exists. The places and times in them are placeholders: only how a
 * reply starts matters.
 */
export function sampleReplies(item: string, opts: { now: number; timeZone: string; examples?: readonly string[] }): string[] {
  const base = { item, label: item, examples: [...(opts.examples ?? [])], now: opts.now, timeZone: opts.timeZone };
  const sighting = (score: number, room: string | null, zone: string | null) => ({
    seenAt: opts.now - 4 * 60_000,
    score,
    box: { x: 0.1, y: 0.4, w: 0.1, h: 0.1 },
    room,
    zone,
    deviceName: 'kitchen',
    neighbours: [],
  });
  const out = new Set<string>();
  for (const intent of ['find_item', 'last_seen'] as const)
    for (const score of [0.9, 0.3])
      for (const [room, zone] of [
        ['kitchen', 'counter'],
        ['kitchen', null],
        [null, null],
      ] as const)
        out.add(composeReply({ ...base, outcome: 'found', intent, sighting: sighting(score, room, zone) }));
  for (const outcome of ['never_seen', 'clarify', 'not_heard', 'unknown_item', 'no_item', 'not_understood', 'cancelled'] as const)
    out.add(composeReply({ ...base, outcome, intent: 'find_item', item: outcome === 'unknown_item' ? null : item }));
  return [...out];
}
