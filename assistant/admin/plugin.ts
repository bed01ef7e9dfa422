/**
 * The admin web page, served at `/` by the server itself (no separate front end, no CDN, works offline).
 *
 * Stack: the server renders the page shell (header, navigation, the login and first-run forms) with an
 * escaping template (html.ts); a small client written in TypeScript (client/*.ts, compiled by the
 * project's tsc into dist/) fills each page from the JSON API using textContent only. Static files are
 * served from a fixed whitelist under /assets/: the compiled client, the shared protocol reducer
 * (assistant/protocol.ts, also used by the server and the Pi client) and the stylesheet.
 *
 * Security: a strict Content-Security-Policy (self only, no inline script or style), frame-ancestors
 * 'none' and X-Frame-Options DENY on every page; the session cookie and CSRF checks come from
 * plugins/auth.ts (the page sends X-CSRF-Token from a <meta> tag). First-run setup (create the first
 * admin) exists only while there are no users at all and is guarded by its own double-submit token.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { addFirstAdmin } from '../accounts.js';
import { AppError } from '../errors.js';
import { PACKAGE_ROOT } from '../paths.js';
import { ErrorBody, JSON_BODY, binary, errors, htmlPage, pageOrError, redirect } from '../schemas.js';
import { html, shell, type Html, type ShellUser } from './html.js';
import { sameOrigin } from '../plugins/auth.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SETUP_COOKIE = 'wa_setup';

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'permissions-policy': 'microphone=(self), camera=(), geolocation=()',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** URL path under /assets/ -> file; only these are served */
function collectAssets(): Map<string, Asset> {
  const files = new Map<string, string>();
  const clientDir = path.join(HERE, 'client');
  if (fs.existsSync(clientDir))
    for (const f of fs.readdirSync(clientDir)) if (f.endsWith('.js')) files.set(`admin/client/${f}`, path.join(clientDir, f));
  // the shared protocol package (protocol/ beside assistant/ in dist): client/*.js import it as
  // ../../../protocol/protocol.js, i.e. /protocol/protocol.js (served by the route below)
  files.set('protocol/protocol.js', path.join(HERE, '..', '..', 'protocol', 'protocol.js'));
  const staticDir = path.join(PACKAGE_ROOT, 'assistant', 'admin', 'static');
  if (fs.existsSync(staticDir)) for (const f of fs.readdirSync(staticDir)) if (TYPES[path.extname(f)]) files.set(`admin/${f}`, path.join(staticDir, f));
  const out = new Map<string, Asset>();
  for (const [url, file] of files) {
    if (!fs.existsSync(file)) continue;
    let body = fs.readFileSync(file);
    // source maps point at files that are not served
    if (file.endsWith('.js')) body = Buffer.from(body.toString('utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
    const etag = `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    out.set(url, { body, type: TYPES[path.extname(file)], etag });
  }
  return out;
}

interface PageDef {
  page: string;
  title: string;
  admin?: boolean;
}

const PAGES: Record<string, PageDef> = {
  '/': { page: 'items', title: 'Items' },
  '/item': { page: 'item', title: 'Item history' },
  '/ask': { page: 'ask', title: 'Ask' },
  '/devices': { page: 'devices', title: 'Devices' },
  '/questions': { page: 'questions', title: 'Questions' },
  '/users': { page: 'users', title: 'Users', admin: true },
  '/account': { page: 'account', title: 'Account' },
  '/zones': { page: 'zones', title: 'Zones' },
  '/snapshot': { page: 'snapshot', title: 'Snapshot' },
  '/labels': { page: 'labels', title: 'What counts as an item' },
};

/** the nav entry a page belongs under */
const NAV_OF: Record<string, string> = { item: 'items', snapshot: 'items', labels: 'items', zones: 'devices' };

const PageQuery = Type.Object(
  {
    label: Type.Optional(Type.String({ maxLength: 100 })),
    room: Type.Optional(Type.String({ maxLength: 100 })),
    time: Type.Optional(Type.String({ maxLength: 20 })),
  },
  { additionalProperties: true },
);

const SetupBody = Type.Object(
  {
    _csrf: Type.String({ maxLength: 100 }),
    name: Type.String({ maxLength: 64 }),
    password: Type.String({ maxLength: 1024 }),
    confirm: Type.String({ maxLength: 1024 }),
  },
  { additionalProperties: false },
);

/** https://, or http:// on this machine itself (localhost): what browsers call a potentially trustworthy origin */
export function trustworthyOrigin(request: FastifyRequest): boolean {
  if (request.protocol === 'https') return true;
  const host = request.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '::1';
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

/** the page's own forms post urlencoded; scripts may send JSON (one schema validates both) */
const FORM_TYPES = ['application/x-www-form-urlencoded', 'application/json'];

const SetupSchema = {
  description: 'first-run setup: creates the first admin (only while there are no accounts) and logs them in',
  body: SetupBody,
  consumes: FORM_TYPES,
  response: {
    ...errors(...JSON_BODY),
    303: redirect('created and logged in: to /'),
    400: pageOrError('the form again with what is wrong (the passwords differ, a bad name or password), or bad input'),
    403: pageOrError('the form expired or came from another site, or the server is already set up'),
    409: pageOrError('the name is taken'),
  },
};

const LoginFields = Type.Object({ name: Type.String({ maxLength: 64 }), password: Type.String({ maxLength: 1024 }) }, { additionalProperties: true });
const LoginSchema = {
  description: 'the login form without the page script (the page normally calls POST /v1/session): sets the session cookie',
  body: LoginFields,
  consumes: FORM_TYPES,
  response: {
    ...errors(...JSON_BODY),
    303: redirect('logged in: to /'),
    400: pageOrError('bad input'),
    401: htmlPage('wrong user name or password'),
    403: pageOrError('a cross-site login'),
    429: htmlPage('too many failed logins'),
    503: pageOrError('the database is unavailable'),
  },
};

const PageResponses = {
  ...errors(),
  200: htmlPage('the page (or the login form, or first-run setup)'),
  400: { ...ErrorBody, description: 'bad query parameters' },
  403: htmlPage('admins only'),
};

const AssetResponses = {
  ...errors(400, 404),
  200: binary('the file', 'text/javascript', 'text/css', 'image/svg+xml'),
  304: { description: 'not modified (If-None-Match)', type: 'null' },
};

const adminPage: FastifyPluginAsyncTypebox = async (app) => {
  const { store, config } = app;
  const assets = collectAssets();
  if (!assets.has('admin/client/app.js')) app.log.warn('admin page: the compiled client is missing (run `npm run build`)');

  app.addHook('onSend', async (request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    // browsers ignore (and warn about) COOP from an untrustworthy origin: plain http:// other than localhost
    if (!trustworthyOrigin(request)) reply.removeHeader('cross-origin-opener-policy');
    return payload;
  });

  function sendPage(reply: FastifyReply, status: number, body: string) {
    return reply.status(status).type('text/html; charset=utf-8').header('cache-control', 'no-store').send(body);
  }

  function flags(): Record<string, string> {
    return {
      speech: app.speech ? '1' : '0',
      listen: app.hasRoute({ method: 'GET', url: '/v1/listen' }) ? '1' : '0',
      // where the page is served over HTTPS too (--tls-cert / --tls-self-signed), for the microphone
      tlsPort: config.tlsCert || config.tlsSelfSigned ? String(config.tlsPort) : '',
    };
  }

  // ---- first run ----
  function setupForm(reply: FastifyReply, request: FastifyRequest, opts: { error?: string; name?: string; status?: number } = {}) {
    const token = crypto.randomBytes(24).toString('base64url');
    reply.setCookie(SETUP_COOKIE, token, {
      path: '/setup',
      httpOnly: true,
      sameSite: 'strict',
      secure: config.secureCookies || request.protocol === 'https',
      maxAge: 3600,
    });
    const body = html`<section class="narrow card">
      <h1>Welcome to whereabouts</h1>
      <p>There are no accounts yet. Create the first <strong>admin</strong> account; you can add the rest of the
      household and their cameras afterwards.</p>
      ${opts.error ? html`<p class="alert alert-error" role="alert">${opts.error}</p>` : ''}
      <form method="post" action="/setup" class="form" id="setup-form">
        <input type="hidden" name="_csrf" value="${token}">
        <div class="field">
          <label for="setup-name">User name</label>
          <input id="setup-name" name="name" autocomplete="username" required maxlength="64" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]*" value="${opts.name ?? ''}" aria-describedby="setup-name-hint">
          <p class="hint" id="setup-name-hint">Letters, digits, dot, dash or underscore.</p>
        </div>
        <div class="field">
          <label for="setup-password">Password</label>
          <input id="setup-password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="1024" aria-describedby="setup-password-hint">
          <p class="hint" id="setup-password-hint">At least 8 characters.</p>
        </div>
        <div class="field">
          <label for="setup-confirm">Password again</label>
          <input id="setup-confirm" name="confirm" type="password" autocomplete="new-password" required minlength="8" maxlength="1024">
        </div>
        <button class="btn btn-primary" type="submit">Create admin account</button>
      </form>
    </section>`;
    return sendPage(reply, opts.status ?? 200, shell({ title: 'Set up', page: 'setup', body, script: false }));
  }

  function loginPage(reply: FastifyReply, title: string) {
    const body = html`<section class="narrow card">
      <h1>Log in</h1>
      <form class="form" id="login-form" method="post" action="/login" novalidate>
        <div class="field">
          <label for="login-name">User name</label>
          <input id="login-name" name="name" autocomplete="username" required maxlength="64" autocapitalize="none" spellcheck="false">
        </div>
        <div class="field">
          <label for="login-password">Password</label>
          <input id="login-password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
        </div>
        <p class="alert alert-error" id="login-error" role="alert" hidden></p>
        <button class="btn btn-primary" type="submit">Log in</button>
      </form>
      <noscript><p class="alert alert-error">This page needs JavaScript.</p></noscript>
    </section>`;
    return sendPage(reply, 200, shell({ title: `Log in · ${title}`, page: 'login', body }));
  }

  function alreadySetUp(reply: FastifyReply) {
    const body = html`<section class="narrow card"><h1>Already set up</h1>
      <p>This server already has accounts, so first-run setup is closed. <a href="/">Log in</a> instead;
      an admin can add more accounts on the Users page.</p></section>`;
    return sendPage(reply, 403, shell({ title: 'Already set up', page: 'setup-closed', body, script: false }));
  }

  // serialises first-run setup in this instance (and the store's createFirstUser across instances), so two
  // submissions cannot both create an admin
  let setupLock: Promise<unknown> = Promise.resolve();

  app.post('/setup', { schema: SetupSchema }, async (request, reply) => {
    const run = setupLock.then(async () => {
      if ((await store.listUsers()).length > 0) return alreadySetUp(reply);
      const cookieToken = request.cookies[SETUP_COOKIE];
      if (!cookieToken || !sameToken(cookieToken, request.body._csrf) || !sameOrigin(request))
        return setupForm(reply, request, { status: 403, error: 'The form expired or came from another site. Please try again.', name: request.body.name });
      const name = request.body.name.trim();
      if (request.body.password !== request.body.confirm) return setupForm(reply, request, { status: 400, error: 'The two passwords differ.', name });
      let user;
      try {
        user = await addFirstAdmin(store, name, request.body.password);
      } catch (err) {
        if (err instanceof AppError && err.code === 'conflict') return alreadySetUp(reply);
        if (err instanceof AppError && err.statusCode < 500) return setupForm(reply, request, { status: err.statusCode, error: err.message, name });
        throw err;
      }
      request.log.info({ user: user.name }, 'first admin created from the web page');
      reply.clearCookie(SETUP_COOKIE, { path: '/setup' });
      await app.sessions.start(request, reply, user);
      return reply.redirect('/', 303);
    });
    setupLock = run.catch(() => {});
    return run;
  });

  // the login form posts here when the page script is not running (it normally calls POST /v1/session)
  app.post(
    '/login',
    { schema: LoginSchema },
    async (request, reply) => {
      if (!sameOrigin(request)) throw new AppError('forbidden', 'cross-site login refused');
      const r = await app.inject({
        method: 'POST',
        url: '/v1/session',
        payload: { name: request.body.name, password: request.body.password },
        remoteAddress: request.ip,
      });
      const cookies = r.headers['set-cookie'];
      if (r.statusCode === 200 && cookies) {
        reply.header('set-cookie', cookies);
        return reply.redirect('/', 303);
      }
      const message = (JSON.parse(r.body) as { error?: { message?: string } }).error?.message ?? 'could not log in';
      const body = html`<section class="narrow card"><h1>Log in</h1><p class="alert alert-error" role="alert">${message}</p>
        <p><a class="btn" href="/">Try again</a></p></section>`;
      return sendPage(reply, r.statusCode, shell({ title: 'Log in', page: 'login-failed', body, script: false }));
    },
  );

  // ---- pages ----
  for (const [url, def] of Object.entries(PAGES)) {
    app.get(url, { schema: { description: `the ${def.title} page (the login form when not logged in; first-run setup while there are no accounts)`, querystring: PageQuery, response: PageResponses } }, async (request, reply) => {
      const p = request.principal;
      if (!p || p.kind !== 'user') {
        if ((await store.listUsers()).length === 0) return setupForm(reply, request);
        return loginPage(reply, def.title);
      }
      const user: ShellUser = { id: p.user.id, name: p.user.name, admin: p.user.isAdmin };
      const csrf = p.session.csrfToken;
      if (def.admin && !user.admin) {
        const body = html`<section class="narrow card" id="admins-only">
          <h1>Admins only</h1>
          <p>Sorry, this page is only for admins. Ask an admin of this household if you need an account
          changed.</p>
          <p><a class="btn" href="/">Back to your items</a></p>
        </section>`;
        return sendPage(reply, 403, shell({ title: 'Admins only', page: 'forbidden', current: def.page, user, csrf, body }));
      }
      const body: Html = html`<div id="view" class="view" data-view="${def.page}"><p class="muted loading">Loading…</p></div>
        <noscript><p class="alert alert-error">This page needs JavaScript.</p></noscript>`;
      return sendPage(reply, 200, shell({ title: def.title, page: def.page, current: NAV_OF[def.page] ?? def.page, user, csrf, flags: flags(), body }));
    });
  }

  // ---- static files ----
  const assetParams = Type.Object({ '*': Type.String({ maxLength: 200 }) });
  const assetSchema = { schema: { description: "the page's scripts, stylesheet and icon (a fixed list)", params: assetParams, response: AssetResponses } };
  const protocolSchema = { schema: { description: 'the shared protocol module, where the page imports it from', params: assetParams, response: AssetResponses } };
  const sendAsset = (key: string, request: FastifyRequest, reply: FastifyReply) => {
    const a = assets.get(key);
    if (!a) throw new AppError('not_found', 'no such file');
    reply.header('cache-control', 'no-cache').header('etag', a.etag);
    if (request.headers['if-none-match'] === a.etag) return reply.status(304).send();
    return reply.type(a.type).send(a.body);
  };
  app.get('/assets/*', assetSchema, async (request, reply) => sendAsset(request.params['*'], request, reply));
  // the protocol package, where the page's modules import it from
  app.get('/protocol/*', protocolSchema, async (request, reply) => sendAsset(`protocol/${request.params['*']}`, request, reply));
  app.get('/favicon.ico', { schema: { description: 'the icon', response: { 301: redirect('to /assets/admin/icon.svg'), ...errors() } } }, async (_request, reply) => reply.redirect('/assets/admin/icon.svg', 301));
};

export default adminPage;
