/**
 * Zones and time on real camera frames: the real YOLOX-Nano model on a real photo (../shared/images), real HTTP,
 * a real SQLite file. A backdated frame never overwrites or absorbs a newer sighting and shows in the history at
 * its own time; a zone drawn on the snapshot still holds after the camera's resolution changes.
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SHARED, startTestServer, type Client, type TestServer } from './helpers/server.js';

const image = (name: string) => fs.readFileSync(path.join(SHARED, 'images', name));
const PNG = { 'content-type': 'image/png' };
const MIN = 60_000;
const HOUR = 60 * MIN;

let server: TestServer;
let ann: { id: number; client: Client };
let cam: { id: number; token: string; client: Client };

beforeAll(async () => {
  server = await startTestServer(
    { noModels: false, asrEngine: 'none', modelsDir: path.join(SHARED, 'models'), visionWorkers: 1, visionThreads: 1, frameBodyLimit: 4_000_000, timeZone: 'UTC' },
    { speech: null },
  );
  ann = await server.user('ann');
  cam = await server.device(ann.id, 'kitchen cam', 'kitchen');
});
afterAll(async () => {
  await server?.close();
});

describe('frames, zones and time', () => {
  const now = Date.now();
  let cupBox: number[] = [];

  it('a frame three hours older than the latest sighting stays at its own time', async () => {
    const t = now - 10 * MIN;
    const newer = await cam.client.post('/v1/frames', image('coffee.png'), { ...PNG, 'x-captured-at': String(t) });
    expect(newer.status).toBe(201);
    const cup = newer.body.detections.find((d: any) => d.label === 'cup');
    expect(cup).toBeTruthy();
    cupBox = cup.box;

    // the same camera, the same spot, captured three hours earlier and uploaded late
    const older = await cam.client.post('/v1/frames', image('coffee.png'), { ...PNG, 'x-captured-at': String(t - 3 * HOUR) });
    expect(older.status).toBe(201);
    const oldCup = older.body.detections.find((d: any) => d.label === 'cup');
    expect(oldCup.merged).toBe(false);
    expect(oldCup.sighting_id).not.toBe(cup.sighting_id);

    // the newer sighting is untouched: still the latest, same times, same frame
    const hist = (await ann.client.get('/v1/sightings?label=cup')).body.sightings;
    expect(hist).toHaveLength(2);
    expect(hist[0]).toMatchObject({ id: cup.sighting_id, seen_at: new Date(t).toISOString(), first_seen_at: new Date(t).toISOString(), frame_id: newer.body.frame.id });
    // and the late frame is in the history at its own time
    expect(hist[1]).toMatchObject({ id: oldCup.sighting_id, seen_at: new Date(t - 3 * HOUR).toISOString(), frame_id: older.body.frame.id });
    const q = await ann.client.post('/v1/query', { text: 'where is my cup' });
    expect(q.body.sighting).toMatchObject({ id: cup.sighting_id, seen_at: new Date(t).toISOString() });
    expect(q.body.reply).toMatch(/ten minutes ago/);

    // a frame from within the sighting's time merges, but never moves it back
    const between = await cam.client.post('/v1/frames', image('coffee.png'), { ...PNG, 'x-captured-at': String(t - 20_000) });
    expect(between.body.detections.find((d: any) => d.label === 'cup')).toMatchObject({ merged: true, sighting_id: cup.sighting_id });
    const again = (await ann.client.get('/v1/sightings?label=cup')).body.sightings[0];
    expect(again).toMatchObject({ seen_at: new Date(t).toISOString(), first_seen_at: new Date(t - 20_000).toISOString(), frame_id: newer.body.frame.id });
  });

  it('a zone drawn around the cup names it, also after the camera\u2019s resolution changes', async () => {
    const [x, y, w, h] = cupBox;
    const fx = x + w / 2;
    const fy = y + h;
    const pad = 0.08;
    const points = [[fx - pad, fy - pad], [fx + pad, fy - pad], [fx + pad, fy + pad], [fx - pad, fy + pad]].map(([a, b]) => [Math.max(0, Math.min(1, a)), Math.max(0, Math.min(1, b))]);
    const z = await ann.client.post(`/v1/devices/${cam.id}/zones`, { name: 'coffee corner', points });
    expect(z.status).toBe(201);
    // the existing sighting was re-zoned
    expect((await ann.client.post('/v1/query', { text: 'where is my mug' })).body.reply).toMatch(/^Your mug was (in|on|at) the coffee corner, in the kitchen/);

    // the camera now sends twice the pixels (a new sensor mode): the normalised zone still covers the cup
    const meta = await sharp(image('coffee.png')).metadata();
    const big = await sharp(image('coffee.png')).resize(meta.width! * 2, meta.height! * 2).png().toBuffer();
    const r = await cam.client.post('/v1/frames', big, { ...PNG, 'x-captured-at': String(now - 1 * MIN) });
    expect(r.status).toBe(201);
    expect(r.body.frame).toMatchObject({ width: meta.width! * 2, height: meta.height! * 2 });
    const q = await ann.client.post('/v1/query', { text: 'what is in the coffee corner' });
    expect(q.body).toMatchObject({ intent: 'place_items', outcome: 'found', place: 'coffee corner' });
    expect(q.body.reply).toMatch(/^In the coffee corner I last saw your cup/);
    expect(q.body.items[0].sighting.seen_at).toBe(new Date(now - 1 * MIN).toISOString());
    // and the snapshot view shows the frame's boxes and the zone
    const f = await ann.client.get(`/v1/frames/${r.body.frame.id}`);
    expect(f.body.zones.map((x: any) => x.name)).toEqual(['coffee corner']);
    expect(f.body.sightings.find((s: any) => s.label === 'cup')).toMatchObject({ zone: 'coffee corner' });
    const zones = await ann.client.get(`/v1/devices/${cam.id}/zones`);
    expect(zones.body.snapshot).toMatchObject({ id: r.body.frame.id, width: meta.width! * 2, snapshot_url: `/v1/frames/${r.body.frame.id}/snapshot` });
  });
});
