/**
 * Camera frames: `POST /v1/frames` (a device uploads a JPEG/PNG/WebP; the server detects objects, keeps a
 * downscaled snapshot and records sightings) and `GET /v1/frames/:id/snapshot` (the owner's snapshot).
 *
 * A camera that keeps seeing the same scene does not flood the sightings table: a detection whose box
 * overlaps (IoU >= mergeIou) a recent sighting of the same label from the same device refreshes that
 * sighting (seen_at moves forward, frame_id moves to the new frame) instead of adding a row.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import { AppError } from '../errors.js';
import { recordFrame, reportPool } from '../metrics.js'; // metrics
import { iso } from '../views.js';
import { parseTime } from './sightings.js';
import { createDetector, type DetectResult, type Detector } from '../vision/detector.js';
import { boxIou } from '../vision/nms.js';
import { evictSnapshots, removeSnapshot, snapshotFile, snapshotRelPath, Throttled, writeSnapshot } from '../vision/snapshots.js';
import { DuplicateFrameReply, FrameReply, GUARDED, IdParams, binary, errors } from '../schemas.js';
import { StoreConflictError, type Detection, type Frame, type Sighting } from '../../store/types.js';

export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'];

export interface FrameRoutesOptions {
  /** a detector to use (the caller closes it); default: one made from the configuration, closed with the server */
  detector?: Detector | null;
  /** IoU from which a detection refreshes the device's recent sighting of the same label (default 0.5) */
  mergeIou?: number;
  /** how recent that sighting must be, ms (default 10 minutes) */
  mergeWindowMs?: number;
  /** snapshot retention runs after uploads at most this often, ms (default 1 minute) */
  retentionIntervalMs?: number;
}

/** the upload as the OpenAPI document describes it (the handler reads the body itself) */
const FrameHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ pattern: '^[\\x21-\\x7e]{1,128}$', description: "the device's own name for this upload: a retry with the same key is not stored twice" })),
  'x-captured-at': Type.Optional(Type.String({ maxLength: 40, description: 'when the picture was taken (ISO 8601 or epoch ms)' })),
});
const FrameUpload = {
  content: {
    ...Object.fromEntries(IMAGE_TYPES.map((t) => [t, { schema: Type.String({ format: 'binary' }) }])),
    'multipart/form-data': {
      schema: Type.Object({
        image: Type.String({ format: 'binary', description: 'the image file (JPEG, PNG or WebP)' }),
        captured_at: Type.Optional(Type.String({ maxLength: 40, description: 'ISO 8601 or epoch ms' })),
      }),
    },
  },
};
const round = (n: number) => Math.round(n * 100) / 100;

/** `Idempotency-Key` header: a device's own name for one upload (1-128 visible ASCII characters) */
export function idempotencyKey(h: string | string[] | undefined): string | null {
  if (h === undefined) return null;
  if (typeof h !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(h)) throw new AppError('validation', 'Idempotency-Key must be 1-128 visible ASCII characters');
  return h;
}

function duplicateBody(f: Frame) {
  return {
    frame: { id: f.id, captured_at: iso(f.capturedAt), width: f.width, height: f.height, snapshot_url: f.snapshotPath ? `/v1/frames/${f.id}/snapshot` : null },
    detections: [],
    duplicate: true as const,
  };
}

/** Runs tasks one after another per key (frames of one camera are merged in order). */
function perKeyQueue() {
  const tails = new Map<number, Promise<unknown>>();
  return <T>(key: number, task: () => Promise<T>): Promise<T> => {
    const prev = tails.get(key) ?? Promise.resolve();
    const run = prev.then(task, task);
    const tail = run.catch(() => {});
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return run;
  };
}

/**
 * Pairs each detection with the best-overlapping unused recent sighting of its label (IoU >= minIou);
 * returns the sighting to refresh per detection index, or undefined where a new row is due.
 */
export function matchSightings(detections: Detection[], recent: Sighting[], minIou: number): Array<Sighting | undefined> {
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

const frameRoutes: FastifyPluginAsyncTypebox<FrameRoutesOptions> = async (app, opts) => {
  const { store, config } = app;
  const mergeIou = opts.mergeIou ?? 0.5;
  const mergeWindowMs = opts.mergeWindowMs ?? 10 * 60_000;
  const serially = perKeyQueue();

  let detector: Detector | null;
  if (opts.detector !== undefined) detector = opts.detector;
  else if (config.noModels) detector = null;
  else {
    const own = await createDetector(config);
    app.addHook('onClose', async () => own.close());
    detector = own;
  }

  if (detector) {
    const d = detector;
    const off = reportPool('vision', () => ({ queued: d.stats().queued, busy: d.stats().busy })); // metrics
    app.addHook('onClose', async () => off());
  }

  const retention = new Throttled(async () => {
    try {
      const n = await evictSnapshots(store, config);
      if (n) app.log.info({ evicted: n }, 'deleted old snapshots');
    } catch (err) {
      app.log.error({ err }, 'snapshot retention failed');
    }
  }, opts.retentionIntervalMs ?? 60_000);
  app.addHook('onClose', async () => retention.idle());

  /**
   * Stores the frame, its snapshot and its sightings (merged into the device's recent ones where they overlap).
   * The snapshot file is written first, then everything else in one transaction (one disk sync per frame). A
   * frame the device already uploaded under the same idempotency key is returned as it is (`sightings: null`).
   */
  async function record(userId: number, deviceId: number, capturedAt: number, result: DetectResult, key: string | null) {
    if (key) {
      const dup = await store.getFrameByKey(deviceId, key);
      if (dup) return { frame: dup, sightings: null };
    }
    const dets = result.detections;
    const recent = dets.length ? await store.latestSightingsForDevice(deviceId, capturedAt - mergeWindowMs) : [];
    const matches = matchSightings(dets, recent, mergeIou);
    const rel = snapshotRelPath(userId, capturedAt, `${capturedAt}-${crypto.randomBytes(4).toString('hex')}`);
    await writeSnapshot(config.dataDir, rel, result.snapshot);
    let saved: { frame: Frame; sightings: Sighting[] };
    try {
      saved = await store.recordFrame(
        { userId, deviceId, capturedAt, snapshotPath: rel, width: result.width, height: result.height, bytes: result.snapshot.length, idempotencyKey: key },
        dets.filter((_, i) => !matches[i]).map((d) => ({ ...d, userId, deviceId, seenAt: capturedAt })),
        // a newer frame moves a confirmed sighting onto itself; an older one (a late upload) only confirms it
        dets.flatMap((d, i) => {
          const m = matches[i];
          return m ? [{ id: m.id, seenAt: capturedAt, moveToFrame: capturedAt >= m.seenAt, score: d.score, box: d.box }] : [];
        }),
      );
    } catch (e) {
      await removeSnapshot(config.dataDir, rel);
      const dup = key && e instanceof StoreConflictError ? await store.getFrameByKey(deviceId, key) : null;
      if (dup) return { frame: dup, sightings: null };
      throw e;
    }
    const sightings: Array<{ id: number; merged: boolean }> = [];
    let next = 0;
    for (let i = 0; i < dets.length; i++) {
      const m = matches[i];
      sightings.push(m ? { id: m.id, merged: true } : { id: saved.sightings[next++].id, merged: false });
    }
    return { frame: saved.frame, sightings };
  }

  // multipart/form-data uploads (one image file, an optional captured_at field), for these routes only
  await app.register(multipart, { limits: { fileSize: config.frameBodyLimit, files: 1, fields: 4, fieldSize: 100 } });

  /** the image from a raw body (image/jpeg, image/png, image/webp) or from a form's file part */
  async function readUpload(request: FastifyRequest): Promise<{ image: Buffer; capturedAt?: string }> {
    if (request.isMultipart()) {
      let image: Buffer | undefined;
      let capturedAt: string | undefined;
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            const t = part.mimetype.toLowerCase();
            if (!IMAGE_TYPES.includes(t) && t !== 'application/octet-stream') {
              part.file.resume();
              throw new AppError('unsupported_media_type', `the file must be ${IMAGE_TYPES.join(', ')}, not ${t}`);
            }
            image = await part.toBuffer();
          } else if (part.fieldname === 'captured_at') capturedAt = String(part.value);
        }
      } catch (e) {
        // the form parser's own complaints (no boundary, a malformed part) are plain errors: the client's fault
        if (e instanceof AppError || (e as { statusCode?: number }).statusCode) throw e;
        throw new AppError('bad_request', `the multipart form cannot be read: ${(e as Error).message}`);
      }
      if (!image || image.length === 0) throw new AppError('bad_request', 'the form has no image file (send it as a file field, e.g. curl -F image=@photo.jpg)');
      return { image, capturedAt };
    }
    const type = (request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (!IMAGE_TYPES.includes(type)) throw new AppError('unsupported_media_type', `send the image as ${IMAGE_TYPES.join(', ')} (or a multipart form)`);
    const body = request.body as unknown;
    if (!Buffer.isBuffer(body) || body.length === 0) throw new AppError('bad_request', 'the body is empty; send the image bytes');
    return { image: body };
  }

  // raw image bodies, for these routes only
  app.addContentTypeParser(IMAGE_TYPES, { parseAs: 'buffer', bodyLimit: config.frameBodyLimit }, (_request, body, done) => done(null, body));

  app.post(
    '/v1/frames',
    {
      preHandler: app.guard.device,
      bodyLimit: config.frameBodyLimit,
      schema: {
        description:
          'a camera snapshot, analysed by the detector: the image as the body (JPEG, PNG or WebP) or a multipart form (one image file, optional `captured_at`). ' +
          'The capture time comes from `?captured_at=`, the form field or `X-Captured-At` (ISO 8601 or epoch ms). An `Idempotency-Key` makes a retry safe: an upload already stored is answered 200 with `duplicate: true`.',
        querystring: Type.Object({ captured_at: Type.Optional(Type.String({ maxLength: 40 })) }, { additionalProperties: false }),
        headers: FrameHeaders,
        // the handler reads the body itself (raw image bytes or a multipart stream); `doc` describes it
        doc: { body: FrameUpload },
        response: { 201: FrameReply, 200: DuplicateFrameReply, ...errors(...GUARDED, 413, 415, 422) },
      },
    },
    async (request, reply) => {
      const t0 = performance.now();
      const p = request.principal!;
      if (p.kind !== 'device') throw new AppError('forbidden', 'this needs a device token');
      const upload = await readUpload(request);
      const body = upload.image;
      const header = request.headers['x-captured-at'];
      const capturedAt =
        parseTime(request.query.captured_at ?? upload.capturedAt ?? (typeof header === 'string' ? header : undefined), 'captured_at') ?? Date.now();
      if (!detector) throw new AppError('unavailable', 'the detection model is not loaded (the server runs with --no-models)');
      const key = idempotencyKey(request.headers['idempotency-key']);
      // a retry of an upload that was stored (its reply lost on the way) is acknowledged, not stored again
      if (key) {
        const dup = await store.getFrameByKey(p.device.id, key);
        if (dup) return reply.status(200).send(duplicateBody(dup));
      }

      const result = await detector.detect(body);
      const t1 = performance.now();

      // one camera's frames are recorded one at a time, so that a burst of near-identical frames merges
      // instead of racing to insert
      const { frame, sightings } = await serially(p.device.id, () => record(p.user.id, p.device.id, capturedAt, result, key));
      if (!sightings) return reply.status(200).send(duplicateBody(frame));
      const t2 = performance.now();
      void retention.poke();

      const timings = {
        decode_ms: round(result.timings.decode_ms + result.timings.letterbox_ms),
        inference_ms: result.timings.inference_ms,
        postprocess_ms: result.timings.postprocess_ms,
        store_ms: round(t2 - t1),
        total_ms: round(t2 - t0),
      };
      recordFrame(result.timings, timings.store_ms, timings.total_ms, sightings.length); // metrics
      reply.header('server-timing', Object.entries(timings).map(([k, v]) => `${k.replace(/_ms$/, '')};dur=${v}`).join(', '));
      return reply.status(201).send({
        frame: { id: frame.id, captured_at: iso(capturedAt), width: result.width, height: result.height, snapshot_url: `/v1/frames/${frame.id}/snapshot` },
        detections: result.detections.map((d, i) => ({
          label: d.label,
          score: Math.round(d.score * 1000) / 1000,
          box: [d.box.x, d.box.y, d.box.w, d.box.h],
          sighting_id: sightings[i].id,
          merged: sightings[i].merged,
        })),
        timings,
      });
    },
  );

  app.get(
    '/v1/frames/:id/snapshot',
    {
      preHandler: app.guard.any,
      schema: { description: "a frame's stored snapshot (the owner's only)", params: IdParams, response: { 200: binary('the snapshot', 'image/jpeg'), ...errors(...GUARDED, 404) } },
    },
    async (request, reply) => {
      const notFound = new AppError('not_found', 'no such snapshot');
      const frame = await store.getFrame(request.params.id);
      // someone else's frame is "not found", never "forbidden": ids are not confirmed to outsiders
      if (!frame || frame.userId !== request.principal!.user.id || !frame.snapshotPath) throw notFound;
      const file = snapshotFile(config.dataDir, frame.snapshotPath);
      if (!file) throw notFound;
      let jpeg: Buffer;
      try {
        jpeg = await fsp.readFile(file);
      } catch {
        throw notFound;
      }
      return reply.type('image/jpeg').header('cache-control', 'private, max-age=86400').header('x-content-type-options', 'nosniff').send(jpeg);
    },
  );
};

export default frameRoutes;
