/**
 * Hardening of the HTTP side (issue 16), each over real HTTP against a real server: no body is read before
 * the request is let in, the in-flight body budget, stalled bodies, malformed multipart forms, paging among
 * sightings of one time, proxy trust, login CSRF, the password-change rate limit, names with control
 * characters, Node/Fastify-level errors in the one error shape, and revoked devices staying revoked.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';

function expectError(r: { status: number; body: any }, status: number, code: string) {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expect(typeof r.body.error.message).toBe('string');
}

interface RawResult {
  /** everything the server sent */
  text: string;
  status: number;
  /** the JSON body of the final response, if any */
  body: any;
  /** body bytes this client managed to hand to the socket */
  sent: number;
  sawContinue: boolean;
}

/**
 * One HTTP/1.1 request over a plain socket. With `expect`, the body is sent only after "100 Continue"
 * (what curl does for large bodies); otherwise it is pushed right after the headers. `bodyBytes` of filler
 * unless `body` is given.
 */
function rawRequest(
  url: string,
  head: string[],
  opts: { bodyBytes?: number; body?: Buffer; expect?: boolean; waitMs?: number; chunkDelayMs?: number } = {},
): Promise<RawResult> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    let sent = 0;
    let sawContinue = false;
    let bodyStarted = false;
    const body = opts.body ?? Buffer.alloc(opts.bodyBytes ?? 0, 0x61);
    const sendBody = () => {
      if (bodyStarted) return;
      bodyStarted = true;
      const step = 64 * 1024;
      const pump = () => {
        while (sent < body.length && !s.destroyed) {
          const piece = body.subarray(sent, sent + step);
          sent += piece.length;
          if (opts.chunkDelayMs) {
            s.write(piece);
            setTimeout(pump, opts.chunkDelayMs);
            return;
          }
          if (!s.write(piece)) return void s.once('drain', pump);
        }
      };
      pump();
    };
    s.on('data', (d) => {
      chunks.push(d);
      const t = Buffer.concat(chunks).toString('latin1');
      if (!sawContinue && t.startsWith('HTTP/1.1 100')) {
        sawContinue = true;
        sendBody();
      }
    });
    s.on('error', () => {});
    const done = () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const final = text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(final)?.[1] ?? 0);
      const i = final.indexOf('\r\n\r\n');
      let parsed: any = null;
      try {
        parsed = i >= 0 ? JSON.parse(final.slice(i + 4)) : null;
      } catch {
        parsed = null;
      }
      resolve({ text, status, body: parsed, sent, sawContinue });
    };
    s.on('close', done);
    const lines = [...head, `Host: ${u.host}`];
    if (opts.expect) lines.push('Expect: 100-continue');
    s.write(lines.join('\r\n') + '\r\n\r\n');
    if (!opts.expect && body.length) sendBody();
    setTimeout(() => s.destroy(), opts.waitMs ?? 3000);
  });
}

const MB16 = 16 * 1024 * 1024;

describe('hardening over HTTP', () => {
  let s: TestServer;
  let ann: Awaited<ReturnType<TestServer['user']>>;
  let annCam: Awaited<ReturnType<TestServer['device']>>;

  beforeAll(async () => {
    s = await startTestServer({ loginAttempts: 3, bodyBudget: 2 * 1024 * 1024, bodyIdleSeconds: 1 });
    await s.user('root', { admin: true });
    ann = await s.user('ann');
    annCam = await s.device(ann.id, 'kitchen cam', 'kitchen');
  });
  afterAll(async () => {
    await s?.close();
  });

  it('refuses every route with a body before reading it: no 100 Continue, 401, connection closed', async () => {
    const routes = [
      'POST /v1/frames',
      'POST /v1/sightings',
      'POST /v1/query',
      'POST /v1/speak',
      'POST /v1/users',
      'PATCH /v1/users/1',
      'DELETE /v1/users/1',
      'POST /v1/devices',
      'PATCH /v1/devices/1',
      'DELETE /v1/devices/1',
      'POST /v1/session/password',
      'DELETE /v1/session',
    ];
    for (const r of routes) {
      const [method, path] = r.split(' ');
      const res = await rawRequest(s.url + path, [`${method} ${path} HTTP/1.1`, 'Content-Type: application/json', `Content-Length: ${MB16}`], { expect: true, waitMs: 2000 });
      expect({ route: r, status: res.status, continued: res.sawContinue, sent: res.sent }).toEqual({ route: r, status: 401, continued: false, sent: 0 });
      expect(res.body.error.code).toBe('unauthorized');
      expect(res.text).toMatch(/\r\nconnection: close\r\n/i);
    }
    // a device token on a user route is refused the same way (authorisation, not only authentication)
    const res = await rawRequest(s.url + '/v1/users', ['POST /v1/users HTTP/1.1', `Authorization: Bearer ${annCam.token}`, 'Content-Type: application/json', `Content-Length: ${MB16}`], { expect: true });
    expect([res.status, res.sawContinue, res.body.error.code]).toEqual([403, false, 'forbidden']);
    // public routes with bodies: a body over the limit is refused from its Content-Length alone
    for (const path of ['/v1/session', '/login', '/setup']) {
      const r2 = await rawRequest(s.url + path, [`POST ${path} HTTP/1.1`, 'Content-Type: application/json', `Content-Length: ${MB16}`], { expect: true });
      expect({ path, status: r2.status, continued: r2.sawContinue }).toEqual({ path, status: 413, continued: false });
    }
  });

  it('every route that takes a body (other than logging in and first-run setup) has its guard in onRequest', async () => {
    // Fastify's own route table with each route's hooks: a route added later with `preHandler: app.guard.x`
    // must have been moved to onRequest too
    const tree = s.app.printRoutes({ commonPrefix: false, includeHooks: true }).split('\n');
    const routes: Array<{ path: string; methods: string[]; onRequest: string }> = [];
    const stack: Array<{ col: number; name: string; path: string }> = [];
    for (const line of tree) {
      const hook = /•\s+\(onRequest\)\s+(.*)$/.exec(line);
      if (hook && routes.length) {
        routes[routes.length - 1].onRequest = hook[1];
        continue;
      }
      const m = /^([\s│├└─]*?)([^\s│├└─•][^(]*?) \(([A-Z, ]+)\)\s*$/.exec(line);
      if (!m) continue;
      const col = m[1].length;
      const name = m[2];
      while (stack.length && stack[stack.length - 1].col >= col && !(stack[stack.length - 1].col === col && stack[stack.length - 1].name === name)) stack.pop();
      let path: string;
      if (stack.length && stack[stack.length - 1].col === col && stack[stack.length - 1].name === name) path = stack[stack.length - 1].path;
      else {
        // a radix tree: a child's name continues its parent's path ("v1/device" + "s" + "/:id")
        path = (stack.length ? stack[stack.length - 1].path : '') + name;
        stack.push({ col, name, path });
      }
      routes.push({ path, methods: m[3].split(',').map((x) => x.trim()), onRequest: '' });
    }
    const PUBLIC = new Set(['POST /v1/session', 'POST /setup', 'POST /login']);
    const unguarded: string[] = [];
    let withBody = 0;
    for (const r of routes)
      for (const method of r.methods) {
        if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) continue;
        withBody++;
        if (PUBLIC.has(`${method} ${r.path}`)) continue;
        if (!/need(User|Admin|Device|Any)\(\)/.test(r.onRequest)) unguarded.push(`${method} ${r.path}: ${r.onRequest}`);
      }
    expect(withBody).toBeGreaterThan(10);
    expect(routes.map((r) => r.path)).toContain('/v1/devices/:id');
    expect(unguarded).toEqual([]);
  });

  it('without Expect, a refused upload is answered 401 and cut off long before 16 MB are read', async () => {
    const res = await rawRequest(s.url + '/v1/frames', ['POST /v1/frames HTTP/1.1', 'Content-Type: image/jpeg', `Content-Length: ${MB16}`], { bodyBytes: MB16 });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.sent).toBeLessThan(MB16 / 2);
  });

  it('an authenticated upload gets 100 Continue; beyond the in-flight budget it is 503 busy before its body', async () => {
    // the budget is 2 MB: a slow 1.5 MB upload holds most of it
    const slow = rawRequest(
      s.url + '/v1/frames',
      ['POST /v1/frames HTTP/1.1', `Authorization: Bearer ${annCam.token}`, 'Content-Type: image/jpeg', `Content-Length: ${1.5 * 1024 * 1024}`, 'Connection: close'],
      { bodyBytes: 1.5 * 1024 * 1024, expect: true, chunkDelayMs: 40, waitMs: 8000 },
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(s.app.bodyBudget.inFlight()).toBe(1.5 * 1024 * 1024);
    const refused = await rawRequest(
      s.url + '/v1/frames',
      ['POST /v1/frames HTTP/1.1', `Authorization: Bearer ${annCam.token}`, 'Content-Type: image/jpeg', `Content-Length: ${1024 * 1024}`],
      { bodyBytes: 1024 * 1024, expect: true },
    );
    expect([refused.status, refused.sawContinue, refused.body.error.code]).toEqual([503, false, 'busy']);
    expect(refused.text).toMatch(/retry-after: 1/i);
    const first = await slow;
    expect(first.sawContinue).toBe(true);
    // no model loaded here: the body was read, then the frame refused as unavailable (not a budget refusal)
    expect(first.status).toBe(503);
    expect(first.body.error.code).toBe('unavailable');
    expect(s.app.bodyBudget.inFlight()).toBe(0);
  });

  it('cuts off a body that stalls (slow loris) and gives its budget back', async () => {
    const t0 = Date.now();
    const res = await rawRequest(
      s.url + '/v1/frames',
      ['POST /v1/frames HTTP/1.1', `Authorization: Bearer ${annCam.token}`, 'Content-Type: image/jpeg', 'Content-Length: 100000'],
      { body: Buffer.alloc(10, 1), expect: true, waitMs: 10_000 },
    );
    expect(res.sawContinue).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000); // closed by the server after ~1 s idle, not by our 10 s timer
    expect(s.app.bodyBudget.inFlight()).toBe(0);
  });

  it('malformed multipart forms are 400, not 500', async () => {
    const B = 'XyZzY';
    const auth = { authorization: `Bearer ${annCam.token}` };
    const filePart = `--${B}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
    const fields = Array.from({ length: 6 }, (_, i) => `--${B}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nv\r\n`).join('');
    const cases: Array<[string, string, string]> = [
      ['several fields before the image', `multipart/form-data; boundary=${B}`, `${fields}${filePart}xxxx\r\n--${B}--\r\n`],
      ['no boundary', 'multipart/form-data', `${filePart}xxxx\r\n--${B}--\r\n`],
      ['a part cut off', `multipart/form-data; boundary=${B}`, `${filePart}xxxx`],
    ];
    for (const [what, type, body] of cases) {
      const r = await s.client().post('/v1/frames', body, { ...auth, 'content-type': type });
      expect({ what, status: r.status, code: r.body?.error?.code }).toEqual({ what, status: 400, code: 'bad_request' });
    }
  });

  it('pages through sightings that share a time without skipping any (before + before_id)', async () => {
    const at = Date.parse('2026-01-01T10:00:00Z');
    const dets = ['cup', 'bottle', 'laptop', 'book', 'chair'].map((label, i) => ({ label, score: 0.9, box: [0.1 * i, 0.1, 0.1, 0.1] }));
    expect((await annCam.client.post('/v1/sightings', { seen_at: at, detections: dets })).status).toBe(201);
    expect((await annCam.client.post('/v1/sightings', { seen_at: at - 1000, detections: [dets[0]] })).status).toBe(201);
    const seen: number[] = [];
    let q = '/v1/sightings?limit=2';
    for (let page = 0; page < 10; page++) {
      const r = await ann.client.get(q);
      expect(r.status).toBe(200);
      if (!r.body.sightings.length) break;
      seen.push(...r.body.sightings.map((x: any) => x.id));
      const last = r.body.sightings.at(-1);
      q = `/v1/sightings?limit=2&before=${encodeURIComponent(last.seen_at)}&before_id=${last.id}`;
    }
    expect(seen.length).toBe(6);
    expect(new Set(seen).size).toBe(6);
    expectError(await ann.client.get('/v1/sightings?before_id=3'), 400, 'validation');
  });

  it('does not trust X-Forwarded-For by default: rotating it does not escape the login rate limit', async () => {
    for (let i = 0; i < 3; i++) expectError(await s.client().login('ann', 'wrong-password', ), 401, 'unauthorized');
    const r = await s.client().post('/v1/session', { name: 'ann', password: 'wrong-password' }, { 'x-forwarded-for': '203.0.113.77' });
    expectError(r, 429, 'rate_limited');
    await s.app.store.clearLoginFailures('login:ann|127.0.0.1');
  });

  it('refuses a login from a foreign Origin (login CSRF), accepts its own', async () => {
    const evil = await s.client().post('/v1/session', { name: 'ann', password: ann.password }, { origin: 'https://evil.example' });
    expectError(evil, 403, 'forbidden');
    expect(evil.headers.get('set-cookie')).toBeNull();
    expectError(await s.client().post('/v1/session', { name: 'ann', password: ann.password }, { origin: 'null' }), 403, 'forbidden');
    const own = await s.client().post('/v1/session', { name: 'ann', password: ann.password }, { origin: s.url });
    expect(own.status).toBe(200);
  });

  it('rate-limits wrong current passwords on a password change', async () => {
    const bob = await s.user('bob');
    for (let i = 0; i < 3; i++) expectError(await bob.client.post('/v1/session/password', { current: 'nope-nope', password: 'new-password-1' }), 401, 'unauthorized');
    const r = await bob.client.post('/v1/session/password', { current: bob.password, password: 'new-password-1' });
    expectError(r, 429, 'rate_limited');
    expect(r.headers.get('retry-after')).toBeTruthy();
  });

  it('names refuse control characters (device name, rename, room)', async () => {
    for (const name of ['cam\u0000', 'cam\u001b[2J', 'cam\rX', 'cam\u202eX']) expectError(await ann.client.post('/v1/devices', { name }), 400, 'validation');
    expectError(await ann.client.post('/v1/devices', { name: 'ok cam', room: 'hall\u0007' }), 400, 'validation');
    expectError(await ann.client.patch(`/v1/devices/${annCam.id}`, { name: 'x\u0000y' }), 400, 'validation');
    const ok = await ann.client.post('/v1/devices', { name: 'Café cam ☕', room: 'küche' });
    expect(ok.status).toBe(201);
  });

  it('a revoked device cannot be renamed or moved', async () => {
    const d = await s.device(ann.id, 'old cam');
    expect((await ann.client.del(`/v1/devices/${d.id}`)).status).toBe(204);
    expectError(await ann.client.patch(`/v1/devices/${d.id}`, { name: 'new name' }), 409, 'conflict');
    expectError(await ann.client.patch(`/v1/devices/${d.id}`, { room: 'attic' }), 409, 'conflict');
    expect((await s.app.store.getDevice(d.id))!.name).toBe('old cam');
  });

  it('answers Node- and Fastify-level errors in the one error shape', async () => {
    const big = await rawRequest(s.url + '/v1/items', ['GET /v1/items HTTP/1.1', `X-Big: ${'a'.repeat(100_000)}`]);
    expect(big.status).toBe(431);
    expect(big.body).toEqual({ error: { code: 'headers_too_large', message: expect.any(String) } });
    const badUrl = await rawRequest(s.url + '/', ['GET /v1/%zz HTTP/1.1', 'Connection: close']);
    expect(badUrl.status).toBe(400);
    expect(badUrl.body).toEqual({ error: { code: 'bad_request', message: expect.any(String) } });
    const garbage = await rawRequest(s.url + '/', ['NOT HTTP AT ALL']);
    expect(garbage.status).toBe(400);
    expect(garbage.body).toEqual({ error: { code: 'bad_request', message: expect.any(String) } });
  });

  it('reports a healthy store on /healthz', async () => {
    const r = await s.client().get('/healthz');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ ok: true, store: 'sqlite' });
  });
});

describe('proxy trust is explicit', () => {
  it('--trust-proxy loopback takes the client address from X-Forwarded-For', async () => {
    const s = await startTestServer({ loginAttempts: 2, trustProxy: 'loopback' });
    try {
      await s.user('cy');
      // behind a trusted proxy each forwarded address has its own budget
      for (let i = 0; i < 2; i++) expect((await s.client().post('/v1/session', { name: 'cy', password: 'wrong-password' }, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(401);
      expect((await s.client().post('/v1/session', { name: 'cy', password: 'wrong-password' }, { 'x-forwarded-for': '198.51.100.1' })).status).toBe(429);
      expect((await s.client().post('/v1/session', { name: 'cy', password: 'wrong-password' }, { 'x-forwarded-for': '198.51.100.2' })).status).toBe(401);
    } finally {
      await s.close();
    }
  });
});
