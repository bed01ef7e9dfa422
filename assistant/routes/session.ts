/**
 * Log in, who am I, log out (this browser, or everywhere), change password.
 *
 * Login refuses a foreign Origin (login CSRF: another site cannot log a visitor into an account of its
 * choosing). Wrong current passwords on a password change count against the same failure budget as logins.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../errors.js';
import { dummyPasswordHash, verifyPassword } from '../auth/secrets.js';
import { changePassword } from '../accounts.js';
import { userView } from '../views.js';
import { GUARDED, JSON_BODY, NoContent, PasswordReply, SessionReply, errors } from '../schemas.js';
import { sameOrigin } from '../plugins/auth.js';

const WINDOW_MS = 15 * 60_000;

const sessionRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { store, config } = app;

  app.post(
    '/v1/session',
    {
      schema: {
        description: 'log in: sets the `wa_session` cookie (its value also works as a `Bearer` token) and returns the CSRF token; a foreign `Origin` is refused',
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
        response: { 200: SessionReply, ...errors(...JSON_BODY, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      if (!sameOrigin(request)) throw new AppError('forbidden', 'cross-site login refused: log in from this server\'s own page');
      const { name, password } = request.body;
      const keys = [`login:${name.toLowerCase()}|${request.ip}`, `login-ip:${request.ip}`];
      const since = Date.now() - WINDOW_MS;
      const [perUser, perIp] = await Promise.all(keys.map((k) => store.countLoginFailures(k, since)));
      if (perUser >= config.loginAttempts || perIp >= config.loginAttempts * 5)
        throw new AppError('rate_limited', 'too many failed logins; wait 15 minutes and try again', { headers: { 'retry-after': String(WINDOW_MS / 1000) } });
      const user = await store.getUserByName(name);
      const ok = await verifyPassword(password, user?.passwordHash ?? (await dummyPasswordHash()));
      if (!user || !ok) {
        const now = Date.now();
        await Promise.all(keys.map((k) => store.recordLoginFailure(k, now)));
        throw new AppError('unauthorized', 'wrong user name or password');
      }
      await store.clearLoginFailures(keys[0]);
      const s = await app.sessions.start(request, reply, user);
      return { user: userView(user), csrf_token: s.csrfToken, expires_at: new Date(s.expiresAt).toISOString() };
    },
  );

  app.get('/v1/session', { preHandler: app.guard.user, schema: { description: 'who am I, and the CSRF token', response: { 200: SessionReply, ...errors(...GUARDED) } } }, async (request) => {
    const p = request.principal!;
    if (p.kind !== 'user') throw new AppError('forbidden', 'not a user session');
    return { user: userView(p.user), csrf_token: p.session.csrfToken, expires_at: new Date(p.session.expiresAt).toISOString() };
  });

  // logging out ends this session (this browser); `?everywhere=true` ends every session of the user
  app.delete(
    '/v1/session',
    {
      preHandler: app.guard.user,
      schema: {
        description: 'log out this session (`everywhere=true`: every session of the user, and their voice connections)',
        querystring: Type.Object({ everywhere: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 204: NoContent, ...errors(...GUARDED) },
      },
    },
    async (request, reply) => {
      const p = request.principal!;
      if (p.kind !== 'user') throw new AppError('forbidden', 'not a user session');
      if (request.query.everywhere) await store.bumpTokenEpoch(p.user.id);
      else await store.deleteSession(p.tokenHash);
      app.sessions.clearCookie(reply);
      return reply.status(204).send();
    },
  );

  app.post(
    '/v1/session/password',
    {
      preHandler: app.guard.user,
      schema: {
        description: 'change your password: ends every other session; this one continues with a fresh cookie',
        body: Type.Object({ current: Type.String({ maxLength: 1024 }), password: Type.String({ maxLength: 1024 }) }, { additionalProperties: false }),
        response: { 200: PasswordReply, ...errors(...GUARDED, ...JSON_BODY, 429) },
      },
    },
    async (request, reply) => {
      const p = request.principal!;
      // wrong current passwords are rate limited like logins (per account, and per address)
      const keys = [`password:${p.user.id}`, `login-ip:${request.ip}`];
      const since = Date.now() - WINDOW_MS;
      const [perUser, perIp] = await Promise.all(keys.map((k) => store.countLoginFailures(k, since)));
      if (perUser >= config.loginAttempts || perIp >= config.loginAttempts * 5)
        throw new AppError('rate_limited', 'too many wrong passwords; wait 15 minutes and try again', { headers: { 'retry-after': String(WINDOW_MS / 1000) } });
      const me = await store.getUserByName(p.user.name);
      if (!me || !(await verifyPassword(request.body.current, me.passwordHash))) {
        const now = Date.now();
        await Promise.all(keys.map((k) => store.recordLoginFailure(k, now)));
        throw new AppError('unauthorized', 'the current password is wrong');
      }
      await store.clearLoginFailures(keys[0]);
      await changePassword(store, me.id, request.body.password);
      // every other session has ended; this one continues with a fresh session
      const fresh = (await store.getUserById(me.id))!;
      const s = await app.sessions.start(request, reply, fresh);
      return { user: userView(fresh), csrf_token: s.csrfToken };
    },
  );
};

export default sessionRoutes;
