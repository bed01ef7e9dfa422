/**
 * The frame service: what happens to one camera frame after it arrived, independent of HTTP.
 *
 *   detect -> (one device at a time) match against the device's recent sightings -> write the snapshot file
 *   -> record frame + new sightings + refreshed sightings in one store transaction (or delete the file again)
 *   -> let the retention policy run (at most once a minute)
 *
 * A camera that keeps seeing the same scene does not flood the sightings table: a detection whose box
 * overlaps (IoU >= mergeIou) a recent sighting of the same label from the same device refreshes that sighting
 * (seen_at moves forward, frame_id moves to the new frame) instead of adding a row. Frames of one device are
 * recorded one after another, so a burst of near-identical frames merges instead of racing to insert. A frame
 * the device already uploaded under the same idempotency key comes back as it is (`duplicate`).
 *
 * Time is respected: a frame from before a sighting began (by more than lateMergeMs, default one minute, as
 * frames of a burst may arrive out of order) never merges into it, so a late, backdated upload never
 * overwrites or absorbs a newer sighting: it becomes a row of its own, at its own time, in the history. A frame
 * older than the sighting's latest never moves it (its box, frame and seen_at stay the newest); one from just
 * before it began moves its first-seen time back. Each new or moved sighting is tagged with the camera zone its
 * box stands in (`zones`, normally assistant/places.ts).
 */
import crypto from 'node:crypto';
import type { Config } from '../config.js';
import { StoreConflictError, type Box, type Detection, type Frame, type Sighting, type Store } from '../../store/types.js';
import type { DetectResult, Detector } from './detector.js';
import { boxIou } from './nms.js';
import { evictSnapshots, removeSnapshot, snapshotRelPath, Throttled, writeSnapshot } from './snapshots.js';

export interface FrameServiceOptions {
  store: Store;
  detector: Detector;
  /** the data folder (snapshots) and the retention policy */
  config: Pick<Config, 'dataDir' | 'retentionDays' | 'retentionFrames'>;
  /** IoU from which a detection refreshes the device's recent sighting of the same label (default 0.5) */
  mergeIou?: number;
  /** how recent that sighting must be, ms (default 10 minutes) */
  mergeWindowMs?: number;
  /** the retention policy runs after frames at most this often, ms (default 1 minute) */
  retentionIntervalMs?: number;
  /** how far before a sighting began a late frame may still join it, ms (default 1 minute) */
  lateMergeMs?: number;
  /** the zone function of a device (box -> zone id), for tagging sightings; default: no zones */
  zones?: (userId: number, deviceId: number) => Promise<(box: Box) => number | null>;
  log?: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export interface FrameUpload {
  userId: number;
  deviceId: number;
  capturedAt: number;
  image: Buffer;
  /** the device's Idempotency-Key, or null */
  key: string | null;
}

/** What became of each detection: a new sighting, or an existing one it refreshed (`merged`). */
export interface SightingRef {
  id: number;
  merged: boolean;
}

export type FrameOutcome =
  | { duplicate: true; frame: Frame }
  | {
      duplicate: false;
      frame: Frame;
      result: DetectResult;
      /** one per detection, in the detector's order */
      sightings: SightingRef[];
      /** time spent detecting, and recording (including the wait behind the device's earlier frames), ms */
      detectMs: number;
      storeMs: number;
    };

/**
 * Pairs each detection with the best-overlapping unused recent sighting of its label (IoU >= minIou);
 * returns the sighting to refresh per detection index, or undefined where a new row is due. With `at` (the
 * frame's time), sightings that began more than `lateMs` after it are left alone: a late frame keeps its time.
 */
export function matchSightings(detections: Detection[], recent: Sighting[], minIou: number, at = Infinity, lateMs = 60_000): Array<Sighting | undefined> {
  if (at !== Infinity) recent = recent.filter((s) => at >= s.firstSeenAt - lateMs);
  const used = new Set<number>();
  const out: Array<Sighting | undefined> = new Array(detections.length);
  const order = detections.map((_, i) => i).sort((a, b) => detections[b].score - detections[a].score);
  for (const i of order) {
    const d = detections[i];
    let best: Sighting | undefined;
    let bestIou = minIou;
    for (const s of recent) {
      if (s.label !== d.label || used.has(s.id)) continue;
      const iou = boxIou(s.box, d.box);
      if (iou >= bestIou) {
        best = s;
        bestIou = iou;
      }
    }
    if (best) used.add(best.id);
    out[i] = best;
  }
  return out;
}

/** Runs tasks one after another per key; a failed task does not stop the next. */
export function perKeyQueue() {
  const tails = new Map<number, Promise<unknown>>();
  const run = <T>(key: number, task: () => Promise<T>): Promise<T> => {
    const prev = tails.get(key) ?? Promise.resolve();
    const result = prev.then(task, task);
    const tail = result.catch(() => {});
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return result;
  };
  /** keys with work queued or running (for tests: the map does not grow without bound) */
  run.pending = () => tails.size;
  return run;
}

export class FrameService {
  readonly detector: Detector;
  private readonly store: Store;
  private readonly config: FrameServiceOptions['config'];
  private readonly mergeIou: number;
  private readonly mergeWindowMs: number;
  private readonly lateMergeMs: number;
  private readonly zones: NonNullable<FrameServiceOptions['zones']>;
  private readonly serially = perKeyQueue();
  private readonly retention: Throttled;

  constructor(o: FrameServiceOptions) {
    this.store = o.store;
    this.detector = o.detector;
    this.config = o.config;
    this.mergeIou = o.mergeIou ?? 0.5;
    this.mergeWindowMs = o.mergeWindowMs ?? 10 * 60_000;
    this.lateMergeMs = o.lateMergeMs ?? 60_000;
    this.zones = o.zones ?? (async () => () => null);
    this.retention = new Throttled(async () => {
      try {
        const n = await evictSnapshots(this.store, this.config);
        if (n) o.log?.info({ evicted: n }, 'deleted old snapshots');
      } catch (err) {
        o.log?.error({ err }, 'snapshot retention failed');
      }
    }, o.retentionIntervalMs ?? 60_000);
  }

  /** the frame this device already stored under `key`, if any */
  duplicate(deviceId: number, key: string | null): Promise<Frame | null> {
    return key ? this.store.getFrameByKey(deviceId, key) : Promise.resolve(null);
  }

  /** Detects objects in the image and records the frame, its snapshot and its sightings. */
  async ingest(u: FrameUpload): Promise<FrameOutcome> {
    // a retry of an upload that was stored (its reply lost on the way) is acknowledged, not detected again
    const earlier = await this.duplicate(u.deviceId, u.key);
    if (earlier) return { duplicate: true, frame: earlier };
    const t0 = performance.now();
    const result = await this.detector.detect(u.image);
    const t1 = performance.now();
    const saved = await this.serially(u.deviceId, () => this.record(u, result));
    if (!saved.sightings) return { duplicate: true, frame: saved.frame };
    const t2 = performance.now();
    void this.retention.poke();
    return { duplicate: false, frame: saved.frame, result, sightings: saved.sightings, detectMs: t1 - t0, storeMs: t2 - t1 };
  }

  /** waits for a retention run in progress (the caller closes the detector and the store) */
  async close(): Promise<void> {
    await this.retention.idle();
  }

  /**
   * Stores the frame, its snapshot and its sightings (merged into the device's recent ones where they overlap).
   * The snapshot file is written first, then everything else in one transaction (one disk sync per frame); when
   * the transaction fails the file is deleted again. `sightings: null`: the key was taken meanwhile.
   */
  private async record(u: FrameUpload, result: DetectResult): Promise<{ frame: Frame; sightings: SightingRef[] | null }> {
    const { userId, deviceId, capturedAt, key } = u;
    const dup = await this.duplicate(deviceId, key);
    if (dup) return { frame: dup, sightings: null };
    const dets = result.detections;
    const recent = dets.length ? await this.store.latestSightingsForDevice(deviceId, capturedAt - this.mergeWindowMs) : [];
    const matches = matchSightings(dets, recent, this.mergeIou, capturedAt, this.lateMergeMs);
    const zoneOf = dets.length ? await this.zones(userId, deviceId) : () => null;
    const rel = snapshotRelPath(userId, capturedAt, `${capturedAt}-${crypto.randomBytes(4).toString('hex')}`);
    await writeSnapshot(this.config.dataDir, rel, result.snapshot);
    let saved: { frame: Frame; sightings: Sighting[] };
    try {
      saved = await this.store.recordFrame(
        { userId, deviceId, capturedAt, snapshotPath: rel, width: result.width, height: result.height, bytes: result.snapshot.length, idempotencyKey: key },
        dets.filter((_, i) => !matches[i]).map((d) => ({ ...d, userId, deviceId, seenAt: capturedAt, zoneId: zoneOf(d.box) })),
        // a newer frame moves a confirmed sighting onto itself; an older one (a late upload within the burst
        // window) only confirms it, and moves its first-seen time back when it came first
        dets.flatMap((d, i) => {
          const m = matches[i];
          if (!m) return [];
          const firstSeenAt = capturedAt < m.firstSeenAt ? capturedAt : undefined;
          return [{ id: m.id, seenAt: capturedAt, moveToFrame: capturedAt >= m.seenAt, score: d.score, box: d.box, zoneId: zoneOf(d.box), firstSeenAt }];
        }),
      );
    } catch (e) {
      await removeSnapshot(this.config.dataDir, rel);
      const taken = key && e instanceof StoreConflictError ? await this.store.getFrameByKey(deviceId, key) : null;
      if (taken) return { frame: taken, sightings: null };
      throw e;
    }
    const sightings: SightingRef[] = [];
    let next = 0;
    for (let i = 0; i < dets.length; i++) {
      const m = matches[i];
      sightings.push(m ? { id: m.id, merged: true } : { id: saved.sightings[next++].id, merged: false });
    }
    return { frame: saved.frame, sightings };
  }
}
