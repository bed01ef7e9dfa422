/** Sightings from detectors that run elsewhere, the sighting history, and the item list. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../errors.js';
import { sightingView } from '../views.js';
import type { FastifyInstance } from 'fastify';
import { GUARDED, ItemsReply, JSON_BODY, PostSightingsReply, SightingsReply, errors } from '../schemas.js';

const Unit = Type.Number({ minimum: 0, maximum: 1 });
export const TimeValue = Type.Union([Type.String({ maxLength: 40 }), Type.Number()]);

const PostBody = Type.Object(
  {
    seen_at: Type.Optional(TimeValue),
    detections: Type.Array(
      Type.Object(
        {
          label: Type.String({ minLength: 1, maxLength: 100 }),
          score: Unit,
          box: Type.Array(Unit, { minItems: 4, maxItems: 4 }),
        },
        { additionalProperties: false },
      ),
      { maxItems: 300 },
    ),
  },
  { additionalProperties: false },
);

/** ISO 8601 or epoch ms; refuses unparseable values and times far in the future */
export function parseTime(v: string | number | undefined, field: string, now = Date.now()): number | undefined {
  if (v === undefined || v === '') return undefined;
  const ms = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(ms) || ms < 0) throw new AppError('validation', `${field} must be an ISO 8601 time or epoch milliseconds`);
  if (ms > now + 5 * 60_000) throw new AppError('validation', `${field} is in the future`);
  return Math.round(ms);
}

/** a label from a query string: an exact label, or a word that names one ("mug" -> cup) */
export function resolveLabelParam(app: FastifyInstance, label: string | undefined): string | undefined {
  if (label === undefined || label === '') return undefined;
  const l = label.trim().toLowerCase();
  if (app.labelBook.has(l)) return l;
  const m = app.labelBook.vocabulary.resolve(l);
  if (m.kind === 'label') return m.label;
  throw new AppError('unknown_label', `"${label}" is not something the detector knows; try one of: ${app.labelBook.vocabulary.examples(5).join(', ')}`);
}

const PostSchema = {
  description: 'sightings from a detector that runs elsewhere (labels of the active model; boxes normalised [x, y, w, h])',
  body: PostBody,
  response: { 201: PostSightingsReply, ...errors(...GUARDED, ...JSON_BODY) },
};

const sightingRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { store } = app;

  app.post('/v1/sightings', { preHandler: app.guard.device, schema: PostSchema }, async (request, reply) => {
    const p = request.principal!;
    if (p.kind !== 'device') throw new AppError('forbidden', 'this needs a device token');
    const seenAt = parseTime(request.body.seen_at, 'seen_at') ?? Date.now();
    const dets = request.body.detections.map((d, i) => {
      const label = d.label.trim().toLowerCase();
      if (!app.labelBook.has(label))
        throw new AppError('unknown_label', `detections[${i}].label "${d.label}" is not a label of the active model`);
      const [x, y, w, h] = d.box;
      if (x + w > 1.0001 || y + h > 1.0001) throw new AppError('validation', `detections[${i}].box must lie inside the image (x + w <= 1, y + h <= 1)`);
      return { label, score: d.score, box: { x, y, w, h } };
    });
    // the detections share a frame row (no snapshot), so the reply can say what each was on or next to;
    // frame and sightings are one transaction
    const zoneOf = await app.places.zonerFor(p.user.id, p.device.id);
    const { frame, sightings: rows } = await store.recordFrame(
      { userId: p.user.id, deviceId: p.device.id, capturedAt: seenAt, snapshotPath: null, width: 0, height: 0, bytes: 0 },
      dets.map((d) => ({ ...d, userId: p.user.id, deviceId: p.device.id, seenAt, zoneId: zoneOf(d.box) })),
      [],
    );
    app.openings?.seen(dets.map((d) => d.label)); // a new item: its reply opening is prepared now
    const zones = (await app.places.forUser(p.user.id)).zones;
    const ctx = { deviceName: p.device.name, room: p.device.room, snapshotAvailable: false };
    return reply
      .status(201)
      .send({ frame_id: frame.id, sightings: rows.map((r) => sightingView({ ...r, ...ctx, zoneName: zones.find((z) => z.id === r.zoneId)?.name ?? null })) });
  });

  app.get(
    '/v1/sightings',
    {
      preHandler: app.guard.any,
      schema: {
        querystring: Type.Object(
          {
            label: Type.Optional(Type.String({ maxLength: 100 })),
            room: Type.Optional(Type.String({ maxLength: 100 })),
            since: Type.Optional(Type.String({ maxLength: 40 })),
            until: Type.Optional(Type.String({ maxLength: 40 })),
            before: Type.Optional(Type.String({ maxLength: 40 })),
            // with `before`: the id of the last sighting of the previous page (sightings can share a time)
            before_id: Type.Optional(Type.Integer({ minimum: 1 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
          },
          { additionalProperties: false },
        ),
        description:
          'sighting history, newest first (`label` may be a word that names a label, e.g. mug; times are ISO 8601 or epoch ms; ' +
          'next page: `before` = the last row\'s `seen_at`, `before_id` = its `id`)',
        response: { 200: SightingsReply, ...errors(...GUARDED) },
      },
    },
    async (request) => {
      const q = request.query;
      if (q.before_id !== undefined && q.before === undefined) throw new AppError('validation', 'before_id goes with before (the seen_at and id of the last sighting of the previous page)');
      const far = Number.MAX_SAFE_INTEGER;
      const rows = await store.listSightings({
        userId: request.principal!.user.id,
        label: resolveLabelParam(app, q.label),
        room: q.room?.trim() || undefined,
        since: parseTime(q.since, 'since', far),
        until: parseTime(q.until, 'until', far),
        before: parseTime(q.before, 'before', far),
        beforeId: q.before_id,
        limit: q.limit ?? 50,
      });
      return { sightings: rows.map(sightingView) };
    },
  );

  // every label seen, with its latest sighting; places (furniture, people: the user's choice) only with
  // ?all=true; ?label= takes what Ask takes ("mugs", "my coffee mug" -> cup)
  app.get(
    '/v1/items',
    {
      preHandler: app.guard.any,
      schema: {
        querystring: Type.Object(
          { all: Type.Optional(Type.Boolean()), label: Type.Optional(Type.String({ maxLength: 100 })) },
          { additionalProperties: false },
        ),
        description: 'every label seen, with its latest sighting; places (furniture, people) only with `all=true`; `label` takes what Ask takes ("mugs" -> cup)',
        response: { 200: ItemsReply, ...errors(...GUARDED) },
      },
    },
    async (request) => {
      const userId = request.principal!.user.id;
      const label = resolveLabelParam(app, request.query.label);
      const [items, places] = await Promise.all([store.listItems(userId), app.places.forUser(userId)]);
      const hidePlaces = !request.query.all && label === undefined;
      const shown = items.filter((i) => (label === undefined || i.label === label) && (!hidePlaces || !places.placeLabels.has(i.label)));
      return {
        items: shown.map((i) => ({ label: i.label, count: i.count, kind: places.placeLabels.has(i.label) ? ('place' as const) : ('item' as const), latest: sightingView(i.latest) })),
        ...(label !== undefined ? { label } : {}),
      };
    },
  );
};

export default sightingRoutes;
