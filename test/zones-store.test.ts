/**
 * The zone part of the Store contract on every backend (SQLite, PostgreSQL): zones, sightings tagged with a zone,
 * "what's in this place" as one indexed query, per-user place labels; and the query plans of the new lookups.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { storeFactories } from './helpers/stores.js';
import { createDatabase, sharedPgUrl } from './helpers/pg.js';
import { itemsInPlaceSql, SqliteStore } from '../dist/store/sqlite.js';
import type { Store } from '../dist/store/types.js';

const SQ: Array<[number, number]> = [[0, 0.5], [0.6, 0.5], [0.6, 1], [0, 1]];

describe.each(storeFactories())('store zones: $name', (factory) => {
  const open: Store[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close().catch(() => {});
  });
  async function fresh() {
    const r = await factory.open();
    open.push(r.store);
    return r;
  }

  it('zones: create, list, rename, reshape, unique names per camera (any case), delete', async () => {
    const { store: s } = await fresh();
    const u = await s.createUser({ name: 'ann', passwordHash: 'x', isAdmin: false });
    const k = await s.createDevice({ userId: u.id, name: 'kitchen cam', room: 'kitchen', tokenHash: 'k' });
    const h = await s.createDevice({ userId: u.id, name: 'hall cam', room: 'Hall', tokenHash: 'h' });
    const z = await s.createZone({ userId: u.id, deviceId: k.id, name: 'Counter', points: SQ });
    expect(z).toMatchObject({ userId: u.id, deviceId: k.id, name: 'Counter', points: SQ });
    await expect(s.createZone({ userId: u.id, deviceId: k.id, name: 'counter', points: SQ })).rejects.toThrow(/already has a zone/);
    // the same name on another camera is fine
    await s.createZone({ userId: u.id, deviceId: h.id, name: 'counter', points: SQ });
    expect((await s.listZones(u.id)).map((x) => [x.deviceId, x.name])).toEqual([[k.id, 'Counter'], [h.id, 'counter']]);
    expect((await s.listZones(u.id, h.id)).map((x) => x.name)).toEqual(['counter']);
    const moved = await s.updateZone(z.id, { points: [[0, 0], [1, 0], [1, 1]] });
    expect(moved).toMatchObject({ name: 'Counter', points: [[0, 0], [1, 0], [1, 1]] });
    expect(moved!.updatedAt).toBeGreaterThanOrEqual(z.updatedAt);
    expect((await s.updateZone(z.id, { name: 'worktop' }))!.name).toBe('worktop');
    expect(await s.updateZone(999_999, { name: 'x' })).toBeNull();
    expect((await s.listZoneNames()).sort()).toEqual(['counter', 'worktop']);
    expect((await s.listRooms(u.id)).sort()).toEqual(['Hall', 'kitchen']);
    expect(await s.deleteZone(z.id)).toBe(true);
    expect(await s.deleteZone(z.id)).toBe(false);
    expect(await s.getZone(z.id)).toBeNull();
  });

  it('sightings carry their zone; what is in a zone or a room is read from the latest sightings', async () => {
    const { store: s, reopen } = await fresh();
    const u = await s.createUser({ name: 'ann', passwordHash: 'x', isAdmin: false });
    const other = await s.createUser({ name: 'bo', passwordHash: 'x', isAdmin: false });
    const k = await s.createDevice({ userId: u.id, name: 'kitchen cam', room: 'Kitchen', tokenHash: 'k' });
    const o = await s.createDevice({ userId: other.id, name: 'their cam', room: 'kitchen', tokenHash: 'o' });
    const z = await s.createZone({ userId: u.id, deviceId: k.id, name: 'counter', points: SQ });
    const box = { x: 0.2, y: 0.6, w: 0.1, h: 0.1 };
    const { frame } = await s.recordFrame(
      { userId: u.id, deviceId: k.id, capturedAt: 1000, snapshotPath: 'a.jpg', width: 640, height: 480, bytes: 1 },
      [
        { userId: u.id, deviceId: k.id, label: 'cup', score: 0.9, box, seenAt: 1000, zoneId: z.id },
        { userId: u.id, deviceId: k.id, label: 'remote', score: 0.8, box: { x: 0.8, y: 0.1, w: 0.1, h: 0.1 }, seenAt: 1000 },
      ],
      [],
    );
    await s.addSightings([{ userId: other.id, deviceId: o.id, frameId: null, label: 'cup', score: 0.9, box, seenAt: 5000 }]);
    const latest = (await s.latestSighting(u.id, 'cup'))!;
    expect(latest).toMatchObject({ zoneId: z.id, zoneName: 'counter', room: 'Kitchen' });
    expect((await s.itemsInPlace(u.id, { zoneIds: [z.id] })).map((i) => i.label)).toEqual(['cup']);
    expect((await s.itemsInPlace(u.id, { room: 'kitchen' })).map((i) => i.label).sort()).toEqual(['cup', 'remote']);
    expect((await s.itemsInPlace(u.id, { zoneIds: [z.id], room: 'nowhere' })).map((i) => i.label)).toEqual(['cup']);
    expect(await s.itemsInPlace(u.id, {})).toEqual([]);
    expect((await s.listFrameSightings(frame.id)).map((x) => [x.label, x.zoneName])).toEqual([['cup', 'counter'], ['remote', null]]);
    expect((await s.latestFrameWithSnapshot(k.id))!.id).toBe(frame.id);

    // the item moves off the counter: a refresh with a new box and no zone
    await s.recordFrame(
      { userId: u.id, deviceId: k.id, capturedAt: 2000, snapshotPath: 'b.jpg', width: 640, height: 480, bytes: 1 },
      [],
      [{ id: latest.id, seenAt: 2000, moveToFrame: true, score: 0.9, box: { x: 0.8, y: 0.5, w: 0.1, h: 0.1 }, zoneId: null }],
    );
    expect((await s.latestSighting(u.id, 'cup'))!.zoneId).toBeNull();
    expect(await s.itemsInPlace(u.id, { zoneIds: [z.id] })).toEqual([]);
    // a late frame from before the sighting began moves its first-seen time back, never its latest
    await s.recordFrame(
      { userId: u.id, deviceId: k.id, capturedAt: 900, snapshotPath: 'c.jpg', width: 640, height: 480, bytes: 1 },
      [],
      [{ id: latest.id, seenAt: 900, moveToFrame: false, firstSeenAt: 900 }],
    );
    expect(await s.latestSighting(u.id, 'cup')).toMatchObject({ seenAt: 2000, firstSeenAt: 900 });

    // re-zoning in bulk, newest first
    const boxes = await s.listDeviceBoxes(k.id, 10);
    expect(boxes.map((b) => b.id)).toContain(latest.id);
    await s.setSightingZones(boxes.map((b) => ({ id: b.id, zoneId: z.id })));
    expect((await s.itemsInPlace(u.id, { zoneIds: [z.id] })).map((i) => i.label).sort()).toEqual(['cup', 'remote']);
    // deleting the zone leaves the sightings, without a zone
    await s.deleteZone(z.id);
    expect((await s.latestSighting(u.id, 'cup'))!.zoneId).toBeNull();
    // and everything survives a reopen
    await s.close();
    const again = await reopen();
    open.push(again);
    expect((await again.latestSighting(u.id, 'cup'))!.seenAt).toBe(2000);
  });

  it('place labels are per user; null is the default; zones go with their device and user', async () => {
    const { store: s } = await fresh();
    const u = await s.createUser({ name: 'ann', passwordHash: 'x', isAdmin: false });
    const b = await s.createUser({ name: 'bo', passwordHash: 'x', isAdmin: false });
    expect(await s.getPlaceLabels(u.id)).toBeNull();
    await s.setPlaceLabels(u.id, ['chair', 'dining table']);
    expect(await s.getPlaceLabels(u.id)).toEqual(['chair', 'dining table']);
    expect(await s.getPlaceLabels(b.id)).toBeNull();
    await s.setPlaceLabels(u.id, []);
    expect(await s.getPlaceLabels(u.id)).toEqual([]);
    await s.setPlaceLabels(u.id, null);
    expect(await s.getPlaceLabels(u.id)).toBeNull();
    const d = await s.createDevice({ userId: u.id, name: 'cam', room: null, tokenHash: 't' });
    await s.createZone({ userId: u.id, deviceId: d.id, name: 'desk', points: SQ });
    await s.deleteUser(u.id);
    expect(await s.listZones(u.id)).toEqual([]);
    expect(await s.listZoneNames()).toEqual([]);
  });
});

describe('the new lookups are one indexed query each', () => {
  it('SQLite: "what\u2019s on the desk" seeks latest_sightings by user and sightings by id', async () => {
    const s = new SqliteStore(':memory:');
    try {
      const plan = (s.db.prepare(`EXPLAIN QUERY PLAN ${itemsInPlaceSql(['s.zone_id IN (?, ?)', 'd.room = ? COLLATE NOCASE'])}`).all(1, 1, 2, 'kitchen') as Array<{ detail: string }>)
        .map((r) => r.detail)
        .join('\n');
      expect(plan).toMatch(/SEARCH l USING PRIMARY KEY \(user_id=\?\)/);
      expect(plan).toMatch(/SEARCH s USING INTEGER PRIMARY KEY \(rowid=\?\)/);
      expect(plan).not.toMatch(/SCAN s\b/);
      // the history of an item: the (user, label, seen_at) index, newest first
      const hist = (s.db.prepare(`EXPLAIN QUERY PLAN SELECT id FROM sightings s WHERE s.user_id = ? AND s.label = ? AND s.seen_at <= ? ORDER BY s.seen_at DESC, s.id DESC LIMIT 200`).all(1, 'cup', 5) as Array<{ detail: string }>)
        .map((r) => r.detail)
        .join('\n');
      expect(hist).toMatch(/USING (COVERING )?INDEX sightings_user_label_seen/);
    } finally {
      await s.close();
    }
  });

  const pgUrl = sharedPgUrl();
  (pgUrl || process.env.CI === 'true' ? it : it.skip)('PostgreSQL: the same, on 100k sightings', async () => {
    if (!pgUrl) throw new Error('PostgreSQL is not available');
    const { openPostgresStore, ITEMS_IN_PLACE_SQL } = await import('../dist/store/postgres.js');
    const url = await createDatabase(pgUrl);
    const s = await openPostgresStore(url);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const users = await Promise.all(['a', 'b', 'c', 'd'].map((n) => s.createUser({ name: n, passwordHash: 'x', isAdmin: false })));
      const devs = await Promise.all(users.map((u, i) => s.createDevice({ userId: u.id, name: `cam${i}`, room: `room${i}`, tokenHash: `t${i}` })));
      const z = await s.createZone({ userId: users[0].id, deviceId: devs[0].id, name: 'desk', points: SQ });
      await c.query(
        `INSERT INTO sightings (user_id, device_id, label, score, x, y, w, h, seen_at, first_seen_at, zone_id)
         SELECT u.user_id, u.device_id, 'label' || (i % 60), 0.9, 0.1, 0.6, 0.1, 0.1, i, i, CASE WHEN u.user_id = $1 AND i % 3 = 0 THEN $2::bigint END
         FROM generate_series(1, 25000) i CROSS JOIN (SELECT id AS device_id, user_id FROM devices) u`,
        [users[0].id, z.id],
      );
      await c.query(
        `INSERT INTO latest_sightings (user_id, label, sighting_id, seen_at, count)
         SELECT DISTINCT ON (user_id, label) user_id, label, id, seen_at, 1 FROM sightings ORDER BY user_id, label, seen_at DESC, id DESC`,
      );
      await c.query('ANALYZE');
      const plan = (await c.query(`EXPLAIN ${ITEMS_IN_PLACE_SQL}`, [users[0].id, [z.id], null])).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
      expect(plan).not.toMatch(/Seq Scan on sightings/);
      expect(plan).toMatch(/Index Scan using sightings_pkey on sightings|Index Scan using latest_sightings_pkey/);
      const got = await s.itemsInPlace(users[0].id, { zoneIds: [z.id] });
      expect(got.length).toBeGreaterThan(0);
      expect(got.every((i) => i.latest.zoneId === z.id)).toBe(true);
    } finally {
      await c.end();
      await s.close();
    }
  }, 120_000);
});
