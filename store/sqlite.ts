/**
 * The embedded store: better-sqlite3 in WAL mode with synchronous=FULL, so a sighting acknowledged to a
 * client survives a crash or a close-and-reopen. Statements are prepared once.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SQLITE_MIGRATIONS } from './migrations.js';
import { deviceOf, frameOf, heardJson, placedOf, placeLabelsOf, queryOf, sightingOf, userOf, zoneOf, type Row } from './rows.js';
import { ChangeFeed } from './changes.js';
import {
  StoreConflictError,
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







const SIGHTING_COLS = `s.id, s.user_id, s.device_id, s.frame_id, s.label, s.score, s.x, s.y, s.w, s.h, s.seen_at, s.first_seen_at, s.zone_id`;
const CONTEXT_COLS = `${SIGHTING_COLS}, d.name AS device_name, d.room AS room, z.name AS zone_name, (f.snapshot_path IS NOT NULL) AS snapshot_available`;
/** the joins CONTEXT_COLS needs after `sightings s` */
const CONTEXT_JOINS = `JOIN devices d ON d.id = s.device_id LEFT JOIN frames f ON f.id = s.frame_id LEFT JOIN zones z ON z.id = s.zone_id`;

/**
 * The product's question: the newest sighting of (user, label), one index seek on sightings(user_id, label,
 * seen_at DESC, id DESC; migration 4) that stops at the first row, with its device, frame and zone. Exported so that the bench EXPLAINs
 * the very statement the store runs.
 */
export const LATEST_SIGHTING_SQL = `SELECT ${CONTEXT_COLS} FROM sightings s
         ${CONTEXT_JOINS}
         WHERE s.user_id = ? AND s.label = ? ORDER BY s.seen_at DESC, s.id DESC LIMIT 1`;
/** what else the sighting's frame showed (frame id, the sighting's own id), for "next to the ..." */
export const NEIGHBOURS_SQL = `SELECT label, score, x, y, w, h FROM sightings WHERE frame_id = ? AND id <> ? ORDER BY score DESC LIMIT 20`;

function isUniqueViolation(e: unknown): boolean {
  return e instanceof Error && (e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * "What's on the desk?": the user's latest-sighting rows (primary key seek on user_id: one row per label) joined
 * to their sightings by primary key, kept where the zone or room matches. Exported for the query-plan test.
 */
export function itemsInPlaceSql(conds: string[]): string {
  return `SELECT ${CONTEXT_COLS}, l.count AS count FROM latest_sightings l JOIN sightings s ON s.id = l.sighting_id ${CONTEXT_JOINS}
      WHERE l.user_id = ? AND (${conds.join(' OR ')}) ORDER BY l.seen_at DESC`;
}

const itemOf = (r: Row): ItemSummary => ({ label: r.label, count: r.count, latest: placedOf(r) });

export class SqliteStore implements Store {
  private readonly changes = new ChangeFeed();
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;
  private readonly st: Record<string, Database.Statement>;

  constructor(file: string) {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    const p = (sql: string) => this.db.prepare(sql);
    this.st = {
      createUser: p(`INSERT INTO users (name, password_hash, is_admin, created_at) VALUES (?, ?, ?, ?) RETURNING *`),
      createFirstUser: p(
        `INSERT INTO users (name, password_hash, is_admin, created_at) SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM users) RETURNING *`,
      ),
      userById: p(`SELECT * FROM users WHERE id = ?`),
      userByName: p(`SELECT * FROM users WHERE name = ?`),
      listUsers: p(`SELECT * FROM users ORDER BY name`),
      deleteUser: p(`DELETE FROM users WHERE id = ?`),
      setPassword: p(`UPDATE users SET password_hash = ?, token_epoch = token_epoch + 1 WHERE id = ?`),
      setAdmin: p(`UPDATE users SET is_admin = ? WHERE id = ?`),
      bumpEpoch: p(`UPDATE users SET token_epoch = token_epoch + 1 WHERE id = ? RETURNING token_epoch`),
      countAdmins: p(`SELECT COUNT(*) AS n FROM users WHERE is_admin = 1`),
      deleteUserSessions: p(`DELETE FROM sessions WHERE user_id = ?`),

      createSession: p(
        `INSERT INTO sessions (token_hash, user_id, epoch, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *`,
      ),
      getSession: p(
        `SELECT s.id AS sid, s.user_id, s.epoch, s.csrf_token, s.created_at AS s_created, s.expires_at, u.*
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ? AND s.expires_at > ? AND s.epoch = u.token_epoch`,
      ),
      deleteSession: p(`DELETE FROM sessions WHERE token_hash = ?`),
      deleteExpiredSessions: p(
        `DELETE FROM sessions WHERE expires_at <= ? OR epoch <> (SELECT token_epoch FROM users WHERE users.id = sessions.user_id)`,
      ),

      recordLoginFailure: p(`INSERT INTO login_failures (key, at) VALUES (?, ?)`),
      countLoginFailures: p(`SELECT COUNT(*) AS n FROM login_failures WHERE key = ? AND at >= ?`),
      clearLoginFailures: p(`DELETE FROM login_failures WHERE key = ?`),
      pruneLoginFailures: p(`DELETE FROM login_failures WHERE at < ?`),

      createDevice: p(`INSERT INTO devices (user_id, name, room, token_hash, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *`),
      deviceByToken: p(
        `SELECT d.*, u.id AS u_id, u.name AS u_name, u.is_admin AS u_is_admin, u.token_epoch AS u_token_epoch, u.created_at AS u_created_at
         FROM devices d JOIN users u ON u.id = d.user_id WHERE d.token_hash = ? AND d.revoked_at IS NULL`,
      ),
      device: p(`SELECT * FROM devices WHERE id = ?`),
      listDevices: p(`SELECT * FROM devices ORDER BY user_id, name, id`),
      listDevicesOf: p(`SELECT * FROM devices WHERE user_id = ? ORDER BY name, id`),
      revokeDevice: p(`UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`),
      touchDevice: p(`UPDATE devices SET last_seen_at = ? WHERE id = ? AND (last_seen_at IS NULL OR last_seen_at < ?)`),

      createFrame: p(
        `INSERT INTO frames (user_id, device_id, captured_at, snapshot_path, width, height, bytes, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      ),
      frame: p(`SELECT * FROM frames WHERE id = ?`),
      frameByKey: p(`SELECT * FROM frames WHERE device_id = ? AND idempotency_key = ?`),
      clearFrameSnapshot: p(`UPDATE frames SET snapshot_path = NULL, bytes = 0 WHERE id = ?`),

      insertSighting: p(
        `INSERT INTO sightings (user_id, device_id, frame_id, label, score, x, y, w, h, seen_at, first_seen_at, zone_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      ),
      upsertLatest: p(
        `INSERT INTO latest_sightings (user_id, label, sighting_id, seen_at, count) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (user_id, label) DO UPDATE SET
           count = count + excluded.count,
           sighting_id = CASE WHEN excluded.seen_at >= latest_sightings.seen_at THEN excluded.sighting_id ELSE latest_sightings.sighting_id END,
           seen_at = MAX(excluded.seen_at, latest_sightings.seen_at)`,
      ),
      sighting: p(`SELECT * FROM sightings WHERE id = ?`),
      refreshSighting: p(
        `UPDATE sightings SET seen_at = MAX(seen_at, @seenAt), first_seen_at = MIN(first_seen_at, COALESCE(@firstSeenAt, first_seen_at)),
           frame_id = CASE WHEN @setFrame THEN @frameId ELSE frame_id END,
           zone_id = CASE WHEN @setZone THEN @zoneId ELSE zone_id END,
           score = COALESCE(@score, score), x = COALESCE(@x, x), y = COALESCE(@y, y), w = COALESCE(@w, w), h = COALESCE(@h, h)
         WHERE id = @id RETURNING *`,
      ),
      latest: p(LATEST_SIGHTING_SQL),
      neighbours: p(NEIGHBOURS_SQL),
      latestForDevice: p(
        `SELECT ${SIGHTING_COLS} FROM sightings s WHERE s.device_id = ? AND s.seen_at >= ? ORDER BY s.seen_at DESC LIMIT 500`,
      ),
      items: p(
        `SELECT ${CONTEXT_COLS}, l.count AS count FROM latest_sightings l
         JOIN sightings s ON s.id = l.sighting_id ${CONTEXT_JOINS}
         WHERE l.user_id = ? ORDER BY l.seen_at DESC`,
      ),
      itemsInRoom: p(
        `SELECT ${CONTEXT_COLS}, l.count AS count FROM latest_sightings l
         JOIN sightings s ON s.id = l.sighting_id ${CONTEXT_JOINS}
         WHERE l.user_id = ? AND d.room = ? COLLATE NOCASE ORDER BY l.seen_at DESC`,
      ),
      frameSightings: p(`SELECT ${CONTEXT_COLS} FROM sightings s ${CONTEXT_JOINS} WHERE s.frame_id = ? ORDER BY s.score DESC, s.id`),
      latestFrame: p(`SELECT * FROM frames WHERE device_id = ? AND snapshot_path IS NOT NULL ORDER BY captured_at DESC, id DESC LIMIT 1`),

      createZone: p(`INSERT INTO zones (user_id, device_id, name, points, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *`),
      zone: p(`SELECT * FROM zones WHERE id = ?`),
      zonesOf: p(`SELECT * FROM zones WHERE user_id = ? ORDER BY device_id, name COLLATE NOCASE, id`),
      zonesOfDevice: p(`SELECT * FROM zones WHERE user_id = ? AND device_id = ? ORDER BY name COLLATE NOCASE, id`),
      zoneNames: p(`SELECT DISTINCT name FROM zones ORDER BY name`),
      deleteZone: p(`DELETE FROM zones WHERE id = ?`),
      deviceBoxes: p(`SELECT id, x, y, w, h, zone_id FROM sightings WHERE device_id = ? ORDER BY seen_at DESC LIMIT ?`),
      setSightingZone: p(`UPDATE sightings SET zone_id = ? WHERE id = ?`),
      rooms: p(`SELECT DISTINCT room FROM devices WHERE user_id = ? AND room IS NOT NULL AND revoked_at IS NULL ORDER BY room`),
      placeLabels: p(`SELECT place_labels FROM user_settings WHERE user_id = ?`),
      setPlaceLabels: p(
        `INSERT INTO user_settings (user_id, place_labels) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET place_labels = excluded.place_labels`,
      ),
      countSightings: p(`SELECT COUNT(*) AS n FROM sightings`),
      countSightingsOf: p(`SELECT COUNT(*) AS n FROM sightings WHERE user_id = ?`),

      logQuery: p(
        `INSERT INTO queries (user_id, device_id, source, text, reply, intent, outcome, label, timings, heard, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      ),
      listQueries: p(`SELECT * FROM queries ORDER BY created_at DESC, id DESC LIMIT ?`),
      listQueriesOf: p(`SELECT * FROM queries WHERE user_id = ? ORDER BY created_at DESC, id DESC LIMIT ?`),
    };
  }

  private migrate(): void {
    this.db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`);
    const done = new Set(
      (this.db.prepare(`SELECT version FROM schema_migrations`).all() as Row[]).map((r) => r.version as number),
    );
    for (const m of SQLITE_MIGRATIONS) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`).run(m.version, m.name, Date.now());
      }).immediate();
    }
  }

  /** the schema version applied (for diagnostics and tests) */
  schemaVersion(): number {
    const r = this.db.prepare(`SELECT MAX(version) AS v FROM schema_migrations`).get() as Row;
    return r.v ?? 0;
  }

  // ---- users ----
  async createUser(u: { name: string; passwordHash: string; isAdmin: boolean }): Promise<User> {
    try {
      return userOf(this.st.createUser.get(u.name, u.passwordHash, u.isAdmin ? 1 : 0, Date.now()) as Row);
    } catch (e) {
      if (isUniqueViolation(e)) throw new StoreConflictError(`a user named "${u.name}" already exists`);
      throw e;
    }
  }
  async createFirstUser(u: { name: string; passwordHash: string; isAdmin: boolean }): Promise<User | null> {
    // one statement: SQLite's single writer makes the check and the insert one step
    const r = this.st.createFirstUser.get(u.name, u.passwordHash, u.isAdmin ? 1 : 0, Date.now()) as Row | undefined;
    return r ? userOf(r) : null;
  }
  async getUserById(id: number): Promise<User | null> {
    const r = this.st.userById.get(id) as Row | undefined;
    return r ? userOf(r) : null;
  }
  async getUserByName(name: string): Promise<UserWithSecret | null> {
    const r = this.st.userByName.get(name) as Row | undefined;
    return r ? { ...userOf(r), passwordHash: r.password_hash } : null;
  }
  async listUsers(): Promise<User[]> {
    return (this.st.listUsers.all() as Row[]).map(userOf);
  }
  async deleteUser(id: number): Promise<boolean> {
    const gone = this.st.deleteUser.run(id).changes > 0;
    this.changes.emit();
    return gone;
  }
  async setPassword(id: number, passwordHash: string): Promise<void> {
    this.db.transaction(() => {
      this.st.setPassword.run(passwordHash, id);
      this.st.deleteUserSessions.run(id);
    })();
    this.changes.emit();
  }
  async setAdmin(id: number, isAdmin: boolean): Promise<void> {
    this.st.setAdmin.run(isAdmin ? 1 : 0, id);
  }
  async bumpTokenEpoch(id: number): Promise<number> {
    const epoch = this.db.transaction(() => {
      const r = this.st.bumpEpoch.get(id) as Row | undefined;
      this.st.deleteUserSessions.run(id);
      return r?.token_epoch ?? 0;
    })();
    this.changes.emit();
    return epoch;
  }
  async countAdmins(): Promise<number> {
    return (this.st.countAdmins.get() as Row).n;
  }

  // ---- sessions ----
  async createSession(s: { tokenHash: string; userId: number; epoch: number; csrfToken: string; expiresAt: number }): Promise<Session> {
    const r = this.st.createSession.get(s.tokenHash, s.userId, s.epoch, s.csrfToken, Date.now(), s.expiresAt) as Row;
    return { id: r.id, userId: r.user_id, epoch: r.epoch, csrfToken: r.csrf_token, createdAt: r.created_at, expiresAt: r.expires_at };
  }
  async getSession(tokenHash: string, now: number): Promise<{ session: Session; user: User } | null> {
    const r = this.st.getSession.get(tokenHash, now) as Row | undefined;
    if (!r) return null;
    return {
      session: { id: r.sid, userId: r.user_id, epoch: r.epoch, csrfToken: r.csrf_token, createdAt: r.s_created, expiresAt: r.expires_at },
      user: userOf(r),
    };
  }
  async deleteSession(tokenHash: string): Promise<void> {
    this.st.deleteSession.run(tokenHash);
    this.changes.emit();
  }
  async deleteExpiredSessions(now: number): Promise<number> {
    return this.st.deleteExpiredSessions.run(now).changes;
  }

  // ---- login rate limit ----
  async recordLoginFailure(key: string, at: number): Promise<void> {
    this.st.recordLoginFailure.run(key, at);
    if (Math.random() < 0.01) this.st.pruneLoginFailures.run(at - 24 * 3600_000);
  }
  async countLoginFailures(key: string, since: number): Promise<number> {
    return (this.st.countLoginFailures.get(key, since) as Row).n;
  }
  async clearLoginFailures(key: string): Promise<void> {
    this.st.clearLoginFailures.run(key);
  }

  // ---- devices ----
  async createDevice(d: { userId: number; name: string; room: string | null; tokenHash: string }): Promise<Device> {
    return deviceOf(this.st.createDevice.get(d.userId, d.name, d.room, d.tokenHash, Date.now()) as Row);
  }
  async getDeviceByTokenHash(tokenHash: string): Promise<{ device: Device; user: User } | null> {
    const r = this.st.deviceByToken.get(tokenHash) as Row | undefined;
    if (!r) return null;
    return {
      device: deviceOf(r),
      user: { id: r.u_id, name: r.u_name, isAdmin: !!r.u_is_admin, tokenEpoch: r.u_token_epoch, createdAt: r.u_created_at },
    };
  }
  async getDevice(id: number): Promise<Device | null> {
    const r = this.st.device.get(id) as Row | undefined;
    return r ? deviceOf(r) : null;
  }
  async listDevices(userId?: number): Promise<Device[]> {
    const rows = (userId === undefined ? this.st.listDevices.all() : this.st.listDevicesOf.all(userId)) as Row[];
    return rows.map(deviceOf);
  }
  async updateDevice(id: number, patch: { name?: string; room?: string | null }): Promise<Device | null> {
    const sets: string[] = [];
    const args: unknown[] = [];
    if (patch.name !== undefined) {
      sets.push('name = ?');
      args.push(patch.name);
    }
    if (patch.room !== undefined) {
      sets.push('room = ?');
      args.push(patch.room);
    }
    if (sets.length) this.db.prepare(`UPDATE devices SET ${sets.join(', ')} WHERE id = ?`).run(...args, id);
    return this.getDevice(id);
  }
  async revokeDevice(id: number, at: number): Promise<boolean> {
    const done = this.st.revokeDevice.run(at, id).changes > 0;
    this.changes.emit();
    return done;
  }
  async touchDevice(id: number, at: number): Promise<void> {
    this.st.touchDevice.run(at, id, at);
  }

  // ---- frames ----
  async createFrame(f: Omit<Frame, 'id'> & { idempotencyKey?: string | null }): Promise<Frame> {
    try {
      return frameOf(this.st.createFrame.get(f.userId, f.deviceId, f.capturedAt, f.snapshotPath, f.width, f.height, f.bytes, f.idempotencyKey ?? null) as Row);
    } catch (e) {
      if (isUniqueViolation(e)) throw new StoreConflictError('this device already uploaded a frame with that idempotency key');
      throw e;
    }
  }
  async getFrameByKey(deviceId: number, idempotencyKey: string): Promise<Frame | null> {
    const r = this.st.frameByKey.get(deviceId, idempotencyKey) as Row | undefined;
    return r ? frameOf(r) : null;
  }
  async getFrame(id: number): Promise<Frame | null> {
    const r = this.st.frame.get(id) as Row | undefined;
    return r ? frameOf(r) : null;
  }
  async listEvictableFrames(opts: { userId?: number; olderThan?: number; keepNewest?: number; limit: number }): Promise<Frame[]> {
    const conds: string[] = [];
    const args: unknown[] = [];
    if (opts.olderThan !== undefined) {
      conds.push('r.captured_at < ?');
      args.push(opts.olderThan);
    }
    if (opts.keepNewest !== undefined && opts.keepNewest > 0) {
      conds.push('r.rn > ?');
      args.push(opts.keepNewest);
    }
    if (!conds.length) return [];
    const userCond = opts.userId !== undefined ? 'AND user_id = ?' : '';
    const sql = `
      SELECT r.* FROM (
        SELECT f.*, ROW_NUMBER() OVER (PARTITION BY f.user_id ORDER BY f.captured_at DESC, f.id DESC) AS rn
        FROM frames f WHERE f.snapshot_path IS NOT NULL ${userCond}
      ) r
      WHERE (${conds.join(' OR ')})
        AND NOT EXISTS (SELECT 1 FROM latest_sightings l JOIN sightings s ON s.id = l.sighting_id WHERE s.frame_id = r.id)
      ORDER BY r.captured_at ASC LIMIT ?`;
    const all = [...(opts.userId !== undefined ? [opts.userId] : []), ...args, opts.limit];
    return (this.db.prepare(sql).all(...all) as Row[]).map(frameOf);
  }
  async clearFrameSnapshot(id: number): Promise<void> {
    this.st.clearFrameSnapshot.run(id);
  }

  // ---- sightings ----
  /** inside a transaction: insert and keep latest_sightings current */
  private insertSightings(rows: NewSighting[]): Sighting[] {
    const out: Sighting[] = [];
    for (const n of rows) {
      const r = this.st.insertSighting.get(
        n.userId, n.deviceId, n.frameId, n.label, n.score, n.box.x, n.box.y, n.box.w, n.box.h, n.seenAt, n.seenAt, n.zoneId ?? null,
      ) as Row;
      this.st.upsertLatest.run(n.userId, n.label, r.id, n.seenAt, 1);
      out.push(sightingOf(r));
    }
    return out;
  }
  /** inside a transaction: move a sighting's seenAt forward (and maybe its frame, score, box) */
  private refresh(id: number, patch: { seenAt: number; frameId?: number | null; score?: number; box?: Box; zoneId?: number | null; firstSeenAt?: number }): void {
    const r = this.st.refreshSighting.get({
      id,
      seenAt: patch.seenAt,
      firstSeenAt: patch.firstSeenAt ?? null,
      setFrame: patch.frameId !== undefined ? 1 : 0,
      frameId: patch.frameId ?? null,
      setZone: patch.zoneId !== undefined ? 1 : 0,
      zoneId: patch.zoneId ?? null,
      score: patch.score ?? null,
      x: patch.box?.x ?? null,
      y: patch.box?.y ?? null,
      w: patch.box?.w ?? null,
      h: patch.box?.h ?? null,
    }) as Row | undefined;
    if (r) this.st.upsertLatest.run(r.user_id, r.label, r.id, r.seen_at, 0);
  }
  async addSightings(rows: NewSighting[]): Promise<Sighting[]> {
    return this.db.transaction(() => this.insertSightings(rows))();
  }
  async refreshSighting(id: number, patch: { seenAt: number; frameId?: number | null; score?: number; box?: Box }): Promise<void> {
    this.db.transaction(() => this.refresh(id, patch))();
  }
  async recordFrame(
    f: Omit<Frame, 'id'> & { idempotencyKey?: string | null },
    fresh: Array<Omit<NewSighting, 'frameId'>>,
    refreshes: FrameRefresh[],
  ): Promise<{ frame: Frame; sightings: Sighting[] }> {
    try {
      return this.db.transaction(() => {
        const frame = frameOf(
          this.st.createFrame.get(f.userId, f.deviceId, f.capturedAt, f.snapshotPath, f.width, f.height, f.bytes, f.idempotencyKey ?? null) as Row,
        );
        const sightings = this.insertSightings(fresh.map((n) => ({ ...n, frameId: frame.id })));
        for (const r of refreshes)
          this.refresh(
            r.id,
            r.moveToFrame ? { seenAt: r.seenAt, frameId: frame.id, score: r.score, box: r.box, zoneId: r.zoneId, firstSeenAt: r.firstSeenAt } : { seenAt: r.seenAt, firstSeenAt: r.firstSeenAt },
          );
        return { frame, sightings };
      }).immediate();
    } catch (e) {
      if (isUniqueViolation(e)) throw new StoreConflictError('this device already uploaded a frame with that idempotency key');
      throw e;
    }
  }
  async latestSighting(userId: number, label: string): Promise<SightingInContext | null> {
    const r = this.st.latest.get(userId, label) as Row | undefined;
    if (!r) return null;
    const neighbours =
      r.frame_id != null
        ? (this.st.neighbours.all(r.frame_id, r.id) as Row[]).map((n) => ({ label: n.label, score: n.score, box: { x: n.x, y: n.y, w: n.w, h: n.h } }))
        : [];
    return { ...placedOf(r), neighbours };
  }
  async latestSightingsForDevice(deviceId: number, since: number): Promise<Sighting[]> {
    return (this.st.latestForDevice.all(deviceId, since) as Row[]).map(sightingOf);
  }
  async listSightings(q: SightingQuery) {
    const conds = ['s.user_id = ?'];
    const args: unknown[] = [q.userId];
    if (q.label !== undefined) {
      conds.push('s.label = ?');
      args.push(q.label);
    }
    if (q.room !== undefined) {
      conds.push('d.room = ? COLLATE NOCASE');
      args.push(q.room);
    }
    if (q.since !== undefined) {
      conds.push('s.seen_at >= ?');
      args.push(q.since);
    }
    if (q.until !== undefined) {
      conds.push('s.seen_at <= ?');
      args.push(q.until);
    }
    if (q.before !== undefined) {
      // a cursor: older than `before`, or at exactly `before` with a smaller id (rows can share a time)
      if (q.beforeId !== undefined) {
        conds.push('(s.seen_at < ? OR (s.seen_at = ? AND s.id < ?))');
        args.push(q.before, q.before, q.beforeId);
      } else {
        conds.push('s.seen_at < ?');
        args.push(q.before);
      }
    }
    const sql = `SELECT ${CONTEXT_COLS} FROM sightings s ${CONTEXT_JOINS}
      WHERE ${conds.join(' AND ')} ORDER BY s.seen_at DESC, s.id DESC LIMIT ?`;
    return (this.db.prepare(sql).all(...args, q.limit) as Row[]).map(placedOf);
  }
  async listItems(userId: number): Promise<ItemSummary[]> {
    return (this.st.items.all(userId) as Row[]).map(itemOf);
  }
  async itemsInPlace(userId: number, place: { zoneIds?: number[]; room?: string }): Promise<ItemSummary[]> {
    const zoneIds = place.zoneIds ?? [];
    if (place.room !== undefined && zoneIds.length === 0) return (this.st.itemsInRoom.all(userId, place.room) as Row[]).map(itemOf);
    const conds: string[] = [];
    const args: unknown[] = [userId];
    if (zoneIds.length) {
      conds.push(`s.zone_id IN (${zoneIds.map(() => '?').join(', ')})`);
      args.push(...zoneIds);
    }
    if (place.room !== undefined) {
      conds.push('d.room = ? COLLATE NOCASE');
      args.push(place.room);
    }
    if (!conds.length) return [];
    return (this.db.prepare(itemsInPlaceSql(conds)).all(...args) as Row[]).map(itemOf);
  }
  async listFrameSightings(frameId: number): Promise<PlacedSighting[]> {
    return (this.st.frameSightings.all(frameId) as Row[]).map(placedOf);
  }
  async latestFrameWithSnapshot(deviceId: number): Promise<Frame | null> {
    const r = this.st.latestFrame.get(deviceId) as Row | undefined;
    return r ? frameOf(r) : null;
  }

  // ---- zones ----
  async createZone(z: { userId: number; deviceId: number; name: string; points: Array<[number, number]> }): Promise<Zone> {
    const now = Date.now();
    try {
      return zoneOf(this.st.createZone.get(z.userId, z.deviceId, z.name, JSON.stringify(z.points), now, now) as Row);
    } catch (e) {
      if (isUniqueViolation(e)) throw new StoreConflictError(`this camera already has a zone named "${z.name}"`);
      throw e;
    }
  }
  async getZone(id: number): Promise<Zone | null> {
    const r = this.st.zone.get(id) as Row | undefined;
    return r ? zoneOf(r) : null;
  }
  async listZones(userId: number, deviceId?: number): Promise<Zone[]> {
    const rows = (deviceId === undefined ? this.st.zonesOf.all(userId) : this.st.zonesOfDevice.all(userId, deviceId)) as Row[];
    return rows.map(zoneOf);
  }
  async listZoneNames(): Promise<string[]> {
    return (this.st.zoneNames.all() as Row[]).map((r) => r.name);
  }
  async updateZone(id: number, patch: { name?: string; points?: Array<[number, number]> }): Promise<Zone | null> {
    const sets: string[] = ['updated_at = ?'];
    const args: unknown[] = [Date.now()];
    if (patch.name !== undefined) {
      sets.push('name = ?');
      args.push(patch.name);
    }
    if (patch.points !== undefined) {
      sets.push('points = ?');
      args.push(JSON.stringify(patch.points));
    }
    try {
      const r = this.db.prepare(`UPDATE zones SET ${sets.join(', ')} WHERE id = ? RETURNING *`).get(...args, id) as Row | undefined;
      return r ? zoneOf(r) : null;
    } catch (e) {
      if (isUniqueViolation(e)) throw new StoreConflictError(`this camera already has a zone named "${patch.name}"`);
      throw e;
    }
  }
  async deleteZone(id: number): Promise<boolean> {
    return this.st.deleteZone.run(id).changes > 0;
  }
  async listDeviceBoxes(deviceId: number, limit: number): Promise<Array<{ id: number; box: Box; zoneId: number | null }>> {
    return (this.st.deviceBoxes.all(deviceId, limit) as Row[]).map((r) => ({ id: r.id, box: { x: r.x, y: r.y, w: r.w, h: r.h }, zoneId: r.zone_id ?? null }));
  }
  async setSightingZones(updates: Array<{ id: number; zoneId: number | null }>): Promise<void> {
    this.db.transaction(() => {
      for (const u of updates) this.st.setSightingZone.run(u.zoneId, u.id);
    })();
  }
  async listRooms(userId: number): Promise<string[]> {
    return (this.st.rooms.all(userId) as Row[]).map((r) => r.room);
  }

  // ---- settings ----
  async getPlaceLabels(userId: number): Promise<string[] | null> {
    const r = this.st.placeLabels.get(userId) as Row | undefined;
    return placeLabelsOf(r?.place_labels);
  }
  async setPlaceLabels(userId: number, labels: string[] | null): Promise<void> {
    this.st.setPlaceLabels.run(userId, labels === null ? null : JSON.stringify(labels));
  }
  async countSightings(userId?: number): Promise<number> {
    return ((userId === undefined ? this.st.countSightings.get() : this.st.countSightingsOf.get(userId)) as Row).n;
  }

  // ---- queries ----
  async logQuery(e: NewQueryLogEntry): Promise<QueryLogEntry> {
    return queryOf(
      this.st.logQuery.get(e.userId, e.deviceId, e.source, e.text, e.reply, e.intent, e.outcome, e.label, JSON.stringify(e.timings), heardJson(e), e.createdAt) as Row,
    );
  }
  async logQueries(entries: NewQueryLogEntry[]): Promise<void> {
    this.db.transaction(() => {
      for (const e of entries)
        this.st.logQuery.run(e.userId, e.deviceId, e.source, e.text, e.reply, e.intent, e.outcome, e.label, JSON.stringify(e.timings), heardJson(e), e.createdAt);
    })();
  }
  async listQueries(userId: number | null, limit: number): Promise<QueryLogEntry[]> {
    const rows = (userId === null ? this.st.listQueries.all(limit) : this.st.listQueriesOf.all(userId, limit)) as Row[];
    return rows.map(queryOf);
  }

  onAccountsChanged(fn: () => void): () => void {
    return this.changes.on(fn);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
