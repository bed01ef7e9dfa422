/** The text path end to end through real HTTP on a real SQLite file. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, type Client } from './helpers/server.js';

function expectError(r: { status: number; body: any }, status: number, code: string) {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expect(typeof r.body.error.message).toBe('string');
  expect(r.body.error.message.length).toBeGreaterThan(3);
}

describe('HTTP API', () => {
  let s: TestServer;
  let admin: { id: number; client: Client };
  let ann: { id: number; client: Client; password: string };
  let bob: { id: number; client: Client; password: string };
  let cam: { id: number; token: string; client: Client };
  let bobCam: { id: number; token: string; client: Client };

  beforeAll(async () => {
    s = await startTestServer({ loginAttempts: 3 });
    admin = await s.user('root', { admin: true });
    ann = await s.user('ann');
    bob = await s.user('bob');
    cam = await s.device(ann.id, 'kitchen cam', 'kitchen');
    bobCam = await s.device(bob.id, 'garage cam', 'garage');
  });
  afterAll(async () => s?.close());

  it('answers "where is my mug" from a device-posted sighting, with room and the table it is on', async () => {
    const seen = new Date(Date.now() - 4 * 60_000).toISOString();
    const post = await cam.client.post('/v1/sightings', {
      seen_at: seen,
      detections: [
        { label: 'cup', score: 0.9, box: [0.45, 0.4, 0.1, 0.15] },
        { label: 'dining table', score: 0.8, box: [0.1, 0.5, 0.8, 0.5] },
      ],
    });
    expect(post.status).toBe(201);
    expect(post.body.sightings).toHaveLength(2);
    const r = await ann.client.post('/v1/query', { text: 'Where is my mug?' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ intent: 'find_item', outcome: 'found', item: 'mug', label: 'cup' });
    expect(r.body.sighting).toMatchObject({ label: 'cup', room: 'kitchen', device: 'kitchen cam', seen_at: seen });
    expect(r.body.reply).toMatch(/mug/i);
    expect(r.body.reply).toMatch(/kitchen/);
    expect(r.body.reply).toMatch(/table/);
    expect(r.body.reply).toMatch(/four minutes ago/);
    expect(r.headers.get('server-timing')).toMatch(/lookup;dur=/);
  });

  it('a device can ask on behalf of its owner', async () => {
    const r = await cam.client.post('/v1/query', { text: 'have you seen my coffee cup' });
    expect(r.status).toBe(200);
    expect(r.body.label).toBe('cup');
    expect(r.body.outcome).toBe('found');
  });

  it('the three honest outcomes besides a hit', async () => {
    const keys = await ann.client.post('/v1/query', { text: 'where are my keys' });
    expect(keys.body).toMatchObject({ outcome: 'not_detectable', label: null });
    expect(keys.body.reply).toMatch(/keys/);
    const never = await ann.client.post('/v1/query', { text: 'where is my umbrella' });
    expect(never.body).toMatchObject({ outcome: 'never_seen', label: 'umbrella', sighting: null });
    const chat = await ann.client.post('/v1/query', { text: "what's the weather like" });
    expect(chat.body).toMatchObject({ intent: 'not_a_request', outcome: 'not_understood' });
    expect(chat.body.reply.length).toBeGreaterThan(10);
  });

  it("each user's data is invisible to every other user", async () => {
    const r = await bob.client.post('/v1/query', { text: 'where is my cup' });
    expect(r.body.outcome).toBe('never_seen');
    expect(r.body.sighting).toBeNull();
    expect((await bob.client.get('/v1/items')).body.items).toEqual([]);
    expect((await bob.client.get('/v1/sightings')).body.sightings).toEqual([]);
    expect((await bobCam.client.post('/v1/query', { text: 'where is my cup' })).body.outcome).toBe('never_seen');
    // another user's device is not there for bob
    expectError(await bob.client.patch(`/v1/devices/${cam.id}`, { room: 'x' }), 404, 'not_found');
    expectError(await bob.client.del(`/v1/devices/${cam.id}`), 404, 'not_found');
    // ann still sees hers
    const items = (await ann.client.get('/v1/items?all=true')).body.items;
    expect(items.map((i: any) => i.label).sort()).toEqual(['cup', 'dining table']);
  });

  it('lists sightings with filters; a label may be given by a synonym', async () => {
    const r = await ann.client.get('/v1/sightings?label=mug&limit=5');
    expect(r.status).toBe(200);
    expect(r.body.sightings.every((x: any) => x.label === 'cup')).toBe(true);
    expectError(await ann.client.get('/v1/sightings?label=flux+capacitor'), 400, 'unknown_label');
    expectError(await ann.client.get('/v1/sightings?limit=0'), 400, 'validation');
    expectError(await ann.client.get('/v1/sightings?since=yesterday-ish'), 400, 'validation');
    const none = await ann.client.get('/v1/sightings?room=attic');
    expect(none.body.sightings).toEqual([]);
  });

  it('bad input gets a clear error, never a crash', async () => {
    const c = cam.client;
    expectError(await c.post('/v1/sightings', '{"detections": [', { 'content-type': 'application/json' }), 400, 'bad_json');
    expectError(await c.post('/v1/sightings', { detections: 'cup' }), 400, 'validation');
    expectError(await c.post('/v1/sightings', {}), 400, 'validation');
    expectError(await c.post('/v1/sightings', { detections: [{ label: 'cup', score: 2, box: [0, 0, 1, 1] }] }), 400, 'validation');
    expectError(await c.post('/v1/sightings', { detections: [{ label: 'cup', score: 0.5, box: [0, 0, 1] }] }), 400, 'validation');
    expectError(await c.post('/v1/sightings', { detections: [{ label: 'cup', score: 0.5, box: [0.5, 0.5, 0.9, 0.2] }] }), 400, 'validation');
    expectError(await c.post('/v1/sightings', { detections: [{ label: 'flux capacitor', score: 0.5, box: [0, 0, 1, 1] }] }), 400, 'unknown_label');
    expectError(await c.post('/v1/sightings', { seen_at: 'not a time', detections: [] }), 400, 'validation');
    expectError(await c.post('/v1/sightings', { seen_at: Date.now() + 3600_000, detections: [] }), 400, 'validation');
    expectError(await c.post('/v1/sightings', { detections: [], extra: 1 }), 400, 'validation');
    expectError(await c.post('/v1/query', { text: 42 }), 400, 'validation');
    expectError(await c.post('/v1/query', {}), 400, 'validation');
    expectError(await c.post('/v1/query', 'where is my cup', { 'content-type': 'text/plain' }), 415, 'unsupported_media_type');
    const huge = JSON.stringify({ text: 'x'.repeat(200_000) });
    expectError(await c.post('/v1/query', huge, { 'content-type': 'application/json' }), 413, 'payload_too_large');
    expectError(await c.post('/v1/query', { text: 'x'.repeat(1001) }), 400, 'validation');
    expectError(await c.get('/v1/nope'), 404, 'not_found');
    expectError(await ann.client.get('/v1/users/abc'), 404, 'not_found');
    // still serving
    expect((await ann.client.post('/v1/query', { text: 'where is my cup' })).status).toBe(200);
  });

  it('wrong, missing and malformed credentials are 401; the wrong role is 403', async () => {
    expectError(await s.client().post('/v1/query', { text: 'where is my cup' }), 401, 'unauthorized');
    expectError(await s.client('wad_not-a-real-token').post('/v1/query', { text: 'where is my cup' }), 401, 'unauthorized');
    expectError(await s.client('garbage').get('/v1/items'), 401, 'unauthorized');
    expectError(await s.client().get('/v1/items', { authorization: 'Basic abc' }), 401, 'unauthorized');
    // a user cannot post sightings; a device cannot manage users
    expectError(await ann.client.post('/v1/sightings', { detections: [] }), 403, 'forbidden');
    expectError(await cam.client.get('/v1/users'), 403, 'forbidden');
    expectError(await ann.client.get('/v1/users'), 403, 'forbidden');
    expectError(await ann.client.post('/v1/users', { name: 'eve', password: 'long-enough-pw' }), 403, 'forbidden');
  });

  it('cookie sessions need the CSRF token for changes', async () => {
    const c = s.client();
    await c.login('ann', ann.password);
    const csrf = c.csrf;
    c.csrf = '';
    expectError(await c.post('/v1/query', { text: 'where is my cup' }), 403, 'csrf');
    c.csrf = 'wrong';
    expectError(await c.post('/v1/query', { text: 'where is my cup' }), 403, 'csrf');
    c.csrf = csrf;
    expect((await c.post('/v1/query', { text: 'where is my cup' })).status).toBe(200);
  });

  it('admins manage users; a deleted user’s devices stop working at once', async () => {
    const mk = await admin.client.post('/v1/users', { name: 'carol', password: 'carol-password' });
    expect(mk.status).toBe(201);
    expectError(await admin.client.post('/v1/users', { name: 'carol', password: 'carol-password' }), 409, 'conflict');
    expectError(await admin.client.post('/v1/users', { name: 'dave', password: 'short' }), 400, 'validation');
    expectError(await admin.client.post('/v1/users', { name: '<script>', password: 'long-enough' }), 400, 'validation');
    const carol = s.client();
    expect((await carol.login('carol', 'carol-password')).status).toBe(200);
    const dev = await carol.post('/v1/devices', { name: 'desk cam', room: 'study' });
    expect(dev.status).toBe(201);
    expect(dev.body.token).toMatch(/^wad_/);
    expect(dev.body.setup_command).toContain(dev.body.token);
    const carolCam = s.client(dev.body.token);
    expect((await carolCam.post('/v1/sightings', { detections: [{ label: 'laptop', score: 0.9, box: [0.1, 0.1, 0.2, 0.2] }] })).status).toBe(201);
    const users = (await admin.client.get('/v1/users')).body.users;
    const id = users.find((u: any) => u.name === 'carol').id;
    expect((await admin.client.del(`/v1/users/${id}`)).status).toBe(204);
    expectError(await carolCam.post('/v1/sightings', { detections: [] }), 401, 'unauthorized');
    expectError(await carol.get('/v1/items'), 401, 'unauthorized');
    expectError(await admin.client.del(`/v1/users/${admin.id}`), 409, 'conflict');
  });

  it('devices: create for self, rename, set room, revoke; admin can create for others', async () => {
    const d = await ann.client.post('/v1/devices', { name: 'hall cam' });
    expect(d.status).toBe(201);
    const id = d.body.device.id;
    const p = await ann.client.patch(`/v1/devices/${id}`, { name: 'hallway cam', room: 'hallway' });
    expect(p.body.device).toMatchObject({ name: 'hallway cam', room: 'hallway' });
    expectError(await ann.client.post('/v1/devices', { name: 'x', user: 'bob' }), 403, 'forbidden');
    const forBob = await admin.client.post('/v1/devices', { name: 'porch', user: 'bob' });
    expect(forBob.body.device.user_id).toBe(bob.id);
    const list = (await ann.client.get('/v1/devices')).body.devices;
    expect(list.every((x: any) => x.user_id === ann.id)).toBe(true);
    expectError(await ann.client.get('/v1/devices?all=true'), 403, 'forbidden');
    expect((await ann.client.del(`/v1/devices/${id}`)).status).toBe(204);
    expectError(await s.client(d.body.token).get('/v1/items'), 401, 'unauthorized');
    const who = await cam.client.get('/v1/device');
    expect(who.body.device.name).toBe('kitchen cam');
  });

  it('logout ends this session; logout everywhere and password change end the other sessions', async () => {
    const a = s.client();
    const b = s.client();
    await a.login('bob', bob.password);
    await b.login('bob', bob.password);
    expect((await b.get('/v1/session')).status).toBe(200);
    // this browser only: the other tab keeps working
    expect((await a.del('/v1/session')).status).toBe(204);
    expectError(await a.get('/v1/session'), 401, 'unauthorized');
    expect((await b.get('/v1/session')).status).toBe(200);
    await a.login('bob', bob.password);
    expect((await a.del('/v1/session?everywhere=true')).status).toBe(204);
    expectError(await b.get('/v1/session'), 401, 'unauthorized');
    expectError(await a.get('/v1/session'), 401, 'unauthorized');
    await a.login('bob', bob.password);
    await b.login('bob', bob.password);
    expectError(await a.post('/v1/session/password', { current: 'wrong', password: 'new-password-1' }), 401, 'unauthorized');
    const ch = await a.post('/v1/session/password', { current: bob.password, password: 'new-password-1' });
    expect(ch.status).toBe(200);
    a.csrf = ch.body.csrf_token;
    expect((await a.get('/v1/session')).status).toBe(200);
    expectError(await b.get('/v1/session'), 401, 'unauthorized');
    expectError(await b.login('bob', bob.password), 401, 'unauthorized');
    expect((await b.login('bob', 'new-password-1')).status).toBe(200);
  });

  it('rate-limits failed logins with 429', async () => {
    const c = s.client();
    for (let i = 0; i < 3; i++) expectError(await c.login('root', 'wrong-password'), 401, 'unauthorized');
    const r = await c.login('root', 'wrong-password');
    expectError(r, 429, 'rate_limited');
    expect(r.headers.get('retry-after')).toBeTruthy();
    expectError(await c.login('root', 'pw-root-secret'), 429, 'rate_limited');
    // other users are not locked out
    expect((await s.client().login('ann', ann.password)).status).toBe(200);
  });

  it('the question log records questions with per-stage timings, per user', async () => {
    const q = await ann.client.get('/v1/queries');
    expect(q.body.queries.length).toBeGreaterThan(0);
    expect(q.body.queries[0].timings).toHaveProperty('lookup_ms');
    expect(q.body.queries.every((x: any) => x.user_id === ann.id)).toBe(true);
    expectError(await ann.client.get('/v1/queries?all=true'), 403, 'forbidden');
    expect((await admin.client.get('/v1/queries?all=true')).body.queries.length).toBeGreaterThan(q.body.queries.length - 1);
  });
});

describe('durability', () => {
  it('close and reopen keeps every acknowledged sighting', async () => {
    const s1 = await startTestServer();
    const u = await s1.user('dana');
    const d = await s1.device(u.id, 'cam', 'lounge');
    // 40 uploads, ten at a time; each must be acknowledged (201 with its sighting ids), then the server stops
    const acked: number[] = [];
    for (let batch = 0; batch < 4; batch++) {
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, j) => {
          const i = batch * 10 + j;
          return d.client.post('/v1/sightings', { seen_at: Date.now() - (40 - i) * 1000, detections: [{ label: i % 2 ? 'book' : 'remote', score: 0.8, box: [0.1, 0.1, 0.1, 0.1] }] });
        }),
      );
      for (const r of replies) {
        expect(r.status, JSON.stringify(r.body)).toBe(201);
        acked.push(...r.body.sightings.map((x: { id: number }) => x.id));
      }
    }
    expect(new Set(acked).size).toBe(40);
    await s1.close();
    const s2 = await startTestServer({ dataDir: s1.dataDir });
    try {
      expect(await s2.app.store.countSightings()).toBe(40);
      const kept = await s2.app.store.listSightings({ userId: u.id, limit: 100 });
      expect(kept.map((x) => x.id).sort((a, b) => a - b)).toEqual([...acked].sort((a, b) => a - b));
      const c = s2.client(d.token);
      const r = await c.post('/v1/query', { text: 'where is the remote control' });
      expect(r.body.outcome).toBe('found');
      expect(r.body.sighting.room).toBe('lounge');
    } finally {
      await s2.close();
    }
  });
});
