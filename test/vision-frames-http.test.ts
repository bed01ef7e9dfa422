/**
 * POST /v1/frames and GET /v1/frames/:id/snapshot end to end: real HTTP, a real SQLite file, the real
 * YOLOX-Nano model on real photos (test/helpers/server.ts starts the server).
 */
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evictSnapshots } from '../dist/assistant/vision/snapshots.js';
import { matchSightings } from '../dist/assistant/vision/frames.js';
import { SHARED, startTestServer, tempDir, type Client, type TestServer } from './helpers/server.js';
import { VENDORED_MODELS } from './helpers/tmp.js';
import { hugePng, truncatedJpeg } from './fixtures/vision/images.js';

const image = (name: string) => fs.readFileSync(path.join(SHARED, 'images', name));
const PNG = { 'content-type': 'image/png' };

let server: TestServer;
let alice: { id: number; client: Client };
let bob: { id: number; client: Client };
let cam: { id: number; token: string; client: Client };

beforeAll(async () => {
  server = await startTestServer(
    { noModels: false, asrEngine: 'none', modelsDir: VENDORED_MODELS, visionWorkers: 1, visionThreads: 1, frameBodyLimit: 2_000_000, metricsToken: 'metrics-secret' },
    { speech: null },
  );
  alice = await server.user('alice');
  bob = await server.user('bob');
  cam = await server.device(alice.id, 'kitchen cam', 'kitchen');
});
afterAll(async () => {
  await server?.close();
});

describe('POST /v1/frames', () => {
  let firstFrame: any;

  it('detects the cup on the table, stores the frame, snapshot and sightings', async () => {
    const at = '2026-11-20T08:00:00.000Z';
    const r = await cam.client.post(`/v1/frames?captured_at=${encodeURIComponent(at)}`, image('coffee.png'), PNG);
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    firstFrame = r.body.frame;
    expect(r.body.frame).toMatchObject({ captured_at: at, width: 600, height: 400, snapshot_url: `/v1/frames/${r.body.frame.id}/snapshot` });
    const labels = r.body.detections.map((d: any) => d.label);
    expect(labels).toContain('cup');
    expect(labels).toContain('dining table');
    const cup = r.body.detections.find((d: any) => d.label === 'cup');
    expect(cup.box).toHaveLength(4);
    expect(cup.merged).toBe(false);
    for (const k of ['decode_ms', 'inference_ms', 'store_ms', 'total_ms']) expect(r.body.timings[k]).toBeGreaterThanOrEqual(0);
    expect(r.headers.get('server-timing')).toMatch(/inference;dur=/);
    // the snapshot file, where the layout says
    const file = path.join(server.dataDir, 'snapshots', String(alice.id), '2026-11-20');
    expect(fs.readdirSync(file).filter((f) => f.endsWith('.jpg'))).toHaveLength(1);
    const stored = await server.app.store.getFrame(r.body.frame.id);
    expect(stored).toMatchObject({ userId: alice.id, deviceId: cam.id, width: 600, height: 400 });
    expect(stored!.snapshotPath).toMatch(new RegExp(`^snapshots/${alice.id}/2026-11-20/[^/]+\\.jpg$`));
  });

  it('reports frames, stages and the inference pool in /metrics', async () => {
    const m = await server.client('metrics-secret').get('/metrics');
    expect(m.status).toBe(200);
    const text = m.raw.toString('utf8');
    expect(text).toMatch(/^whereabouts_worker_queue_depth\{pool="vision"\} \d+$/m);
    expect(text).toMatch(/^whereabouts_stage_seconds_count\{stage="inference"\} [1-9]\d*$/m);
    expect(text).toMatch(/^whereabouts_frames_total [1-9]\d*$/m);
  });

  it('answers "where is my mug" with the camera\'s room and the table', async () => {
    const r = await alice.client.post('/v1/query', { text: 'where is my mug' });
    expect(r.status).toBe(200);
    expect(r.body.label).toBe('cup');
    expect(r.body.outcome).toBe('found');
    expect(r.body.reply).toMatch(/kitchen/i);
    expect(r.body.reply).toMatch(/table/i);
    expect(r.body.sighting.room).toBe('kitchen');
    expect(r.body.sighting.snapshot_url).toBe(firstFrame.snapshot_url);
  });

  it('merges a near-identical frame into the same sightings, moving seen_at forward', async () => {
    const before = await server.app.store.countSightings(alice.id);
    const later = Date.parse('2026-11-20T08:01:00.000Z');
    const r = await cam.client.post('/v1/frames', image('coffee.png'), { ...PNG, 'x-captured-at': String(later) });
    expect(r.status).toBe(201);
    expect(r.body.frame.id).not.toBe(firstFrame.id);
    expect(r.body.detections.every((d: any) => d.merged)).toBe(true);
    expect(await server.app.store.countSightings(alice.id)).toBe(before);
    const s = await alice.client.get('/v1/sightings?label=cup');
    expect(s.body.sightings).toHaveLength(1);
    expect(s.body.sightings[0].seen_at).toBe(new Date(later).toISOString());
    expect(s.body.sightings[0].first_seen_at).toBe('2026-11-20T08:00:00.000Z');
    expect(s.body.sightings[0].frame_id).toBe(r.body.frame.id);
    // a different scene from the same camera adds rows
    const cat = await cam.client.post('/v1/frames', image('chelsea.png'), { ...PNG, 'x-captured-at': String(later + 1000) });
    expect(cat.status).toBe(201);
    expect(cat.body.detections.find((d: any) => d.label === 'cat').merged).toBe(false);
    expect(await server.app.store.countSightings(alice.id)).toBeGreaterThan(before);
  });

  it('serves the snapshot to its owner (also via the owner\'s device) and 404 to anyone else', async () => {
    const url = firstFrame.snapshot_url;
    const own = await alice.client.get(url);
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toBe('image/jpeg');
    expect(own.raw.subarray(0, 2).toString('hex')).toBe('ffd8');
    const meta = await sharp(own.raw).metadata();
    expect([meta.width, meta.height]).toEqual([600, 400]);
    expect((await cam.client.get(url)).status).toBe(200);
    const bobsCam = await server.device(bob.id, 'hall cam', 'hall');
    for (const other of [bob.client, bobsCam.client, server.client()]) {
      const r = await other.get(url);
      expect([404, 401]).toContain(r.status);
      if (other !== bob.client && other !== bobsCam.client) continue;
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('not_found');
    }
    expect((await alice.client.get('/v1/frames/999999/snapshot')).status).toBe(404);
  });

  it('maps bad input to its status and code, and keeps serving', async () => {
    const cases: Array<[string, Buffer | string, Record<string, string>, number, string]> = [
      ['non-image bytes', Buffer.from('definitely not an image'), { 'content-type': 'image/jpeg' }, 422, 'bad_image'],
      ['truncated JPEG', await truncatedJpeg(image('coffee.png')), { 'content-type': 'image/jpeg' }, 422, 'bad_image'],
      ['20000x20000 PNG', hugePng(20000, 20000), PNG, 413, 'payload_too_large'],
      ['empty body', Buffer.alloc(0), { 'content-type': 'image/jpeg' }, 400, 'bad_request'],
      ['text/plain', 'hello', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
      ['JSON', '{"image":"x"}', { 'content-type': 'application/json' }, 415, 'unsupported_media_type'],
      ['GIF', Buffer.from('GIF89a'), { 'content-type': 'image/gif' }, 415, 'unsupported_media_type'],
      ['over the body limit', Buffer.alloc(2_100_000, 1), { 'content-type': 'image/jpeg' }, 413, 'payload_too_large'],
    ];
    for (const [what, body, headers, status, code] of cases) {
      const r = await cam.client.post('/v1/frames', body, headers);
      expect(r.status, `${what}: ${JSON.stringify(r.body)}`).toBe(status);
      expect(r.body.error.code, what).toBe(code);
    }
    const badTime = await cam.client.post('/v1/frames?captured_at=yesterday', image('fruits.jpg'), { 'content-type': 'image/jpeg' });
    expect(badTime.status).toBe(400);
    // a user session is not a camera
    expect((await alice.client.post('/v1/frames', image('fruits.jpg'), { 'content-type': 'image/jpeg' })).status).toBe(403);
    // a revoked device token, an unknown one
    const old = await server.device(alice.id, 'old cam', 'attic');
    expect((await old.client.post('/v1/frames', image('fruits.jpg'), { 'content-type': 'image/jpeg' })).status).toBe(201);
    await server.app.store.revokeDevice(old.id, Date.now());
    for (const c of [old.client, server.client('wad_unknown-token')]) {
      const r = await c.post('/v1/frames', image('fruits.jpg'), { 'content-type': 'image/jpeg' });
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
    }
    // still serving
    const ok = await cam.client.post('/v1/frames', image('astronaut.png'), PNG);
    expect(ok.status).toBe(201);
    expect(ok.body.detections.map((d: any) => d.label)).toContain('person');
  });

  it('accepts a multipart form with the image file and captured_at, and refuses bad forms', async () => {
    const post = async (fd: FormData) => {
      const r = await fetch(server.url + '/v1/frames', { method: 'POST', headers: { authorization: `Bearer ${cam.token}` }, body: fd });
      return { status: r.status, body: (await r.json()) as any };
    };
    const at = '2026-11-20T09:30:00.000Z';
    const ok = new FormData();
    ok.append('captured_at', at);
    ok.append('image', new Blob([image('coffee.png')], { type: 'image/png' }), 'coffee.png');
    const r = await post(ok);
    expect(r.status).toBe(201);
    expect(r.body.frame.captured_at).toBe(at);
    expect(r.body.detections.map((d: any) => d.label)).toContain('cup');

    const text = new FormData();
    text.append('image', new Blob(['hello'], { type: 'text/plain' }), 'notes.txt');
    expect(await post(text)).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type' } } });
    const none = new FormData();
    none.append('captured_at', at);
    expect(await post(none)).toMatchObject({ status: 400, body: { error: { code: 'bad_request' } } });
    const huge = new FormData();
    huge.append('image', new Blob([Buffer.alloc(2_500_000, 1)], { type: 'image/jpeg' }), 'big.jpg');
    expect(await post(huge)).toMatchObject({ status: 413, body: { error: { code: 'payload_too_large' } } });
    const junk = new FormData();
    junk.append('image', new Blob([Buffer.from('not an image at all')], { type: 'application/octet-stream' }), 'x.bin');
    expect(await post(junk)).toMatchObject({ status: 422, body: { error: { code: 'bad_image' } } });
  });

  it('accepts WebP and JPEG bodies', async () => {
    const webp = await sharp(image('coffee.png')).webp().toBuffer();
    const r = await cam.client.post('/v1/frames', webp, { 'content-type': 'image/webp' });
    expect(r.status).toBe(201);
    expect(r.body.detections.map((d: any) => d.label)).toContain('cup');
    const j = await cam.client.post('/v1/frames', image('rocket.jpg'), { 'content-type': 'image/jpeg; charset=binary' });
    expect(j.status).toBe(201);
  });
});

describe('snapshot retention', () => {
  it('deletes old snapshots but keeps the one behind each label\'s latest sighting', async () => {
    const store = server.app.store;
    const frames = await store.listEvictableFrames({ keepNewest: 1, limit: 1000 });
    expect(frames.length).toBeGreaterThan(0);
    const files = frames.map((f) => path.join(server.dataDir, f.snapshotPath!));
    expect(files.every((f) => fs.existsSync(f))).toBe(true);
    const n = await evictSnapshots(store, { dataDir: server.dataDir, retentionDays: 0, retentionFrames: 1 });
    expect(n).toBe(frames.length);
    expect(files.some((f) => fs.existsSync(f))).toBe(false);
    for (const f of frames) {
      expect((await store.getFrame(f.id))!.snapshotPath).toBeNull();
      expect((await alice.client.get(`/v1/frames/${f.id}/snapshot`)).status).toBe(404);
    }
    // the latest cup is still shown
    const cup = await alice.client.post('/v1/query', { text: 'where is my cup' });
    expect(cup.body.sighting.snapshot_url).not.toBeNull();
    expect((await alice.client.get(cup.body.sighting.snapshot_url)).status).toBe(200);
  });
});

describe('merging near-identical detections', () => {
  const s = (id: number, label: string, x: number, seenAt = 0) => ({ id, label, score: 0.9, box: { x, y: 0.1, w: 0.2, h: 0.2 }, userId: 1, deviceId: 1, frameId: 1, seenAt, firstSeenAt: seenAt });
  const d = (label: string, x: number, score = 0.8) => ({ label, score, box: { x, y: 0.1, w: 0.2, h: 0.2 } });
  it('pairs each detection with its own overlapping sighting of the same label', () => {
    const recent = [s(1, 'cup', 0.1), s(2, 'cup', 0.6), s(3, 'book', 0.1)];
    const m = matchSightings([d('cup', 0.62), d('cup', 0.11), d('cup', 0.35), d('book', 0.9), d('laptop', 0.1)], recent, 0.5);
    expect(m.map((x) => x?.id)).toEqual([2, 1, undefined, undefined, undefined]);
    // two detections near one sighting: only the better one merges
    const two = matchSightings([d('cup', 0.12, 0.5), d('cup', 0.1, 0.9)], [s(1, 'cup', 0.1)], 0.5);
    expect(two.map((x) => x?.id)).toEqual([undefined, 1]);
  });
});

describe('a burst from one camera, and retried uploads', () => {
  it('keeps a snapshot per frame, merges a burst, and stores a retried upload once', async () => {
    const srv = await startTestServer({ noModels: false, asrEngine: 'none', modelsDir: VENDORED_MODELS, visionWorkers: 2 }, { speech: null });
    const store = srv.app.store;
    const dataDir = srv.dataDir;
    try {
      const u = await srv.user('carol');
      const c = await srv.device(u.id, 'desk cam', 'study');
      const at = Date.parse('2026-11-21T10:00:00Z');
      // five near-identical frames at once: one set of sightings, refreshed to the newest frame
      const rs = await Promise.all([0, 1, 2, 3, 4].map((i) => c.client.post('/v1/frames', image('coffee.png'), { ...PNG, 'x-captured-at': String(at + i * 1000) })));
      expect(rs.map((r) => r.status)).toEqual([201, 201, 201, 201, 201]);
      for (const r of rs) {
        const f = await store.getFrame(r.body.frame.id);
        expect(f!.snapshotPath).toMatch(new RegExp(`^snapshots/${u.id}/2026-11-21/\\d+-[0-9a-f]{8}\\.jpg$`));
        expect(f!.bytes).toBe(fs.statSync(path.join(dataDir, f!.snapshotPath!)).size);
      }
      const labels = rs[0].body.detections.length;
      expect(await store.countSightings(u.id)).toBe(labels);
      const cup = await srv.client().req('GET', '/v1/sightings?label=cup', undefined, { authorization: `Bearer ${c.token}` });
      expect(cup.body.sightings).toHaveLength(1);
      expect(cup.body.sightings[0].seen_at).toBe(new Date(at + 4000).toISOString());
      expect(cup.body.sightings[0].frame_id).toBe(rs[4].body.frame.id);

      // a retry after a lost reply (same Idempotency-Key) is acknowledged with the stored frame, not stored again
      const key = { ...PNG, 'x-captured-at': String(at + 9000), 'idempotency-key': 'sha256-abc123' };
      const first = await c.client.post('/v1/frames', image('coffee.png'), key);
      expect(first.status).toBe(201);
      const again = await Promise.all([1, 2, 3].map(() => c.client.post('/v1/frames', image('coffee.png'), key)));
      for (const r of again) {
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ duplicate: true, frame: { id: first.body.frame.id } });
      }
      const db = (store as unknown as { db: { prepare(q: string): { get(...a: unknown[]): { n: number } } } }).db;
      expect(db.prepare('SELECT COUNT(*) AS n FROM frames WHERE device_id = ?').get(c.id).n).toBe(6);
      // the same key from another device is that device's own upload
      const other = await srv.device(u.id, 'hall cam', 'hall');
      expect((await other.client.post('/v1/frames', image('coffee.png'), key)).status).toBe(201);
      const bad = await c.client.post('/v1/frames', image('coffee.png'), { ...PNG, 'idempotency-key': 'has spaces in it' });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('validation');
    } finally {
      await srv.close();
    }
  });
});
