/**
 * The HTTP API's wire shapes as TypeBox schemas: one definition that validates requests, serialises
 * responses (Fastify compiles each route's response schemas), describes the API in the OpenAPI document
 * (`GET /openapi.json`, browsed at `/docs`) and types the admin page's client (`Static<typeof X>` in
 * admin/client/api.ts, a type-only import, so nothing of this module is loaded in the browser).
 *
 * A response schema is also a filter: the serialiser writes only the properties named here. A field a route
 * starts sending must be added here too (the test suite runs with the response check of
 * plugins/response-check.ts, which refuses any property a schema does not name).
 */
import { Type, type Static, type TSchema } from 'typebox';

// ---- building blocks ----------------------------------------------------------------------------------

/** `T` or null, written as a type array (`["string","null"]`): the serialiser handles it without trying branches */
export function Nullable<T extends TSchema>(schema: T) {
  const s = schema as unknown as { type?: string | string[] };
  if (typeof s.type !== 'string') return Type.Union([schema, Type.Null()]);
  return Type.Unsafe<Static<T> | null>({ ...(schema as object), type: [s.type, 'null'] });
}

/** one of a fixed set of strings */
export function StringEnum<const T extends readonly string[]>(values: T, options: { description?: string } = {}) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** an ISO 8601 time as the API writes it (UTC, milliseconds) */
export const Time = Type.String({ format: 'date-time', description: 'ISO 8601 time, UTC' });
/** a normalised box of the original image: [x, y, w, h], x/y the top-left corner */
export const Box = Type.Unsafe<[number, number, number, number]>(
  Type.Array(Type.Number({ minimum: 0, maximum: 1 }), { minItems: 4, maxItems: 4, description: 'normalised [x, y, w, h] of the image; x/y the top-left corner' }),
);
/** milliseconds per stage, e.g. {"nlp_ms": 0.4, "lookup_ms": 0.1} */
export const Timings = Type.Record(Type.String(), Type.Number(), { description: 'milliseconds per stage' });
/** a database id */
export const Id = Type.Integer({ minimum: 1 });
/** `:id` path parameters */
export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });

// ---- the one error shape ------------------------------------------------------------------------------

export const ErrorBody = Type.Object(
  {
    error: Type.Object(
      {
        code: Type.String({ description: 'stable machine-readable code, e.g. validation, unauthorized, not_found' }),
        message: Type.String({ description: 'what went wrong, for people' }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false, title: 'Error' },
);
export type ErrorBody = Static<typeof ErrorBody>;

const ERROR_TEXT: Record<number, string> = {
  400: 'invalid input (validation, bad_json, bad_request, unknown_label)',
  401: 'not logged in, or a wrong / revoked / malformed token (unauthorized)',
  403: 'not allowed for this caller, or a missing CSRF token (forbidden, csrf)',
  404: 'no such thing, or not yours (not_found)',
  406: 'spoken replies are not available (not_acceptable)',
  409: 'conflicts with what exists (conflict)',
  413: 'the body is too large (payload_too_large)',
  415: 'wrong Content-Type (unsupported_media_type)',
  422: 'the image cannot be decoded (bad_image)',
  429: 'too many attempts; see Retry-After (rate_limited)',
  500: 'a server fault (internal)',
  503: 'the database or a model is unavailable; try again shortly (unavailable, busy)',
};

/** the error statuses every route can answer: a server fault and a store outage */
const ALWAYS = [500, 503] as const;

/** `{ status: ErrorBody }` for each status (plus 500 and 503), described for the OpenAPI document */
export function errors(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {};
  for (const s of [...new Set([...statuses, ...ALWAYS])].sort()) out[s] = { ...ErrorBody, description: ERROR_TEXT[s] ?? 'error' } as TSchema;
  return out;
}

/** the error statuses of a route behind a guard: the auth plugin's 400 (bad request), 401 and 403 */
export const GUARDED = [400, 401, 403] as const;
/** what any JSON body route can add: too large, wrong type */
export const JSON_BODY = [400, 413, 415] as const;

/** a response with no body (204) */
export const NoContent = Type.Unsafe<undefined>({ type: 'null', description: 'no content' });

/** bytes that are not JSON (a WAV, an image) */
export const Binary = Type.Unsafe<Buffer | string>({ type: 'string', format: 'binary' });

/** a non-JSON response body (a WAV, an image, a script) for the given media types */
export function binary(description: string, ...types: string[]) {
  const content: Record<string, { schema: TSchema }> = {};
  for (const t of types) content[t] = { schema: Binary };
  return Type.Unsafe<Buffer | string>({ description, content });
}

/** an HTML page */
export function htmlPage(description: string) {
  return { description, content: { 'text/html': { schema: Type.String() } } } as unknown as TSchema;
}

/** a redirect: no body, a Location header */
export function redirect(description: string) {
  return { description, type: 'null', headers: { location: { type: 'string', description: 'where to go' } } } as unknown as TSchema;
}

// ---- records ------------------------------------------------------------------------------------------

export const User = Type.Object(
  {
    id: Id,
    name: Type.String(),
    admin: Type.Boolean(),
    created_at: Time,
  },
  { additionalProperties: false, title: 'User' },
);
export type User = Static<typeof User>;

export const DeviceStatus = StringEnum(['online', 'idle', 'never seen', 'revoked'] as const, { description: 'online: seen in the last 5 minutes' });

export const Device = Type.Object(
  {
    id: Id,
    user_id: Id,
    name: Type.String(),
    room: Nullable(Type.String()),
    created_at: Time,
    last_seen_at: Nullable(Time),
    revoked_at: Nullable(Time),
    status: DeviceStatus,
  },
  { additionalProperties: false, title: 'Device' },
);
export type Device = Static<typeof Device>;

export const Sighting = Type.Object(
  {
    id: Id,
    label: Type.String({ description: "the detector's label, e.g. cup" }),
    score: Type.Number({ minimum: 0, maximum: 1 }),
    box: Box,
    seen_at: Time,
    first_seen_at: Time,
    room: Nullable(Type.String()),
    zone: Nullable(Type.String({ description: 'the camera zone it stood in' })),
    zone_id: Nullable(Id),
    device: Type.String({ description: 'the camera that saw it' }),
    frame_id: Nullable(Id),
    snapshot_url: Nullable(Type.String()),
  },
  { additionalProperties: false, title: 'Sighting' },
);
export type Sighting = Static<typeof Sighting>;

export const Item = Type.Object(
  {
    label: Type.String(),
    count: Type.Integer({ minimum: 0, description: 'how many sightings of it are kept' }),
    kind: StringEnum(['item', 'place'] as const, { description: 'place: furniture or people, listed only on request' }),
    latest: Sighting,
  },
  { additionalProperties: false, title: 'Item' },
);
export type Item = Static<typeof Item>;

export const QuerySource = StringEnum(['text', 'voice'] as const);

/** what the speech recogniser heard for a voice question (null for typed ones) */
export const Heard = Type.Object(
  {
    alternatives: Type.Array(
      Type.Object({ text: Type.String(), confidence: Type.Number({ description: "the hypothesis' share of the N-best list's mass, 0..1" }) }, { additionalProperties: false }),
      { description: "the recogniser's N-best list, best first" },
    ),
    words: Type.Array(Type.Object({ word: Type.String(), conf: Type.Number({ description: 'word confidence, 0..1' }) }, { additionalProperties: false }), {
      description: "the best hypothesis' words",
    }),
    check: Type.Optional(
      Nullable(
        Type.Object(
          {
            text: Type.String({ description: 'what a second decode without the grammar heard' }),
            verdict: Type.String({ description: 'what it did: agree, disagree (asked back), other_item (refused), ...' }),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false, title: 'Heard' },
);

export const QueryRow = Type.Object(
  {
    id: Id,
    user_id: Id,
    device_id: Nullable(Id),
    source: QuerySource,
    text: Type.String(),
    reply: Type.String(),
    intent: Type.String(),
    outcome: Type.String(),
    label: Nullable(Type.String()),
    timings: Timings,
    heard: Nullable(Heard),
    created_at: Time,
  },
  { additionalProperties: false, title: 'Question' },
);
export type QueryRow = Static<typeof QueryRow>;

/**
 * The conversation so far, as the previous answer returned it: send it back with the next question to continue
 * ("and my phone?"). Only steers how the next text is understood; every lookup is still the caller's own.
 */
export const ConversationContext = Type.Object(
  {
    last_item: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
    last_label: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
    last_intent: Type.Optional(
      Type.Union([
        Type.Literal('find_item'), Type.Literal('last_seen'), Type.Literal('item_history'), Type.Literal('show_item'), Type.Literal('place_items'), Type.Null(),
      ]),
    ),
    last_place: Type.Optional(Type.Union([Type.String({ maxLength: 200 }), Type.Null()])),
    pending: Type.Optional(
      Type.Union([
        Type.Null(),
        Type.Object({ kind: Type.String({ maxLength: 20 }), item: Type.Optional(Type.String({ maxLength: 200 })), label: Type.Optional(Type.String({ maxLength: 200 })) }),
      ]),
    ),
    /** when the conversation last moved (ISO 8601); a context older than two minutes is ignored */
    at: Type.String({ maxLength: 40 }),
  },
  { additionalProperties: false, title: 'ConversationContext' },
);

export const Answer = Type.Object(
  {
    reply: Type.String({ description: 'the answer in words, as spoken' }),
    intent: Type.String(),
    outcome: Type.String(),
    item: Nullable(Type.String({ description: 'the item as the question named it' })),
    label: Nullable(Type.String({ description: "the detector's label it maps to" })),
    sighting: Nullable(Sighting),
    timings: Timings,
    context: ConversationContext,
    follow_up: Type.Boolean({ description: 'the reply asks a question: listen again without a button press' }),
    show_url: Type.Optional(Nullable(Type.String({ description: '"show me my cup": the snapshot view' }))),
    place: Type.Optional(Nullable(Type.String())),
    items: Type.Optional(Type.Array(Type.Object({ label: Type.String(), sighting: Sighting }, { additionalProperties: false }), { description: '"what is on the desk?": the items there' })),
    history: Type.Optional(
      Type.Array(
        Type.Object({ zone: Nullable(Type.String()), room: Nullable(Type.String()), device: Type.String(), from: Type.String(), to: Type.String() }, { additionalProperties: false }),
      ),
    ),
  },
  { additionalProperties: false, title: 'Answer' },
);
export type Answer = Static<typeof Answer>;

// ---- replies ------------------------------------------------------------------------------------------

export const SessionReply = Type.Object(
  { user: User, csrf_token: Type.String({ description: 'send as X-CSRF-Token on cookie-authenticated changes' }), expires_at: Time },
  { additionalProperties: false },
);
export const PasswordReply = Type.Object({ user: User, csrf_token: Type.String() }, { additionalProperties: false });
export const UserReply = Type.Object({ user: User }, { additionalProperties: false });
export const UsersReply = Type.Object({ users: Type.Array(User) }, { additionalProperties: false });
export const DeviceReply = Type.Object({ device: Device }, { additionalProperties: false });
export const DevicesReply = Type.Object({ devices: Type.Array(Device) }, { additionalProperties: false });
export const NewDeviceReply = Type.Object(
  {
    device: Device,
    token: Type.String({ description: 'the device token (shown once)' }),
    setup_command: Type.String({ description: 'the Pi client command that installs the token' }),
    setup_note: Nullable(Type.String({ description: 'when the server address in the command may not be reachable from a Pi, why' })),
  },
  { additionalProperties: false },
);
export type NewDeviceReply = Static<typeof NewDeviceReply>;
export const WhoAmIDevice = Type.Object(
  { device: Device, user: Type.Object({ id: Id, name: Type.String() }, { additionalProperties: false }) },
  { additionalProperties: false },
);
export const QueriesReply = Type.Object({ queries: Type.Array(QueryRow) }, { additionalProperties: false });
export const SightingsReply = Type.Object({ sightings: Type.Array(Sighting) }, { additionalProperties: false });
export const ItemsReply = Type.Object(
  { items: Type.Array(Item), label: Type.Optional(Type.String({ description: 'the label `?label=` named' })) },
  { additionalProperties: false },
);
export const PostSightingsReply = Type.Object({ frame_id: Id, sightings: Type.Array(Sighting) }, { additionalProperties: false });

export const FrameInfo = Type.Object(
  {
    id: Id,
    captured_at: Time,
    width: Type.Integer({ minimum: 0 }),
    height: Type.Integer({ minimum: 0 }),
    snapshot_url: Nullable(Type.String()),
  },
  { additionalProperties: false, title: 'Frame' },
);
export const FrameDetection = Type.Object(
  {
    label: Type.String(),
    score: Type.Number({ minimum: 0, maximum: 1 }),
    box: Box,
    sighting_id: Id,
    merged: Type.Boolean({ description: "true: it refreshed the camera's recent sighting of the same thing" }),
  },
  { additionalProperties: false },
);
export const FrameReply = Type.Object(
  { frame: FrameInfo, detections: Type.Array(FrameDetection), timings: Timings },
  { additionalProperties: false, title: 'FrameResult' },
);
export const DuplicateFrameReply = Type.Object(
  { frame: FrameInfo, detections: Type.Array(FrameDetection, { maxItems: 0 }), duplicate: Type.Literal(true) },
  { additionalProperties: false, title: 'DuplicateFrame' },
);

export const Health = Type.Object(
  {
    ok: Type.Boolean(),
    store: StringEnum(['sqlite', 'postgres'] as const),
    model: Type.String({ description: 'the detection model' }),
    labels: Type.Integer({ minimum: 0, description: 'how many labels it knows' }),
    speech: Type.Boolean({ description: 'spoken replies are available' }),
  },
  { additionalProperties: false },
);

/** `GET /v1/listen`: the voice WebSocket (its messages: assistant/protocol.ts, docs/protocol.md) */
export const ListenSchema = {
  description:
    'streaming voice over a WebSocket (`Upgrade: websocket`): JSON control messages and binary s16le PCM frames, see docs/protocol.md. ' +
    'A bad bearer token is refused before the upgrade (401); a connection without credentials is told `unauthorized` and closed (1008).',
  response: {
    101: { description: 'switching to the WebSocket protocol', type: 'null' },
    ...errors(401, 426),
  },
};

/** a status the web page's routes answer with an HTML page (a browser's form post) or, for bad input, the JSON error */
export function pageOrError(description: string) {
  return { description, content: { 'text/html': { schema: Type.String() }, 'application/json': { schema: ErrorBody } } } as unknown as TSchema;
}
