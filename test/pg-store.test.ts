/**
 * PostgreSQL-only behaviour of store/postgres.ts (the shared contract is test/store.test.ts): migrations
 * under an advisory lock, the latestSighting query plan on 200k rows, error mapping, pool recovery.
 */
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createDatabase, inCI, pgMissingReason, sharedPgUrl } from './helpers/pg.js';
import { LATEST_SIGHTING_SQL, openPostgresStore, type PostgresStore } from '../dist/store/postgres.js';
import { POSTGRES_MIGRATIONS } from '../dist/store/postgres-migrations.js';
import { SQLITE_MIGRATIONS } from '../dist/store/migrations.js';
import { StoreConflictError, StoreUnavailableError, type Store } from '../dist/store/types.js';

const url = sharedPgUrl();
if (!url && inCI()) {
  describe('postgres store', () => {
    it('needs a PostgreSQL server', () => {
      throw new Error(`PostgreSQL tests cannot run in CI: ${pgMissingReason()}`);
    });
  });
} else if (!url) {
  console.warn(`[pg-store tests] skipped: ${pgMissingReason()}`);
}

const box = { x: 0.1, y: 0.2, w: 0.3, h: 0.4 };

describe.skipIf(!url)('postgres store', () => {
  const opened: Store[] = [];
  const clients: pg.Client[] = [];
  afterAll(async () => {
    for (const s of opened) await s.close().catch(() => {});
    for (const c of clients) await c.end().catch(() => {});
  });
  async function admin(dbUrl: string) {
    const c = new pg.Client({ connectionString: dbUrl });
    await c.connect();
    clients.push(c);
    return c;
  }
  async function open(dbUrl: string, opts?: Parameters<typeof openPostgresStore>[1]) {
    const s = (await openPostgresStore(dbUrl, opts)) as PostgresStore;
    opened.push(s);
    return s;
  }

  it('has the same migration versions as SQLite', () => {
    expect(POSTGRES_MIGRATIONS.map((m) => m.version)).toEqual(SQLITE_MIGRATIONS.map((m) => m.version));
  });

  it('instances opening a fresh database at the same moment migrate it exactly once', async () => {
    const db = await createDatabase(url!);
    const stores = await Promise.all(Array.from({ length: 6 }, () => open(db)));
    const c = await admin(db);
    const r = await c.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(r.rows.map((x) => x.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
    for (const s of stores) expect(await s.schemaVersion()).toBe(POSTGRES_MIGRATIONS.at(-1)!.version);
    // and every one of them works
    const u = await stores[0].createUser({ name: 'ann', passwordHash: 'x', isAdmin: true });
    expect((await stores[5].getUserById(u.id))?.name).toBe('ann');
    expect(typeof u.id).toBe('number');
    expect(typeof u.createdAt).toBe('number');
  });

  it('latestSighting is one index scan on (user_id, label, seen_at DESC), never a scan of sightings (200k rows)', async () => {
    const db = await createDatabase(url!);
    const s = await open(db);
    const ann = await s.createUser({ name: 'ann', passwordHash: 'x', isAdmin: false });
    const bo = await s.createUser({ name: 'bo', passwordHash: 'x', isAdmin: false });
    const dA = await s.createDevice({ userId: ann.id, name: 'kitchen cam', room: 'kitchen', tokenHash: 'ta' });
    const dB = await s.createDevice({ userId: bo.id, name: 'hall cam', room: 'hall', tokenHash: 'tb' });
    const c = await admin(db);
    // 20k frames, 200k sightings (10 per frame), two users, 40 labels; foreign-key triggers off for the bulk
    // load only (the rows are consistent by construction), which makes it several times faster
    await c.query(`SET session_replication_role = replica`);
    await c.query(
      `INSERT INTO frames (user_id, device_id, captured_at, snapshot_path, width, height, bytes)
       SELECT CASE WHEN i % 2 = 0 THEN $1::bigint ELSE $2::bigint END, CASE WHEN i % 2 = 0 THEN $3::bigint ELSE $4::bigint END,
              1700000000000 + i * 1000, 'f' || i || '.jpg', 640, 480, 1000
       FROM generate_series(1, 20000) i`,
      [ann.id, bo.id, dA.id, dB.id],
    );
    await c.query(
      `INSERT INTO sightings (user_id, device_id, frame_id, label, score, x, y, w, h, seen_at, first_seen_at)
       SELECT f.user_id, f.device_id, f.id, 'label' || ((f.id * 10 + k) % 40), 0.5 + (k % 5) / 10.0, 0.1, 0.1, 0.2, 0.2, f.captured_at, f.captured_at
       FROM frames f CROSS JOIN generate_series(0, 9) k`,
    );
    await c.query(`SET session_replication_role = DEFAULT`);
    expect(await s.countSightings()).toBe(200_000);
    await c.query('ANALYZE');

    const plan = (await c.query(`EXPLAIN ${LATEST_SIGHTING_SQL}`, [ann.id, 'label7'])).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
    console.log(`EXPLAIN latestSighting (200k sightings):\n${plan}`);
    expect(plan).toMatch(/Index (Only )?Scan using sightings_user_label_seen on sightings/);
    expect(plan).not.toMatch(/Seq Scan on sightings/);
    // the index order serves ORDER BY seen_at DESC, id DESC: the Limit stops the index scan at its first row
    // (the only sort is of the ~10 neighbours of that one frame)
    expect(plan).toMatch(/Limit[^\n]*\n\s*->\s+Index (Only )?Scan using sightings_user_label_seen on sightings/);

    // the store runs it as a named prepared statement: after a few runs PostgreSQL may switch to a generic
    // plan (no parameter values); that one must seek the index too
    await c.query(`SET plan_cache_mode = force_generic_plan`);
    await c.query(`PREPARE latest_generic(bigint, text) AS ${LATEST_SIGHTING_SQL}`);
    const generic = (await c.query(`EXPLAIN EXECUTE latest_generic(${ann.id}, 'label7')`)).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
    expect(generic).toMatch(/Limit[^\n]*\n\s*->\s+Index (Only )?Scan using sightings_user_label_seen on sightings/);
    expect(generic).not.toMatch(/Seq Scan on sightings/);
    await c.query(`RESET plan_cache_mode`);

    // and the answer is the newest row for that user and label
    const want = (
      await c.query(`SELECT id, seen_at FROM sightings WHERE user_id = $1 AND label = 'label7' ORDER BY seen_at DESC, id DESC LIMIT 1`, [ann.id])
    ).rows[0];
    const t = performance.now();
    const got = (await s.latestSighting(ann.id, 'label7'))!;
    const ms = performance.now() - t;
    expect(got.id).toBe(Number(want.id));
    expect(got.seenAt).toBe(Number(want.seen_at));
    expect(got.neighbours.length).toBe(9);
    expect(got.snapshotAvailable).toBe(true);
    expect(ms).toBeLessThan(1000); // typically a few ms; generous for loaded CI machines
  });

  it('concurrent writers keep latest_sightings exact (no lost counts, no upsert conflicts)', async () => {
    const db = await createDatabase(url!);
    const [a, b] = [await open(db), await open(db)];
    const u = await a.createUser({ name: 'ann', passwordHash: 'x', isAdmin: false });
    const d = await a.createDevice({ userId: u.id, name: 'cam', room: null, tokenHash: 't' });
    const batches = Array.from({ length: 40 }, (_, i) =>
      ['cup', 'book', 'cup', 'laptop'].map((label, k) => ({ userId: u.id, deviceId: d.id, frameId: null, label, score: 0.5, box, seenAt: 1000 + i * 10 + k })),
    );
    await Promise.all(batches.map((rows, i) => (i % 2 ? a : b).addSightings(rows)));
    const items = await a.listItems(u.id);
    expect(Object.fromEntries(items.map((i) => [i.label, [i.count, i.latest.seenAt]]))).toEqual({
      cup: [80, 1000 + 39 * 10 + 2],
      book: [40, 1000 + 39 * 10 + 1],
      laptop: [40, 1000 + 39 * 10 + 3],
    });
  });

  it('the methods the shared suite does not reach behave like SQLite (orderings, patches, cascades, json timings)', async () => {
    const s = await open(await createDatabase(url!));
    const b = await s.createUser({ name: 'bob', passwordHash: 'x', isAdmin: false });
    const a = await s.createUser({ name: 'Ann', passwordHash: 'x', isAdmin: true });
    expect((await s.listUsers()).map((u) => u.name)).toEqual(['Ann', 'bob']); // case-insensitive, like NOCASE
    const d1 = await s.createDevice({ userId: a.id, name: 'zed', room: null, tokenHash: '1' });
    const d2 = await s.createDevice({ userId: a.id, name: 'Alpha', room: 'x', tokenHash: '2' });
    expect((await s.listDevices()).map((d) => d.name)).toEqual(['Alpha', 'zed']); // binary, like SQLite
    expect(await s.listDevices(b.id)).toEqual([]);
    expect(await s.updateDevice(d1.id, { room: 'hall', name: 'z2' })).toMatchObject({ room: 'hall', name: 'z2' });
    expect((await s.updateDevice(d1.id, {}))?.name).toBe('z2');
    await s.touchDevice(d1.id, 5000);
    await s.touchDevice(d1.id, 4000);
    expect((await s.getDevice(d1.id))?.lastSeenAt).toBe(5000);
    expect(await s.revokeDevice(d2.id, 7)).toBe(true);
    expect(await s.revokeDevice(d2.id, 8)).toBe(false);
    await s.createSession({ tokenHash: 't', userId: a.id, epoch: 0, csrfToken: 'c', expiresAt: 10 });
    await s.createSession({ tokenHash: 't2', userId: a.id, epoch: 0, csrfToken: 'c', expiresAt: 1e15 });
    expect(await s.deleteExpiredSessions(100)).toBe(1);
    expect(await s.bumpTokenEpoch(a.id)).toBe(1);
    expect(await s.getSession('t2', 100)).toBeNull();
    const f = await s.createFrame({ userId: a.id, deviceId: d1.id, capturedAt: 1, snapshotPath: 'a.jpg', width: 1, height: 2, bytes: 3 });
    expect(await s.getFrame(f.id)).toEqual({ id: f.id, userId: a.id, deviceId: d1.id, capturedAt: 1, snapshotPath: 'a.jpg', width: 1, height: 2, bytes: 3 });
    expect(await s.addSightings([])).toEqual([]);
    const [row] = await s.addSightings([{ userId: a.id, deviceId: d1.id, frameId: f.id, label: 'cup', score: 0.123456789, box, seenAt: 1 }]);
    expect(row).toEqual({ id: row.id, userId: a.id, deviceId: d1.id, frameId: f.id, label: 'cup', score: 0.123456789, box, seenAt: 1, firstSeenAt: 1, zoneId: null });
    await s.refreshSighting(row.id, { seenAt: 50, frameId: null, score: 0.9, box: { x: 0, y: 0, w: 1, h: 1 } });
    expect(await s.latestSighting(a.id, 'cup')).toMatchObject({ seenAt: 50, firstSeenAt: 1, frameId: null, score: 0.9, snapshotAvailable: false, neighbours: [], deviceName: 'z2', room: 'hall' });
    expect(await s.countSightings()).toBe(1);
    await s.logQuery({ userId: a.id, deviceId: d1.id, source: 'voice', text: 't', reply: 'r', intent: 'i', outcome: 'o', label: null, timings: { b: 1, a: 2 }, createdAt: 9 });
    const [q] = await s.listQueries(null, 5);
    expect(Object.keys(q.timings)).toEqual(['b', 'a']);
    expect(q).toMatchObject({ deviceId: d1.id, source: 'voice', label: null, createdAt: 9 });
    expect(await s.deleteUser(a.id)).toBe(true);
    expect(await s.countSightings()).toBe(0);
    expect(await s.listQueries(null, 5)).toEqual([]);
  });

  it('unique violations are StoreConflictError', async () => {
    const s = await open(await createDatabase(url!));
    const u = await s.createUser({ name: 'ann', passwordHash: 'x', isAdmin: false });
    await s.createDevice({ userId: u.id, name: 'a', room: null, tokenHash: 'same' });
    await expect(s.createDevice({ userId: u.id, name: 'b', room: null, tokenHash: 'same' })).rejects.toBeInstanceOf(StoreConflictError);
    await expect(s.createUser({ name: 'ANN', passwordHash: 'x', isAdmin: false })).rejects.toThrow(/a user named "ANN" already exists/);
  });

  it('an unreachable server is StoreUnavailableError, quickly', async () => {
    const dead = new URL(url!);
    dead.port = '9'; // discard: nothing listens on loopback
    const t = Date.now();
    await expect(openPostgresStore(dead.toString())).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - t).toBeLessThan(5000);
  });

  it('connections killed under it (as on a server restart) are replaced; an idle-connection error never throws', async () => {
    const db = await createDatabase(url!);
    const idleErrors: Error[] = [];
    const s = await open(db, { poolMax: 4, onIdleError: (e) => idleErrors.push(e) });
    const u = await s.createUser({ name: 'ann', passwordHash: 'x', isAdmin: false });
    // fill the pool with idle connections
    await Promise.all(Array.from({ length: 4 }, () => s.getUserById(u.id)));
    expect(s.pool.totalCount).toBe(4);
    const c = await admin(url!);
    const killed = await c.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'whereabouts'`, [
      new URL(db).pathname.slice(1),
    ]);
    expect(killed.rowCount).toBe(4);
    await new Promise((r) => setTimeout(r, 200));
    expect(idleErrors.length).toBe(4);
    expect(idleErrors[0].message).toMatch(/terminat/i);
    expect(s.pool.totalCount).toBe(0);
    expect((await s.getUserById(u.id))?.name).toBe('ann');
  });

  it('a busy pool answers StoreUnavailableError after the connect timeout, not never', async () => {
    const db = await createDatabase(url!);
    const s = await open(db + '?pool_max=1&pool_connect_timeout_ms=300');
    const c = await admin(db);
    await c.query('CREATE TABLE gate (x int)');
    await c.query('BEGIN');
    await c.query('LOCK TABLE gate IN ACCESS EXCLUSIVE MODE');
    // holds the only connection, waiting on the lock
    const blocked = s.pool.query('SELECT count(*) FROM gate').catch((e) => e);
    const t = Date.now();
    await expect(s.countAdmins()).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - t).toBeLessThan(3000);
    await c.query('COMMIT');
    await blocked;
    expect(await s.countAdmins()).toBe(0);
  });
});
