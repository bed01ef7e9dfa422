/**
 * Lookup: "latest sighting of L" through the product's SqliteStore, on files seeded with 10 thousand,
 * 1 million and 10 million sightings: p50/p99 over many lookups of random labels (should stay flat: one
 * index seek on sightings(user_id, label, seen_at DESC) plus the frame's neighbours). The query plan kept
 * with each row is EXPLAIN of the store's own statements (LATEST_SIGHTING_SQL, NEIGHBOURS_SQL).
 */
import fs from 'node:fs';
import path from 'node:path';
import { LATEST_SIGHTING_SQL, NEIGHBOURS_SQL, SqliteStore } from '../store/sqlite.js';
import { mulberry32, seedSqlite, type SeedResult } from './seed.js';
import { log, summarize, type Summary } from './util.js';

export interface LookupRow {
  store: 'sqlite' | 'postgres';
  sightings: number;
  seedSeconds: number;
  indexSeconds: number;
  fileMiB: number;
  lookups: number;
  ms: Summary;
  plan: string;
}

export async function lookupBench(o: { dir: string; sizes: number[]; lookups: number; labels: readonly string[] }): Promise<LookupRow[]> {
  const rows: LookupRow[] = [];
  for (const n of o.sizes) {
    const file = path.join(o.dir, `lookup-${n}.db`);
    log(`lookup: seeding ${n.toLocaleString('en-US')} sightings`);
    const seed: SeedResult = await seedSqlite({ file, sightings: n, labels: o.labels });
    log(`lookup: seeded in ${seed.seconds.toFixed(1)} s (indexes ${seed.indexSeconds.toFixed(1)} s)`);
    const store = new SqliteStore(file);
    // the plans of the store's own statements (exported from store/), with real parameters
    const explain = (sql: string, ...params: unknown[]) =>
      (store.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    const sample = await store.latestSighting(seed.userId, o.labels[0]);
    const plan = `latest: ${explain(LATEST_SIGHTING_SQL, seed.userId, o.labels[0])} | neighbours: ${explain(NEIGHBOURS_SQL, sample?.frameId ?? 0, sample?.id ?? 0)}`;
    const rnd = mulberry32(7);
    const labels = seed.labelsUsed;
    for (let i = 0; i < 500; i++) await store.latestSighting(seed.userId, labels[(rnd() * labels.length) | 0]);
    const ms: number[] = new Array(o.lookups);
    let misses = 0;
    for (let i = 0; i < o.lookups; i++) {
      const label = labels[(rnd() * labels.length) | 0];
      const t = performance.now();
      const r = await store.latestSighting(seed.userId, label);
      ms[i] = performance.now() - t;
      if (!r) misses++;
    }
    if (misses) throw new Error(`lookup: ${misses} lookups found nothing`);
    await store.close();
    const fileMiB = fs.statSync(file).size / 2 ** 20;
    rows.push({ store: 'sqlite', sightings: n, seedSeconds: seed.seconds, indexSeconds: seed.indexSeconds, fileMiB, lookups: o.lookups, ms: summarize(ms), plan });
    fs.rmSync(file, { force: true });
    fs.rmSync(file + '-wal', { force: true });
    fs.rmSync(file + '-shm', { force: true });
  }
  return rows;
}

/**
 * The same lookups through the product's PostgresStore, on the database the bench seeded for the server
 * (one network round trip per query instead of an in-process call).
 */
export async function lookupPostgres(o: { url: string; seed: SeedResult; lookups: number }): Promise<LookupRow> {
  const { openPostgresStore, LATEST_SIGHTING_SQL: PG_LATEST } = await import('../store/postgres.js');
  const store = await openPostgresStore(o.url);
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: o.url });
  try {
    await client.connect();
    // the plan of the store's own statement, with a real user and label
    const explained = await client.query(`EXPLAIN ${PG_LATEST}`, [o.seed.userId, o.seed.labelsUsed[0]]);
    const plan = explained.rows.map((r: Record<string, string>) => r['QUERY PLAN'].trim()).join('; ');
    const rnd = mulberry32(11);
    const labels = o.seed.labelsUsed;
    for (let i = 0; i < 300; i++) await store.latestSighting(o.seed.userId, labels[(rnd() * labels.length) | 0]);
    const ms: number[] = new Array(o.lookups);
    for (let i = 0; i < o.lookups; i++) {
      const label = labels[(rnd() * labels.length) | 0];
      const t = performance.now();
      await store.latestSighting(o.seed.userId, label);
      ms[i] = performance.now() - t;
    }
    return { store: 'postgres', sightings: o.seed.sightings, seedSeconds: o.seed.seconds, indexSeconds: 0, fileMiB: 0, lookups: o.lookups, ms: summarize(ms), plan };
  } finally {
    await client.end().catch(() => {});
    await store.close();
  }
}
