/**
 * Camera zones, the snapshot view and the per-user choice of which labels count as items.
 *
 *   GET    /v1/zones                      every zone of the caller
 *   GET    /v1/devices/:id/zones          one camera's zones and its newest snapshot (to draw on)
 *   POST   /v1/devices/:id/zones          {name, points: [[x, y], ...]} (normalised 0..1) -> 201
 *   PATCH  /v1/zones/:id                  {name?, points?}
 *   DELETE /v1/zones/:id                  -> 204
 *   GET    /v1/frames/:id                 a frame with every box on it and its camera's zones
 *   GET    /v1/settings/labels            each label: item or place, and its default
 *   PUT    /v1/settings/labels            {places: [...]} or {places: null} (back to the default)
 *
 * A zone belongs to the camera's owner; the owner (or an admin) manages it. After a camera's zones change, the
 * zone of its recent sightings is worked out again (assistant/places.ts), so answers use the new zones at once.
 */
import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { iso, sightingView, zoneView } from '../views.js';
import { polygonProblem, tidyPoints, type Point } from '../vision/zones.js';
import { normalizeLabel } from '../../nlp/vocabulary.js';
import type { Device, Zone } from '../../store/types.js';
import { GUARDED, JSON_BODY, Sighting, errors } from '../schemas.js';

const Id = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const Unit = Type.Number({ minimum: 0, maximum: 1 });
const PointSchema = Type.Tuple([Unit, Unit]);
const Points = Type.Array(PointSchema, { minItems: 3, maxItems: 64 });
const ZoneName = Type.String({ minLength: 1, maxLength: 64 });
const Time = Type.String();
const NullableTime = Type.Union([Time, Type.Null()]);

export const ZoneView = Type.Object({
  id: Type.Integer(),
  device_id: Type.Integer(),
  name: Type.String(),
  points: Type.Array(PointSchema),
  created_at: NullableTime,
  updated_at: NullableTime,
});

/** the sighting shape of the whole API (assistant/schemas.ts) */
export const SightingViewSchema = Sighting;

const FrameView = Type.Object({
  id: Type.Integer(),
  device_id: Type.Integer(),
  captured_at: NullableTime,
  width: Type.Integer(),
  height: Type.Integer(),
  snapshot_url: Type.Union([Type.String(), Type.Null()]),
});

const DeviceRef = Type.Object({ id: Type.Integer(), name: Type.String(), room: Type.Union([Type.String(), Type.Null()]) });

const ZoneBody = Type.Object({ name: ZoneName, points: Points }, { additionalProperties: false });
const ZonePatch = Type.Object({ name: Type.Optional(ZoneName), points: Type.Optional(Points) }, { additionalProperties: false });

const LabelSetting = Type.Object({
  label: Type.String(),
  /** "item": listed and suggested; "place": context ("on the dining table"), still answerable when asked */
  kind: Type.Union([Type.Literal('item'), Type.Literal('place')]),
  default_kind: Type.Union([Type.Literal('item'), Type.Literal('place')]),
});
const LabelSettings = Type.Object({ labels: Type.Array(LabelSetting), customised: Type.Boolean() });
const LabelSettingsBody = Type.Object(
  { places: Type.Union([Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 1000 }), Type.Null()]) },
  { additionalProperties: false },
);

/** a zone name as stored: trimmed, single spaces, printable letters/digits/punctuation only */
export function cleanZoneName(raw: string): string {
  const name = raw.normalize('NFC').replace(/\s+/g, ' ').trim();
  if (!name) throw new AppError('validation', 'the zone needs a name');
  if (!/^[\p{L}\p{N}][\p{L}\p{N} '&.,()/-]*$/u.test(name))
    throw new AppError('validation', 'a zone name is letters, digits, spaces and simple punctuation, starting with a letter or digit');
  return name;
}

function checkPoints(points: Static<typeof Points>): Point[] {
  const pts = tidyPoints(points as Point[]);
  const problem = polygonProblem(pts);
  if (problem) throw new AppError('validation', problem);
  return pts;
}

function frameView(f: { id: number; deviceId: number; capturedAt: number; width: number; height: number; snapshotPath: string | null }) {
  return {
    id: f.id,
    device_id: f.deviceId,
    captured_at: iso(f.capturedAt),
    width: f.width,
    height: f.height,
    snapshot_url: f.snapshotPath ? `/v1/frames/${f.id}/snapshot` : null,
  };
}

const zoneRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { store } = app;

  /** the device if the caller may manage it; 404 otherwise (never reveal another user's device) */
  async function ownDevice(request: FastifyRequest, id: number): Promise<Device> {
    const p = request.principal!;
    const d = await store.getDevice(id);
    if (!d || (d.userId !== p.user.id && !p.user.isAdmin)) throw new AppError('not_found', 'no such device');
    if (p.kind === 'device' && p.device.id !== d.id) throw new AppError('not_found', 'no such device');
    return d;
  }
  async function ownZone(request: FastifyRequest, id: number): Promise<Zone> {
    const p = request.principal!;
    const z = await store.getZone(id);
    if (!z || (z.userId !== p.user.id && !p.user.isAdmin)) throw new AppError('not_found', 'no such zone');
    return z;
  }
  /** after a camera's zones change: its sightings get their zone again, and listeners (grammar) hear of it */
  async function zonesChanged(userId: number, deviceId: number): Promise<void> {
    const n = await app.places.rezoneDevice(userId, deviceId);
    if (n) app.log.info({ device: deviceId, sightings: n }, 'zones changed: sightings re-zoned');
  }

  app.get(
    '/v1/zones',
    { preHandler: app.guard.any, schema: { description: 'every zone of the caller', response: { 200: Type.Object({ zones: Type.Array(ZoneView) }), ...errors(...GUARDED) } } },
    async (request) => ({ zones: (await store.listZones(request.principal!.user.id)).map(zoneView) }),
  );

  app.get(
    '/v1/devices/:id/zones',
    {
      preHandler: app.guard.any,
      schema: {
        description: "one camera's zones and its newest snapshot (to draw on)",
        params: Id,
        response: { 200: Type.Object({ device: DeviceRef, zones: Type.Array(ZoneView), snapshot: Type.Union([FrameView, Type.Null()]) }), ...errors(...GUARDED, 404) },
      },
    },
    async (request) => {
      const d = await ownDevice(request, request.params.id);
      const [zones, frame] = await Promise.all([store.listZones(d.userId, d.id), store.latestFrameWithSnapshot(d.id)]);
      return { device: { id: d.id, name: d.name, room: d.room }, zones: zones.map(zoneView), snapshot: frame ? frameView(frame) : null };
    },
  );

  app.post(
    '/v1/devices/:id/zones',
    {
      preHandler: app.guard.user,
      schema: {
        description: 'add a zone to a camera: a name and a polygon of normalised [x, y] points',
        params: Id,
        body: ZoneBody,
        response: { 201: Type.Object({ zone: ZoneView }), ...errors(...GUARDED, ...JSON_BODY, 404, 409) },
      },
    },
    async (request, reply) => {
      const d = await ownDevice(request, request.params.id);
      if (d.revokedAt) throw new AppError('conflict', 'this device is revoked');
      const z = await store.createZone({ userId: d.userId, deviceId: d.id, name: cleanZoneName(request.body.name), points: checkPoints(request.body.points) });
      await zonesChanged(d.userId, d.id);
      return reply.status(201).send({ zone: zoneView(z) });
    },
  );

  app.patch(
    '/v1/zones/:id',
    {
      preHandler: app.guard.user,
      schema: { description: 'rename a zone or redraw it', params: Id, body: ZonePatch, response: { 200: Type.Object({ zone: ZoneView }), ...errors(...GUARDED, ...JSON_BODY, 404, 409) } },
    },
    async (request) => {
      const z = await ownZone(request, request.params.id);
      const name = request.body.name === undefined ? undefined : cleanZoneName(request.body.name);
      const points = request.body.points === undefined ? undefined : checkPoints(request.body.points);
      const updated = await store.updateZone(z.id, { name, points });
      if (!updated) throw new AppError('not_found', 'no such zone');
      await zonesChanged(z.userId, z.deviceId);
      return { zone: zoneView(updated) };
    },
  );

  const deleteZone = { description: 'delete a zone', params: Id, response: { 204: Type.Null(), ...errors(...GUARDED, 404) } };
  app.delete('/v1/zones/:id', { preHandler: app.guard.user, schema: deleteZone }, async (request, reply) => {
    const z = await ownZone(request, request.params.id);
    await store.deleteZone(z.id);
    await zonesChanged(z.userId, z.deviceId);
    return reply.status(204).send(null);
  });

  // the snapshot view: one frame, every box still on it, and its camera's zones
  app.get(
    '/v1/frames/:id',
    {
      preHandler: app.guard.any,
      schema: {
        description: 'the snapshot view: one frame, every box on it, and its camera\'s zones',
        params: Id,
        response: {
          200: Type.Object({ frame: FrameView, device: DeviceRef, sightings: Type.Array(SightingViewSchema), zones: Type.Array(ZoneView) }),
          ...errors(...GUARDED, 404),
        },
      },
    },
    async (request) => {
      const p = request.principal!;
      const f = await store.getFrame(request.params.id);
      // someone else's frame is "not found", never "forbidden"
      if (!f || f.userId !== p.user.id) throw new AppError('not_found', 'no such frame');
      const [sightings, zones, device] = await Promise.all([store.listFrameSightings(f.id), store.listZones(f.userId, f.deviceId), store.getDevice(f.deviceId)]);
      return {
        frame: frameView(f),
        device: { id: f.deviceId, name: device?.name ?? '', room: device?.room ?? null },
        sightings: sightings.map(sightingView),
        zones: zones.map(zoneView),
      };
    },
  );

  // which labels count as items (listed, suggested) and which as places (context)
  async function labelSettings(userId: number) {
    const places = await app.places.forUser(userId);
    const defaults = new Set(app.places.defaultPlaceLabels());
    return {
      labels: app.labelBook.labels.map((label) => ({
        label,
        kind: places.placeLabels.has(label) ? ('place' as const) : ('item' as const),
        default_kind: defaults.has(label) ? ('place' as const) : ('item' as const),
      })),
      customised: places.customised,
    };
  }

  const labelSettingsSchema = { description: 'each label: item or place, and its default', response: { 200: LabelSettings, ...errors(...GUARDED) } };
  app.get('/v1/settings/labels', { preHandler: app.guard.any, schema: labelSettingsSchema }, async (request) =>
    labelSettings(request.principal!.user.id),
  );

  app.put(
    '/v1/settings/labels',
    {
      preHandler: app.guard.user,
      schema: {
        description: 'which labels are places (`{places: [...]}`), or back to the default (`{places: null}`)',
        body: LabelSettingsBody,
        response: { 200: LabelSettings, ...errors(...GUARDED, ...JSON_BODY) },
      },
    },
    async (request) => {
      const userId = request.principal!.user.id;
      let places: string[] | null = null;
      if (request.body.places !== null) {
        const known = new Map(app.labelBook.labels.map((l) => [normalizeLabel(l), l]));
        places = [];
        for (const raw of request.body.places) {
          const label = known.get(normalizeLabel(raw));
          if (label === undefined) throw new AppError('unknown_label', `"${raw}" is not a label of the active model`);
          if (!places.includes(label)) places.push(label);
        }
      }
      await store.setPlaceLabels(userId, places);
      app.places.invalidate(userId);
      return labelSettings(userId);
    },
  );
};

export default zoneRoutes;
