/** The wording of the new answers: zones first, dates for "when did you last see", histories, places, follow-ups. */
import { describe, expect, it } from 'vitest';
import { composeHistoryReply, composePlaceReply, composeReply, describeWhen, describeZone, groupStays } from '../dist/nlp/reply.js';
import { matchPlaces, placeKey, isDefaultPlaceLabel } from '../dist/nlp/places.js';
import { followUp, periodBounds } from '../dist/assistant/answer.js';

// Thursday 13 March 2025, 12:00 UTC
const NOW = Date.UTC(2025, 2, 13, 12, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const UTC = 'UTC';
const TABLE = { label: 'dining table', score: 0.8, box: { x: 0, y: 0.45, w: 0.6, h: 0.4 } };
const LAPTOP = { label: 'laptop', score: 0.9, box: { x: 0.21, y: 0.35, w: 0.2, h: 0.15 } };

function found(intent: string, s: Record<string, unknown>): string {
  return composeReply({
    outcome: 'found', intent, item: 'cup', label: 'cup', examples: [], now: NOW, timeZone: UTC,
    sighting: { seenAt: NOW - 4 * MIN, score: 0.9, box: { x: 0.1, y: 0.4, w: 0.1, h: 0.1 }, room: 'Kitchen', deviceName: 'kitchen cam', neighbours: [TABLE], zone: 'kitchen counter', ...s },
  } as never);
}

describe('answers that name the zone', () => {
  it('zone first, then the room', () => {
    expect(found('find_item', {})).toBe('Your cup was on the kitchen counter, in the kitchen, four minutes ago.');
    expect(found('last_seen', {})).toBe('I last saw your cup on the kitchen counter, in the kitchen, four minutes ago.');
    expect(found('find_item', { score: 0.3 })).toBe('I think I saw your cup on the kitchen counter, in the kitchen, four minutes ago.');
  });
  it('the supporting object when it adds something (next to), never left/right', () => {
    expect(found('find_item', { neighbours: [LAPTOP], zone: 'desk', room: 'study' })).toBe('Your cup was on the desk, next to the laptop, in the study, four minutes ago.');
    expect(found('find_item', { neighbours: [], zone: 'desk' })).not.toMatch(/picture/);
  });
  it('the room is not repeated when the zone says it; the camera when there is no room', () => {
    expect(found('find_item', { zone: 'Kitchen', room: 'kitchen' })).toBe('Your cup was in the Kitchen, four minutes ago.'.replace('the Kitchen', 'the kitchen'));
    expect(found('find_item', { room: null })).toBe('Your cup was on the kitchen counter, seen by the kitchen camera, four minutes ago.');
  });
  it('zone prepositions', () => {
    expect(describeZone('kitchen counter')).toBe('on the kitchen counter');
    expect(describeZone('sink')).toBe('in the sink');
    expect(describeZone('front door')).toBe('by the front door');
    expect(describeZone('shoe rack')).toBe('on the shoe rack');
    expect(describeZone('play corner')).toBe('in the play corner');
    expect(describeZone("Anna's desk")).toBe("on Anna's desk");
  });
});

describe('when did you last see it: the date when it was not today', () => {
  it.each([
    [NOW - 4 * MIN, 'four minutes ago'],
    [Date.UTC(2025, 2, 13, 8, 0), 'about four hours ago'],
    [Date.UTC(2025, 2, 13, 5, 0), 'today at 5 am'],
    [Date.UTC(2025, 2, 12, 18, 0), 'yesterday, 12 March, at 6 pm'],
    [Date.UTC(2025, 2, 10, 9, 5), 'on Monday 10 March at 9 oh 5 am'],
    [Date.UTC(2025, 0, 3, 18, 30), 'on 3 January at 6 30 pm'],
    [Date.UTC(2024, 11, 24, 7, 0), 'on 24 December 2024 at 7 am'],
  ])('%s', (at, text) => {
    expect(describeWhen(at, NOW, UTC)).toBe(text);
  });
});

describe('histories', () => {
  const row = (zoneName: string | null, room: string | null, at: number, first = at) => ({ zoneName, room, deviceName: 'cam', seenAt: at, firstSeenAt: first });
  it('groups consecutive sightings in one place and words the moves newest first', () => {
    const stays = groupStays([
      row('kitchen counter', 'kitchen', Date.UTC(2025, 2, 13, 11, 30)),
      row('kitchen counter', 'kitchen', Date.UTC(2025, 2, 13, 11, 0), Date.UTC(2025, 2, 13, 10, 45)),
      row(null, 'hall', Date.UTC(2025, 2, 13, 9, 0)),
      row('desk', 'study', Date.UTC(2025, 2, 13, 8, 15)),
    ]);
    expect(stays).toHaveLength(3);
    expect(stays[0].from).toBe(Date.UTC(2025, 2, 13, 10, 45));
    expect(composeHistoryReply({ item: 'cup', label: 'cup', period: 'today', stays, before: null, now: NOW, timeZone: UTC })).toBe(
      'Today your cup was on the kitchen counter, in the kitchen, at 11 30 am; before that in the hall at 9 am; before that on the desk, in the study, at 8 15 am.',
    );
  });
  it('one place, nothing in the period, never seen, many moves', () => {
    const one = groupStays([row('desk', 'study', NOW - HOUR)]);
    expect(composeHistoryReply({ item: 'keys', label: 'keys', period: 'today', stays: one, before: null, now: NOW, timeZone: UTC })).toBe(
      'Today your keys have only been on the desk, in the study, last seen at 11 am.',
    );
    expect(composeHistoryReply({ item: 'cup', label: 'cup', period: 'today', stays: [], before: { zone: null, room: 'hall', deviceName: 'c', seenAt: Date.UTC(2025, 2, 12, 18, 0) }, now: NOW, timeZone: UTC })).toBe(
      "I haven't seen your cup today. I last saw it in the hall, yesterday, 12 March, at 6 pm.",
    );
    expect(composeHistoryReply({ item: 'cup', label: 'cup', period: 'yesterday', stays: [], before: null, now: NOW, timeZone: UTC })).toBe("I haven't seen your cup yet.");
    const many = groupStays([1, 2, 3, 4, 5, 6].map((i) => row(null, i % 2 ? 'hall' : 'kitchen', NOW - i * HOUR)));
    expect(composeHistoryReply({ item: 'cup', label: 'cup', period: 'today', stays: many, before: null, now: NOW, timeZone: UTC })).toMatch(/; and two more places before that\.$/);
  });
  it('period bounds follow the local day', () => {
    const { since, until } = periodBounds('today', NOW, 'America/New_York');
    expect(since).toBe(Date.UTC(2025, 2, 13, 4, 0)); // midnight in New York (EDT)
    expect(until).toBeGreaterThan(NOW);
    const y = periodBounds('yesterday', NOW, UTC);
    expect([y.since, y.until]).toEqual([Date.UTC(2025, 2, 12), Date.UTC(2025, 2, 13)]);
  });
});

describe('places', () => {
  it('lists what is there, newest time, unknown places with the known ones', () => {
    expect(composePlaceReply({ place: 'desk', kind: 'zone', items: [{ label: 'cell phone', seenAt: NOW - 10 * MIN }, { label: 'laptop', seenAt: NOW - 20 * MIN }], known: [], now: NOW, timeZone: UTC })).toBe(
      'On the desk I last saw your phone and laptop, most recently ten minutes ago.',
    );
    expect(composePlaceReply({ place: 'Kitchen', kind: 'room', items: [], known: [], now: NOW, timeZone: UTC })).toBe("I haven't seen anything in the kitchen.");
    expect(composePlaceReply({ place: 'garage', kind: 'unknown', items: [], known: ['desk', 'kitchen'], now: NOW, timeZone: UTC })).toBe(
      "I don't know a place called the garage. I know the desk and the kitchen.",
    );
    const eight = ['cup', 'book', 'remote', 'laptop', 'bottle', 'scissors', 'vase', 'clock'].map((label, i) => ({ label, seenAt: NOW - i * MIN }));
    expect(composePlaceReply({ place: 'desk', kind: 'zone', items: eight, known: [], now: NOW, timeZone: UTC })).toMatch(/scissors and two more things, most recently/);
  });
  it('matches spoken places to zone and room names', () => {
    const places = ['Kitchen counter', 'desk', 'Kitchen', 'shoe racks'].map((name) => ({ name, value: name }));
    expect(matchPlaces('the kitchen', places).map((p) => p.name)).toEqual(['Kitchen']);
    expect(matchPlaces('counter', places).map((p) => p.name)).toEqual(['Kitchen counter']);
    expect(matchPlaces('my desk', places).map((p) => p.name)).toEqual(['desk']);
    expect(matchPlaces('shoe rack', places).map((p) => p.name)).toEqual(['shoe racks']);
    expect(matchPlaces('garage', places)).toEqual([]);
    expect(placeKey('The Kitchen-Counter')).toBe('kitchen counter');
  });
  it('furniture, fixtures and people are places by default; things are items', () => {
    for (const l of ['person', 'dining table', 'couch', 'bed', 'chair', 'bench', 'tv', 'refrigerator', 'oven', 'sink', 'toilet', 'office desk']) expect(isDefaultPlaceLabel(l), l).toBe(true);
    for (const l of ['cup', 'cell phone', 'laptop', 'cat', 'backpack', 'remote', 'table tennis bat']) expect(isDefaultPlaceLabel(l), l).toBe(false);
  });
});

describe('follow-ups', () => {
  const ctx = (lastIntent: string | null) => ({ lastItem: 'cup', lastLabel: 'cup', pending: null, at: NOW, lastIntent }) as never;
  it('ask the last question again about the new item or place', () => {
    expect(followUp({ intent: 'follow_up', item: 'phone' }, ctx('last_seen'))).toEqual({ intent: 'last_seen', item: 'phone' });
    expect(followUp({ intent: 'follow_up', item: 'phone' }, ctx('item_history'))).toEqual({ intent: 'item_history', item: 'phone', period: 'today' });
    expect(followUp({ intent: 'follow_up', item: 'phone' }, ctx(null))).toEqual({ intent: 'find_item', item: 'phone' });
    expect(followUp({ intent: 'follow_up', item: 'desk' }, ctx('place_items'))).toEqual({ intent: 'place_items', item: null, place: 'desk' });
    expect(followUp({ intent: 'follow_up', item: null, place: 'kitchen' }, ctx('find_item'))).toEqual({ intent: 'place_items', item: null, place: 'kitchen' });
    expect(followUp({ intent: 'find_item', item: 'cup' }, ctx('last_seen'))).toEqual({ intent: 'find_item', item: 'cup' });
  });
});
