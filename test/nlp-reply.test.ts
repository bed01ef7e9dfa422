import { describe, expect, it } from 'vitest';
import {
  composeReply, describeAgo, describePosition, describeRelation, describeRoom, describeCamera, numberToWords,
} from '../dist/nlp/reply.js';

// Thursday 13 March 2025, 12:00 UTC (London is on GMT then; New York already on EDT, UTC-4)
const NOW = Date.UTC(2025, 2, 13, 12, 0, 0);
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const LONDON = 'Europe/London';

const TABLE = { label: 'dining table', score: 0.8, box: { x: 0, y: 0.45, w: 0.6, h: 0.4 } };
const CUP_BOX = { x: 0.1, y: 0.4, w: 0.1, h: 0.1 }; // bottom edge (0.5) inside the table

type Sighting = {
  seenAt: number; score: number; box: { x: number; y: number; w: number; h: number };
  room: string | null; deviceName: string; neighbours: Array<{ label: string; score: number; box: { x: number; y: number; w: number; h: number } }>;
};

function sighting(o: Partial<Sighting> = {}): Sighting {
  return { seenAt: NOW - 4 * MIN, score: 0.9, box: CUP_BOX, room: 'Kitchen', deviceName: 'kitchen-cam', neighbours: [TABLE], ...o };
}

function found(o: Record<string, unknown> = {}, s: Partial<Sighting> = {}): string {
  return composeReply({
    outcome: 'found', intent: 'find_item', item: 'cup', label: 'cup', sighting: sighting(s),
    examples: ['cup', 'cell phone', 'laptop'], now: NOW, timeZone: LONDON, ...o,
  } as never);
}

function other(outcome: string, o: Record<string, unknown> = {}): string {
  return composeReply({
    outcome, intent: 'find_item', item: null, label: null, examples: ['cup', 'cell phone', 'laptop', 'book'],
    now: NOW, timeZone: LONDON, ...o,
  } as never);
}

describe('composeReply: found', () => {
  it('room, support and how long ago', () => {
    expect(found()).toBe('Your cup was on the dining table in the kitchen, four minutes ago.');
  });

  it('echoes the word the person used', () => {
    expect(found({ item: 'mug' })).toBe('Your mug was on the dining table in the kitchen, four minutes ago.');
    expect(found({ item: 'tv remote', label: 'remote' })).toBe('Your TV remote was on the dining table in the kitchen, four minutes ago.');
    expect(found({ item: null })).toBe('Your cup was on the dining table in the kitchen, four minutes ago.');
    expect(found({ item: null, label: 'cell phone' })).toBe('Your phone was on the dining table in the kitchen, four minutes ago.');
    // the label's own words are said the label's spoken way: the wording whose first audio is prepared
    expect(found({ item: 'hair drier', label: 'hair drier' })).toBe('Your hair dryer was on the dining table in the kitchen, four minutes ago.');
    expect(found({ item: 'cell phone', label: 'cell phone' })).toBe('Your phone was on the dining table in the kitchen, four minutes ago.');
    expect(found({ item: 'mobile phone', label: 'cell phone' })).toBe('Your mobile phone was on the dining table in the kitchen, four minutes ago.');
  });

  it('plural agreement', () => {
    expect(found({ item: 'keys', label: 'keys' })).toBe('Your keys were on the dining table in the kitchen, four minutes ago.');
    expect(found({ item: 'scissors', label: 'scissors' })).toBe('Your scissors were on the dining table in the kitchen, four minutes ago.');
    expect(found({ item: 'glasses', label: 'glasses' }, { neighbours: [] })).toBe(
      'Your glasses were in the kitchen, on the left of the picture, four minutes ago.',
    );
  });

  it('where in the picture when nothing is near', () => {
    expect(found({}, { neighbours: [] })).toBe('Your cup was in the kitchen, on the left of the picture, four minutes ago.');
    expect(found({}, { neighbours: [], box: { x: 0.45, y: 0.8, w: 0.1, h: 0.1 } })).toBe(
      'Your cup was in the kitchen, at the bottom of the picture, four minutes ago.',
    );
  });

  it('camera name when there is no room', () => {
    expect(found({}, { room: null, deviceName: 'hallway' })).toBe('Your cup was on the dining table, seen by the hallway camera four minutes ago.');
    expect(found({}, { room: null, deviceName: 'Hallway', neighbours: [] })).toBe(
      'Your cup was on the left of the picture, seen by the hallway camera four minutes ago.',
    );
    expect(found({}, { room: '  ', deviceName: 'front-door-cam' })).toBe(
      'Your cup was on the dining table, seen by the front door camera four minutes ago.',
    );
  });

  it('room wording', () => {
    expect(found({}, { room: 'living room' })).toBe('Your cup was on the dining table in the living room, four minutes ago.');
    expect(found({}, { room: "Anna's Room" })).toBe("Your cup was on the dining table in Anna's room, four minutes ago.");
    expect(found({}, { room: 'landing', neighbours: [] })).toBe('Your cup was on the landing, on the left of the picture, four minutes ago.');
    expect(found({}, { room: 'upstairs', neighbours: [] })).toBe('Your cup was upstairs, on the left of the picture, four minutes ago.');
  });

  it('hedges a low score', () => {
    expect(found({}, { score: 0.3 })).toBe('I think I saw your cup on the dining table in the kitchen, four minutes ago.');
    expect(found({}, { score: 0.3, room: null, deviceName: 'hallway' })).toBe(
      'I think the hallway camera saw your cup on the dining table, four minutes ago.',
    );
    expect(found({}, { score: 0.5 })).toBe('Your cup was on the dining table in the kitchen, four minutes ago.');
  });

  it('says plainly when the sighting is old', () => {
    const monday9 = Date.UTC(2025, 2, 10, 9, 0, 0);
    expect(found({}, { seenAt: monday9 })).toBe(
      'Your cup was on the dining table in the kitchen on Monday at 9 am, but that was three days ago, so it may have moved.',
    );
    expect(found({}, { seenAt: monday9, room: null, deviceName: 'hallway', neighbours: [] })).toBe(
      'Your cup was seen by the hallway camera on Monday at 9 am, but that was three days ago, so it may have moved.',
    );
    expect(found({ item: 'keys', label: 'keys' }, { seenAt: NOW - 25 * HOUR })).toBe(
      'Your keys were on the dining table in the kitchen yesterday at 11 am, but that was over a day ago, so it may have moved.',
    );
    expect(found({}, { seenAt: Date.UTC(2025, 0, 3, 18, 0, 0) })).toBe(
      'Your cup was on the dining table in the kitchen on 3 January, but that was about two months ago, so it may have moved.',
    );
    // 23 hours is not old yet
    expect(found({}, { seenAt: NOW - 23 * HOUR })).toBe('Your cup was on the dining table in the kitchen, yesterday at 1 pm.');
  });

  it('last_seen wording', () => {
    expect(found({ intent: 'last_seen' })).toBe('I last saw your cup in the kitchen, four minutes ago, on the dining table.');
    expect(found({ intent: 'last_seen' }, { neighbours: [] })).toBe(
      'I last saw your cup in the kitchen, four minutes ago, on the left of the picture.',
    );
    expect(found({ intent: 'last_seen' }, { room: null, deviceName: 'Camera 2' })).toBe(
      'I last saw your cup through camera 2, four minutes ago, on the dining table.',
    );
    expect(found({ intent: 'last_seen' }, { score: 0.2 })).toBe(
      'I think I last saw your cup in the kitchen, four minutes ago, on the dining table.',
    );
    expect(found({ intent: 'last_seen' }, { seenAt: Date.UTC(2025, 2, 10, 9, 0, 0) })).toBe(
      'I last saw your cup in the kitchen on Monday 10 March at 9 am, on the dining table, but that was three days ago, so it may have moved.',
    );
  });

  it('next to the nearest object, not itself, and a person only as a last resort', () => {
    const phone = { x: 0.8, y: 0.1, w: 0.1, h: 0.1 };
    const laptop = { label: 'laptop', score: 0.9, box: { x: 0.6, y: 0.05, w: 0.19, h: 0.2 } };
    const person = { label: 'person', score: 0.95, box: { x: 0.7, y: 0, w: 0.3, h: 1 } };
    const otherPhone = { label: 'cell phone', score: 0.9, box: { x: 0.78, y: 0.1, w: 0.1, h: 0.1 } };
    expect(found({ item: 'phone', label: 'cell phone' }, { box: phone, neighbours: [person, otherPhone, laptop] })).toBe(
      'Your phone was next to the laptop in the kitchen, four minutes ago.',
    );
    expect(found({ item: 'phone', label: 'cell phone' }, { box: phone, neighbours: [person, otherPhone] })).toBe(
      'Your phone was next to someone in the kitchen, at the top right of the picture, four minutes ago.',
    );
  });

  it('falls back to never seen when the sighting is missing', () => {
    expect(found({ sighting: undefined })).toBe("I haven't seen your cup yet.");
  });
});

describe('composeReply: other outcomes', () => {
  it('never_seen', () => {
    expect(other('never_seen', { item: 'umbrella', label: 'umbrella' })).toBe("I haven't seen your umbrella yet.");
    expect(other('never_seen', { item: 'brolly', label: 'umbrella', intent: 'last_seen' })).toBe("I haven't seen your brolly yet.");
    expect(other('never_seen', { item: null, label: 'cell phone' })).toBe("I haven't seen your phone yet.");
  });

  it('not_detectable', () => {
    expect(other('not_detectable', { item: 'keys' })).toBe(
      "Sorry, I can't recognise keys with the camera model I have. I can find things like cups, phones and laptops.",
    );
    expect(other('not_detectable', { item: 'wallet' })).toBe(
      "Sorry, I can't recognise wallets with the camera model I have. I can find things like cups, phones and laptops.",
    );
    expect(other('not_detectable', { item: 'glasses', examples: ['tv'] })).toBe(
      "Sorry, I can't recognise glasses with the camera model I have. I can find things like TVs.",
    );
    expect(other('not_detectable', { item: null, examples: [] })).toBe("Sorry, I can't recognise that with the camera model I have.");
  });

  it('not_understood', () => {
    expect(other('not_understood')).toBe('I can help you find things. Try asking: where is my cup?');
    expect(other('not_understood', { examples: ['keys', 'wallet'] })).toBe('I can help you find things. Try asking: where are my keys?');
    expect(other('not_understood', { examples: [] })).toBe('I can help you find things. Try asking: where is my cup?');
  });

  it('no_item', () => {
    expect(other('no_item')).toBe('What are you looking for? Try: where is my phone?');
    expect(other('no_item', { examples: ['keys', 'wallet'] })).toBe('What are you looking for? Try: where is my wallet?');
  });

  it('every reply is short, plain spoken text', () => {
    const replies = [
      found(), found({}, { score: 0.1, room: null }), found({ intent: 'last_seen' }, { seenAt: NOW - 9 * DAY }),
      other('never_seen', { item: 'cup' }), other('not_detectable', { item: 'keys' }), other('not_understood'), other('no_item'),
    ];
    for (const r of replies) {
      expect(r).toMatch(/^[A-Z][A-Za-z0-9 ,.'?:-]+[.?]$/);
      expect(r).not.toMatch(/[*_#`<>[\]{}|\\/%&@$]/);
      expect((r.match(/[.?!](\s|$)/g) ?? []).length).toBeLessThanOrEqual(2);
      expect(r.length).toBeLessThan(160);
    }
  });
});

describe('describeAgo', () => {
  it.each([
    [0, 'a few seconds ago'],
    [-5_000, 'a few seconds ago'],
    [20_000, 'a few seconds ago'],
    [60_000, 'about a minute ago'],
    [2 * MIN, 'two minutes ago'],
    [12 * MIN, 'twelve minutes ago'],
    [21 * MIN, 'twenty-one minutes ago'],
    [44 * MIN, 'forty-four minutes ago'],
    [50 * MIN, 'about an hour ago'],
    [2 * HOUR, 'about two hours ago'],
    [5 * HOUR + 10 * MIN, 'about five hours ago'],
    [7 * HOUR, 'today at 5 am'],
    [18 * HOUR, 'yesterday at 6 pm'],
    [17 * HOUR + 55 * MIN, 'yesterday at 6 oh 5 pm'],
    [17 * HOUR + 30 * MIN, 'yesterday at 6 30 pm'],
    [36 * HOUR, 'yesterday at midnight'],
    [72 * HOUR, 'on Monday at midday'],
    [75 * HOUR, 'on Monday at 9 am'],
    [10 * DAY, 'on 3 March'],
    [400 * DAY, 'on 7 February 2024'],
  ])('%d ms ago in London -> %s', (ago, text) => {
    expect(describeAgo(NOW - ago, NOW, LONDON)).toBe(text);
  });

  it('uses the time zone for calendar days and clock times', () => {
    const seen = Date.UTC(2025, 2, 12, 22, 30, 0); // 13.5 hours before NOW
    expect(describeAgo(seen, NOW, LONDON)).toBe('yesterday at 10 30 pm');
    expect(describeAgo(seen, NOW, 'America/New_York')).toBe('yesterday at 6 30 pm');
    expect(describeAgo(seen, NOW, 'Asia/Tokyo')).toBe('today at 7 30 am');
    expect(describeAgo(seen, NOW, 'UTC')).toBe('yesterday at 10 30 pm');
  });

  it('falls back to UTC for an unknown time zone', () => {
    expect(describeAgo(NOW - 18 * HOUR, NOW, 'Not/AZone')).toBe('yesterday at 6 pm');
  });
});

describe('describePosition', () => {
  it.each([
    [{ x: 0.05, y: 0.4, w: 0.1, h: 0.2 }, 'on the left of the picture'],
    [{ x: 0.45, y: 0.4, w: 0.1, h: 0.2 }, 'in the middle of the picture'],
    [{ x: 0.8, y: 0.4, w: 0.1, h: 0.2 }, 'on the right of the picture'],
    [{ x: 0.05, y: 0.0, w: 0.1, h: 0.1 }, 'at the top left of the picture'],
    [{ x: 0.45, y: 0.0, w: 0.1, h: 0.1 }, 'at the top of the picture'],
    [{ x: 0.8, y: 0.85, w: 0.1, h: 0.1 }, 'at the bottom right of the picture'],
    [{ x: 0.45, y: 0.85, w: 0.1, h: 0.1 }, 'at the bottom of the picture'],
    [{ x: 0, y: 0, w: 1, h: 1 }, 'in the middle of the picture'],
  ])('%j -> %s', (box, text) => {
    expect(describePosition(box)).toBe(text);
  });
});

describe('describeRelation', () => {
  const cup = { x: 0.4, y: 0.4, w: 0.1, h: 0.1 };
  it('on a support when the bottom of the item lies within it; the smallest support wins', () => {
    const table = { label: 'dining table', score: 0.9, box: { x: 0.2, y: 0.45, w: 0.6, h: 0.4 } };
    const tray = { label: 'bowl', score: 0.9, box: { x: 0.35, y: 0.42, w: 0.2, h: 0.12 } };
    expect(describeRelation(cup, 'cup', [table])?.phrase).toBe('on the dining table');
    expect(describeRelation(cup, 'cup', [table, tray])?.phrase).toBe('in the bowl');
    expect(describeRelation(cup, 'cup', [{ label: 'sink', score: 0.9, box: { x: 0.3, y: 0.3, w: 0.3, h: 0.3 } }])?.phrase).toBe('in the sink');
    expect(describeRelation(cup, 'cup', [{ label: 'desk', score: 0.9, box: { x: 0.3, y: 0.45, w: 0.4, h: 0.3 } }])?.phrase).toBe('on the desk');
  });
  it('not on a support that is above the item, and not on something smaller than the item', () => {
    const shelfAbove = { label: 'bench', score: 0.9, box: { x: 0.3, y: 0.1, w: 0.4, h: 0.1 } };
    expect(describeRelation(cup, 'cup', [shelfAbove])).toBeNull();
    const tinyChair = { label: 'chair', score: 0.9, box: { x: 0.44, y: 0.48, w: 0.03, h: 0.03 } };
    expect(describeRelation({ x: 0.2, y: 0.1, w: 0.5, h: 0.4 }, 'couch', [tinyChair])?.phrase).toBe('next to the chair');
  });
  it('next to the nearest object; "a" when there are several of that kind', () => {
    const laptop = { label: 'laptop', score: 0.9, box: { x: 0.51, y: 0.4, w: 0.2, h: 0.15 } };
    const book = { label: 'book', score: 0.9, box: { x: 0.25, y: 0.4, w: 0.1, h: 0.1 } };
    const chairs = [
      { label: 'chair', score: 0.9, box: { x: 0.5, y: 0.3, w: 0.1, h: 0.3 } },
      { label: 'chair', score: 0.9, box: { x: 0.9, y: 0.3, w: 0.1, h: 0.3 } },
    ];
    expect(describeRelation(cup, 'cup', [book, laptop])?.phrase).toBe('next to the laptop');
    expect(describeRelation(cup, 'cup', chairs)?.phrase).toBe('next to a chair');
  });
  it('nothing when nothing is near, or only the item itself', () => {
    expect(describeRelation(cup, 'cup', [])).toBeNull();
    expect(describeRelation(cup, 'cup', [{ label: 'tv', score: 0.9, box: { x: 0.9, y: 0, w: 0.1, h: 0.1 } }])).toBeNull();
    expect(describeRelation(cup, 'cup', [{ label: 'cup', score: 0.9, box: { x: 0.5, y: 0.4, w: 0.1, h: 0.1 } }])).toBeNull();
    // a different label on practically the same box is the same object
    expect(describeRelation(cup, 'cup', [{ label: 'wine glass', score: 0.6, box: { ...cup } }])).toBeNull();
  });
});

describe('small helpers', () => {
  it('numberToWords', () => {
    expect([0, 4, 12, 20, 21, 45, 99, 100].map(numberToWords)).toEqual(
      ['zero', 'four', 'twelve', 'twenty', 'twenty-one', 'forty-five', 'ninety-nine', '100'],
    );
  });
  it('describeRoom / describeCamera', () => {
    expect(describeRoom('Kitchen')).toBe('in the kitchen');
    expect(describeRoom('the garage')).toBe('in the garage');
    expect(describeRoom('front porch')).toBe('on the front porch');
    expect(describeCamera('hallway')).toBe('the hallway camera');
    expect(describeCamera('kitchen_cam')).toBe('the kitchen camera');
    expect(describeCamera('Camera 2')).toBe('camera 2');
    expect(describeCamera('')).toBe('one of the cameras');
  });
});
