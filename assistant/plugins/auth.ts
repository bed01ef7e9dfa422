/**
 * Who is calling: a device (`Authorization: Bearer wad_...`), or a user through a session (the HttpOnly
 * `wa_session` cookie set at login, or `Authorization: Bearer was_...`). Routes pick a guard:
 * `app.guard.user`, `app.guard.admin`, `app.guard.device`, `app.guard.any` (user or device; a device acts
 * for its owner). Cookie-authenticated state changes must carry the session's CSRF token in `X-CSRF-Token`.
 *
 * Guards run before the body is read: a route names its guard as `preHandler: app.guard.x` (or `onRequest`),
 * and this plugin moves it to the route's `onRequest` hooks, so an unauthenticated or unauthorised request is
 * refused from its headers alone (plugins/bodies.ts then closes the connection instead of reading the body).
 */
import crypto from 'node:crypto';
import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerAsyncHookHandler, RouteOptions } from 'fastify';
import { AppError } from '../errors.js';
import { DEVICE_TOKEN_PREFIX, SESSION_TOKEN_PREFIX, hashToken, newToken } from '../auth/secrets.js';
import type { Device, Session, User } from '../../store/types.js';

export const SESSION_COOKIE = 'wa_session';

export type Principal =
  | { kind: 'user'; user: User; session: Session; tokenHash: string; via: 'cookie' | 'bearer' }
  | { kind: 'device'; device: Device; user: User; tokenHash: string };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    guard: {
      user: preHandlerAsyncHookHandler;
      admin: preHandlerAsyncHookHandler;
      device: preHandlerAsyncHookHandler;
      any: preHandlerAsyncHookHandler;
    };
    sessions: {
      start(request: FastifyRequest, reply: FastifyReply, user: User): Promise<{ csrfToken: string; token: string; expiresAt: number }>;
      clearCookie(reply: FastifyReply): void;
      resolve(request: FastifyRequest): Promise<Principal | null>;
    };
  }
}

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function bearer(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : '';
}

/**
 * A browser request from this site, or not from a browser at all (no Origin header). A foreign or opaque
 * ("null") Origin is refused on state changes that a cookie would otherwise make for its site: log in
 * (login CSRF), first-run setup, the voice socket.
 */
export function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.host;
  } catch {
    return false;
  }
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

export default fp(
  async function authPlugin(app: FastifyInstance) {
    await app.register(cookie);
    const { store, config } = app;
    const sessionMs = config.sessionDays * 24 * 3600_000;

    async function resolve(request: FastifyRequest): Promise<Principal | null> {
      const token = bearer(request);
      if (token === '') throw new AppError('unauthorized', 'the Authorization header must be "Bearer <token>"');
      if (token) {
        const hash = hashToken(token);
        if (token.startsWith(DEVICE_TOKEN_PREFIX + '_')) {
          const found = await store.getDeviceByTokenHash(hash);
          if (!found) throw new AppError('unauthorized', 'unknown or revoked device token');
          return { kind: 'device', device: found.device, user: found.user, tokenHash: hash };
        }
        if (token.startsWith(SESSION_TOKEN_PREFIX + '_')) {
          const found = await store.getSession(hash, Date.now());
          if (!found) throw new AppError('unauthorized', 'the session has ended; log in again');
          return { kind: 'user', user: found.user, session: found.session, tokenHash: hash, via: 'bearer' };
        }
        throw new AppError('unauthorized', 'unknown token');
      }
      const c = request.cookies?.[SESSION_COOKIE];
      if (c) {
        const hash = hashToken(c);
        const found = await store.getSession(hash, Date.now());
        if (found) return { kind: 'user', user: found.user, session: found.session, tokenHash: hash, via: 'cookie' };
      }
      return null;
    }

    app.decorateRequest('principal', null);
    app.addHook('onRequest', async (request) => {
      // resolved once per request; a bad bearer token is a 401 even on routes that need no auth
      request.principal = await resolve(request);
    });

    function checkCsrf(request: FastifyRequest, p: Principal) {
      if (p.kind !== 'user' || p.via !== 'cookie' || !UNSAFE.has(request.method)) return;
      // from the header only: the check runs before the body is read
      const sent = request.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !sameToken(sent, p.session.csrfToken))
        throw new AppError('csrf', 'missing or wrong CSRF token (send the X-CSRF-Token header from GET /v1/session)');
    }

    const needUser: preHandlerAsyncHookHandler = async (request) => {
      const p = request.principal;
      if (!p) throw new AppError('unauthorized', 'log in first (POST /v1/session)');
      if (p.kind !== 'user') throw new AppError('forbidden', 'this needs a user login, not a device token');
      checkCsrf(request, p);
    };
    const needAdmin: preHandlerAsyncHookHandler = async (request, reply) => {
      await needUser.call(app, request, reply);
      if (!request.principal!.user.isAdmin) throw new AppError('forbidden', 'only an admin can do this');
    };
    const needDevice: preHandlerAsyncHookHandler = async (request) => {
      const p = request.principal;
      if (!p) throw new AppError('unauthorized', 'send the device token as "Authorization: Bearer <token>"');
      if (p.kind !== 'device') throw new AppError('forbidden', 'this needs a device token');
      if (Date.now() - (p.device.lastSeenAt ?? 0) >= 60_000) void store.touchDevice(p.device.id, Date.now()).catch(() => {}); // perf: one last-seen write (a disk sync) per device per minute, not per request
    };
    const needAny: preHandlerAsyncHookHandler = async (request) => {
      const p = request.principal;
      if (!p) throw new AppError('unauthorized', 'log in or send a device token');
      if (p.kind === 'user') checkCsrf(request, p);
      else if (Date.now() - (p.device.lastSeenAt ?? 0) >= 60_000) void store.touchDevice(p.device.id, Date.now()).catch(() => {}); // perf: as above
    };
    app.decorate('guard', { user: needUser, admin: needAdmin, device: needDevice, any: needAny });

    // guards given as preHandler hooks run as onRequest hooks instead: before the body is read
    const guards = new Set<unknown>([needUser, needAdmin, needDevice, needAny]);
    const asList = (h: unknown): unknown[] => (Array.isArray(h) ? h : h ? [h] : []);
    app.addHook('onRoute', (route: RouteOptions) => {
      const pre = asList(route.preHandler);
      const moved = pre.filter((h) => guards.has(h));
      if (!moved.length) return;
      route.preHandler = pre.filter((h) => !guards.has(h)) as RouteOptions['preHandler'];
      route.onRequest = [...asList(route.onRequest), ...moved] as RouteOptions['onRequest'];
    });

    app.decorate('sessions', {
      async start(request: FastifyRequest, reply: FastifyReply, user: User) {
        const token = newToken(SESSION_TOKEN_PREFIX);
        const csrfToken = crypto.randomBytes(24).toString('base64url');
        const expiresAt = Date.now() + sessionMs;
        await store.createSession({ tokenHash: hashToken(token), userId: user.id, epoch: user.tokenEpoch, csrfToken, expiresAt });
        reply.setCookie(SESSION_COOKIE, token, {
          path: '/',
          httpOnly: true,
          sameSite: 'strict',
          secure: config.secureCookies || request.protocol === 'https',
          expires: new Date(expiresAt),
        });
        return { csrfToken, token, expiresAt };
      },
      clearCookie(reply: FastifyReply) {
        reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict' });
      },
      resolve,
    });
  },
  { name: 'auth', dependencies: ['context'] },
);
