/**
 * Starts a real whereabouts server (compiled code from dist/) on a temporary data folder and a free
 * port, and talks to it over real HTTP.
 */
import { buildApp, type AppOptions } from '../../dist/assistant/app.js';
import { loadConfig, type Config } from '../../dist/assistant/config.js';
import { addDevice, addUser } from '../../dist/assistant/accounts.js';
import type { FastifyInstance } from 'fastify';

import { tempDir } from './tmp.js';
export { SHARED, REPO, tempDir } from './tmp.js';

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
  raw: Buffer;
}

export class Client {
  cookie = '';
  csrf = '';
  constructor(
    readonly base: string,
    public token = '',
  ) {}

  async req(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
    const h: Record<string, string> = { ...headers };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    if (this.cookie) h.cookie = this.cookie;
    if (this.csrf && method !== 'GET') h['x-csrf-token'] = this.csrf;
    let payload: BodyInit | undefined;
    if (body instanceof Buffer || typeof body === 'string') payload = body as BodyInit;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h['content-type'] ??= 'application/json';
    }
    const res = await fetch(this.base + url, { method, headers: h, body: payload });
    const setCookie = res.headers.getSetCookie?.() ?? [];
    for (const c of setCookie) {
      const [pair] = c.split(';');
      if (pair.startsWith('wa_session=')) this.cookie = pair.endsWith('=') ? '' : pair;
    }
    const raw = Buffer.from(await res.arrayBuffer());
    let parsed: any = raw;
    if ((res.headers.get('content-type') ?? '').includes('json')) parsed = raw.length ? JSON.parse(raw.toString('utf8')) : null;
    return { status: res.status, headers: res.headers, body: parsed, raw };
  }
  get = (url: string, headers?: Record<string, string>) => this.req('GET', url, undefined, headers);
  post = (url: string, body?: unknown, headers?: Record<string, string>) => this.req('POST', url, body, headers);
  patch = (url: string, body?: unknown) => this.req('PATCH', url, body);
  del = (url: string) => this.req('DELETE', url);

  async login(name: string, password: string): Promise<Reply> {
    const r = await this.post('/v1/session', { name, password });
    if (r.status === 200) this.csrf = r.body.csrf_token;
    return r;
  }
}

export interface TestServer {
  app: FastifyInstance;
  url: string;
  config: Config;
  dataDir: string;
  client(token?: string): Client;
  /** a user (and a logged-in client for them) */
  user(name: string, opts?: { admin?: boolean; password?: string }): Promise<{ id: number; client: Client; password: string }>;
  device(userId: number, name: string, room?: string | null): Promise<{ id: number; token: string; client: Client }>;
  close(): Promise<void>;
}

export async function startTestServer(overrides: Partial<Config> = {}, opts: AppOptions = {}): Promise<TestServer> {
  const dataDir = overrides.dataDir ?? tempDir();
  const config = loadConfig([], {}, { port: 0, dataDir, logLevel: 'warn', noModels: true, timeZone: 'UTC', ...overrides });
  const app = await buildApp(config, { logger: false, ...opts });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    app,
    url,
    config,
    dataDir,
    client: (token = '') => new Client(url, token),
    async user(name, o = {}) {
      const password = o.password ?? `pw-${name}-secret`;
      const u = await addUser(app.store, name, password, o.admin ?? false);
      const client = new Client(url);
      const r = await client.login(name, password);
      if (r.status !== 200) throw new Error(`login failed: ${JSON.stringify(r.body)}`);
      return { id: u.id, client, password };
    },
    async device(userId, name, room = null) {
      const { device, token } = await addDevice(app.store, userId, name, room);
      return { id: device.id, token, client: new Client(url, token) };
    },
    async close() {
      await app.close();
    },
  };
}
