/** The admin page over plain HTTP (no browser): escaping, headers, static files, first-run rules, form login. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { esc, html, shell } from '../dist/assistant/admin/html.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const XSS = '<script>alert(1)</script>';

describe('admin page: HTML escaping', () => {
  it('escapes text and attribute values', () => {
    expect(esc(`${XSS}"'&`)).toBe('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;');
    expect(html`<p title="${'a"b'}">${XSS}</p>`.value).toBe('<p title="a&quot;b">&lt;script&gt;alert(1)&lt;/script&gt;</p>');
    expect(html`<ul>${['<a>', html`<li>ok</li>`]}</ul>`.value).toBe('<ul>&lt;a&gt;<li>ok</li></ul>');
  });
  it('the shell escapes the user name and the CSRF token', () => {
    const page = shell({ title: XSS, page: 'items', user: { id: 1, name: XSS, admin: false }, csrf: '"><script>x</script>' });
    expect(page).not.toContain('<script>alert');
    expect(page).not.toContain('<script>x');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    // no inline script at all: only the module file
    expect(page.match(/<script/g)).toHaveLength(1);
    expect(page).toContain('<script type="module" src="/assets/admin/client/app.js"></script>');
    expect(page).not.toContain('style=');
  });
});

describe('admin page over HTTP', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => s?.close());

  const get = (url: string, headers: Record<string, string> = {}) => fetch(s.url + url, { headers, redirect: 'manual' });
  const form = (url: string, body: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(s.url + url, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(body) });

  it('first run: the setup form needs its cookie and token, then works once; afterwards it is closed', async () => {
    const r = await get('/');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    expect(r.headers.get('cache-control')).toBe('no-store');
    const page = await r.text();
    expect(page).toContain('Welcome to whereabouts');
    const token = /name="_csrf" value="([^"]+)"/.exec(page)![1];
    const cookie = r.headers.getSetCookie().find((c) => c.startsWith('wa_setup='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const jar = cookie.split(';')[0];
    const body = { _csrf: token, name: 'root', password: 'root-password-1', confirm: 'root-password-1' };
    // the right token without the cookie, or the cookie with a wrong token, or from another site: refused
    expect((await form('/setup', body)).status).toBe(403);
    expect((await form('/setup', { ...body, _csrf: 'x'.repeat(token.length) }, { cookie: jar })).status).toBe(403);
    expect((await form('/setup', body, { cookie: jar, origin: 'https://evil.example' })).status).toBe(403);
    expect(await s.app.store.listUsers()).toHaveLength(0);
    // a bad password is explained on the same form, with the name kept (escaped)
    const weak = await form('/setup', { ...body, password: 'short', confirm: 'short' }, { cookie: jar, origin: s.url });
    expect(weak.status).toBe(400);
    expect(await weak.text()).toContain('at least 8 characters');
    const ok = await form('/setup', body, { cookie: jar, origin: s.url });
    expect(ok.status).toBe(303);
    expect(ok.headers.get('location')).toBe('/');
    expect(ok.headers.getSetCookie().some((c) => c.startsWith('wa_session='))).toBe(true);
    expect((await s.app.store.listUsers()).map((u) => ({ name: u.name, admin: u.isAdmin }))).toEqual([{ name: 'root', admin: true }]);
    // now closed for good, even with a valid token and cookie
    const again = await form('/setup', { ...body, name: 'second' }, { cookie: jar, origin: s.url });
    expect(again.status).toBe(403);
    expect(await again.text()).toContain('Already set up');
    expect(await s.app.store.listUsers()).toHaveLength(1);
    expect(await (await get('/')).text()).toContain('id="login-form"');
  });

  it('the login form also works without the page script, and refuses other sites', async () => {
    const bad = await form('/login', { name: 'root', password: 'wrong-password' });
    expect(bad.status).toBe(401);
    expect(await bad.text()).toContain('wrong user name or password');
    expect((await form('/login', { name: 'root', password: 'root-password-1' }, { origin: 'https://evil.example' })).status).toBe(403);
    const ok = await form('/login', { name: 'root', password: 'root-password-1' }, { origin: s.url });
    expect(ok.status).toBe(303);
    const session = ok.headers.getSetCookie().find((c) => c.startsWith('wa_session='))!;
    expect(session).toMatch(/HttpOnly/);
    expect(session).toMatch(/SameSite=Strict/);
    const page = await (await get('/devices', { cookie: session.split(';')[0] })).text();
    expect(page).toContain('data-page="devices"');
    expect(page).toMatch(/<meta name="csrf-token" content="[^"]+">/);
  });

  it('serves only the whitelisted static files', async () => {
    for (const [url, type] of [
      ['/assets/admin/client/app.js', 'text/javascript'],
      ['/assets/admin/client/pcm-worklet.js', 'text/javascript'],
      ['/protocol/protocol.js', 'text/javascript'],
      ['/assets/admin/admin.css', 'text/css'],
      ['/assets/admin/icon.svg', 'image/svg+xml'],
    ]) {
      const r = await get(url);
      expect(r.status, url).toBe(200);
      expect(r.headers.get('content-type')).toContain(type);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      const etag = r.headers.get('etag')!;
      expect((await get(url, { 'if-none-match': etag })).status).toBe(304);
    }
    const js = await (await get('/assets/admin/client/app.js')).text();
    expect(js).not.toContain('sourceMappingURL');
    for (const url of ['/assets/admin/plugin.js', '/assets/../package.json', '/assets/%2e%2e/%2e%2e/package.json', '/assets/admin/client/app.js.map', '/assets/config.js'])
      expect((await get(url)).status, url).toBe(404);
  });
});
