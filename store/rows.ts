/** Database rows (snake_case columns) -> store records; shared by the SQLite and PostgreSQL stores. */
import type { Device, Frame, NewQueryLogEntry, PlacedSighting, QueryLogEntry, Sighting, User, Zone } from './types.js';

export type Row = Record<string, any>;

export const userOf = (r: Row): User => ({
  id: r.id,
  name: r.name,
  isAdmin: !!r.is_admin,
  tokenEpoch: r.token_epoch,
  createdAt: r.created_at,
});

export const deviceOf = (r: Row): Device => ({
  id: r.id,
  userId: r.user_id,
  name: r.name,
  room: r.room ?? null,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at ?? null,
  revokedAt: r.revoked_at ?? null,
});

export const frameOf = (r: Row): Frame => ({
  id: r.id,
  userId: r.user_id,
  deviceId: r.device_id,
  capturedAt: r.captured_at,
  snapshotPath: r.snapshot_path ?? null,
  width: r.width,
  height: r.height,
  bytes: r.bytes,
});

export const sightingOf = (r: Row): Sighting => ({
  id: r.id,
  userId: r.user_id,
  deviceId: r.device_id,
  frameId: r.frame_id ?? null,
  label: r.label,
  score: r.score,
  box: { x: r.x, y: r.y, w: r.w, h: r.h },
  seenAt: r.seen_at,
  firstSeenAt: r.first_seen_at,
  zoneId: r.zone_id ?? null,
});

/** a sighting row joined with its device (name, room), zone (name) and frame (snapshot) */
export const placedOf = (r: Row): PlacedSighting => ({
  ...sightingOf(r),
  deviceName: r.device_name,
  room: r.room ?? null,
  zoneName: r.zone_name ?? null,
  snapshotAvailable: !!r.snapshot_available,
});

export const zoneOf = (r: Row): Zone => ({
  id: r.id,
  userId: r.user_id,
  deviceId: r.device_id,
  name: r.name,
  // SQLite keeps the points as JSON text, PostgreSQL as json
  points: typeof r.points === 'string' ? JSON.parse(r.points) : r.points,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** a place-labels setting as stored (JSON text or json) -> list, null for the default */
export const placeLabelsOf = (v: unknown): string[] | null => {
  if (v == null) return null;
  const list = typeof v === 'string' ? JSON.parse(v) : v;
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string') : null;
};

export const queryOf = (r: Row): QueryLogEntry => ({
  id: r.id,
  userId: r.user_id,
  deviceId: r.device_id ?? null,
  source: r.source,
  text: r.text,
  reply: r.reply,
  intent: r.intent,
  outcome: r.outcome,
  label: r.label ?? null,
  // SQLite keeps the JSON as text, PostgreSQL as jsonb
  timings: typeof r.timings === 'string' ? JSON.parse(r.timings) : r.timings,
  heard: r.heard == null ? null : typeof r.heard === 'string' ? JSON.parse(r.heard) : r.heard,
  createdAt: r.created_at,
});

/** the heard column's value (JSON text) for a new question-log row; null for typed questions */
export const heardJson = (e: NewQueryLogEntry): string | null => (e.heard ? JSON.stringify(e.heard) : null);
