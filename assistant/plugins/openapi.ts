/**
 * The API description: `@fastify/swagger` builds an OpenAPI 3 document from the routes' TypeBox schemas
 * (requests and responses, assistant/schemas.ts), served at `GET /openapi.json`; `/docs` is Swagger UI
 * browsing it, served from the npm package's own files (no CDN) under the page's Content-Security-Policy
 * (self only; images may also be `data:` URLs, which Swagger UI's stylesheet uses for its icons).
 *
 * Register before any route: the document lists the routes registered after it. Each operation gets its
 * `security` from the guard in front of it (plugins/auth.ts) and a tag from its path.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Type } from 'typebox';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { errors } from '../schemas.js';
import { CSP, SECURITY_HEADERS } from '../admin/plugin.js';
import { PACKAGE_ROOT } from '../paths.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** every route registered after this plugin (method, URL, and whether the OpenAPI document hides it) */
    routeList: Array<{ method: string; url: string; hidden: boolean }>;
  }
  interface FastifySchema {
    /** parts of the request a handler reads itself, described for the OpenAPI document only (not validated) */
    doc?: { body?: unknown; headers?: unknown };
  }
}

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';

/** the document's tag for a path */
export function tagFor(url: string): string {
  const m = /^\/v1\/([a-z]+)/.exec(url);
  if (m) {
    const first = m[1];
    if (first === 'device' || first === 'devices') return 'devices';
    if (first === 'query' || first === 'speak' || first === 'listen') return 'asking';
    if (first === 'items') return 'sightings';
    return first;
  }
  if (url === '/metrics' || url === '/healthz' || url === OPENAPI_PATH) return 'operations';
  return 'web page';
}

const TAGS = [
  { name: 'session', description: 'log in and out (a cookie for the page, or a `was_` bearer token)' },
  { name: 'asking', description: 'questions in text (JSON or a spoken WAV) and by voice (WebSocket)' },
  { name: 'sightings', description: 'what the cameras saw, and sightings from detectors that run elsewhere' },
  { name: 'frames', description: 'camera snapshots, analysed by the server' },
  { name: 'devices', description: 'cameras and speakers (`wad_` bearer tokens)' },
  { name: 'users', description: 'accounts (admins)' },
  { name: 'queries', description: 'the questions asked, with per-stage timings' },
  { name: 'operations', description: 'health, metrics and this document' },
  { name: 'web page', description: 'the admin page (server-rendered HTML)' },
];

/** the one <style> element Swagger UI renders (its small logo's colours), allowed by its hash and nothing else */
const SWAGGER_LOGO_STYLE = '.logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}';

/** Swagger UI's page: the app's policy, with data: images (its stylesheet's icons) and that one style element */
export const DOCS_CSP = CSP.replace("img-src 'self' blob:", "img-src 'self' data: blob:").replace(
  "style-src 'self'",
  `style-src 'self' 'sha256-${crypto.createHash('sha256').update(SWAGGER_LOGO_STYLE).digest('base64')}'`,
);

const SUCCESS_TEXT: Record<string, string> = { 200: 'done', 201: 'created' };

/** the route's hooks where a guard may sit (onRequest: the guard runs before the body is read) */
function preHandlers(route: RouteOptions): unknown[] {
  return [route.onRequest, route.preHandler].flatMap((p) => (p === undefined ? [] : Array.isArray(p) ? p : [p]));
}

export default fp(
  async function openapi(app: FastifyInstance) {
    const routeList: FastifyInstance['routeList'] = [];
    app.decorate('routeList', routeList);
    app.addHook('onRoute', (route) => {
      for (const method of ([] as string[]).concat(route.method)) routeList.push({ method, url: route.url ?? route.path, hidden: !!(route.schema as { hide?: boolean } | undefined)?.hide });
    });
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'whereabouts',
          version: '1',
          description:
            'Ask "where is my X?" in text or by voice; cameras send snapshots and sightings. Every error is `{"error":{"code","message"}}`. ' +
            'Cookie-authenticated changes need the `X-CSRF-Token` header (from the login reply or `GET /v1/session`); bearer tokens do not.',
        },
        tags: TAGS,
        components: {
          securitySchemes: {
            bearer: { type: 'http', scheme: 'bearer', description: 'a device token (`wad_...`) or a session token (`was_...`, from `POST /v1/session`)' },
            cookie: { type: 'apiKey', in: 'cookie', name: 'wa_session', description: 'the session cookie set at login (the page)' },
          },
        },
      },
      transform({ schema, url, route }) {
        const s = { ...(schema as Record<string, unknown>) };
        // parts a handler reads itself (not validated by Fastify) are described under `doc`
        const doc = s.doc as { body?: unknown; headers?: unknown } | undefined;
        if (doc) {
          delete s.doc;
          if (doc.body && !s.body) s.body = doc.body;
          if (doc.headers && !s.headers) s.headers = doc.headers;
        }
        const who = preHandlers(route);
        const g = app.guard;
        if (!s.security) {
          if (who.includes(g.device)) s.security = [{ bearer: [] }];
          else if (who.includes(g.user) || who.includes(g.admin) || who.includes(g.any)) s.security = [{ bearer: [] }, { cookie: [] }];
          else s.security = [];
        }
        if (!s.tags) s.tags = [tagFor(url)];
        // every response described (the shared schemas carry no description of their own)
        if (s.response) {
          const described: Record<string, unknown> = {};
          for (const [code, r] of Object.entries(s.response as Record<string, Record<string, unknown>>))
            described[code] = r.description ? r : { ...r, description: SUCCESS_TEXT[code] ?? 'the reply' };
          s.response = described;
        }
        // a wildcard route (`/assets/*`) as a named path parameter
        let path = url;
        if (url.endsWith('/*')) {
          path = `${url.slice(0, -1)}{path}`;
          const params = s.params as { properties?: Record<string, unknown>; required?: string[] } | undefined;
          if (params?.properties?.['*'])
            s.params = { ...params, properties: { path: params.properties['*'] }, required: ['path'] };
        }
        if (!s.summary) {
          const by = who.includes(g.admin) ? 'admin' : who.includes(g.user) ? 'user' : who.includes(g.device) ? 'device' : who.includes(g.any) ? 'user or device' : null;
          if (by && typeof s.description === 'string') s.description = `${s.description} (caller: ${by})`;
        }
        return { schema: s as typeof schema, url: path };
      },
    });

    app.get(
      OPENAPI_PATH,
      {
        schema: {
          description: 'this document (OpenAPI 3.0)',
          response: {
            200: Type.Object(
              { openapi: Type.String(), info: Type.Object({}, { additionalProperties: true }), paths: Type.Object({}, { additionalProperties: true }) },
              { additionalProperties: true, description: 'the OpenAPI document' },
            ),
            ...errors(),
          },
        },
      },
      async (_request, reply) => reply.header('cache-control', 'no-cache').send(app.swagger() as unknown as { openapi: string; info: object; paths: object }),
    );

    // Swagger UI, its own routes hidden from the document; the same security headers as the admin page
    await app.register(
      async (docs) => {
        docs.addHook('onSend', async (_request, reply, payload) => {
          reply.headers({ ...SECURITY_HEADERS, 'content-security-policy': DOCS_CSP });
          return payload;
        });
        await docs.register(swaggerUi, {
          routePrefix: DOCS_PREFIX,
          uiConfig: { deepLinking: true },
          validatorUrl: false,
          logo: { type: 'image/svg+xml', content: fs.readFileSync(path.join(PACKAGE_ROOT, 'assistant', 'admin', 'static', 'icon.svg')), href: '/' },
          theme: { title: 'whereabouts API' },
        });
      },
    );
  },
  { name: 'openapi', dependencies: ['errors'] },
);
