/**
 * The PostgreSQL store: the whole Store contract over a `pg` connection pool, for installs that run several
 * assistant instances on one database (docs/deploy.md).
 *
 * - Schema: store/postgres-migrations.ts (same version numbers as the SQLite ones), applied at open time
 *   under `pg_advisory_lock`, so instances starting together never race.
 * - Types: bigint ids and epoch-ms times come back as JS numbers (int8 is parsed per pool, not globally).
 * - Writes that touch several rows are single statements (data-modifying CTEs), which PostgreSQL runs
 *   atomically: `addSightings` inserts every row and folds them into `latest_sightings`
 *   (`INSERT ... ON CONFLICT ... DO UPDATE` with GREATEST, exactly like the SQLite store) in one statement.
 * - Failures: an unreachable, restarting or overloaded server becomes `StoreUnavailableError` (HTTP 503
 *   `unavailable`), quickly: connects time out after a few seconds and statements after `statement_timeout`.
 *   A unique violation becomes `StoreConflictError`. The pool drops broken connections by itself and makes new
 *   ones once the server is back; an error on an idle connection is logged, never thrown.
 *
 * Tunables ride on the URL and are removed before it reaches the driver:
 *   postgres://user:pw@host/db?pool_max=10&pool_connect_timeout_ms=5000&statement_timeout_ms=10000
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { ChangeFeed } from './changes.js';
import { POSTGRES_MIGRATIONS, MIGRATION_LOCK_KEY } from './postgres-migrations.js';
import { deviceOf, frameOf, heardJson, placedOf, placeLabelsOf, queryOf, sightingOf, userOf, zoneOf, type Row } from './rows.js';
import {
  StoreConflictError,
  StoreUnavailableError,
  type Box,
  type FrameRefresh,
  type Device,
  type Frame,
  type ItemSummary,
  type PlacedSighting,
  type Zone,
  type NewQueryLogEntry,
  type NewSighting,
  type QueryLogEntry,
  type Session,
  type Sighting,
  type SightingInContext,
  type SightingQuery,
  type Store,
  type User,
  type UserWithSecret,
} from './types.js';


// ---------------------------------------------------------------------------------------------- rows






// ---------------------------------------------------------------------------------------------- errors

/** SQLSTATEs that mean "the server is not there right now" rather than "the statement is wrong" */
const UNAVAILABLE_STATES = new Set([
  '57P01', // admin_shutdown (terminating connection due to administrator command)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, in recovery)
  '57014', // query_canceled (statement_timeout): overloaded
  '53300', // too_many_connections
  '53000', // insufficient_resources
  '58030', // io_error
]);
const UNAVAILABLE_ERRNO = /^E(CONNREFUSED|CONNRESET|CONNABORTED|PIPE|TIMEDOUT|HOSTUNREACH|NETUNREACH|HOSTDOWN|NOTFOUND|AI_AGAIN)$/;
const UNAVAILABLE_MESSAGE =
  /connection terminated|timeout exceeded when trying to connect|query read timeout|terminating connection|connection error|connection ended|not queryable|the database system is|server closed the connection|socket hang up|cannot use a pool after calling end/i;

/** true when the error says the server or the connection is gone (as opposed to a bad statement) */
export function isConnectionError(e: unknown): boolean {
  if (!e || typeof e !== 'object') return false;
  const err = e as { code?: unknown; message?: unknown; errors?: unknown };
  const code = typeof err.code === 'string' ? err.code : '';
  if (code.startsWith('08') || UNAVAILABLE_STATES.has(code) || UNAVAILABLE_ERRNO.test(code)) return true;
  if (Array.isArray(err.errors) && err.errors.some(isConnectionError)) return true; // AggregateError (IPv4 + IPv6)
  return typeof err.message === 'string' && UNAVAILABLE_MESSAGE.test(err.message);
}

function mapError(e: unknown, conflictMessage?: string): unknown {
  if (e instanceof StoreUnavailableError || e instanceof StoreConflictError) return e;
  if (isConnectionError(e)) {
    const why = (e as Error).message || (e as { code?: string }).code || 'unknown error';
    return new StoreUnavailableError(`PostgreSQL is unavailable: ${why}`, { cause: e });
  }
  if ((e as { code?: string })?.code === '23505') {
    const detail = (e as { detail?: string }).detail;
    return new StoreConflictError(conflictMessage ?? `already exists${detail ? `: ${detail}` : ''}`);
  }
  return e;
}

// ---------------------------------------------------------------------------------------------- SQL

const SIGHTING_COLS = `s.id, s.user_id, s.device_id, s.frame_id, s.label, s.score, s.x, s.y, s.w, s.h, s.seen_at, s.first_seen_at, s.zone_id`;
const CONTEXT_COLS = `${SIGHTING_COLS}, d.name AS device_name, d.room AS room, z.name AS zone_name, (f.snapshot_path IS NOT NULL) AS snapshot_available`;
/** the joins CONTEXT_COLS needs after `sightings s` */
const CONTEXT_JOINS = `JOIN devices d ON d.id = s.device_id LEFT JOIN frames f ON f.id = s.frame_id LEFT JOIN zones z ON z.id = s.zone_id`;

/** keeps latest_sightings current; rows come as (user_id, label, sighting_id, seen_at, count) */
const UPSERT_LATEST = `
  ON CONFLICT (user_id, label) DO UPDATE SET
    count = l.count + excluded.count,
    sighting_id = CASE WHEN excluded.seen_at >= l.seen_at THEN excluded.sighting_id ELSE l.sighting_id END,
    seen_at = GREATEST(excluded.seen_at, l.seen_at)`;

/**
 * The product's question, in one statement: the newest sighting of ($1 user, $2 label) is an index seek on
 * sightings_user_label_seen that stops at the first row; the device, the frame and up to 20 neighbours of
 * the same frame join onto that single row. Exported so the EXPLAIN test checks the very SQL the store runs.
 */
export const LATEST_SIGHTING_SQL = `
SELECT ${CONTEXT_COLS}, COALESCE(nb.items, '[]'::json) AS neighbours
FROM (SELECT * FROM sightings WHERE user_id = $1 AND label = $2 ORDER BY seen_at DESC, id DESC LIMIT 1) s
JOIN devices d ON d.id = s.device_id
LEFT JOIN frames f ON f.id = s.frame_id
LEFT JOIN zones z ON z.id = s.zone_id
LEFT JOIN LATERAL (
  SELECT json_agg(json_build_object('label', n.label, 'score', n.score, 'x', n.x, 'y', n.y, 'w', n.w, 'h', n.h) ORDER BY n.score DESC, n.id) AS items
  FROM (SELECT id, label, score, x, y, w, h FROM sightings
        WHERE frame_id = s.frame_id AND id <> s.id ORDER BY score DESC, id LIMIT 20) n
) nb ON true`;

/**
 * "What's on the desk?": the user's latest-sighting rows (a primary-key range on user_id: one row per label)
 * joined to their sightings by primary key, kept where the zone ($2) or the room ($3) matches.
 */
export const ITEMS_IN_PLACE_SQL = `SELECT ${CONTEXT_COLS}, l.count AS count FROM latest_sightings l
    JOIN sightings s ON s.id = l.sighting_id ${CONTEXT_JOINS}
    WHERE l.user_id = $1 AND (s.zone_id = ANY($2::bigint[]) OR lower(d.room) = lower($3::text))
    ORDER BY l.seen_at DESC, l.label COLLATE "C"`;

const SQL = {
  createUser: `INSERT INTO users (name, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4) RETURNING *`,
  firstUserLock: `SELECT pg_advisory_xact_lock($1::bigint)`,
  createFirstUser: `INSERT INTO users (name, password_hash, is_admin, created_at) SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM users) RETURNING *`,
  userById: `SELECT * FROM users WHERE id = $1`,
  userByName: `SELECT * FROM users WHERE lower(name) = lower($1)`,
  listUsers: `SELECT * FROM users ORDER BY lower(name) COLLATE "C", id`,
  deleteUser: `DELETE FROM users WHERE id = $1`,
  setPassword: `WITH u AS (UPDATE users SET password_hash = $2, token_epoch = token_epoch + 1 WHERE id = $1 RETURNING id)
    DELETE FROM sessions WHERE user_id IN (SELECT id FROM u)`,
  setAdmin: `UPDATE users SET is_admin = $2 WHERE id = $1`,
  bumpEpoch: `WITH u AS (UPDATE users SET token_epoch = token_epoch + 1 WHERE id = $1 RETURNING token_epoch),
    gone AS (DELETE FROM sessions WHERE user_id = $1)
    SELECT token_epoch FROM u`,
  countAdmins: `SELECT count(*) AS n FROM users WHERE is_admin`,

  createSession: `INSERT INTO sessions (token_hash, user_id, epoch, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
  getSession: `SELECT s.id AS sid, s.user_id, s.epoch, s.csrf_token, s.created_at AS s_created, s.expires_at, u.*
    FROM sessions s JOIN users u ON u.id = s.user_id
    WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.epoch = u.token_epoch`,
  deleteSession: `DELETE FROM sessions WHERE token_hash = $1`,
  deleteExpiredSessions: `DELETE FROM sessions s USING users u WHERE u.id = s.user_id AND (s.expires_at <= $1 OR s.epoch <> u.token_epoch)`,

  recordLoginFailure: `INSERT INTO login_failures (key, at) VALUES ($1, $2)`,
  countLoginFailures: `SELECT count(*) AS n FROM login_failures WHERE key = $1 AND at >= $2`,
  clearLoginFailures: `DELETE FROM login_failures WHERE key = $1`,
  pruneLoginFailures: `DELETE FROM login_failures WHERE at < $1`,

  createDevice: `INSERT INTO devices (user_id, name, room, token_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *`,
  deviceByToken: `SELECT d.*, u.id AS u_id, u.name AS u_name, u.is_admin AS u_is_admin, u.token_epoch AS u_token_epoch, u.created_at AS u_created_at
    FROM devices d JOIN users u ON u.id = d.user_id WHERE d.token_hash = $1 AND d.revoked_at IS NULL`,
  device: `SELECT * FROM devices WHERE id = $1`,
  listDevices: `SELECT * FROM devices ORDER BY user_id, name COLLATE "C", id`,
  listDevicesOf: `SELECT * FROM devices WHERE user_id = $1 ORDER BY name COLLATE "C", id`,
  revokeDevice: `UPDATE devices SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`,
  touchDevice: `UPDATE devices SET last_seen_at = $2 WHERE id = $1 AND (last_seen_at IS NULL OR last_seen_at < $2)`,

  createFrame: `INSERT INTO frames (user_id, device_id, captured_at, snapshot_path, width, height, bytes, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
  frame: `SELECT * FROM frames WHERE id = $1`,
  frameByKey: `SELECT * FROM frames WHERE device_id = $1 AND idempotency_key = $2`,
  clearFrameSnapshot: `UPDATE frames SET snapshot_path = NULL, bytes = 0 WHERE id = $1`,

  // every row in, and latest_sightings folded forward, in one atomic statement; DISTINCT ON picks per label
  // the row that the SQLite store's row-by-row upsert would leave (newest seen_at, later insert on ties)
  addSightings: `
WITH input AS (
  SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::bigint[], $11::bigint[])
    WITH ORDINALITY AS t(user_id, device_id, frame_id, label, score, x, y, w, h, seen_at, zone_id, ord)
), ins AS (
  INSERT INTO sightings (user_id, device_id, frame_id, label, score, x, y, w, h, seen_at, first_seen_at, zone_id)
  SELECT user_id, device_id, frame_id, label, score, x, y, w, h, seen_at, seen_at, zone_id FROM input ORDER BY ord
  RETURNING *
), agg AS (
  SELECT DISTINCT ON (user_id, label) user_id, label, id, seen_at, count(*) OVER (PARTITION BY user_id, label) AS n
  FROM ins ORDER BY user_id, label, seen_at DESC, id DESC
), latest AS (
  INSERT INTO latest_sightings AS l (user_id, label, sighting_id, seen_at, count)
  SELECT user_id, label, id, seen_at, n FROM agg ORDER BY user_id, label
  ${UPSERT_LATEST}
)
SELECT * FROM ins ORDER BY id`,
  refreshSighting: `
WITH r AS (
  UPDATE sightings SET seen_at = GREATEST(seen_at, $2::bigint), first_seen_at = LEAST(first_seen_at, COALESCE($12::bigint, first_seen_at)),
    frame_id = CASE WHEN $3::boolean THEN $4::bigint ELSE frame_id END,
    score = COALESCE($5::float8, score), x = COALESCE($6::float8, x), y = COALESCE($7::float8, y),
    w = COALESCE($8::float8, w), h = COALESCE($9::float8, h),
    zone_id = CASE WHEN $10::boolean THEN $11::bigint ELSE zone_id END
  WHERE id = $1 RETURNING user_id, label, id, seen_at
)
INSERT INTO latest_sightings AS l (user_id, label, sighting_id, seen_at, count)
SELECT user_id, label, id, seen_at, 0 FROM r
${UPSERT_LATEST}`,
  latest: LATEST_SIGHTING_SQL,
  latestForDevice: `SELECT ${SIGHTING_COLS} FROM sightings s WHERE s.device_id = $1 AND s.seen_at >= $2 ORDER BY s.seen_at DESC, s.id DESC LIMIT 500`,
  items: `SELECT ${CONTEXT_COLS}, l.count AS count FROM latest_sightings l
    JOIN sightings s ON s.id = l.sighting_id ${CONTEXT_JOINS}
    WHERE l.user_id = $1 ORDER BY l.seen_at DESC, l.label COLLATE "C"`,
  // items whose latest sighting is in one of the zones ($2) or in the room ($3, any camera of it)
  itemsInPlace: ITEMS_IN_PLACE_SQL,
  frameSightings: `SELECT ${CONTEXT_COLS} FROM sightings s ${CONTEXT_JOINS} WHERE s.frame_id = $1 ORDER BY s.score DESC, s.id`,
  latestFrame: `SELECT * FROM frames WHERE device_id = $1 AND snapshot_path IS NOT NULL ORDER BY captured_at DESC, id DESC LIMIT 1`,

  createZone: `INSERT INTO zones (user_id, device_id, name, points, created_at, updated_at) VALUES ($1, $2, $3, $4::json, $5, $5) RETURNING *`,
  zone: `SELECT * FROM zones WHERE id = $1`,
  zonesOf: `SELECT * FROM zones WHERE user_id = $1 ORDER BY device_id, lower(name) COLLATE "C", id`,
  zonesOfDevice: `SELECT * FROM zones WHERE user_id = $1 AND device_id = $2 ORDER BY lower(name) COLLATE "C", id`,
  zoneNames: `SELECT DISTINCT name FROM zones ORDER BY name`,
  updateZone: `UPDATE zones SET name = COALESCE($2, name), points = COALESCE($3::json, points), updated_at = $4 WHERE id = $1 RETURNING *`,
  deleteZone: `DELETE FROM zones WHERE id = $1`,
  deviceBoxes: `SELECT id, x, y, w, h, zone_id FROM sightings WHERE device_id = $1 ORDER BY seen_at DESC LIMIT $2`,
  setSightingZones: `UPDATE sightings s SET zone_id = u.zone_id FROM unnest($1::bigint[], $2::bigint[]) AS u(id, zone_id) WHERE s.id = u.id`,
  rooms: `SELECT DISTINCT room FROM devices WHERE user_id = $1 AND room IS NOT NULL AND revoked_at IS NULL ORDER BY room`,
  placeLabels: `SELECT place_labels FROM user_settings WHERE user_id = $1`,
  setPlaceLabels: `INSERT INTO user_settings (user_id, place_labels) VALUES ($1, $2::json) ON CONFLICT (user_id) DO UPDATE SET place_labels = excluded.place_labels`,
  countSightings: `SELECT count(*) AS n FROM sightings`,
  countSightingsOf: `SELECT count(*) AS n FROM sightings WHERE user_id = $1`,

  logQuery: `INSERT INTO queries (user_id, device_id, source, text, reply, intent, outcome, label, timings, heard, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::json, $10::json, $11) RETURNING *`,
  logQueries: `INSERT INTO queries (user_id, device_id, source, text, reply, intent, outcome, label, timings, heard, created_at)
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::json[], $10::json[], $11::bigint[])`,
  listQueries: `SELECT * FROM queries ORDER BY created_at DESC, id DESC LIMIT $1`,
  listQueriesOf: `SELECT * FROM queries WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
} as const;

type SqlName = keyof typeof SQL;

// ---------------------------------------------------------------------------------------------- config

export interface PostgresStoreOptions {
  /** most connections per instance (default 10; URL: pool_max) */
  poolMax?: number;
  /** how long to wait for a connection before answering 503 (default 5000; URL: pool_connect_timeout_ms) */
  connectTimeoutMs?: number;
  /** server-side statement_timeout (default 10000; URL: statement_timeout_ms) */
  statementTimeoutMs?: number;
  /** where idle-connection errors go (default: one stderr line, at most every 10 s) */
  onIdleError?: (err: Error) => void;
}

const INT8_OID = 20;

/** int8 (bigint, count(*)) as a JS number: ids and epoch ms stay far below 2^53 */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return (v: string) => Number(v);
    return (pg.types.getTypeParser as (oid: number, format?: string) => unknown)(oid, format);
  },
} as unknown as pg.CustomTypesConfig;

/** splits our tunables off the URL; the rest goes to the driver untouched */
export function parsePostgresUrl(url: string, opts: PostgresStoreOptions = {}) {
  const u = new URL(url);
  let changed = false;
  const take = (name: string, fallback: number | undefined, def: number): number => {
    const raw = u.searchParams.get(name);
    if (raw !== null) {
      u.searchParams.delete(name);
      changed = true;
    }
    if (raw === null) return fallback ?? def;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${name} in the database URL must be a number, got "${raw}"`);
    return n;
  };
  const poolMax = Math.max(1, take('pool_max', opts.poolMax, 10));
  const connectTimeoutMs = take('pool_connect_timeout_ms', opts.connectTimeoutMs, 5000);
  const statementTimeoutMs = take('statement_timeout_ms', opts.statementTimeoutMs, 10_000);
  const where = `${u.hostname || u.searchParams.get('host') || 'localhost'}${u.port ? ':' + u.port : ''}${u.pathname}`;
  return { connectionString: changed ? u.toString() : url, poolMax, connectTimeoutMs, statementTimeoutMs, host: where };
}

function rateLimitedStderr(): (err: Error) => void {
  let last = 0;
  let suppressed = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < 10_000) {
      suppressed++;
      return;
    }
    const more = suppressed ? ` (and ${suppressed} more)` : '';
    suppressed = 0;
    last = now;
    process.stderr.write(`whereabouts: lost an idle PostgreSQL connection: ${err.message}${more}; the pool reconnects on demand\n`);
  };
}

/** NOTIFY channel for account changes that end credentials (store/changes.ts) */
const CHANGES_CHANNEL = 'whereabouts_accounts';

/** the advisory lock first-run setup holds while it checks that there are no users yet */
const FIRST_USER_LOCK_KEY = 7_715_682_331_245_202;

/** the addSightings statement's parameters: one array per column */
function sightingColumns(rows: NewSighting[]): unknown[][] {
  const col = <T>(f: (n: NewSighting) => T) => rows.map(f);
  return [
    col((n) => n.userId),
    col((n) => n.deviceId),
    col((n) => n.frameId),
    col((n) => n.label),
    col((n) => n.score),
    col((n) => n.box.x),
    col((n) => n.box.y),
    col((n) => n.box.w),
    col((n) => n.box.h),
    col((n) => n.seenAt),
    col((n) => n.zoneId ?? null),
  ];
}

// ---------------------------------------------------------------------------------------------- store

const itemOf = (r: Row): ItemSummary => ({ label: r.label, count: r.count, latest: placedOf(r) });

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  private closed = false;

  private readonly changes = new ChangeFeed();
  /** this instance's name in NOTIFY payloads, so it does not act twice on its own changes */
  private readonly instance = crypto.randomBytes(8).toString('hex');
  private listener: pg.Client | null = null;
  private relisten: NodeJS.Timeout | null = null;

  constructor(readonly pool: pg.Pool) {}

  /** tells this process's listeners at once and the other instances through NOTIFY */
  private changed(): void {
    this.changes.emit();
    void this.pool.query(`SELECT pg_notify('${CHANGES_CHANNEL}', $1)`, [this.instance]).catch(() => {});
  }

  onAccountsChanged(fn: () => void): () => void {
    const off = this.changes.on(fn);
    if (!this.listener && !this.relisten && !this.closed) this.listen();
    return off;
  }

  /** one dedicated connection LISTENs for other instances' changes; it reconnects after a loss */
  private listen(): void {
    if (this.closed) return;
    const client = new pg.Client({ ...(this.pool.options as pg.ClientConfig), statement_timeout: undefined, query_timeout: undefined });
    this.listener = client;
    const retry = () => {
      if (this.listener !== client) return;
      this.listener = null;
      client.removeAllListeners('notification');
      void client.end().catch(() => {});
      if (this.closed) return;
      this.relisten = setTimeout(() => {
        this.relisten = null;
        this.listen();
      }, 2000);
      this.relisten.unref();
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (m) => {
      if (m.channel === CHANGES_CHANNEL && m.payload !== this.instance) this.changes.emit();
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${CHANGES_CHANNEL}`))
      // changes made while nobody listened are caught up with now
      .then(() => this.changes.emit())
      .catch(retry);
  }

  /** one statement through the pool; named so each connection prepares it once */
  private async run(name: SqlName, values: unknown[], conflictMessage?: string): Promise<pg.QueryResult<Row>> {
    try {
      return await this.pool.query<Row>({ name: `wa_${name}`, text: SQL[name], values });
    } catch (e) {
      throw mapError(e, conflictMessage);
    }
  }
  private async rows(name: SqlName, values: unknown[] = []): Promise<Row[]> {
    return (await this.run(name, values)).rows;
  }
  private async one(name: SqlName, values: unknown[] = []): Promise<Row | undefined> {
    return (await this.run(name, values)).rows[0];
  }
  /** several named statements in one transaction on one connection */
  private async tx<T>(fn: (q: (name: SqlName, values: unknown[]) => Promise<Row[]>) => Promise<T>, conflictMessage?: string): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw mapError(e);
    }
    // the pool's own clients die quietly when the server goes away; without a listener that is a crash
    const onError = () => {};
    client.on('error', onError);
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(async (name, values) => (await client.query<Row>({ name: `wa_${name}`, text: SQL[name], values })).rows);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      const mapped = mapError(e, conflictMessage);
      if (mapped instanceof StoreUnavailableError) {
        // the connection is gone (the server rolls the transaction back by itself): never wait on it again
        broken = mapped;
      } else {
        // an ordinary failure (a conflict, a bad value): roll back and keep the connection, unless even the
        // rollback fails or hangs
        const rolledBack = await Promise.race([
          client.query('ROLLBACK').then(() => true, () => false),
          new Promise<boolean>((r) => setTimeout(() => r(false), 2000).unref()),
        ]);
        if (!rolledBack) broken = new Error('rollback failed');
      }
      throw mapped;
    } finally {
      client.off('error', onError);
      // release(err) destroys the connection instead of handing it back
      client.release(broken);
    }
  }

  /** dynamic SQL (filters) goes unnamed */
  private async dyn(text: string, values: unknown[]): Promise<Row[]> {
    try {
      return (await this.pool.query<Row>(text, values)).rows;
    } catch (e) {
      throw mapError(e);
    }
  }

  /** the schema version applied (for diagnostics and tests) */
  async schemaVersion(): Promise<number> {
    const r = await this.dyn(`SELECT max(version) AS v FROM schema_migrations`, []);
    return r[0]?.v ?? 0;
  }

  // ---- users ----
  async createUser(u: { name: string; passwordHash: string; isAdmin: boolean }): Promise<User> {
    const r = await this.run('createUser', [u.name, u.passwordHash, u.isAdmin, Date.now()], `a user named "${u.name}" already exists`);
    return userOf(r.rows[0]);
  }
  async createFirstUser(u: { name: string; passwordHash: string; isAdmin: boolean }): Promise<User | null> {
    // instances setting up at the same moment take turns (a transaction-scoped advisory lock), so only one
    // of them sees an empty users table
    return this.tx(async (q) => {
      await q('firstUserLock', [String(FIRST_USER_LOCK_KEY)]);
      const rows = await q('createFirstUser', [u.name, u.passwordHash, u.isAdmin, Date.now()]);
      return rows[0] ? userOf(rows[0]) : null;
    });
  }
  async getUserById(id: number): Promise<User | null> {
    const r = await this.one('userById', [id]);
    return r ? userOf(r) : null;
  }
  async getUserByName(name: string): Promise<UserWithSecret | null> {
    const r = await this.one('userByName', [name]);
    return r ? { ...userOf(r), passwordHash: r.password_hash } : null;
  }
  async listUsers(): Promise<User[]> {
    return (await this.rows('listUsers')).map(userOf);
  }
  async deleteUser(id: number): Promise<boolean> {
    const gone = ((await this.run('deleteUser', [id])).rowCount ?? 0) > 0;
    this.changed();
    return gone;
  }
  async setPassword(id: number, passwordHash: string): Promise<void> {
    await this.run('setPassword', [id, passwordHash]);
    this.changed();
  }
  async setAdmin(id: number, isAdmin: boolean): Promise<void> {
    await this.run('setAdmin', [id, isAdmin]);
  }
  async bumpTokenEpoch(id: number): Promise<number> {
    const epoch = (await this.one('bumpEpoch', [id]))?.token_epoch ?? 0;
    this.changed();
    return epoch;
  }
  async countAdmins(): Promise<number> {
    return (await this.one('countAdmins'))!.n;
  }

  // ---- sessions ----
  async createSession(s: { tokenHash: string; userId: number; epoch: number; csrfToken: string; expiresAt: number }): Promise<Session> {
    const r = (await this.one('createSession', [s.tokenHash, s.userId, s.epoch, s.csrfToken, Date.now(), s.expiresAt]))!;
    return { id: r.id, userId: r.user_id, epoch: r.epoch, csrfToken: r.csrf_token, createdAt: r.created_at, expiresAt: r.expires_at };
  }
  async getSession(tokenHash: string, now: number): Promise<{ session: Session; user: User } | null> {
    const r = await this.one('getSession', [tokenHash, now]);
    if (!r) return null;
    return {
      session: { id: r.sid, userId: r.user_id, epoch: r.epoch, csrfToken: r.csrf_token, createdAt: r.s_created, expiresAt: r.expires_at },
      user: userOf(r),
    };
  }
  async deleteSession(tokenHash: string): Promise<void> {
    await this.run('deleteSession', [tokenHash]);
    this.changed();
  }
  async deleteExpiredSessions(now: number): Promise<number> {
    return (await this.run('deleteExpiredSessions', [now])).rowCount ?? 0;
  }

  // ---- login rate limit (shared by every instance on the database) ----
  async recordLoginFailure(key: string, at: number): Promise<void> {
    await this.run('recordLoginFailure', [key, at]);
    if (Math.random() < 0.01) await this.run('pruneLoginFailures', [at - 24 * 3600_000]);
  }
  async countLoginFailures(key: string, since: number): Promise<number> {
    return (await this.one('countLoginFailures', [key, since]))!.n;
  }
  async clearLoginFailures(key: string): Promise<void> {
    await this.run('clearLoginFailures', [key]);
  }

  // ---- devices ----
  async createDevice(d: { userId: number; name: string; room: string | null; tokenHash: string }): Promise<Device> {
    return deviceOf((await this.one('createDevice', [d.userId, d.name, d.room, d.tokenHash, Date.now()]))!);
  }
  async getDeviceByTokenHash(tokenHash: string): Promise<{ device: Device; user: User } | null> {
    const r = await this.one('deviceByToken', [tokenHash]);
    if (!r) return null;
    return {
      device: deviceOf(r),
      user: { id: r.u_id, name: r.u_name, isAdmin: !!r.u_is_admin, tokenEpoch: r.u_token_epoch, createdAt: r.u_created_at },
    };
  }
  async getDevice(id: number): Promise<Device | null> {
    const r = await this.one('device', [id]);
    return r ? deviceOf(r) : null;
  }
  async listDevices(userId?: number): Promise<Device[]> {
    const rows = userId === undefined ? await this.rows('listDevices') : await this.rows('listDevicesOf', [userId]);
    return rows.map(deviceOf);
  }
  async updateDevice(id: number, patch: { name?: string; room?: string | null }): Promise<Device | null> {
    const sets: string[] = [];
    const args: unknown[] = [id];
    if (patch.name !== undefined) sets.push(`name = $${args.push(patch.name)}`);
    if (patch.room !== undefined) sets.push(`room = $${args.push(patch.room)}`);
    if (!sets.length) return this.getDevice(id);
    const r = await this.dyn(`UPDATE devices SET ${sets.join(', ')} WHERE id = $1 RETURNING *`, args);
    return r[0] ? deviceOf(r[0]) : null;
  }
  async revokeDevice(id: number, at: number): Promise<boolean> {
    const done = ((await this.run('revokeDevice', [id, at])).rowCount ?? 0) > 0;
    this.changed();
    return done;
  }
  async touchDevice(id: number, at: number): Promise<void> {
    await this.run('touchDevice', [id, at]);
  }

  // ---- frames ----
  async createFrame(f: Omit<Frame, 'id'> & { idempotencyKey?: string | null }): Promise<Frame> {
    return frameOf((await this.one('createFrame', [f.userId, f.deviceId, f.capturedAt, f.snapshotPath, f.width, f.height, f.bytes, f.idempotencyKey ?? null]))!);
  }
  async getFrameByKey(deviceId: number, idempotencyKey: string): Promise<Frame | null> {
    const r = await this.one('frameByKey', [deviceId, idempotencyKey]);
    return r ? frameOf(r) : null;
  }
  async getFrame(id: number): Promise<Frame | null> {
    const r = await this.one('frame', [id]);
    return r ? frameOf(r) : null;
  }
  async listEvictableFrames(opts: { userId?: number; olderThan?: number; keepNewest?: number; limit: number }): Promise<Frame[]> {
    const args: unknown[] = [];
    const conds: string[] = [];
    const userCond = opts.userId !== undefined ? `AND f.user_id = $${args.push(opts.userId)}` : '';
    if (opts.olderThan !== undefined) conds.push(`r.captured_at < $${args.push(opts.olderThan)}`);
    if (opts.keepNewest !== undefined && opts.keepNewest > 0) conds.push(`r.rn > $${args.push(opts.keepNewest)}`);
    if (!conds.length) return [];
    const sql = `
      SELECT r.* FROM (
        SELECT f.*, row_number() OVER (PARTITION BY f.user_id ORDER BY f.captured_at DESC, f.id DESC) AS rn
        FROM frames f WHERE f.snapshot_path IS NOT NULL ${userCond}
      ) r
      WHERE (${conds.join(' OR ')})
        AND NOT EXISTS (SELECT 1 FROM latest_sightings l JOIN sightings s ON s.id = l.sighting_id WHERE s.frame_id = r.id)
      ORDER BY r.captured_at ASC, r.id ASC LIMIT $${args.push(opts.limit)}`;
    return (await this.dyn(sql, args)).map(frameOf);
  }
  async clearFrameSnapshot(id: number): Promise<void> {
    await this.run('clearFrameSnapshot', [id]);
  }

  // ---- sightings ----
  async addSightings(rows: NewSighting[]): Promise<Sighting[]> {
    if (!rows.length) return [];
    return (await this.rows('addSightings', sightingColumns(rows))).map(sightingOf);
  }
  async recordFrame(
    f: Omit<Frame, 'id'> & { idempotencyKey?: string | null },
    fresh: Array<Omit<NewSighting, 'frameId'>>,
    refreshes: FrameRefresh[],
  ): Promise<{ frame: Frame; sightings: Sighting[] }> {
    return this.tx(async (q) => {
      const frame = frameOf((await q('createFrame', [f.userId, f.deviceId, f.capturedAt, f.snapshotPath, f.width, f.height, f.bytes, f.idempotencyKey ?? null]))[0]);
      let sightings: Sighting[] = [];
      if (fresh.length) {
        sightings = (await q('addSightings', sightingColumns(fresh.map((n) => ({ ...n, frameId: frame.id }))))).map(sightingOf);
      }
      for (const r of refreshes)
        await q('refreshSighting', [
          r.id,
          r.seenAt,
          r.moveToFrame,
          r.moveToFrame ? frame.id : null,
          r.moveToFrame ? (r.score ?? null) : null,
          r.moveToFrame ? (r.box?.x ?? null) : null,
          r.moveToFrame ? (r.box?.y ?? null) : null,
          r.moveToFrame ? (r.box?.w ?? null) : null,
          r.moveToFrame ? (r.box?.h ?? null) : null,
          r.moveToFrame && r.zoneId !== undefined,
          r.moveToFrame ? (r.zoneId ?? null) : null,
          r.firstSeenAt ?? null,
        ]);
      return { frame, sightings };
    }, 'this device already uploaded a frame with that idempotency key');
  }
  async refreshSighting(id: number, patch: { seenAt: number; frameId?: number | null; score?: number; box?: Box }): Promise<void> {
    await this.run('refreshSighting', [
      id,
      patch.seenAt,
      patch.frameId !== undefined,
      patch.frameId ?? null,
      patch.score ?? null,
      patch.box?.x ?? null,
      patch.box?.y ?? null,
      patch.box?.w ?? null,
      patch.box?.h ?? null,
      false,
      null,
      null,
    ]);
  }
  async latestSighting(userId: number, label: string): Promise<SightingInContext | null> {
    const r = await this.one('latest', [userId, label]);
    if (!r) return null;
    const neighbours = (r.neighbours as Row[]).map((n) => ({ label: n.label, score: n.score, box: { x: n.x, y: n.y, w: n.w, h: n.h } }));
    return { ...placedOf(r), neighbours };
  }
  async latestSightingsForDevice(deviceId: number, since: number): Promise<Sighting[]> {
    return (await this.rows('latestForDevice', [deviceId, since])).map(sightingOf);
  }
  async listSightings(q: SightingQuery) {
    const args: unknown[] = [q.userId];
    const conds = ['s.user_id = $1'];
    if (q.label !== undefined) conds.push(`s.label = $${args.push(q.label)}`);
    if (q.room !== undefined) conds.push(`lower(d.room) = lower($${args.push(q.room)})`);
    if (q.since !== undefined) conds.push(`s.seen_at >= $${args.push(q.since)}`);
    if (q.until !== undefined) conds.push(`s.seen_at <= $${args.push(q.until)}`);
    // a cursor: older than `before`, or at exactly `before` with a smaller id (rows can share a time)
    if (q.before !== undefined && q.beforeId !== undefined) conds.push(`(s.seen_at, s.id) < ($${args.push(q.before)}, $${args.push(q.beforeId)})`);
    else if (q.before !== undefined) conds.push(`s.seen_at < $${args.push(q.before)}`);
    const sql = `SELECT ${CONTEXT_COLS} FROM sightings s ${CONTEXT_JOINS}
      WHERE ${conds.join(' AND ')} ORDER BY s.seen_at DESC, s.id DESC LIMIT $${args.push(q.limit)}`;
    return (await this.dyn(sql, args)).map(placedOf);
  }
  async listItems(userId: number): Promise<ItemSummary[]> {
    return (await this.rows('items', [userId])).map(itemOf);
  }
  async itemsInPlace(userId: number, place: { zoneIds?: number[]; room?: string }): Promise<ItemSummary[]> {
    const zoneIds = place.zoneIds ?? [];
    if (!zoneIds.length && place.room === undefined) return [];
    return (await this.rows('itemsInPlace', [userId, zoneIds, place.room ?? null])).map(itemOf);
  }
  async listFrameSightings(frameId: number): Promise<PlacedSighting[]> {
    return (await this.rows('frameSightings', [frameId])).map(placedOf);
  }
  async latestFrameWithSnapshot(deviceId: number): Promise<Frame | null> {
    const r = await this.one('latestFrame', [deviceId]);
    return r ? frameOf(r) : null;
  }

  // ---- zones ----
  async createZone(z: { userId: number; deviceId: number; name: string; points: Array<[number, number]> }): Promise<Zone> {
    const conflict = `this camera already has a zone named "${z.name}"`;
    return zoneOf((await this.run('createZone', [z.userId, z.deviceId, z.name, JSON.stringify(z.points), Date.now()], conflict)).rows[0]);
  }
  async getZone(id: number): Promise<Zone | null> {
    const r = await this.one('zone', [id]);
    return r ? zoneOf(r) : null;
  }
  async listZones(userId: number, deviceId?: number): Promise<Zone[]> {
    const rows = deviceId === undefined ? await this.rows('zonesOf', [userId]) : await this.rows('zonesOfDevice', [userId, deviceId]);
    return rows.map(zoneOf);
  }
  async listZoneNames(): Promise<string[]> {
    return (await this.rows('zoneNames')).map((r) => r.name);
  }
  async updateZone(id: number, patch: { name?: string; points?: Array<[number, number]> }): Promise<Zone | null> {
    const conflict = `this camera already has a zone named "${patch.name}"`;
    const r = (await this.run('updateZone', [id, patch.name ?? null, patch.points ? JSON.stringify(patch.points) : null, Date.now()], conflict)).rows[0];
    return r ? zoneOf(r) : null;
  }
  async deleteZone(id: number): Promise<boolean> {
    return ((await this.run('deleteZone', [id])).rowCount ?? 0) > 0;
  }
  async listDeviceBoxes(deviceId: number, limit: number): Promise<Array<{ id: number; box: Box; zoneId: number | null }>> {
    return (await this.rows('deviceBoxes', [deviceId, limit])).map((r) => ({ id: r.id, box: { x: r.x, y: r.y, w: r.w, h: r.h }, zoneId: r.zone_id ?? null }));
  }
  async setSightingZones(updates: Array<{ id: number; zoneId: number | null }>): Promise<void> {
    if (!updates.length) return;
    await this.run('setSightingZones', [updates.map((u) => u.id), updates.map((u) => u.zoneId)]);
  }
  async listRooms(userId: number): Promise<string[]> {
    return (await this.rows('rooms', [userId])).map((r) => r.room);
  }

  // ---- settings ----
  async getPlaceLabels(userId: number): Promise<string[] | null> {
    return placeLabelsOf((await this.one('placeLabels', [userId]))?.place_labels);
  }
  async setPlaceLabels(userId: number, labels: string[] | null): Promise<void> {
    await this.run('setPlaceLabels', [userId, labels === null ? null : JSON.stringify(labels)]);
  }
  async countSightings(userId?: number): Promise<number> {
    return (userId === undefined ? await this.one('countSightings') : await this.one('countSightingsOf', [userId]))!.n;
  }

  // ---- queries ----
  async logQuery(e: NewQueryLogEntry): Promise<QueryLogEntry> {
    const r = await this.one('logQuery', [e.userId, e.deviceId, e.source, e.text, e.reply, e.intent, e.outcome, e.label, JSON.stringify(e.timings), heardJson(e), e.createdAt]);
    return queryOf(r!);
  }
  async logQueries(entries: NewQueryLogEntry[]): Promise<void> {
    if (!entries.length) return;
    const col = <T>(f: (e: NewQueryLogEntry) => T) => entries.map(f);
    await this.run('logQueries', [
      col((e) => e.userId),
      col((e) => e.deviceId),
      col((e) => e.source),
      col((e) => e.text),
      col((e) => e.reply),
      col((e) => e.intent),
      col((e) => e.outcome),
      col((e) => e.label),
      col((e) => JSON.stringify(e.timings)),
      col((e) => heardJson(e)),
      col((e) => e.createdAt),
    ]);
  }
  async listQueries(userId: number | null, limit: number): Promise<QueryLogEntry[]> {
    const rows = userId === null ? await this.rows('listQueries', [limit]) : await this.rows('listQueriesOf', [userId, limit]);
    return rows.map(queryOf);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.relisten) clearTimeout(this.relisten);
    const l = this.listener;
    this.listener = null;
    if (l) await l.end().catch(() => {});
    await this.pool.end();
  }
}

// ---------------------------------------------------------------------------------------------- open

/**
 * Applies the pending migrations on one dedicated connection while holding the migration advisory lock:
 * a second instance starting at the same moment waits for the first, then finds nothing left to do.
 */
async function migrate(config: pg.ClientConfig): Promise<void> {
  const client = new pg.Client({ ...config, statement_timeout: 0, query_timeout: 0 });
  let lost: Error | null = null;
  client.on('error', (e) => (lost = e));
  try {
    await client.connect();
    await client.query(`SELECT pg_advisory_lock($1::bigint)`, [String(MIGRATION_LOCK_KEY)]);
    try {
      // (checked first, so a role without CREATE can still start on an up-to-date schema)
      const exists = (await client.query(`SELECT to_regclass('schema_migrations') IS NOT NULL AS t`)).rows[0].t;
      if (!exists)
        await client.query(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)`);
      const done = new Set((await client.query<{ version: number }>(`SELECT version FROM schema_migrations`)).rows.map((r) => r.version));
      for (const m of POSTGRES_MIGRATIONS) {
        if (done.has(m.version)) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query(`INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, [m.version, m.name, Date.now()]);
          await client.query('COMMIT');
        } catch (e) {
          await client.query('ROLLBACK').catch(() => {});
          throw new Error(`migration ${m.version} (${m.name}) failed: ${(e as Error).message}`, { cause: e });
        }
      }
    } finally {
      await client.query(`SELECT pg_advisory_unlock($1::bigint)`, [String(MIGRATION_LOCK_KEY)]).catch(() => {});
    }
  } catch (e) {
    throw mapError(lost ?? e);
  } finally {
    // ending the session also drops the advisory lock if the unlock above could not run
    await client.end().catch(() => {});
  }
}

export async function openPostgresStore(url: string, opts: PostgresStoreOptions = {}): Promise<Store> {
  const p = parsePostgresUrl(url, opts);
  const base: pg.ClientConfig = {
    connectionString: p.connectionString,
    connectionTimeoutMillis: p.connectTimeoutMs,
    statement_timeout: p.statementTimeoutMs || undefined,
    // client-side guard for a server that stops answering without closing the socket
    query_timeout: p.statementTimeoutMs ? p.statementTimeoutMs + 5000 : undefined,
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    application_name: 'whereabouts',
    types: TYPES,
  };
  try {
    await migrate(base);
  } catch (e) {
    if (e instanceof StoreUnavailableError) throw new StoreUnavailableError(`cannot reach PostgreSQL at ${p.host}: ${(e.cause as Error)?.message ?? e.message}`, { cause: e });
    throw e;
  }
  const pool = new pg.Pool({ ...base, max: p.poolMax, idleTimeoutMillis: 30_000 });
  // an idle connection that breaks (server restart, network) is dropped by the pool; without a listener the
  // 'error' event would crash the process
  pool.on('error', opts.onIdleError ?? rateLimitedStderr());
  return new PostgresStore(pool);
}
