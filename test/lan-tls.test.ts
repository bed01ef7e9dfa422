/**
 * The server on a home network: the addresses it prints, the setup line the admin page hands out for a Pi,
 * HTTPS beside plain HTTP (a self-signed certificate made with openssl, or one given with --tls-cert/--tls-key)
 * so a phone's browser may use the microphone, and the page over plain http:// from another machine
 * (no COOP header there, copy buttons that select the text, the Ask page saying why there is no microphone).
 * Real `whereabouts serve` processes, real HTTP/HTTPS/WebSocket connections, Debian's Chromium.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Browser } from 'playwright-core';
import { lanAddresses, reachableUrls, setupAddress } from '../dist/assistant/lan.js';
import { ensureSelfSigned } from '../dist/assistant/tls.js';
import { freePort, run, serve } from './helpers/proc.js';
import { haveChromium, launchBrowser, logIn, openPage } from './helpers/browser.js';
import { tempDir } from './helpers/tmp.js';

type Server = Awaited<ReturnType<typeof serve>>;
const PW = 'ann-password-1';

/** GET/POST over https trusting only `ca` */
function httpsRequest(url: string, ca: Buffer, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method: opts.method ?? 'GET', headers: opts.headers, ca }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** logs in over plain HTTP at `base`; returns the cookie and CSRF headers for later requests */
async function session(base: string): Promise<Record<string, string>> {
  const r = await fetch(`${base}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ann', password: PW }) });
  expect(r.status).toBe(200);
  const cookie = r.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  return { cookie, 'x-csrf-token': ((await r.json()) as { csrf_token: string }).csrf_token, 'content-type': 'application/json' };
}

async function addDevice(base: string, headers: Record<string, string>, name: string) {
  const r = await fetch(`${base}/v1/devices`, { method: 'POST', headers, body: JSON.stringify({ name, room: 'kitchen' }) });
  expect(r.status).toBe(201);
  return (await r.json()) as { token: string; setup_command: string; setup_note: string | null };
}

describe('addresses', () => {
  const ifaces = {
    lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }],
    eth0: [
      { address: '192.168.1.20', family: 'IPv4', internal: false },
      { address: 'fe80::1', family: 'IPv6', internal: false },
      { address: 'fd00::20', family: 'IPv6', internal: false },
    ],
    wlan0: [{ address: '10.0.0.5', family: 'IPv4', internal: false }],
  } as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>;

  it('lists the LAN addresses a server can be reached on', () => {
    expect(lanAddresses(ifaces)).toEqual(['192.168.1.20', '10.0.0.5', 'fd00::20']);
    expect(reachableUrls('0.0.0.0', 8080, 'http', ifaces)).toEqual({ local: 'http://127.0.0.1:8080', lan: ['http://192.168.1.20:8080', 'http://10.0.0.5:8080'], loopbackOnly: false });
    expect(reachableUrls('::', 8443, 'https', ifaces).lan).toEqual(['https://192.168.1.20:8443', 'https://10.0.0.5:8443', 'https://[fd00::20]:8443']);
    expect(reachableUrls('127.0.0.1', 8080, 'http', ifaces)).toEqual({ local: 'http://127.0.0.1:8080', lan: [], loopbackOnly: true });
    expect(reachableUrls('192.168.1.20', 9000, 'http', ifaces).lan).toEqual(['http://192.168.1.20:9000']);
  });

  it('gives a Pi an address it can use, and says so when there is none', () => {
    const lan = reachableUrls('0.0.0.0', 8080, 'http', ifaces);
    const loop = reachableUrls('127.0.0.1', 8080, 'http', ifaces);
    expect(setupAddress('http', '192.168.1.20:8080', lan)).toEqual({ url: 'http://192.168.1.20:8080', note: null });
    expect(setupAddress('https', 'wa.example.org', lan)).toEqual({ url: 'https://wa.example.org', note: null }); // behind a proxy
    expect(setupAddress('http', '127.0.0.1:8080', lan)).toEqual({ url: 'http://192.168.1.20:8080', note: null });
    expect(setupAddress('http', 'localhost:8080', lan)).toEqual({ url: 'http://192.168.1.20:8080', note: null });
    const only = setupAddress('http', '127.0.0.1:8080', loop);
    expect(only.url).toBe('http://127.0.0.1:8080');
    expect(only.note).toMatch(/listens only on this machine .* --host 0\.0\.0\.0/);
  });
});

describe('a server on the LAN with HTTPS beside HTTP (--host 0.0.0.0 --tls-self-signed)', () => {
  const dataDir = tempDir('wa-lan-');
  const lanIp = lanAddresses().find((a) => !a.includes(':'));
  let srv: Server;
  let tlsPort: number;
  let cert: Buffer;

  beforeAll(async () => {
    const u = await run(['user', 'add', 'ann', '--admin', '--data-dir', dataDir], { input: `${PW}\n` });
    expect(u.code, u.stderr).toBe(0);
    tlsPort = await freePort();
    srv = await serve(['--data-dir', dataDir, '--no-models', '--host', '0.0.0.0', '--tls-self-signed', '--tls-port', String(tlsPort)]);
    cert = fs.readFileSync(path.join(dataDir, 'tls', 'cert.pem'));
  }, 120_000);
  afterAll(async () => srv?.stop());

  it('prints where it can be reached, and the certificate it made', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const logs = srv.logs();
    expect(logs).toContain(`whereabouts is ready at http://127.0.0.1:${srv.port}/`);
    if (lanIp) expect(logs).toContain(`on your network: http://${lanIp}:${srv.port}/`);
    else expect(logs).toMatch(/no network address other machines could use/);
    const fp = new crypto.X509Certificate(cert).fingerprint256;
    expect(logs).toContain(`HTTPS (self-signed certificate: the browser asks once to accept it; SHA-256 ${fp}): https://127.0.0.1:${tlsPort}/`);
    // the certificate names this machine's addresses, and its key is private
    const san = new crypto.X509Certificate(cert).subjectAltName ?? '';
    expect(san).toContain('IP Address:127.0.0.1');
    if (lanIp) expect(san).toContain(`IP Address:${lanIp}`);
    expect(fs.statSync(path.join(dataDir, 'tls', 'key.pem')).mode & 0o077).toBe(0);
  });

  it('serves the same app over HTTPS (verified against the certificate), WebSocket upgrades included', async () => {
    const h = await httpsRequest(`https://127.0.0.1:${tlsPort}/healthz`, cert);
    expect(h.status).toBe(200);
    expect(JSON.parse(h.body).ok).toBe(true);
    // the voice socket works over wss:// too: the upgrade goes through, and without a token the server says so
    const first = await new Promise<{ type?: string; code?: string }>((resolve, reject) => {
      const ws = new WebSocket(`wss://127.0.0.1:${tlsPort}/v1/listen`, { ca: cert });
      ws.on('message', (d) => {
        resolve(JSON.parse(String(d)));
        ws.close();
      });
      ws.on('unexpected-response', (_req, res) => resolve({ type: 'http', code: String(res.statusCode) }));
      ws.on('error', reject);
    });
    expect(first).toMatchObject({ type: 'error', code: 'unauthorized' });
    // an untrusted client is refused by TLS itself (the certificate is not in the default store)
    await expect(fetch(`https://127.0.0.1:${tlsPort}/healthz`)).rejects.toThrow();
  });

  it('hands out a setup line with a LAN address, also to a page opened on this machine or over HTTPS', async () => {
    const headers = await session(srv.url);
    const d = await addDevice(srv.url, headers, 'kitchen pi');
    if (lanIp) {
      expect(d.setup_command).toBe(`whereabouts-pi setup --server http://${lanIp}:${srv.port} --token ${d.token}`);
      expect(d.setup_note).toBeNull();
      // opened at the LAN address itself
      const viaLan = await addDevice(`http://${lanIp}:${srv.port}`, headers, 'hall pi');
      expect(viaLan.setup_command).toContain(`--server http://${lanIp}:${srv.port} `);
      // through the HTTPS listener: the Pi still gets plain HTTP (it does not trust a self-signed certificate)
      const r = await httpsRequest(`https://127.0.0.1:${tlsPort}/v1/devices`, cert, { method: 'POST', headers, body: JSON.stringify({ name: 'porch pi' }) });
      expect(r.status).toBe(201);
      expect(JSON.parse(r.body).setup_command).toContain(`--server http://${lanIp}:${srv.port} `);
    } else {
      expect(d.setup_note).toMatch(/no network address/);
    }
  });

  it('sends COOP only where browsers honour it (https, localhost), not to a plain http:// LAN page', async () => {
    const local = await fetch(`${srv.url}/`);
    expect(local.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    const secure = await httpsRequest(`https://127.0.0.1:${tlsPort}/`, cert);
    expect(secure.headers['cross-origin-opener-policy']).toBe('same-origin');
    if (lanIp) {
      const lan = await fetch(`http://${lanIp}:${srv.port}/`);
      expect(lan.status).toBe(200);
      expect(lan.headers.get('cross-origin-opener-policy')).toBeNull();
      expect(lan.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    }
  });

  // needs a LAN address (every CI machine has one; a machine without a network skips it outside CI)
  const browserSuite = haveChromium() && (lanIp || process.env.CI === 'true') ? it : it.skip;
  browserSuite('the page over plain http:// from another machine: copy selects the text, the Ask page explains the microphone', async () => {
    expect(lanIp, 'this machine has no LAN address').toBeTruthy();
    let browser: Browser | null = null;
    try {
      browser = await launchBrowser();
      const lanBase = `http://${lanIp}:${srv.port}`;
      const w = await openPage(browser, lanBase);
      await logIn(w.page, 'ann', PW);
      expect(await w.page.evaluate(() => window.isSecureContext)).toBe(false);

      await w.page.goto('/ask');
      const note = w.page.locator('#talk-https');
      await note.waitFor();
      expect(await note.textContent()).toMatch(/needs the microphone, which browsers give only to https:\/\/ pages/);
      expect(await note.locator('a').getAttribute('href')).toBe(`https://${lanIp}:${tlsPort}/ask`);
      expect(await w.page.locator('#talk').count()).toBe(0);

      await w.page.goto('/devices');
      const form = w.page.locator('#device-form');
      await form.getByLabel('Name').fill('study pi');
      await form.getByRole('button', { name: 'Add device' }).click();
      const setup = w.page.locator('#setup-command');
      await setup.waitFor();
      const line = (await setup.textContent())!;
      expect(line).toMatch(new RegExp(`^whereabouts-pi setup --server http://${lanIp.replace(/\./g, '\\.')}:${srv.port} --token wad_`));
      expect(await w.page.locator('#setup-note').count()).toBe(0);
      await w.page.getByRole('button', { name: 'Copy setup command' }).click();
      expect(await w.page.evaluate(() => window.getSelection()?.toString())).toBe(line);
      await w.page.getByRole('button', { name: 'Copy token' }).click();
      expect(await w.page.evaluate(() => (document.activeElement as HTMLInputElement).id)).toBe('device-token');
      expect(w.errors.filter((e) => !/favicon/.test(e))).toEqual([]);
      expect(w.dialogs).toEqual([]);

      // the same page over HTTPS (certificate accepted once): a secure context, so hold to talk is offered
      const s = await browser.newContext({ baseURL: `https://${lanIp}:${tlsPort}`, ignoreHTTPSErrors: true });
      const sp = await s.newPage();
      await logIn(sp, 'ann', PW);
      await sp.goto('/ask');
      await sp.locator('#talk').waitFor();
      expect(await sp.evaluate(() => window.isSecureContext)).toBe(true);
      expect(await sp.locator('#talk-https').count()).toBe(0);
    } finally {
      await browser?.close();
    }
  });

  it('reuses its certificate on the next start, and makes a new one when the addresses change', async () => {
    const dir = tempDir('wa-tls-');
    const a = ensureSelfSigned(dir, ['DNS:localhost', 'IP:127.0.0.1']);
    const b = ensureSelfSigned(dir, ['DNS:localhost', 'IP:127.0.0.1']);
    expect(b.fingerprint).toBe(a.fingerprint);
    const c = ensureSelfSigned(dir, ['DNS:localhost', 'IP:127.0.0.1', 'IP:192.168.7.7']);
    expect(c.fingerprint).not.toBe(a.fingerprint);
    expect(new crypto.X509Certificate(c.cert).subjectAltName).toContain('IP Address:192.168.7.7');
  });
});

describe('--tls-cert/--tls-key, and a server on loopback only', () => {
  it('serves a given certificate; refuses a key that does not match, in one line', async () => {
    const dir = tempDir('wa-tls-given-');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'k.pem'), '-out', path.join(dir, 'c.pem'), '-days', '2', '-subj', '/CN=test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    execFileSync('openssl', ['genpkey', '-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', path.join(dir, 'other.pem')], { stdio: 'ignore' });
    const tlsPort = await freePort();
    const srv = await serve(['--data-dir', dir, '--no-models', '--tls-cert', path.join(dir, 'c.pem'), '--tls-key', path.join(dir, 'k.pem'), '--tls-port', String(tlsPort)]);
    try {
      const r = await httpsRequest(`https://127.0.0.1:${tlsPort}/healthz`, fs.readFileSync(path.join(dir, 'c.pem')));
      expect(r.status).toBe(200);
      expect(srv.logs()).toContain(`certificate ${path.join(dir, 'c.pem')}`);
    } finally {
      await srv.stop();
    }
    const bad = await run(['serve', '--data-dir', dir, '--no-models', '--port', String(await freePort()), '--tls-cert', path.join(dir, 'c.pem'), '--tls-key', path.join(dir, 'other.pem')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n').pop()).toMatch(/the TLS key does not belong to the certificate .*c\.pem/);
    const half = await run(['serve', '--data-dir', dir, '--no-models', '--tls-cert', path.join(dir, 'c.pem')]);
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/give both --tls-cert and --tls-key/);
  });

  it('on 127.0.0.1 it says only this machine can reach it, and the setup line says what to change', async () => {
    const dir = tempDir('wa-loop-');
    expect((await run(['user', 'add', 'ann', '--admin', '--data-dir', dir], { input: `${PW}\n` })).code).toBe(0);
    const srv = await serve(['--data-dir', dir, '--no-models']);
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(srv.logs()).toContain('only this machine can reach it (--host 127.0.0.1); for a Pi or a phone on your network: --host 0.0.0.0');
      const d = await addDevice(srv.url, await session(srv.url), 'kitchen pi');
      expect(d.setup_command).toBe(`whereabouts-pi setup --server http://127.0.0.1:${srv.port} --token ${d.token}`);
      expect(d.setup_note).toMatch(/restart it with --host 0\.0\.0\.0/);
    } finally {
      await srv.stop();
    }
  });
});
