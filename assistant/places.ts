/**
 * A user's places, cached: their camera zones, their rooms and the labels they count as places rather than
 * items. Frames read the device's zones from here to tag each sighting with its zone when it is written, and
 * the answerer resolves "what's on the desk?" against it, so neither adds a query per request.
 *
 * The cache is per instance: a change made through this instance is seen at once (`invalidate`), a change made
 * through another instance on the same PostgreSQL database within `ttlMs` (default 5 s).
 */
import type { Box, Store, Zone } from '../store/types.js';
import { defaultPlaceLabels } from '../nlp/places.js';
import type { LabelBook } from './labels.js';
import { zoneOfBox } from './vision/zones.js';

export interface UserPlaces {
  zones: Zone[];
  rooms: string[];
  /** labels this user counts as places/context (not items) */
  placeLabels: ReadonlySet<string>;
  /** true when placeLabels is the user's own choice rather than the default */
  customised: boolean;
}

interface Entry {
  at: number;
  value: Promise<UserPlaces>;
}

/** how many of a device's newest sightings get their zone worked out again when its zones change */
export const REZONE_LIMIT = 20_000;

export class PlaceBook {
  private readonly cache = new Map<number, Entry>();
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly store: Store,
    private readonly labels: LabelBook,
    private readonly ttlMs = 5000,
  ) {}

  /** the default place labels of the active model */
  defaultPlaceLabels(): string[] {
    return defaultPlaceLabels(this.labels.labels);
  }

  async forUser(userId: number, now = Date.now()): Promise<UserPlaces> {
    const hit = this.cache.get(userId);
    if (hit && now - hit.at <= this.ttlMs) return hit.value;
    const value = this.load(userId);
    this.cache.set(userId, { at: now, value });
    value.catch(() => this.cache.delete(userId));
    if (this.cache.size > 10_000) this.cache.clear();
    return value;
  }

  private async load(userId: number): Promise<UserPlaces> {
    const [zones, rooms, own] = await Promise.all([this.store.listZones(userId), this.store.listRooms(userId), this.store.getPlaceLabels(userId)]);
    return { zones, rooms, placeLabels: new Set(own ?? this.defaultPlaceLabels()), customised: own !== null };
  }

  /** the zone a box of this device is in (cached zones) */
  async zoneFor(userId: number, deviceId: number, box: Box): Promise<number | null> {
    const { zones } = await this.forUser(userId);
    return zoneOfBox(box, zones.filter((z) => z.deviceId === deviceId))?.id ?? null;
  }

  /** a zone function for one device (for a batch of detections) */
  async zonerFor(userId: number, deviceId: number): Promise<(box: Box) => number | null> {
    const zones = (await this.forUser(userId)).zones.filter((z) => z.deviceId === deviceId);
    return (box) => (zones.length ? (zoneOfBox(box, zones)?.id ?? null) : null);
  }

  invalidate(userId: number): void {
    this.cache.delete(userId);
    for (const fn of this.listeners) fn();
  }

  /** told whenever a zone or room may have changed (the speech grammar rebuilds its place words) */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /**
   * After a device's zones changed: works out the zone of its newest sightings again (at most REZONE_LIMIT,
   * newest first, so the latest sighting of every label it sees is covered), in one transaction.
   */
  async rezoneDevice(userId: number, deviceId: number): Promise<number> {
    this.invalidate(userId);
    const zones = (await this.forUser(userId)).zones.filter((z) => z.deviceId === deviceId);
    const boxes = await this.store.listDeviceBoxes(deviceId, REZONE_LIMIT);
    const updates: Array<{ id: number; zoneId: number | null }> = [];
    for (const b of boxes) {
      const z = zoneOfBox(b.box, zones)?.id ?? null;
      if (z !== b.zoneId) updates.push({ id: b.id, zoneId: z });
    }
    await this.store.setSightingZones(updates);
    return updates.length;
  }
}
