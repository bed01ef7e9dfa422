/**
 * The frame service (assistant/vision/frames.ts) on its own: a scripted detector, a real SQLite file and real
 * snapshot files. Merging with recent sightings, one device at a time, idempotency, the snapshot rolled back
 * when the transaction fails, and retention. (The HTTP route around it: vision-frames-http.test.ts.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameService, perKeyQueue, type FrameUpload } from '../dist/assistant/vision/frames.js';
import type { DetectResult, Detector } from '../dist/assistant/vision/detector.js';
import { SqliteStore } from '../dist/store/sqlite.js';
import { StoreConflictError, type Detection, type Store } from '../dist/store/types.js';
import { tempDir } from './helpers/tmp.js';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
const det = (label: string, x: number, score = 0.8): Detection => ({ label, score, box: { x, y: 0.1, w: 0.2, h: 0.2 } });

/** a detector that answers each image with the detections scripted for it (by the image's first byte) */
function scripted(script: Record<number, Detection[]>, delayMs = 0): Detector & { calls: number } {
  const d = {
    calls: 0,
    labels: ['cup', 'book'],
    modelName: 'scripted',
    model: {} as Detector['model'],
    async detect(image: Buffer): Promise<DetectResult> {
      d.calls++;
      if (delayMs) await new Promise((r) => setTimeout(r, Math.random() * delayMs));
      const detections = script[image[0]] ?? [];
      return { width: 640, height: 480, detections, snapshot: JPEG, timings: { decode_ms: 1, letterbox_ms: 0, inference_ms: 2, postprocess_ms: 0 } };
    },
    stats: () => ({ workers: 1, busy: 0, queued: 0 }) as ReturnType<Detector['stats']>,
    close: async () => {},
  };
  return d;
}

interface Setup {
  store: Store;
  dataDir: string;
  userId: number;
  deviceId: number;
  otherDevice: number;
}
const open: Store[] = [];
async function setup(): Promise<Setup> {
  const dataDir = tempDir('wa-frames-');
  const store = new SqliteStore(path.join(dataDir, 'db.sqlite'));
  open.push(store);
  const u = await store.createUser({ name: 'alice', passwordHash: 'x', isAdmin: false });
  const d1 = await store.createDevice({ userId: u.id, name: 'kitchen', room: 'kitchen', tokenHash: 'h1' });
  const d2 = await store.createDevice({ userId: u.id, name: 'hall', room: 'hall', tokenHash: 'h2' });
  return { store, dataDir, userId: u.id, deviceId: d1.id, otherDevice: d2.id };
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

const snapshots = (dataDir: string): string[] => {
  const root = path.join(dataDir, 'snapshots');
  return fs.existsSync(root) ? (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.jpg')) : [];
};
const retention = (dataDir: string, frames = 0) => ({ dataDir, retentionDays: 0, retentionFrames: frames });
const upload = (s: Setup, byte: number, capturedAt: number, key: string | null = null, deviceId = s.deviceId): FrameUpload => ({
  userId: s.userId,
  deviceId,
  capturedAt,
  image: Buffer.from([byte]),
  key,
});

describe('FrameService', () => {
  it('refreshes an overlapping recent sighting of the same label and adds the rest', async () => {
    const s = await setup();
    const svc = new FrameService({ store: s.store, detector: scripted({ 1: [det('cup', 0.1)], 2: [det('cup', 0.12), det('cup', 0.7), det('book', 0.1)] }), config: retention(s.dataDir) });
    const a = await svc.ingest(upload(s, 1, 1000));
    const b = await svc.ingest(upload(s, 2, 2000));
    if (a.duplicate || b.duplicate) throw new Error('not a duplicate');
    expect(a.sightings).toEqual([{ id: expect.any(Number), merged: false }]);
    expect(b.sightings[0]).toEqual({ id: a.sightings[0].id, merged: true });
    expect(b.sightings.slice(1).map((x) => x.merged)).toEqual([false, false]);
    const cup = (await s.store.latestSightingsForDevice(s.deviceId, 0)).find((x) => x.id === a.sightings[0].id)!;
    expect(cup).toMatchObject({ seenAt: 2000, frameId: b.frame.id });
    expect(snapshots(s.dataDir)).toHaveLength(2);
    await svc.close();
  });

  it('does not merge across devices, nor with a sighting older than the window', async () => {
    const s = await setup();
    const svc = new FrameService({ store: s.store, detector: scripted({ 1: [det('cup', 0.1)] }), config: retention(s.dataDir), mergeWindowMs: 5000 });
    const a = await svc.ingest(upload(s, 1, 1000));
    const other = await svc.ingest(upload(s, 1, 1500, null, s.otherDevice));
    const late = await svc.ingest(upload(s, 1, 10_000));
    for (const o of [a, other, late]) if (o.duplicate) throw new Error('not a duplicate');
    const merged = [a, other, late].map((o) => (o.duplicate ? null : o.sightings[0].merged));
    expect(merged).toEqual([false, false, false]);
  });

  it('records one device\'s concurrent frames one at a time, so a burst merges into one sighting', async () => {
    const s = await setup();
    const svc = new FrameService({ store: s.store, detector: scripted({ 1: [det('cup', 0.3)] }, 20), config: retention(s.dataDir) });
    const outs = await Promise.all(Array.from({ length: 8 }, (_, i) => svc.ingest(upload(s, 1, 1000 + i))));
    const refs = outs.map((o) => (o.duplicate ? null : o.sightings[0]));
    expect(refs.filter((r) => r && !r.merged)).toHaveLength(1);
    expect(new Set(refs.map((r) => r?.id)).size).toBe(1);
    expect((await s.store.latestSightingsForDevice(s.deviceId, 0)).filter((x) => x.label === 'cup')).toHaveLength(1);
  });

  it('the per-device queue runs one key in order, other keys alongside, and forgets finished keys', async () => {
    const q = perKeyQueue();
    const log: string[] = [];
    const step = (name: string, ms: number) => () => new Promise<string>((r) => setTimeout(() => (log.push(name), r(name)), ms));
    const fail = () => Promise.reject(new Error('boom'));
    const all = Promise.allSettled([q(1, step('a1', 30)), q(1, fail), q(1, step('a3', 1)), q(2, step('b1', 5))]);
    expect(q.pending()).toBe(2);
    const r = await all;
    expect(log).toEqual(['b1', 'a1', 'a3']);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    await new Promise((res) => setTimeout(res, 0));
    expect(q.pending()).toBe(0);
  });

  it('answers a repeated idempotency key with the stored frame, without detecting again', async () => {
    const s = await setup();
    const detector = scripted({ 1: [det('cup', 0.1)] });
    const svc = new FrameService({ store: s.store, detector, config: retention(s.dataDir) });
    const a = await svc.ingest(upload(s, 1, 1000, 'k-1'));
    const b = await svc.ingest(upload(s, 1, 1000, 'k-1'));
    expect(a.duplicate).toBe(false);
    expect(b).toEqual({ duplicate: true, frame: expect.objectContaining({ id: a.frame.id }) });
    expect(detector.calls).toBe(1);
    // two uploads with one key at once: one is stored, the other gets it back
    const [c, d] = await Promise.all([svc.ingest(upload(s, 1, 3000, 'k-2')), svc.ingest(upload(s, 1, 3000, 'k-2'))]);
    expect([c.duplicate, d.duplicate].sort()).toEqual([false, true]);
    expect(c.frame.id).toBe(d.frame.id);
    expect(snapshots(s.dataDir)).toHaveLength(2);
  });

  it('deletes the snapshot file again when the transaction fails, and passes the error on', async () => {
    const s = await setup();
    const failing = Object.create(s.store) as Store;
    failing.recordFrame = async () => {
      throw new Error('disk full');
    };
    const svc = new FrameService({ store: failing, detector: scripted({ 1: [det('cup', 0.1)] }), config: retention(s.dataDir) });
    await expect(svc.ingest(upload(s, 1, 1000))).rejects.toThrow('disk full');
    expect(snapshots(s.dataDir)).toEqual([]);
    expect(await s.store.latestSightingsForDevice(s.deviceId, 0)).toEqual([]);
  });

  it('a key taken by another upload during the transaction (a conflict) returns that frame, and no stray file', async () => {
    const s = await setup();
    const winner = await s.store.recordFrame(
      { userId: s.userId, deviceId: s.deviceId, capturedAt: 500, snapshotPath: null, width: 1, height: 1, bytes: 0, idempotencyKey: 'k' },
      [],
      [],
    );
    const racing = Object.create(s.store) as Store;
    // the key is free when the upload arrives and when its turn comes; taken by the time it commits
    let lookups = 0;
    racing.getFrameByKey = async (deviceId, key) => (++lookups <= 2 ? null : s.store.getFrameByKey(deviceId, key));
    racing.recordFrame = async () => {
      throw new StoreConflictError('idempotency key already used');
    };
    const svc = new FrameService({ store: racing, detector: scripted({}), config: retention(s.dataDir) });
    const out = await svc.ingest(upload(s, 1, 1000, 'k'));
    expect(out).toEqual({ duplicate: true, frame: expect.objectContaining({ id: winner.frame.id }) });
    expect(lookups).toBe(3);
    expect(snapshots(s.dataDir)).toEqual([]);
  });

  it('runs the retention policy after frames (at most once per interval) and waits for it on close', async () => {
    const s = await setup();
    const svc = new FrameService({ store: s.store, detector: scripted({}), config: retention(s.dataDir, 2), retentionIntervalMs: 0 });
    for (let i = 0; i < 5; i++) {
      await svc.ingest(upload(s, 9, 1000 + i));
      await svc.close();
    }
    expect(snapshots(s.dataDir)).toHaveLength(2);
    const slow = new FrameService({ store: s.store, detector: scripted({}), config: retention(s.dataDir, 1), retentionIntervalMs: 3_600_000 });
    await slow.ingest(upload(s, 9, 2000));
    await slow.close();
    expect(snapshots(s.dataDir)).toHaveLength(1);
    await slow.ingest(upload(s, 9, 3000));
    await slow.close();
    expect(snapshots(s.dataDir)).toHaveLength(2); // not again within the hour
  });
});
