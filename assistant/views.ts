/** How store records look on the wire: ISO times, snake_case, boxes as [x, y, w, h]. */
import type { Device, Sighting, User, QueryLogEntry, Zone } from '../store/types.js';
import type { SightingView } from '../protocol/protocol.js';
import type * as Wire from './schemas.js';

export function iso(ms: number): string;
export function iso(ms: number | null | undefined): string | null;
export function iso(ms: number | null | undefined): string | null {
  return ms == null ? null : new Date(ms).toISOString();
}

export function sightingView(s: Sighting & { deviceName: string; room: string | null; zoneName?: string | null; snapshotAvailable?: boolean }): SightingView & {
  id: number;
  first_seen_at: string;
  snapshot_url: string | null;
  zone: string | null;
  zone_id: number | null;
} {
  return {
    id: s.id,
    label: s.label,
    score: Math.round(s.score * 1000) / 1000,
    box: [s.box.x, s.box.y, s.box.w, s.box.h],
    seen_at: iso(s.seenAt)!,
    first_seen_at: iso(s.firstSeenAt)!,
    room: s.room,
    zone: s.zoneName ?? null,
    zone_id: s.zoneId ?? null,
    device: s.deviceName,
    frame_id: s.frameId,
    snapshot_url: s.snapshotAvailable && s.frameId != null ? `/v1/frames/${s.frameId}/snapshot` : null,
  };
}

export function userView(u: User): Wire.User {
  return { id: u.id, name: u.name, admin: u.isAdmin, created_at: iso(u.createdAt) };
}

export function deviceView(d: Device, now = Date.now()): Wire.Device {
  const status: Wire.Device['status'] = d.revokedAt ? 'revoked' : d.lastSeenAt && now - d.lastSeenAt < 5 * 60_000 ? 'online' : d.lastSeenAt ? 'idle' : 'never seen';
  return {
    id: d.id,
    user_id: d.userId,
    name: d.name,
    room: d.room,
    created_at: iso(d.createdAt),
    last_seen_at: iso(d.lastSeenAt),
    revoked_at: iso(d.revokedAt),
    status,
  };
}

export function queryView(q: QueryLogEntry): Wire.QueryRow {
  return {
    id: q.id,
    user_id: q.userId,
    device_id: q.deviceId,
    source: q.source,
    text: q.text,
    reply: q.reply,
    intent: q.intent,
    outcome: q.outcome,
    label: q.label,
    timings: q.timings,
    heard: q.heard,
    created_at: iso(q.createdAt),
  };
}

export function zoneView(z: Zone) {
  return {
    id: z.id,
    device_id: z.deviceId,
    name: z.name,
    points: z.points,
    created_at: iso(z.createdAt),
    updated_at: iso(z.updatedAt),
  };
}
