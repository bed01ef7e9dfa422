/**
 * Camera frames: `POST /v1/frames` (a device uploads a JPEG/PNG/WebP; the server detects objects, keeps a
 * downscaled snapshot and records sightings) and `GET /v1/frames/:id/snapshot` (the owner's snapshot).
 * The route reads the upload and shapes the reply; detection, merging with recent sightings, per-device
 * ordering, snapshots and retention are the frame service's (assistant/vision/frames.ts).
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import multipart from '@fastify/multipart';
import type { FastifyRequest } from 'fastify';
import fsp from 'node:fs/promises';
import { AppError } from '../errors.js';
import { recordFrame, reportPool } from '../metrics.js'; // metrics
import { iso } from '../views.js';
import { parseTime } from './sightings.js';
import type { Detector } from '../vision/detector.js';
import { FrameService, type FrameServiceOptions } from '../vision/frames.js';
import { snapshotFile } from '../vision/snapshots.js';
import type { Frame } from '../../store/types.js';
import { DuplicateFrameReply, FrameReply, GUARDED, IdParams, binary, errors } from '../schemas.js';

export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp'];

export interface FrameRoutesOptions extends Pick<FrameServiceOptions, 'mergeIou' | 'mergeWindowMs' | 'retentionIntervalMs' | 'lateMergeMs'> {
  /** the detector (the caller closes it); null: frames are refused with 503 (the server runs without models) */
  detector: Detector | null;
}

const round = (n: number) => Math.round(n * 100) / 100;

/** the headers an upload may carry (validated; the handler reads them) */
const FrameHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ pattern: '^[\\x21-\\x7e]{1,128}$', description: "the device's own name for this upload: a retry with the same key is not stored twice" })),
  'x-captured-at': Type.Optional(Type.String({ maxLength: 40, description: 'when the picture was taken (ISO 8601 or epoch ms)' })),
});
/** the upload as the OpenAPI document describes it (the handler reads the body itself) */
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

const frameRoutes: FastifyPluginAsyncTypebox<FrameRoutesOptions> = async (app, opts) => {
  const { store, config } = app;
  const { detector } = opts;
  const frames = detector
    ? new FrameService({ ...opts, detector, store, config, log: app.log, zones: (userId, deviceId) => app.places.zonerFor(userId, deviceId) })
    : null;
  if (frames) {
    const d = frames.detector;
    const off = reportPool('vision', () => ({ queued: d.stats().queued, busy: d.stats().busy })); // metrics
    app.addHook('onClose', async () => {
      off();
      await frames.close();
    });
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
        // a broken or over-long form (too many fields, no boundary, cut off) is the client's mistake, not a 500
        const status = (e as { statusCode?: number }).statusCode;
        if (e instanceof AppError || (status !== undefined && status >= 400 && status < 500)) throw e;
        throw new AppError('bad_request', `the multipart form cannot be read (${(e as Error).message}): send one image file and at most a captured_at field`, { cause: e });
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
      const header = request.headers['x-captured-at'];
      const capturedAt =
        parseTime(request.query.captured_at ?? upload.capturedAt ?? (typeof header === 'string' ? header : undefined), 'captured_at') ?? Date.now();
      if (!frames) throw new AppError('unavailable', 'the detection model is not loaded (the server runs with --no-models)');
      const key = idempotencyKey(request.headers['idempotency-key']);
      const out = await frames.ingest({ userId: p.user.id, deviceId: p.device.id, capturedAt, image: upload.image, key });
      if (out.duplicate) return reply.status(200).send(duplicateBody(out.frame));
      const { frame, result, sightings } = out;
      const t2 = performance.now();

      const timings = {
        decode_ms: round(result.timings.decode_ms + result.timings.letterbox_ms),
        inference_ms: result.timings.inference_ms,
        postprocess_ms: result.timings.postprocess_ms,
        store_ms: round(out.storeMs),
        total_ms: round(t2 - t0),
      };
      recordFrame(result.timings, timings.store_ms, timings.total_ms, sightings.length); // metrics
      app.openings?.seen(result.detections.map((d) => d.label)); // a new item: its reply opening is prepared now
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
