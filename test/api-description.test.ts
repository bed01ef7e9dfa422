/**
 * The API description: the OpenAPI document (`GET /openapi.json`) covers every route with request and response
 * schemas, every error is described in the one shape, the README's API table lists exactly the document's
 * routes, the response check refuses a field a schema forgot, and `/docs` (Swagger UI) renders under the
 * page's Content-Security-Policy without leaving the server.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Type } from 'typebox';
import { buildApp } from '../dist/assistant/app.js';
import { loadConfig } from '../dist/assistant/config.js';
import { startTestServer, tempDir, REPO, type TestServer } from './helpers/server.js';
import { haveChromium, launchBrowser, openPage } from './helpers/browser.js';

type Json = Record<string, any>;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
const WITH_BODY = new Set(['post', 'put', 'patch']);

/** Fastify's `/v1/users/:id` and `/assets/*` as the document writes them */
function openapiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\/\*$/, '/{path}');
}

/** "METHOD path" of every operation in the document */
function operations(doc: Json): string[] {
  const out: string[] = [];
  for (const [p, ops] of Object.entries(doc.paths as Json)) for (const m of METHODS) if (ops[m]) out.push(`${m.toUpperCase()} ${p}`);
  return out.sort();
}

/** the routes the README's "HTTP API" section names: `GET /x`, `GET/POST /y`, `PATCH/DELETE /y/:id` */
export function readmeRoutes(readme: string): string[] {
  const start = readme.search(/^## HTTP API\s*$/m);
  if (start === -1) throw new Error('the README has no "## HTTP API" section');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end === -1 ? undefined : end);
  const out = new Set<string>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('|') || line.startsWith('| ---') || line.startsWith('| route')) continue;
    const first = line.split('|')[1];
    for (const m of first.matchAll(/`([A-Z]+(?:\/[A-Z]+)*) (\/[^\s`?]*)[^`]*`/g))
      for (const method of m[1].split('/')) out.add(`${method} ${openapiPath(m[2])}`);
  }
  return [...out].sort();
}

function isErrorShape(schema: Json | undefined): boolean {
  return (
    !!schema &&
    schema.type === 'object' &&
    schema.additionalProperties === false &&
    JSON.stringify(schema.required) === '["error"]' &&
    schema.properties?.error?.type === 'object' &&
    JSON.stringify([...(schema.properties.error.required ?? [])].sort()) === '["code","message"]' &&
    schema.properties.error.properties?.code?.type === 'string' &&
    schema.properties.error.properties?.message?.type === 'string'
  );
}

/** a reply that carries the error shape under `error` with more context beside it (GET /healthz's 503) */
function carriesErrorShape(schema: Json | undefined): boolean {
  const e = schema?.properties?.error;
  return (
    !!schema &&
    schema.type === 'object' &&
    (schema.required ?? []).includes('error') &&
    e?.type === 'object' &&
    JSON.stringify([...(e.required ?? [])].sort()) === '["code","message"]' &&
    e.properties?.code?.type === 'string' &&
    e.properties?.message?.type === 'string'
  );
}

/** a schema that says something (not `{}`) */
function meaningful(schema: Json | undefined): boolean {
  return !!schema && typeof schema === 'object' && ('type' in schema || 'anyOf' in schema || 'oneOf' in schema || 'allOf' in schema || 'enum' in schema);
}

describe('API description (OpenAPI)', () => {
  let s: TestServer;
  let doc: Json;

  beforeAll(async () => {
    s = await startTestServer();
    const r = await s.client().get('/openapi.json');
    expect(r.status).toBe(200);
    doc = r.body;
  });
  afterAll(async () => {
    await s?.close();
  });

  it('is an OpenAPI 3 document with the security schemes the routes use', () => {
    expect(doc.openapi).toMatch(/^3\.0\.\d$/);
    expect(doc.info.title).toBe('whereabouts');
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['bearer', 'cookie']);
    for (const op of operations(doc)) {
      const [m, p] = op.split(' ');
      for (const req of doc.paths[p][m.toLowerCase()].security ?? []) for (const name of Object.keys(req)) expect(doc.components.securitySchemes, op).toHaveProperty(name);
    }
    // the guards show: a device route takes a bearer token only, a user route also the cookie, a public one nothing
    expect(doc.paths['/v1/frames'].post.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/v1/users'].get.security).toEqual([{ bearer: [] }, { cookie: [] }]);
    expect(doc.paths['/healthz'].get.security).toEqual([]);
  });

  it('lists every route the server has, and only those (Swagger UI\'s own files are the only hidden routes)', () => {
    const routes = s.app.routeList.filter((r) => r.method !== 'HEAD');
    expect(routes.length).toBeGreaterThan(30);
    const hidden = routes.filter((r) => r.hidden).map((r) => r.url);
    for (const url of hidden) expect(url, 'a hidden route outside /docs').toMatch(/^\/docs(\/|$)/);
    const served = [...new Set(routes.filter((r) => !r.hidden).map((r) => `${r.method} ${openapiPath(r.url)}`))].sort();
    expect(operations(doc)).toEqual(served);
  });

  it('every operation has request and response schemas, and every error is the one shape', () => {
    const problems: string[] = [];
    for (const op of operations(doc)) {
      const [M, p] = op.split(' ');
      const m = M.toLowerCase();
      const o = doc.paths[p][m] as Json;
      if (!o.description) problems.push(`${op}: no description`);
      // request: every path parameter, query parameter and header has a schema; bodies are described
      const params = (o.parameters ?? []) as Json[];
      for (const name of [...p.matchAll(/\{([^}]+)\}/g)].map((x) => x[1]))
        if (!params.some((q) => q.in === 'path' && q.name === name && meaningful(q.schema))) problems.push(`${op}: path parameter ${name} has no schema`);
      for (const q of params) if (!meaningful(q.schema)) problems.push(`${op}: parameter ${q.name} has no schema`);
      if (WITH_BODY.has(m)) {
        const content = o.requestBody?.content as Json | undefined;
        if (!content || Object.keys(content).length === 0) problems.push(`${op}: no request body schema`);
        else for (const [type, c] of Object.entries(content)) if (!meaningful(c.schema)) problems.push(`${op}: request body ${type} has no schema`);
      }
      // responses
      const responses = (o.responses ?? {}) as Json;
      const codes = Object.keys(responses);
      if (!codes.some((c) => /^[123]/.test(c))) problems.push(`${op}: no success response`);
      if (!codes.includes('500')) problems.push(`${op}: no 500 response`);
      for (const [code, r] of Object.entries(responses)) {
        if (!r.description || r.description === 'Default Response') problems.push(`${op} ${code}: no description`);
        const content = r.content as Json | undefined;
        if (!content) {
          if (!['101', '204', '301', '303', '304'].includes(code)) problems.push(`${op} ${code}: no body schema`);
          continue;
        }
        for (const [type, c] of Object.entries(content)) if (!meaningful(c.schema)) problems.push(`${op} ${code} ${type}: no schema`);
        if (/^[45]/.test(code)) {
          // the one error shape; a web page route may also answer a browser with HTML
          const json = content['application/json']?.schema;
          if (!isErrorShape(json) && !(code === '503' && carriesErrorShape(json)) && !(content['text/html'] && tagOf(o) === 'web page')) problems.push(`${op} ${code}: not the error shape`);
          for (const type of Object.keys(content)) if (type !== 'application/json' && type !== 'text/html') problems.push(`${op} ${code}: error as ${type}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it("the README's API table names exactly the document's routes", () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const documented = readmeRoutes(readme);
    expect(documented.length).toBeGreaterThan(30);
    const ops = operations(doc);
    expect(documented.filter((r) => !ops.includes(r)), 'in the README but not in the API').toEqual([]);
    expect(ops.filter((r) => !documented.includes(r)), 'in the API but not in the README').toEqual([]);
  });

  it('the README parser reads methods, paths and parameters', () => {
    const sample = '## HTTP API\n\n| route | who | what |\n| --- | --- | --- |\n| `GET/POST /v1/x`, `DELETE /v1/x/:id` `{a}` | a | b |\n| `GET /v1/y?z=` | a | b |\n\n## Next\n| `GET /nope` | | |\n';
    expect(readmeRoutes(sample)).toEqual(['DELETE /v1/x/{id}', 'GET /v1/x', 'GET /v1/y', 'POST /v1/x']);
  });

  it('answers a plain GET of the WebSocket route with the error shape, not an empty 404', async () => {
    const r = await s.client().get('/v1/listen');
    expect(r.status).toBe(426);
    expect(r.headers.get('upgrade')).toBe('websocket');
    expect(r.body.error.code).toBe('upgrade_required');
  });
});

function tagOf(o: Json): string {
  return (o.tags as string[] | undefined)?.[0] ?? '';
}

describe('response check', () => {
  it('refuses a reply with a field its schema does not name (the serialiser would drop it silently)', async () => {
    const build = async (checkResponses: boolean) => {
      const config = loadConfig([], {}, { port: 0, dataDir: tempDir(), logLevel: 'warn', noModels: true, timeZone: 'UTC' });
      const app = await buildApp(config, { logger: false, checkResponses });
      app.get('/test/extra', { schema: { response: { 200: Type.Object({ a: Type.String() }) } } }, async () => ({ a: 'x', forgotten: 1 }));
      app.get('/test/undeclared', { schema: { response: { 201: Type.Object({ a: Type.String() }) } } }, async () => ({ a: 'x' }));
      app.get('/test/ok', { schema: { response: { 200: Type.Object({ a: Type.String(), n: Type.Union([Type.Number(), Type.Null()]) }) } } }, async () => ({ a: 'x', n: null }));
      return app;
    };
    const checked = await build(true);
    try {
      const extra = await checked.inject({ method: 'GET', url: '/test/extra' });
      expect(extra.statusCode).toBe(500);
      expect(extra.json().error.code).toBe('internal');
      expect((await checked.inject({ method: 'GET', url: '/test/undeclared' })).statusCode).toBe(500);
      const ok = await checked.inject({ method: 'GET', url: '/test/ok' });
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ a: 'x', n: null });
    } finally {
      await checked.close();
    }
    // without the check, Fastify's serialiser drops the field: the reason the check runs in the tests
    const plain = await build(false);
    try {
      const r = await plain.inject({ method: 'GET', url: '/test/extra' });
      expect(r.statusCode).toBe(200);
      expect(r.json()).toEqual({ a: 'x' });
    } finally {
      await plain.close();
    }
  });
});

const browserSuite = haveChromium() ? describe : describe.skip;

browserSuite('/docs (Swagger UI in Chromium)', () => {
  it('renders the document under the page CSP, from the server itself', async () => {
    const s = await startTestServer();
    const browser = await launchBrowser();
    try {
      const w = await openPage(browser, s.url);
      const foreign: string[] = [];
      w.page.on('request', (req) => {
        const u = new URL(req.url());
        if (u.protocol !== 'data:' && u.origin !== s.url) foreign.push(req.url());
      });
      const res = await w.page.goto('/docs');
      expect(res?.status()).toBe(200);
      expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
      expect(res?.headers()['content-security-policy']).not.toContain('unsafe-inline');
      // the operations are listed: the text route, under its tag
      await w.page.locator('.opblock-summary-path', { hasText: '/v1/query' }).first().waitFor({ timeout: 20_000 });
      const paths = await w.page.locator('.opblock-summary-path').count();
      expect(paths).toBeGreaterThan(30);
      // open one operation: its response schema renders
      await w.page.locator('.opblock-summary-path', { hasText: '/v1/items' }).first().click();
      await w.page.locator('.responses-wrapper').first().waitFor();
      expect(foreign).toEqual([]);
      expect(w.errors.filter((e) => /Content Security Policy|Refused/i.test(e))).toEqual([]);
      expect(w.errors).toEqual([]);
      await w.close();
    } finally {
      await browser.close();
      await s.close();
    }
  });
});
