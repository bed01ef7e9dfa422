/** The Store contract, run against every backend in test/helpers/stores.ts. */
import { afterEach, describe, expect, it } from 'vitest';
import { storeFactories } from './helpers/stores.js';
import type { Store } from '../dist/store/types.js';

const box = { x: 0.1, y: 0.2, w: 0.3, h: 0.4 };

describe.each(storeFactories())('store: $name', (factory) => {
  let store: Store;
  let reopen: () => Promise<Store>;
  const open: Store[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => {});
  });
  async function fresh() {
    const r = await factory.open();
    store = r.store;
    reopen = r.reopen;
    open.push(store);
    return store;
  }
  async function household(s: Store) {
    const u = await s.createUser({ name: 'ann', passwordHash: 'x', isAdmin: true });
    const d = await s.createDevice({ userId: u.id, name: 'kitchen cam', room: 'kitchen', tokenHash: 'h-' + u.id });
    return { u, d };
  }

  it('creates, finds and refuses duplicate users (names are case-insensitive)', async () => {
    const s = await fresh();
    const u = await s.createUser({ name: 'Ann', passwordHash: 'h', isAdmin: false });
    expect(u.id).toBeGreaterThan(0);
    expect((await s.getUserByName('ann'))?.id).toBe(u.id);
    await expect(s.createUser({ name: 'ANN', passwordHash: 'h', isAdmin: false })).rejects.toThrow(/already exists/);
    expect(await s.countAdmins()).toBe(0);
    await s.setAdmin(u.id, true);
    expect(await s.countAdmins()).toBe(1);
  });

  it('first-run setup creates exactly one first user, even when attempts race', async () => {
    const s = await fresh();
    const tries = await Promise.all(['a1', 'a2', 'a3', 'a4', 'a5'].map((name) => s.createFirstUser({ name, passwordHash: 'h', isAdmin: true })));
    const made = tries.filter((u) => u !== null);
    expect(made).toHaveLength(1);
    expect(made[0]!.isAdmin).toBe(true);
    expect((await s.listUsers()).map((u) => u.name)).toEqual([made[0]!.name]);
    expect(await s.createFirstUser({ name: 'late', passwordHash: 'h', isAdmin: true })).toBeNull();
  });

  it('sessions die with the token epoch, on expiry and on password change', async () => {
    const s = await fresh();
    const u = await s.createUser({ name: 'bo', passwordHash: 'h', isAdmin: false });
    const now = Date.now();
    await s.createSession({ tokenHash: 't1', userId: u.id, epoch: u.tokenEpoch, csrfToken: 'c', expiresAt: now + 60_000 });
    await s.createSession({ tokenHash: 't2', userId: u.id, epoch: u.tokenEpoch, csrfToken: 'c', expiresAt: now + 60_000 });
    expect((await s.getSession('t1', now))?.user.name).toBe('bo');
    expect(await s.getSession('t1', now + 61_000)).toBeNull();
    await s.bumpTokenEpoch(u.id);
    expect(await s.getSession('t1', now)).toBeNull();
    expect(await s.getSession('t2', now)).toBeNull();
    const u2 = (await s.getUserById(u.id))!;
    await s.createSession({ tokenHash: 't3', userId: u.id, epoch: u2.tokenEpoch, csrfToken: 'c', expiresAt: now + 60_000 });
    await s.setPassword(u.id, 'new');
    expect(await s.getSession('t3', now)).toBeNull();
  });

  it('devices: token lookup, revoke, and a deleted owner takes their devices along', async () => {
    const s = await fresh();
    const { u, d } = await household(s);
    expect((await s.getDeviceByTokenHash('h-' + u.id))?.device.id).toBe(d.id);
    const other = await s.createDevice({ userId: u.id, name: 'hall', room: null, tokenHash: 'h2' });
    await s.revokeDevice(other.id, Date.now());
    expect(await s.getDeviceByTokenHash('h2')).toBeNull();
    await s.deleteUser(u.id);
    expect(await s.getDeviceByTokenHash('h-' + u.id)).toBeNull();
    expect(await s.getDevice(d.id)).toBeNull();
  });

  it('latest sighting is newest by seen_at, not insertion order, with neighbours from its frame', async () => {
    const s = await fresh();
    const { u, d } = await household(s);
    const f1 = await s.createFrame({ userId: u.id, deviceId: d.id, capturedAt: 2000, snapshotPath: 'a.jpg', width: 640, height: 480, bytes: 10 });
    await s.addSightings([
      { userId: u.id, deviceId: d.id, frameId: f1.id, label: 'cup', score: 0.9, box, seenAt: 2000 },
      { userId: u.id, deviceId: d.id, frameId: f1.id, label: 'dining table', score: 0.7, box: { x: 0, y: 0.5, w: 1, h: 0.5 }, seenAt: 2000 },
    ]);
    // inserted later but seen earlier: must not win
    await s.addSightings([{ userId: u.id, deviceId: d.id, frameId: null, label: 'cup', score: 0.8, box, seenAt: 1000 }]);
    const l = (await s.latestSighting(u.id, 'cup'))!;
    expect(l.seenAt).toBe(2000);
    expect(l.room).toBe('kitchen');
    expect(l.deviceName).toBe('kitchen cam');
    expect(l.snapshotAvailable).toBe(true);
    expect(l.neighbours.map((n) => n.label)).toEqual(['dining table']);
    expect(await s.latestSighting(u.id, 'laptop')).toBeNull();
    const items = await s.listItems(u.id);
    expect(items.map((i) => [i.label, i.count, i.latest.seenAt])).toEqual([
      ['cup', 2, 2000],
      ['dining table', 1, 2000],
    ]);
  });

  it('refreshSighting moves seen_at forward (never back) and keeps the item list current', async () => {
    const s = await fresh();
    const { u, d } = await household(s);
    const [a] = await s.addSightings([{ userId: u.id, deviceId: d.id, frameId: null, label: 'book', score: 0.6, box, seenAt: 5000 }]);
    await s.refreshSighting(a.id, { seenAt: 9000 });
    expect((await s.latestSighting(u.id, 'book'))!.seenAt).toBe(9000);
    await s.refreshSighting(a.id, { seenAt: 7000 });
    expect((await s.latestSighting(u.id, 'book'))!.seenAt).toBe(9000);
    expect((await s.listItems(u.id))[0].latest.seenAt).toBe(9000);
    expect(await s.countSightings(u.id)).toBe(1);
    expect((await s.latestSightingsForDevice(d.id, 8000)).map((x) => x.id)).toEqual([a.id]);
  });

  it("one user's sightings are invisible to another", async () => {
    const s = await fresh();
    const { u, d } = await household(s);
    const v = await s.createUser({ name: 'vic', passwordHash: 'h', isAdmin: false });
    await s.addSightings([{ userId: u.id, deviceId: d.id, frameId: null, label: 'cup', score: 0.9, box, seenAt: 1 }]);
    expect(await s.latestSighting(v.id, 'cup')).toBeNull();
    expect(await s.listItems(v.id)).toEqual([]);
    expect(await s.listSightings({ userId: v.id, limit: 10 })).toEqual([]);
  });

  it('lists sightings with filters and keyset paging', async () => {
    const s = await fresh();
    const { u, d } = await household(s);
    const hall = await s.createDevice({ userId: u.id, name: 'hall cam', room: 'hall', tokenHash: 'hh' });
    const rows = [];
    for (let i = 1; i <= 10; i++) rows.push({ userId: u.id, deviceId: i % 2 ? d.id : hall.id, frameId: null, label: i % 3 ? 'cup' : 'book', score: 0.5, box, seenAt: i * 1000 });
    await s.addSightings(rows);
    const cups = await s.listSightings({ userId: u.id, label: 'cup', limit: 100 });
    expect(cups.map((c) => c.seenAt)).toEqual([10000, 8000, 7000, 5000, 4000, 2000, 1000]);
    const hallOnly = await s.listSightings({ userId: u.id, room: 'HALL', limit: 100 });
    expect(hallOnly.every((r) => r.room === 'hall')).toBe(true);
    const page2 = await s.listSightings({ userId: u.id, limit: 3, before: 8000 });
    expect(page2.map((r) => r.seenAt)).toEqual([7000, 6000, 5000]);
    const window = await s.listSightings({ userId: u.id, since: 3000, until: 4000, limit: 100 });
    expect(window.map((r) => r.seenAt)).toEqual([4000, 3000]);
  });

  it('retention never offers the frame of a label’s latest sighting', async () => {
    const s = await fresh();
    const { u, d } = await household(s);
    const frames = [];
    for (let i = 1; i <= 5; i++) {
      const f = await s.createFrame({ userId: u.id, deviceId: d.id, capturedAt: i * 1000, snapshotPath: `f${i}.jpg`, width: 1, height: 1, bytes: 1 });
      frames.push(f);
      await s.addSightings([{ userId: u.id, deviceId: d.id, frameId: f.id, label: i === 1 ? 'umbrella' : 'cup', score: 0.9, box, seenAt: i * 1000 }]);
    }
    const old = await s.listEvictableFrames({ olderThan: 10_000, limit: 100 });
    // frame 1 holds the only umbrella, frame 5 the latest cup
    expect(old.map((f) => f.id)).toEqual([frames[1].id, frames[2].id, frames[3].id]);
    const beyond = await s.listEvictableFrames({ keepNewest: 3, limit: 100 });
    expect(beyond.map((f) => f.id)).toEqual([frames[1].id]);
    await s.clearFrameSnapshot(frames[1].id);
    expect((await s.getFrame(frames[1].id))!.snapshotPath).toBeNull();
  });

  it('frames: an idempotency key is unique per device', async () => {
    const s = await fresh();
    const { u, d } = await household(s);
    const other = await s.createDevice({ userId: u.id, name: 'hall', room: null, tokenHash: 'hx' });
    const base = { userId: u.id, deviceId: d.id, capturedAt: 1, snapshotPath: null, width: 1, height: 1, bytes: 0 };
    const f = await s.createFrame({ ...base, idempotencyKey: 'k1' });
    await expect(s.createFrame({ ...base, idempotencyKey: 'k1' })).rejects.toThrow(/idempotency|already exists/);
    expect((await s.getFrameByKey(d.id, 'k1'))?.id).toBe(f.id);
    expect(await s.getFrameByKey(other.id, 'k1')).toBeNull();
    await s.createFrame({ ...base, deviceId: other.id, idempotencyKey: 'k1' });
    await s.createFrame(base);
    await s.createFrame(base); // no key: no constraint
  });

  it('recordFrame writes the frame, new sightings and refreshes together, or nothing', async () => {
    const s = await fresh();
    const { u, d } = await household(s);
    const frame = { userId: u.id, deviceId: d.id, capturedAt: 1000, snapshotPath: 'a.jpg', width: 640, height: 480, bytes: 9 };
    const first = await s.recordFrame({ ...frame, idempotencyKey: 'k' }, [{ userId: u.id, deviceId: d.id, label: 'cup', score: 0.9, box, seenAt: 1000 }], []);
    expect(first.sightings.map((x) => [x.label, x.frameId])).toEqual([['cup', first.frame.id]]);
    const cup = first.sightings[0];
    const second = await s.recordFrame(
      { ...frame, capturedAt: 5000, snapshotPath: 'b.jpg' },
      [{ userId: u.id, deviceId: d.id, label: 'book', score: 0.7, box, seenAt: 5000 }],
      [{ id: cup.id, seenAt: 5000, moveToFrame: true, score: 0.95, box: { x: 0.2, y: 0.2, w: 0.3, h: 0.4 } }],
    );
    const moved = (await s.latestSighting(u.id, 'cup'))!;
    expect(moved).toMatchObject({ id: cup.id, seenAt: 5000, frameId: second.frame.id, score: 0.95 });
    expect(moved.neighbours.map((n) => n.label)).toEqual(['book']);
    // a late upload only confirms: seen_at never moves back, the frame stays
    await s.recordFrame({ ...frame, capturedAt: 3000, snapshotPath: 'c.jpg' }, [], [{ id: cup.id, seenAt: 3000, moveToFrame: false }]);
    expect((await s.latestSighting(u.id, 'cup'))!).toMatchObject({ seenAt: 5000, frameId: second.frame.id });
    // a reused idempotency key: the whole frame is refused, its sightings too
    await expect(
      s.recordFrame({ ...frame, capturedAt: 9000, idempotencyKey: 'k' }, [{ userId: u.id, deviceId: d.id, label: 'laptop', score: 0.8, box, seenAt: 9000 }], []),
    ).rejects.toThrow(/idempotency/);
    expect(await s.latestSighting(u.id, 'laptop')).toBeNull();
    expect(await s.countSightings(u.id)).toBe(2);
  });

  it('login failures are counted per key within a window', async () => {
    const s = await fresh();
    await s.recordLoginFailure('k', 1000);
    await s.recordLoginFailure('k', 2000);
    await s.recordLoginFailure('other', 2000);
    expect(await s.countLoginFailures('k', 1500)).toBe(1);
    expect(await s.countLoginFailures('k', 0)).toBe(2);
    await s.clearLoginFailures('k');
    expect(await s.countLoginFailures('k', 0)).toBe(0);
  });

  it('question log keeps timings and is per user', async () => {
    const s = await fresh();
    const { u } = await household(s);
    await s.logQuery({ userId: u.id, deviceId: null, source: 'text', text: 'where is my cup', reply: 'r', intent: 'find_item', outcome: 'found', label: 'cup', timings: { nlp_ms: 0.2 }, createdAt: 5 });
    const q = await s.listQueries(u.id, 10);
    expect(q[0].timings).toEqual({ nlp_ms: 0.2 });
    expect(await s.listQueries(u.id + 999, 10)).toEqual([]);
    const many = Array.from({ length: 30 }, (_, i) => ({ userId: u.id, deviceId: null, source: 'voice' as const, text: `q${i}`, reply: 'r', intent: 'find_item', outcome: 'never_seen', label: i % 2 ? 'cup' : null, timings: { asr_ms: i }, createdAt: 100 + i }));
    await s.logQueries(many);
    await s.logQueries([]);
    const all = await s.listQueries(u.id, 100);
    expect(all).toHaveLength(31);
    expect(all[0]).toMatchObject({ text: 'q29', source: 'voice', label: 'cup', timings: { asr_ms: 29 } });
    expect(q[0].heard).toBeNull();
  });

  it('question log keeps what the recogniser heard: alternatives, word confidences, the second look (migration 5)', async () => {
    const s = await fresh();
    const { u } = await household(s);
    const heard = {
      alternatives: [
        { text: 'where is my truck', confidence: 0.6 },
        { text: 'where is my cup', confidence: 0.4 },
      ],
      words: [
        { word: 'where', conf: 1 },
        { word: 'truck', conf: 0.6 },
      ],
      check: { text: 'where is my stapler', verdict: 'unknown_item' },
    };
    const one = await s.logQuery({ userId: u.id, deviceId: null, source: 'voice', text: 'where is my truck', reply: 'r', intent: 'find_item', outcome: 'unknown_item', label: null, timings: { asr_ms: 1 }, heard, createdAt: 5 });
    expect(one.heard).toEqual(heard);
    const noCheck = { alternatives: [{ text: 'where is my cup', confidence: 1 }], words: [{ word: 'cup', conf: 0.91 }], check: null };
    await s.logQueries([
      { userId: u.id, deviceId: null, source: 'voice', text: 'where is my cup', reply: 'r', intent: 'find_item', outcome: 'found', label: 'cup', timings: {}, heard: noCheck, createdAt: 6 },
      { userId: u.id, deviceId: null, source: 'text', text: 'where is my cup', reply: 'r', intent: 'find_item', outcome: 'found', label: 'cup', timings: {}, createdAt: 7 },
    ]);
    const rows = await s.listQueries(u.id, 10);
    expect(rows.map((r) => r.heard)).toEqual([null, noCheck, heard]);
  });

  it('every acknowledged sighting survives close and reopen', async () => {
    const s = await fresh();
    const { u, d } = await household(s);
    const rows = Array.from({ length: 500 }, (_, i) => ({ userId: u.id, deviceId: d.id, frameId: null, label: 'cup', score: 0.5, box, seenAt: i + 1 }));
    for (let i = 0; i < rows.length; i += 50) await s.addSightings(rows.slice(i, i + 50));
    await s.close();
    const again = await reopen();
    open.push(again);
    expect(await again.countSightings(u.id)).toBe(500);
    expect((await again.latestSighting(u.id, 'cup'))!.seenAt).toBe(500);
  });
});
