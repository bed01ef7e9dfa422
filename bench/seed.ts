/**
 * Seeds a SQLite data file with many sightings, fast, straight through better-sqlite3: one user, several
 * devices in different rooms, frames of 1-6 detections each, spread over the last `days` days with the
 * newest last, and `latest_sightings` kept consistent (computed while generating, written at the end).
 *
 * Speed: the schema comes from the store's own migrations (SqliteStore), then for the bulk load the
 * journal is off and synchronous=OFF, the sightings/frames secondary indexes are dropped and re-created
 * from their own `CREATE INDEX` text afterwards (one sort each instead of 10M random B-tree inserts).
 * Figures (2 cores): see docs/benchmarks.md.
 */
import Database from 'better-sqlite3';
import { SqliteStore } from '../store/sqlite.js';
import { addDevice, addUser } from '../assistant/accounts.js';
import type { Store } from '../store/types.js';
import { prng } from '../protocol/noise.js';

export interface SeedOptions {
  file: string;
  sightings: number;
  labels: readonly string[];
  devices?: number;
  /** spread over this many days before `now` */
  days?: number;
  now?: number;
  /** keep the indexes while inserting instead of dropping and re-creating them */
  keepIndexes?: boolean;
  seed?: number;
}

export interface SeedResult {
  userId: number;
  userName: string;
  password: string;
  deviceIds: number[];
  deviceTokens: string[];
  sightings: number;
  frames: number;
  seconds: number;
  /** seconds spent re-creating indexes (included in seconds) */
  indexSeconds: number;
  labelsUsed: string[];
}

export const ROOMS = ['kitchen', 'living room', 'hall', 'bedroom', 'study', 'garage', 'bathroom', 'porch'];

/** small fast deterministic PRNG */
/** the bench's user and cameras, made through the product's own account code */
async function household(store: Store, nDevices: number) {
  const userName = 'bench';
  const password = 'bench-password-1';
  const user: { id: number } = (await store.getUserByName(userName)) ?? (await addUser(store, userName, password, true));
  const deviceIds: number[] = [];
  const deviceTokens: string[] = [];
  for (let d = 0; d < nDevices; d++) {
    const { device, token } = await addDevice(store, user.id, `cam ${d + 1}`, ROOMS[d % ROOMS.length]);
    deviceIds.push(device.id);
    deviceTokens.push(token);
  }
  return { userName, password, user, deviceIds, deviceTokens };
}

/** mulberry32, the one small deterministic PRNG of the benches and fixtures (protocol/noise.ts) */
export const mulberry32 = prng;

export async function seedSqlite(o: SeedOptions): Promise<SeedResult> {
  const t0 = performance.now();
  const nDevices = o.devices ?? 6;
  const days = o.days ?? 90;
  const now = o.now ?? Date.now();
  const rnd = mulberry32(o.seed ?? 42);

  // schema, user and devices through the product's own code
  const store = new SqliteStore(o.file);
  const { userName, password, user, deviceIds, deviceTokens } = await household(store, nDevices);
  await store.close();

  const db = new Database(o.file);
  // better-sqlite3 runs SQLite in defensive mode, which refuses journal_mode=OFF: an in-memory rollback
  // journal is the next best thing (a crash mid-seed leaves a broken file, which is fine for a bench)
  db.pragma('journal_mode = DELETE');
  db.pragma('journal_mode = MEMORY');
  db.pragma('synchronous = OFF');
  db.pragma('foreign_keys = OFF');
  db.pragma('cache_size = -262144'); // 256 MiB
  db.pragma('temp_store = MEMORY');
  db.pragma('threads = 2'); // sorter worker threads for CREATE INDEX
  const indexSql = o.keepIndexes
    ? []
    : (db
        .prepare(`SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('sightings', 'frames') AND sql IS NOT NULL`)
        .all() as Array<{ name: string; sql: string }>);
  for (const ix of indexSql) db.exec(`DROP INDEX ${ix.name}`);

  const base = (db.prepare(`SELECT COALESCE(MAX(id), 0) AS m FROM sightings`).get() as { m: number }).m;
  const baseFrame = (db.prepare(`SELECT COALESCE(MAX(id), 0) AS m FROM frames`).get() as { m: number }).m;
  const insS = db.prepare(
    `INSERT INTO sightings (id, user_id, device_id, frame_id, label, score, x, y, w, h, seen_at, first_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const insF = db.prepare(`INSERT INTO frames (id, user_id, device_id, captured_at, snapshot_path, width, height, bytes) VALUES (?, ?, ?, ?, NULL, 640, 480, 0)`);

  // a skewed label popularity: a few items are seen a lot, most rarely (but every label at least once)
  const labels = o.labels;
  const weights = labels.map((_, i) => 1 / (1 + i * 0.15));
  const cum: number[] = [];
  let acc = 0;
  for (const w of weights) cum.push((acc += w));
  const pick = () => {
    const r = rnd() * acc;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] < r) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const latest = new Map<string, { id: number; seenAt: number; count: number }>();
  const span = days * 86_400_000;
  const start = now - span;
  const total = o.sightings;
  const perFrame = 3.5; // average detections per frame
  const nFrames = Math.max(1, Math.ceil(total / perFrame));
  const step = span / nFrames;
  let id = base;
  let frameId = baseFrame;
  let t = start;
  const BATCH = 250_000;
  let inserted = 0;
  const insertBatch = db.transaction((upto: number) => {
    while (inserted < upto) {
      frameId++;
      t += step * (0.5 + rnd());
      const seenAt = Math.min(now, Math.round(t));
      const dev = (rnd() * nDevices) | 0;
      const deviceId = deviceIds[dev];
      insF.run(frameId, user.id, deviceId, seenAt);
      let k = 1 + ((rnd() * 6) | 0);
      if (inserted < labels.length) k = 1; // every label appears at least once, first
      for (let j = 0; j < k && inserted < upto; j++) {
        const li = inserted < labels.length ? inserted : pick();
        const label = labels[li];
        id++;
        inserted++;
        const x = rnd() * 0.8;
        const y = rnd() * 0.8;
        insS.run(id, user.id, deviceId, frameId, label, 0.35 + rnd() * 0.6, x, y, 0.05 + rnd() * 0.15, 0.05 + rnd() * 0.15, seenAt, seenAt);
        const l = latest.get(label);
        if (!l) latest.set(label, { id, seenAt, count: 1 });
        else {
          l.count++;
          if (seenAt >= l.seenAt) {
            l.seenAt = seenAt;
            l.id = id;
          }
        }
      }
    }
  });
  while (inserted < total) insertBatch(Math.min(total, inserted + BATCH));

  const ti = performance.now();
  for (const ix of indexSql) db.exec(ix.sql);
  const indexSeconds = (performance.now() - ti) / 1000;

  const upsert = db.prepare(
    `INSERT INTO latest_sightings (user_id, label, sighting_id, seen_at, count) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (user_id, label) DO UPDATE SET
       count = count + excluded.count,
       sighting_id = CASE WHEN excluded.seen_at >= latest_sightings.seen_at THEN excluded.sighting_id ELSE latest_sightings.sighting_id END,
       seen_at = MAX(excluded.seen_at, latest_sightings.seen_at)`,
  );
  db.transaction(() => {
    for (const [label, l] of latest) upsert.run(user.id, label, l.id, l.seenAt, l.count);
  })();
  db.pragma('journal_mode = WAL');
  db.close();
  return {
    userId: user.id,
    userName,
    password,
    deviceIds,
    deviceTokens,
    sightings: total,
    frames: frameId - baseFrame,
    seconds: (performance.now() - t0) / 1000,
    indexSeconds,
    labelsUsed: [...latest.keys()],
  };
}

/**
 * Seeds PostgreSQL (`--database postgres://...`): schema, user and devices through the product's store,
 * then frames and sightings with set-based INSERT ... SELECT generate_series (the same shape of data as
 * seedSqlite: skewed label popularity, 1-6 detections per frame spread over `days`), latest_sightings
 * from one DISTINCT ON pass. Existing rows are kept; the ids continue after them.
 */
export async function seedPostgres(o: Omit<SeedOptions, 'file' | 'keepIndexes'> & { url: string }): Promise<SeedResult> {
  const t0 = performance.now();
  const { openStore } = await import('../store/index.js');
  const pg = (await import('pg')).default;
  const store = await openStore({ dataDir: '.', database: o.url });
  const nDevices = o.devices ?? 6;
  const { userName, password, user, deviceIds, deviceTokens } = await household(store, nDevices);
  await store.close();
  const client = new pg.Client({ connectionString: o.url });
  await client.connect();
  try {
    const now = o.now ?? Date.now();
    const span = (o.days ?? 90) * 86_400_000;
    const nFrames = Math.max(1, Math.ceil(o.sightings / 3.5));
    await client.query('BEGIN');
    await client.query('SET LOCAL synchronous_commit = off');
    const baseFrame = Number((await client.query(`SELECT COALESCE(MAX(id), 0) AS m FROM frames`)).rows[0].m);
    const base = Number((await client.query(`SELECT COALESCE(MAX(id), 0) AS m FROM sightings`)).rows[0].m);
    await client.query(
      `INSERT INTO frames (id, user_id, device_id, captured_at, snapshot_path, width, height, bytes)
       SELECT $1::bigint + g, $2::bigint, ($3::bigint[])[1 + (g * 7919) % cardinality($3::bigint[])],
              $4::bigint + (g * $5::float8)::bigint, NULL, 640, 480, 0
       FROM generate_series(1, $6::bigint) g`,
      [baseFrame, user.id, deviceIds, now - span, span / nFrames, nFrames],
    );
    await client.query(
      `INSERT INTO sightings (id, user_id, device_id, frame_id, label, score, x, y, w, h, seen_at, first_seen_at)
       SELECT $1::bigint + s, f.user_id, f.device_id, f.id,
              CASE WHEN s <= cardinality($4::text[]) THEN ($4::text[])[s]
                   ELSE ($4::text[])[1 + floor(power(random(), 2.5) * cardinality($4::text[]))::int] END,
              0.35 + random() * 0.6, random() * 0.8, random() * 0.8, 0.05 + random() * 0.15, 0.05 + random() * 0.15,
              f.captured_at, f.captured_at
       FROM generate_series(1, $2::bigint) s
       JOIN frames f ON f.id = $3::bigint + 1 + ((s - 1) * $5::bigint) / $2::bigint`,
      [base, o.sightings, baseFrame, o.labels, nFrames],
    );
    await client.query(`SELECT setval(pg_get_serial_sequence('frames', 'id'), (SELECT MAX(id) FROM frames))`);
    await client.query(`SELECT setval(pg_get_serial_sequence('sightings', 'id'), (SELECT MAX(id) FROM sightings))`);
    await client.query(`DELETE FROM latest_sightings WHERE user_id = $1`, [user.id]);
    await client.query(
      `INSERT INTO latest_sightings (user_id, label, sighting_id, seen_at, count)
       SELECT DISTINCT ON (user_id, label) user_id, label, id, seen_at, COUNT(*) OVER (PARTITION BY user_id, label)
       FROM sightings WHERE user_id = $1 ORDER BY user_id, label, seen_at DESC, id DESC`,
      [user.id],
    );
    await client.query('COMMIT');
    await client.query('ANALYZE frames');
    await client.query('ANALYZE sightings');
    await client.query('ANALYZE latest_sightings');
    const used = (await client.query(`SELECT label FROM latest_sightings WHERE user_id = $1`, [user.id])).rows.map((r: { label: string }) => r.label);
    return {
      userId: user.id,
      userName,
      password,
      deviceIds,
      deviceTokens,
      sightings: o.sightings,
      frames: nFrames,
      seconds: (performance.now() - t0) / 1000,
      indexSeconds: 0,
      labelsUsed: used,
    };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    await client.end();
  }
}
