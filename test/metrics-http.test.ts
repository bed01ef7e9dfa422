/** GET /metrics (who may read it, what it holds), request ids, Server-Timing. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer, type Client } from './helpers/server.js';

const METRICS_TOKEN = 'metrics-secret-for-tests';

/** value of one sample, e.g. sample(text, 'whereabouts_errors_total', { code: 'validation' }); 0 when absent */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const p of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[p[1]] = p[2];
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) {
      total += Number(m[3]);
      found = true;
    }
  }
  return found ? total : 0;
}

describe('metrics', () => {
  let s: TestServer;
  let admin: { id: number; client: Client };
  let ann: { id: number; client: Client };
  let cam: { id: number; token: string; client: Client };

  const scrape = async () => {
    const r = await s.client(METRICS_TOKEN).get('/metrics');
    expect(r.status).toBe(200);
    return r.raw.toString('utf8');
  };

  beforeAll(async () => {
    s = await startTestServer({ metricsToken: METRICS_TOKEN, ttsEngine: 'none' });
    admin = await s.user('root', { admin: true });
    ann = await s.user('ann');
    cam = await s.device(ann.id, 'kitchen cam', 'kitchen');
  });
  afterAll(async () => s?.close());

  it('needs an admin session or the metrics token', async () => {
    const anon = await s.client().get('/metrics');
    expect(anon.status).toBe(401);
    expect(anon.body.error.code).toBe('unauthorized');

    const wrong = await s.client('not-the-token').get('/metrics');
    expect(wrong.status).toBe(401);

    const user = await ann.client.get('/metrics');
    expect(user.status).toBe(403);
    expect(user.body.error.code).toBe('forbidden');

    const device = await cam.client.get('/metrics');
    expect(device.status).toBe(403);

    const byAdmin = await admin.client.get('/metrics');
    expect(byAdmin.status).toBe(200);
    expect(byAdmin.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(byAdmin.raw.toString()).toContain('# TYPE whereabouts_stage_seconds histogram');

    const byToken = await s.client(METRICS_TOKEN).get('/metrics');
    expect(byToken.status).toBe(200);
    // default Node process metrics
    expect(byToken.raw.toString()).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(byToken.raw.toString()).toMatch(/^nodejs_eventloop_lag_seconds /m);
  });

  it('the metrics token is only a credential for /metrics', async () => {
    const r = await s.client(METRICS_TOKEN).post('/v1/query', { text: 'where is my cup' });
    expect(r.status).toBe(401);
  });

  it('records the stage histograms and counters of a query, and sets Server-Timing', async () => {
    const before = await scrape();
    await cam.client.post('/v1/sightings', { detections: [{ label: 'cup', score: 0.9, box: [0.4, 0.4, 0.1, 0.1] }] });
    const r = await ann.client.post('/v1/query', { text: 'where is my mug?' });
    expect(r.status).toBe(200);
    expect(r.body.outcome).toBe('found');
    const st = r.headers.get('server-timing') ?? '';
    expect(st).toMatch(/\bnlp;dur=[\d.]+/);
    expect(st).toMatch(/\blookup;dur=[\d.]+/);

    const after = await scrape();
    for (const stage of ['nlp', 'lookup']) {
      expect(sample(after, 'whereabouts_stage_seconds_count', { stage }) - sample(before, 'whereabouts_stage_seconds_count', { stage })).toBe(1);
      expect(after).toMatch(new RegExp(`^whereabouts_stage_seconds_bucket\\{le="0.0001",stage="${stage}"\\} \\d+`, 'm'));
      expect(after).toMatch(new RegExp(`^whereabouts_stage_seconds_bucket\\{le="5",stage="${stage}"\\} \\d+`, 'm'));
    }
    const q = { source: 'text', outcome: 'found' };
    expect(sample(after, 'whereabouts_queries_total', q) - sample(before, 'whereabouts_queries_total', q)).toBe(1);
    const req = { method: 'POST', route: '/v1/query', status: '200' };
    expect(sample(after, 'whereabouts_http_requests_total', req) - sample(before, 'whereabouts_http_requests_total', req)).toBe(1);
    const dur = { method: 'POST', route: '/v1/query' };
    expect(sample(after, 'whereabouts_http_request_duration_seconds_count', dur)).toBeGreaterThanOrEqual(1);
    // the route pattern, never the raw URL
    expect(after).toContain('route="/v1/sightings"');
    expect(after).toMatch(/^# TYPE whereabouts_frames_total counter/m);
    expect(after).toMatch(/^# TYPE whereabouts_voice_streams_active gauge/m);
  });

  it('counts errors by code (400 validation, 400 bad_json, 401, 404)', async () => {
    const before = await scrape();
    expect((await ann.client.post('/v1/query', { nope: 1 })).status).toBe(400);
    expect((await ann.client.post('/v1/query', '{not json', { 'content-type': 'application/json' })).status).toBe(400);
    expect((await s.client().post('/v1/query', { text: 'where is my cup' })).status).toBe(401);
    expect((await s.client('wad_forged').post('/v1/query', { text: 'where is my cup' })).status).toBe(401);
    expect((await s.client().get('/no/such/route/42')).status).toBe(404);
    const after = await scrape();
    const delta = (code: string) =>
      sample(after, 'whereabouts_errors_total', { code, transport: 'http' }) - sample(before, 'whereabouts_errors_total', { code, transport: 'http' });
    expect(delta('validation')).toBe(1);
    expect(delta('bad_json')).toBe(1);
    expect(delta('unauthorized')).toBe(2);
    expect(delta('not_found')).toBe(1);
    const r401 = { method: 'POST', route: '/v1/query', status: '401' };
    expect(sample(after, 'whereabouts_http_requests_total', r401) - sample(before, 'whereabouts_http_requests_total', r401)).toBe(2);
    // unmatched URLs are one series, not one per URL
    expect(after).not.toContain('/no/such/route/42');
    expect(sample(after, 'whereabouts_http_requests_total', { route: 'unmatched', status: '404' })).toBeGreaterThanOrEqual(1);
  });

  it('echoes the request id in x-request-id, and honours one sent by the client', async () => {
    const a = await ann.client.post('/v1/query', { text: 'where is my cup' });
    expect(a.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const b = await ann.client.post('/v1/query', { text: 'where is my cup' });
    expect(b.headers.get('x-request-id')).not.toBe(a.headers.get('x-request-id'));

    const mine = 'req-abc-123';
    const c = await ann.client.post('/v1/query', { text: 'where is my cup' }, { 'x-request-id': mine });
    expect(c.headers.get('x-request-id')).toBe(mine);
    // errors too
    const e = await s.client().get('/metrics', { 'x-request-id': 'err-req-7' });
    expect(e.status).toBe(401);
    expect(e.headers.get('x-request-id')).toBe('err-req-7');
  });
});
