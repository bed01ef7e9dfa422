/**
 * Zones, places and the questions that come next, through real HTTP on a real SQLite file: zone CRUD and its
 * errors, sightings tagged with their zone (and re-zoned when a zone is drawn later), answers that name the
 * zone, the per-user choice of which labels are items, the snapshot view, and a table of new phrasings
 * (negatives included) through POST /v1/query, follow-ups carried by `context`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, type Client } from './helpers/server.js';
import { middayZone } from './helpers/clock.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

function expectError(r: { status: number; body: any }, status: number, code: string) {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expect(r.body.error.message.length).toBeGreaterThan(3);
}

const COUNTER = [[0, 0.5], [0.6, 0.5], [0.6, 1], [0, 1]];
const DESK = [[0.3, 0.3], [1, 0.3], [1, 1], [0.3, 1]];
// concave: an L, the shoe rack along the bottom and up the left wall
const SHOE_RACK = [[0, 0.2], [0.2, 0.2], [0.2, 0.8], [1, 0.8], [1, 1], [0, 1]];

describe('zones and the questions that come next (HTTP)', () => {
  let s: TestServer;
  let ann: { id: number; client: Client };
  let bob: { id: number; client: Client };
  let kitchen: { id: number; client: Client };
  let study: { id: number; client: Client };
  let hall: { id: number; client: Client };
  let bobCam: { id: number; client: Client };
  let counterId = 0;
  const now = Date.now();
  const at = (ms: number) => new Date(now - ms).toISOString();

  async function post(cam: { client: Client }, ago: number, detections: Array<[string, number[], number?]>) {
    const r = await cam.client.post('/v1/sightings', { seen_at: at(ago), detections: detections.map(([label, box, score]) => ({ label, box, score: score ?? 0.9 })) });
    expect(r.status).toBe(201);
    return r.body;
  }

  beforeAll(async () => {
    s = await startTestServer({ timeZone: middayZone() });
    ann = await s.user('ann');
    bob = await s.user('bob');
    kitchen = await s.device(ann.id, 'kitchen cam', 'kitchen');
    study = await s.device(ann.id, 'study cam', 'study');
    hall = await s.device(ann.id, 'hall cam', 'hall');
    bobCam = await s.device(bob.id, 'garage cam', 'garage');
  });
  afterAll(async () => s?.close());

  it('draws zones: validates them, keeps them per camera and owner', async () => {
    const r = await ann.client.post(`/v1/devices/${kitchen.id}/zones`, { name: '  Kitchen   counter ', points: COUNTER });
    expect(r.status).toBe(201);
    expect(r.body.zone).toMatchObject({ device_id: kitchen.id, name: 'Kitchen counter', points: COUNTER });
    counterId = r.body.zone.id;
    expect((await ann.client.post(`/v1/devices/${study.id}/zones`, { name: 'desk', points: DESK })).status).toBe(201);
    expect((await ann.client.post(`/v1/devices/${hall.id}/zones`, { name: 'shoe rack', points: SHOE_RACK })).status).toBe(201);

    expectError(await ann.client.post(`/v1/devices/${kitchen.id}/zones`, { name: 'kitchen COUNTER', points: COUNTER }), 409, 'conflict');
    expectError(await ann.client.post(`/v1/devices/${kitchen.id}/zones`, { name: 'x', points: [[0, 0], [1, 1]] }), 400, 'validation');
    expectError(await ann.client.post(`/v1/devices/${kitchen.id}/zones`, { name: 'bow', points: [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]] }), 400, 'validation');
    expectError(await ann.client.post(`/v1/devices/${kitchen.id}/zones`, { name: 'far', points: [[0, 0], [2, 0], [1, 1]] }), 400, 'validation');
    expectError(await ann.client.post(`/v1/devices/${kitchen.id}/zones`, { name: '<script>', points: COUNTER }), 400, 'validation');
    expectError(await ann.client.post(`/v1/devices/${kitchen.id}/zones`, { name: 'a', points: COUNTER, extra: 1 }), 400, 'validation');
    // someone else's camera and zone do not exist for ann
    expectError(await ann.client.post(`/v1/devices/${bobCam.id}/zones`, { name: 'bench', points: COUNTER }), 404, 'not_found');
    expectError(await bob.client.patch(`/v1/zones/${counterId}`, { name: 'mine' }), 404, 'not_found');
    expectError(await bob.client.del(`/v1/zones/${counterId}`), 404, 'not_found');
    // a device may read its own zones, not change them
    expect((await kitchen.client.get(`/v1/devices/${kitchen.id}/zones`)).body.zones).toHaveLength(1);
    expect((await kitchen.client.post(`/v1/devices/${kitchen.id}/zones`, { name: 'sink', points: COUNTER })).status).toBe(403);

    const list = await ann.client.get('/v1/zones');
    expect(list.body.zones.map((z: any) => z.name).sort()).toEqual(['Kitchen counter', 'desk', 'shoe rack']);
    expect((await bob.client.get('/v1/zones')).body.zones).toEqual([]);
  });

  it('tags sightings with the zone their foot stands in, and re-zones when a zone changes', async () => {
    // cup on the counter (foot 0.25, 0.75), remote high on the wall (foot 0.85, 0.2): not on the counter
    const k = await post(kitchen, 4 * MIN, [['cup', [0.2, 0.6, 0.1, 0.15]], ['dining table', [0, 0.5, 0.9, 0.5], 0.8], ['person', [0.7, 0.1, 0.2, 0.8]], ['remote', [0.8, 0.1, 0.1, 0.1]]]);
    expect(k.sightings.find((x: any) => x.label === 'cup')).toMatchObject({ zone: 'Kitchen counter', zone_id: counterId });
    expect(k.sightings.find((x: any) => x.label === 'remote')).toMatchObject({ zone: null });
    await post(study, 10 * MIN, [['cell phone', [0.5, 0.5, 0.1, 0.1]], ['laptop', [0.6, 0.4, 0.2, 0.2]], ['chair', [0, 0, 0.2, 0.9], 0.7]]);
    // earlier today the cup was in the hall (on the shoe rack's left arm) and on the desk
    await post(hall, 2 * HOUR, [['cup', [0.05, 0.3, 0.1, 0.2]]]);
    await post(study, 3 * HOUR, [['cup', [0.5, 0.4, 0.1, 0.2]]]);
    // the book: yesterday on the desk
    await post(study, 30 * HOUR, [['book', [0.6, 0.6, 0.1, 0.1]]]);
    // an umbrella in the L's notch: not on the shoe rack
    const u = await post(hall, 20 * MIN, [['umbrella', [0.5, 0.3, 0.1, 0.3]]]);
    expect(u.sightings[0].zone).toBeNull();

    const q = await ann.client.post('/v1/query', { text: 'where is my mug?' });
    expect(q.body).toMatchObject({ intent: 'find_item', outcome: 'found', label: 'cup' });
    expect(q.body.sighting).toMatchObject({ zone: 'Kitchen counter', room: 'kitchen' });
    expect(q.body.reply).toBe('Your mug was on the kitchen counter, in the kitchen, four minutes ago.');

    // a zone drawn afterwards: the remote's sighting is re-zoned at once
    const wall = await ann.client.post(`/v1/devices/${kitchen.id}/zones`, { name: 'key hooks', points: [[0.7, 0], [1, 0], [1, 0.4], [0.7, 0.4]] });
    expect(wall.status).toBe(201);
    const r = await ann.client.post('/v1/query', { text: 'where is the remote' });
    expect(r.body.reply).toBe('Your remote was on the key hooks, in the kitchen, four minutes ago.');
    // moved: the zone follows the polygon; deleted: gone from the answers
    expect((await ann.client.patch(`/v1/zones/${wall.body.zone.id}`, { name: 'coat hooks' })).body.zone.name).toBe('coat hooks');
    expect((await ann.client.post('/v1/query', { text: 'where is the remote' })).body.reply).toMatch(/coat hooks/);
    expect((await ann.client.del(`/v1/zones/${wall.body.zone.id}`)).status).toBe(204);
    const after = await ann.client.post('/v1/query', { text: 'where is the remote' });
    expect(after.body.reply).not.toMatch(/hooks/);
    expect(after.body.sighting.zone).toBeNull();
  });

  it('places are not items by default; each user chooses', async () => {
    const items = (await ann.client.get('/v1/items')).body.items.map((i: any) => i.label).sort();
    expect(items).toEqual(['book', 'cell phone', 'cup', 'laptop', 'remote', 'umbrella']);
    const all = (await ann.client.get('/v1/items?all=true')).body.items;
    expect(all.map((i: any) => i.label)).toEqual(expect.arrayContaining(['person', 'dining table', 'chair']));
    expect(all.find((i: any) => i.label === 'person').kind).toBe('place');
    // the item filter takes what Ask takes
    for (const word of ['mug', 'mugs', 'my coffee mug', 'cups']) {
      const r = await ann.client.get(`/v1/items?label=${encodeURIComponent(word)}`);
      expect(r.body.label).toBe('cup');
      expect(r.body.items.map((i: any) => i.label)).toEqual(['cup']);
    }
    expectError(await ann.client.get('/v1/items?label=car+keys'), 400, 'unknown_label');
    expect((await ann.client.get('/v1/sightings?label=mugs')).body.sightings.every((x: any) => x.label === 'cup')).toBe(true);
    // a place is still answerable when asked directly
    const table = await ann.client.post('/v1/query', { text: 'where is the dining table' });
    expect(table.body).toMatchObject({ outcome: 'found', label: 'dining table' });
    // the settings: person becomes an item for ann, and back to the default
    const st = await ann.client.get('/v1/settings/labels');
    expect(st.body.customised).toBe(false);
    expect(st.body.labels.find((l: any) => l.label === 'person')).toEqual({ label: 'person', kind: 'place', default_kind: 'place' });
    expect(st.body.labels.find((l: any) => l.label === 'cup')).toEqual({ label: 'cup', kind: 'item', default_kind: 'item' });
    const put = await ann.client.req('PUT', '/v1/settings/labels', { places: ['dining table', 'Chair'] });
    expect(put.status).toBe(200);
    expect(put.body.customised).toBe(true);
    expect((await ann.client.get('/v1/items')).body.items.map((i: any) => i.label)).toContain('person');
    expectError(await ann.client.req('PUT', '/v1/settings/labels', { places: ['unicorn'] }), 400, 'unknown_label');
    expect((await ann.client.req('PUT', '/v1/settings/labels', { places: null })).body.customised).toBe(false);
    expect((await ann.client.get('/v1/items')).body.items.map((i: any) => i.label)).not.toContain('person');
    // suggestions never offer a place
    const hello = await ann.client.post('/v1/query', { text: 'hello there' });
    expect(hello.body.reply).not.toMatch(/person|dining table|chair|bench/);
  });

  it('the snapshot view: a frame with every box on it and its camera\u2019s zones', async () => {
    const q = await ann.client.post('/v1/query', { text: 'show me my cup' });
    expect(q.body).toMatchObject({ intent: 'show_item', outcome: 'found', label: 'cup' });
    expect(q.body.reply).toMatch(/kitchen counter/);
    expect(q.body.show_url).toMatch(/^\/snapshot\?frame=\d+&sighting=\d+$/);
    const frameId = q.body.sighting.frame_id;
    const f = await ann.client.get(`/v1/frames/${frameId}`);
    expect(f.status).toBe(200);
    expect(f.body.frame.id).toBe(frameId);
    expect(f.body.device).toMatchObject({ id: kitchen.id, room: 'kitchen' });
    expect(f.body.sightings.map((x: any) => x.label).sort()).toEqual(['cup', 'dining table', 'person', 'remote']);
    expect(f.body.zones.map((z: any) => z.name)).toEqual(['Kitchen counter']);
    expectError(await bob.client.get(`/v1/frames/${frameId}`), 404, 'not_found');
  });

  // -----------------------------------------------------------------------------------------------------------
  // the new questions, one by one (each on its own: no context)
  type Row = [text: string, intent: string, outcome: string, reply: RegExp];
  const ON_COUNTER = /^On the kitchen counter I last saw your cup, four minutes ago\.$/;
  const IN_KITCHEN = /^In the kitchen I last saw your cup and remote, most recently four minutes ago\.$/;
  const ON_DESK = /^On the desk I last saw your (phone, laptop|laptop, phone) and book, most recently ten minutes ago\.$/;
  const CUP_TODAY = /^Today your cup was on the kitchen counter, in the kitchen, at .+; before that on the shoe rack, in the hall, at .+; before that on the desk, in the study, at .+\.$/;
  const TABLE: Row[] = [
    // places
    ["what's in the kitchen?", 'place_items', 'found', IN_KITCHEN],
    ['what is in the kitchen', 'place_items', 'found', IN_KITCHEN],
    ['What is there in the kitchen right now?', 'place_items', 'found', IN_KITCHEN],
    ['what do you see in the kitchen', 'place_items', 'found', IN_KITCHEN],
    ['list everything in the kitchen', 'place_items', 'found', IN_KITCHEN],
    ["what's on the desk?", 'place_items', 'found', ON_DESK],
    ['what is on my desk', 'place_items', 'found', ON_DESK],
    ['is there anything on the desk', 'place_items', 'found', ON_DESK],
    ['anything on the desk?', 'place_items', 'found', ON_DESK],
    ['what have you seen on the desk', 'place_items', 'found', ON_DESK],
    ["tell me what's on the desk", 'place_items', 'found', ON_DESK],
    ['which things are on the desk', 'place_items', 'found', ON_DESK],
    ['hey whereabouts, what is on the desk please', 'place_items', 'found', ON_DESK],
    ["what's on the kitchen counter", 'place_items', 'found', ON_COUNTER],
    ['what is on the counter', 'place_items', 'found', ON_COUNTER],
    ['what is on the Kitchen Counter now', 'place_items', 'found', ON_COUNTER],
    ["what's in the hall", 'place_items', 'found', /^In the hall I last saw your umbrella, twenty minutes ago\.$/],
    ["what's on the shoe rack", 'place_items', 'nothing_there', /^I haven't seen anything on the shoe rack\.$/],
    ['what is in the garage', 'place_items', 'unknown_place', /^I don't know a place called the garage\. I know .*the desk.*\.$/],
    ["what's on the windowsill", 'place_items', 'unknown_place', /^I don't know a place called the windowsill\./],
    // history
    ['where has my cup been today?', 'item_history', 'found', CUP_TODAY],
    ['where has my mug been', 'item_history', 'found', /^Today your mug was on the kitchen counter/],
    ['where did my cup go today', 'item_history', 'found', CUP_TODAY],
    ['where all has my cup been today', 'item_history', 'found', CUP_TODAY],
    ['has my cup moved today', 'item_history', 'found', CUP_TODAY],
    ['history of my cup', 'item_history', 'found', CUP_TODAY],
    ["my cup's history", 'item_history', 'found', CUP_TODAY],
    ['show me the history of my cup', 'item_history', 'found', CUP_TODAY],
    ['where was my cup today', 'item_history', 'found', CUP_TODAY],
    ['where has my phone been today', 'item_history', 'found', /^Today your phone has only been on the desk, in the study, last seen at .+\.$/],
    ['where have my scissors been today', 'item_history', 'never_seen', /^I haven't seen your scissors yet\.$/],
    ['where has my book been today', 'item_history', 'found', /^I haven't seen your book today\. I last saw it on the desk, in the study, yesterday, \d+ \w+, at .+\.$/],
    ['where were my keys today', 'item_history', 'not_detectable', /^Sorry, I can't recognise keys/],
    // last seen, with the date when it was not today
    ['when did you last see my cup?', 'last_seen', 'found', /^I last saw your cup on the kitchen counter, in the kitchen, four minutes ago\.$/],
    ['when did you last see my book', 'last_seen', 'found', /^I last saw your book on the desk, in the study, yesterday, \d+ \w+, at .+\.$/],
    ['when was my phone last seen', 'last_seen', 'found', /^I last saw your phone on the desk, next to the laptop, in the study, ten minutes ago\.$|^I last saw your phone on the desk, in the study, ten minutes ago\.$/],
    ['what time did you last see the remote', 'last_seen', 'found', /^I last saw your remote in the kitchen, four minutes ago/],
    // show me
    ['show me my cup', 'show_item', 'found', /kitchen counter/],
    ['can you show me my phone', 'show_item', 'found', /on the desk/],
    ['show me a picture of my laptop', 'show_item', 'found', /on the desk/],
    ['let me see my umbrella', 'show_item', 'found', /in the hall/],
    ['show me where my cup is', 'show_item', 'found', /kitchen counter/],
    ['could you show me the remote please', 'show_item', 'found', /kitchen/],
    ['show me my bottle', 'show_item', 'never_seen', /^I haven't seen your bottle yet\.$/],
    ['show me my wallet', 'show_item', 'not_detectable', /^Sorry, I can't recognise wallets/],
    // follow-ups without a conversation are plain find questions
    ['and my phone?', 'find_item', 'found', /^Your phone was on the desk/],
    ['what about the laptop', 'find_item', 'found', /^Your laptop was on the desk/],
    ['how about my umbrella', 'find_item', 'found', /^Your umbrella was in the hall/],
    // negatives: not requests, or not about places
    ["what's in the news", 'not_a_request', 'not_understood', /^I can help you find things/],
    ["what's on tv tonight", 'not_a_request', 'not_understood', /^I can help you find things/],
    ['what is on your mind', 'not_a_request', 'not_understood', /^I can help you find things/],
    ["what's in it for me", 'not_a_request', 'not_understood', /^I can help you find things/],
    ['show me the weather', 'not_a_request', 'not_understood', /^I can help you find things/],
    ['and then?', 'not_a_request', 'not_understood', /^I can help you find things/],
    ['what about it', 'not_a_request', 'not_understood', /^I can help you find things/],
    ['and you?', 'not_a_request', 'not_understood', /^I can help you find things/],
    ['where have you been', 'not_a_request', 'not_understood', /^I can help you find things/],
    ["what's the time", 'not_a_request', 'not_understood', /^I can help you find things/],
    ['show me how', 'not_a_request', 'not_understood', /^I can help you find things/],
    ['where have we been today', 'not_a_request', 'not_understood', /^I can help you find things/],
  ];

  it(`answers ${TABLE.length} new phrasings (negatives included)`, async () => {
    expect(TABLE.length).toBeGreaterThanOrEqual(60);
    const wrong: string[] = [];
    for (const [text, intent, outcome, reply] of TABLE) {
      const r = await ann.client.post('/v1/query', { text });
      if (r.status !== 200 || r.body.intent !== intent || r.body.outcome !== outcome || !reply.test(r.body.reply))
        wrong.push(`${JSON.stringify(text)} -> ${r.status} ${r.body.intent}/${r.body.outcome}: ${r.body.reply ?? JSON.stringify(r.body)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('a conversation: "and my phone?" asks the last question again, through `context`', async () => {
    const a = await ann.client.post('/v1/query', { text: 'when did you last see my cup' });
    expect(a.body.context).toMatchObject({ last_label: 'cup', last_intent: 'last_seen' });
    const b = await ann.client.post('/v1/query', { text: 'and my phone?', context: a.body.context });
    expect(b.body).toMatchObject({ intent: 'last_seen', label: 'cell phone', outcome: 'found' });
    expect(b.body.reply).toMatch(/^I last saw your phone on the desk/);
    const c = await ann.client.post('/v1/query', { text: 'where has my cup been today', context: b.body.context });
    const d = await ann.client.post('/v1/query', { text: 'what about my phone', context: c.body.context });
    expect(d.body.intent).toBe('item_history');
    expect(d.body.reply).toMatch(/^Today your phone has only been on the desk/);
    const e = await ann.client.post('/v1/query', { text: "what's on the desk", context: d.body.context });
    expect(e.body.context).toMatchObject({ last_intent: 'place_items', last_place: 'desk' });
    const f = await ann.client.post('/v1/query', { text: 'and in the kitchen?', context: e.body.context });
    expect(f.body).toMatchObject({ intent: 'place_items', place: 'kitchen' });
    const g = await ann.client.post('/v1/query', { text: 'what about the kitchen counter', context: f.body.context });
    expect(g.body.reply).toMatch(ON_COUNTER);
    // an old context no longer steers: a plain find question
    const stale = { ...a.body.context, at: new Date(Date.now() - 10 * MIN).toISOString() };
    expect((await ann.client.post('/v1/query', { text: 'and my phone?', context: stale })).body.intent).toBe('find_item');
    // a context is checked like any body
    expectError(await ann.client.post('/v1/query', { text: 'and my phone', context: { at: 'soon' } }), 400, 'validation');
    expectError(await ann.client.post('/v1/query', { text: 'and my phone', context: { at: new Date().toISOString(), evil: 1 } }), 400, 'validation');
    // and it never reaches into someone else's things
    const bobAsk = await bob.client.post('/v1/query', { text: 'and my phone?', context: a.body.context });
    expect(bobAsk.body.outcome).toBe('never_seen');
  });
});
