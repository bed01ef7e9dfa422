/**
 * The persistence contract. Routes and services only ever see this interface; the SQLite implementation
 * (store/sqlite.ts) is the embedded default and a PostgreSQL one (store/postgres.ts) can stand in for it.
 *
 * Conventions: ids are integers; times are epoch milliseconds (numbers); boxes are normalised to the
 * original image (x, y = top-left corner, w, h; all 0..1). Every method is async so a networked store fits.
 */

export interface User {
  id: number;
  name: string;
  isAdmin: boolean;
  /** bumped to end every session of the user (logout, password change) */
  tokenEpoch: number;
  createdAt: number;
}

export interface UserWithSecret extends User {
  passwordHash: string;
}

export interface Device {
  id: number;
  userId: number;
  name: string;
  room: string | null;
  createdAt: number;
  lastSeenAt: number | null;
  revokedAt: number | null;
}

export interface Session {
  id: number;
  userId: number;
  /** the user's token epoch when the session was made; the session is dead once they differ */
  epoch: number;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

export interface Frame {
  id: number;
  userId: number;
  deviceId: number;
  capturedAt: number;
  /** path of the downscaled JPEG snapshot, relative to the data folder; null when there is none */
  snapshotPath: string | null;
  /** size of the original image in pixels (0 when unknown) */
  width: number;
  height: number;
  /** bytes of the stored snapshot */
  bytes: number;
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Detection {
  label: string;
  score: number;
  box: Box;
}

export interface Sighting extends Detection {
  id: number;
  userId: number;
  deviceId: number;
  frameId: number | null;
  /** when the item was last seen at this place (kept current while it stays there) */
  seenAt: number;
  /** when this sighting row was first made */
  firstSeenAt: number;
  /** the camera zone the bottom-centre of the box was in when recorded (null: none) */
  zoneId: number | null;
}

/** A named area of one camera's picture: a polygon of normalised [x, y] points (0..1 of the image). */
export interface Zone {
  id: number;
  userId: number;
  deviceId: number;
  name: string;
  points: Array<[number, number]>;
  createdAt: number;
  updatedAt: number;
}

/** A sighting with the names of where it was (camera, room, zone). */
export interface PlacedSighting extends Sighting {
  deviceName: string;
  room: string | null;
  zoneName: string | null;
  snapshotAvailable: boolean;
}

/** A sighting with what the reply needs to describe where it was. */
export interface SightingInContext extends PlacedSighting {
  /** the other detections of the same frame (for "on the table", "next to the laptop") */
  neighbours: Detection[];
}

export interface NewSighting extends Detection {
  userId: number;
  deviceId: number;
  frameId: number | null;
  seenAt: number;
  /** the zone the sighting is in (computed by the caller from the device's zones); default none */
  zoneId?: number | null;
}

export interface FrameRefresh {
  id: number;
  seenAt: number;
  moveToFrame: boolean;
  score?: number;
  box?: Box;
  /** with moveToFrame: the zone of the new box */
  zoneId?: number | null;
  /** a late frame from just before the sighting began: first_seen_at moves back to it (never forward) */
  firstSeenAt?: number;
}

export interface SightingQuery {
  userId: number;
  label?: string;
  room?: string;
  since?: number;
  until?: number;
  limit: number;
  /** keyset pagination: only sightings older than this seenAt */
  before?: number;
  /** with `before`: sightings at exactly `before` are included while their id is below this (a cursor) */
  beforeId?: number;
}

export interface ItemSummary {
  label: string;
  latest: PlacedSighting;
  /** number of sighting rows for the label */
  count: number;
}

export interface QueryLogEntry {
  id: number;
  userId: number;
  deviceId: number | null;
  source: 'text' | 'voice';
  text: string;
  reply: string;
  intent: string;
  outcome: string;
  label: string | null;
  timings: Record<string, number>;
  /**
   * voice questions: what the recogniser heard (its N-best list with each hypothesis' share of mass, and the
   * best hypothesis' words with their confidences); null for typed questions and older rows
   */
  heard: HeardRecord | null;
  createdAt: number;
}

/** what a recogniser heard for one question (kept in the question log) */
export interface HeardRecord {
  alternatives: Array<{ text: string; confidence: number }>;
  words: Array<{ word: string; conf: number }>;
  /** the second look without the grammar, when it ran: its words and what it made the answer do */
  check?: { text: string; verdict: string } | null;
}

export type NewQueryLogEntry = Omit<QueryLogEntry, 'id' | 'heard'> & { heard?: HeardRecord | null };

export interface Store {
  readonly kind: 'sqlite' | 'postgres';

  // users
  createUser(u: { name: string; passwordHash: string; isAdmin: boolean }): Promise<User>;
  /** first-run setup: creates the user only while there is no user at all (atomically); null otherwise */
  createFirstUser(u: { name: string; passwordHash: string; isAdmin: boolean }): Promise<User | null>;
  getUserById(id: number): Promise<User | null>;
  getUserByName(name: string): Promise<UserWithSecret | null>;
  listUsers(): Promise<User[]>;
  /** deletes the user and, with them, their devices, sessions, frames, sightings and queries */
  deleteUser(id: number): Promise<boolean>;
  /** sets the hash and bumps the token epoch (ends every session) */
  setPassword(id: number, passwordHash: string): Promise<void>;
  setAdmin(id: number, isAdmin: boolean): Promise<void>;
  /** bumps the token epoch: every existing session of the user stops working */
  bumpTokenEpoch(id: number): Promise<number>;
  countAdmins(): Promise<number>;

  // sessions (stored by the sha256 of their token)
  createSession(s: { tokenHash: string; userId: number; epoch: number; csrfToken: string; expiresAt: number }): Promise<Session>;
  /** the session and its user, only while the session is unexpired and its epoch matches the user's */
  getSession(tokenHash: string, now: number): Promise<{ session: Session; user: User } | null>;
  deleteSession(tokenHash: string): Promise<void>;
  deleteExpiredSessions(now: number): Promise<number>;

  // login rate limiting (shared between instances)
  recordLoginFailure(key: string, at: number): Promise<void>;
  countLoginFailures(key: string, since: number): Promise<number>;
  clearLoginFailures(key: string): Promise<void>;

  // devices (stored by the sha256 of their token)
  createDevice(d: { userId: number; name: string; room: string | null; tokenHash: string }): Promise<Device>;
  /** an active device by token hash; null when unknown, revoked, or its owner is gone */
  getDeviceByTokenHash(tokenHash: string): Promise<{ device: Device; user: User } | null>;
  getDevice(id: number): Promise<Device | null>;
  listDevices(userId?: number): Promise<Device[]>;
  updateDevice(id: number, patch: { name?: string; room?: string | null }): Promise<Device | null>;
  revokeDevice(id: number, at: number): Promise<boolean>;
  touchDevice(id: number, at: number): Promise<void>;

  // frames
  /** `idempotencyKey`: a device's own key for the upload; a second frame with the same key is a StoreConflictError */
  createFrame(f: Omit<Frame, 'id'> & { idempotencyKey?: string | null }): Promise<Frame>;
  getFrame(id: number): Promise<Frame | null>;
  /** the frame a device already uploaded under this idempotency key */
  getFrameByKey(deviceId: number, idempotencyKey: string): Promise<Frame | null>;
  /**
   * Frames whose snapshots may be deleted under the retention policy: older than `olderThan` or beyond the
   * newest `keep` of the user, and never a frame that holds the latest sighting of any label.
   */
  listEvictableFrames(opts: { userId?: number; olderThan?: number; keepNewest?: number; limit: number }): Promise<Frame[]>;
  clearFrameSnapshot(id: number): Promise<void>;

  /**
   * A camera frame in one transaction: the frame row, its new sightings (on this frame), and the existing
   * sightings it confirms (seen again: seenAt moves forward; `moveToFrame` also moves them onto this frame with
   * the new score and box). An idempotency key already used by the device is a StoreConflictError.
   */
  recordFrame(
    f: Omit<Frame, 'id'> & { idempotencyKey?: string | null },
    fresh: Array<Omit<NewSighting, 'frameId'>>,
    refreshes: FrameRefresh[],
  ): Promise<{ frame: Frame; sightings: Sighting[] }>;

  // sightings
  /** inserts the sightings in one transaction and keeps the latest-per-label index current */
  addSightings(rows: NewSighting[]): Promise<Sighting[]>;
  /** moves an existing sighting's seenAt forward (the item is still there) and optionally its frame/score/box */
  refreshSighting(id: number, patch: { seenAt: number; frameId?: number | null; score?: number; box?: Box }): Promise<void>;
  /** the latest sighting of a label for a user: one indexed lookup, flat in the number of sightings */
  latestSighting(userId: number, label: string): Promise<SightingInContext | null>;
  /** the latest sighting of each label from one device (used to merge near-identical frames) */
  latestSightingsForDevice(deviceId: number, since: number): Promise<Sighting[]>;
  listSightings(q: SightingQuery): Promise<PlacedSighting[]>;
  listItems(userId: number): Promise<ItemSummary[]>;
  /**
   * Every label whose latest sighting is in one of the zones or (when `room` is given) in that room (any
   * camera of the room): one indexed query over the user's latest-sighting rows.
   */
  itemsInPlace(userId: number, place: { zoneIds?: number[]; room?: string }): Promise<ItemSummary[]>;
  /** the sightings that currently sit on a frame (every box of a snapshot) */
  listFrameSightings(frameId: number): Promise<PlacedSighting[]>;
  /** the newest frame of a device that still has its snapshot */
  latestFrameWithSnapshot(deviceId: number): Promise<Frame | null>;

  // zones (per camera; points normalised to the image)
  createZone(z: { userId: number; deviceId: number; name: string; points: Array<[number, number]> }): Promise<Zone>;
  getZone(id: number): Promise<Zone | null>;
  /** a user's zones (optionally one device's), by device then name */
  listZones(userId: number, deviceId?: number): Promise<Zone[]>;
  /** every zone name in use (any user): the speech recogniser's place words */
  listZoneNames(): Promise<string[]>;
  updateZone(id: number, patch: { name?: string; points?: Array<[number, number]> }): Promise<Zone | null>;
  deleteZone(id: number): Promise<boolean>;
  /** a device's sightings (id and box), newest first, for re-zoning after its zones change */
  listDeviceBoxes(deviceId: number, limit: number): Promise<Array<{ id: number; box: Box; zoneId: number | null }>>;
  /** sets the zone of many sightings in one transaction */
  setSightingZones(updates: Array<{ id: number; zoneId: number | null }>): Promise<void>;
  /** every distinct room name of a user's devices */
  listRooms(userId: number): Promise<string[]>;

  // per-user settings
  /** the labels the user counts as places/context rather than items (null: the default set) */
  getPlaceLabels(userId: number): Promise<string[] | null>;
  setPlaceLabels(userId: number, labels: string[] | null): Promise<void>;
  countSightings(userId?: number): Promise<number>;

  // questions asked
  logQuery(e: NewQueryLogEntry): Promise<QueryLogEntry>;
  /** many questions in one write (one transaction / statement) */
  logQueries(entries: NewQueryLogEntry[]): Promise<void>;
  listQueries(userId: number | null, limit: number): Promise<QueryLogEntry[]>;

  /**
   * Calls `fn` after a change that may end credentials: a device revoked, a user removed, a password or
   * token epoch changed, a session deleted (by this process; PostgreSQL also by other instances). Returns
   * the unsubscribe function.
   */
  onAccountsChanged?(fn: () => void): () => void;

  close(): Promise<void>;
}

/** Raised by a store when its backend is unreachable (mapped to HTTP 503 / socket `unavailable`). */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** Raised for a unique-constraint conflict (mapped to HTTP 409). */
export class StoreConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreConflictError';
  }
}
