/**
 * The admin web page end to end: a real server (compiled code from dist/) on a temp folder, driven by
 * Debian's Chromium through playwright-core. Screenshots of the main pages go to test/artifacts/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startTestServer, tempDir, REPO, SHARED, type TestServer } from './helpers/server.js';
import { DESKTOP, PHONE, haveChromium, launchBrowser, logIn, openPage, shoot, type WatchedPage } from './helpers/browser.js';

const XSS = '<script>alert(1)</script>';
const ROOT_PW = 'root-password-1';
const ANN_PW = 'ann-password-1';
const ANN_PW2 = 'ann-password-2';

const manifest = JSON.parse(fs.readFileSync(path.join(REPO, 'models', 'manifest.json'), 'utf8')) as { models: Array<{ name: string; labels?: string[] }> };
const COCO = manifest.models.find((m) => m.name === 'yolox_nano')!.labels!;

/** a server with the real detector (the repository's copy, in a temp models folder) and the text path */
async function startServer(): Promise<TestServer> {
  const labels = [...COCO, XSS];
  const modelsDir = tempDir('wa-models-');
  fs.copyFileSync(path.join(REPO, 'models', 'vendor', 'yolox_nano.onnx'), path.join(modelsDir, 'yolox_nano.onnx'));
  return startTestServer({ noModels: false, asrEngine: 'none', modelsDir, visionWorkers: 1 }, { labels });
}

const suite = haveChromium() ? describe : describe.skip;

suite('admin page (Chromium)', () => {
  let s: TestServer;
  let browser: Browser;
  let admin: WatchedPage;
  const pages: WatchedPage[] = [];
  let camToken = '';
  let xssToken = '';

  async function open(viewport = DESKTOP): Promise<WatchedPage> {
    const p = await openPage(browser, s.url, viewport);
    pages.push(p);
    return p;
  }

  beforeAll(async () => {
    s = await startServer();
    browser = await launchBrowser();
    admin = await open();
  });
  afterAll(async () => {
    await browser?.close();
    await s?.close();
  });

  it('first run offers to create the first admin, and only while there are no users', async () => {
    const { page } = admin;
    // a second visitor also sees the setup form now (its token and cookie are valid)...
    const other = await open(PHONE);
    await other.page.goto('/');
    await expect(other.page.getByRole('heading', { name: 'Welcome to whereabouts' }).isVisible()).resolves.toBe(true);
    await shoot(other.page, 'setup');

    // a forged post without the setup cookie/token creates nothing
    const forged = await fetch(`${s.url}/setup`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: 'x', name: 'mallory', password: 'mallory-pw-1', confirm: 'mallory-pw-1' }),
    });
    expect(forged.status).toBe(403);
    expect(await s.app.store.listUsers()).toHaveLength(0);

    const res = await page.goto('/');
    const headers = res!.headers();
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['x-content-type-options']).toBe('nosniff');
    await shoot(page, 'setup');
    await page.getByLabel('User name').fill('root');
    await page.getByLabel('Password', { exact: true }).fill(ROOT_PW);
    await page.getByLabel('Password again').fill('not-the-same');
    await page.getByRole('button', { name: 'Create admin account' }).click();
    await page.getByRole('alert').filter({ hasText: 'differ' }).waitFor();
    admin.errors.length = 0; // the refused form came back as a 400 page, as it should
    await page.getByLabel('Password', { exact: true }).fill(ROOT_PW);
    await page.getByLabel('Password again').fill(ROOT_PW);
    await page.getByRole('button', { name: 'Create admin account' }).click();
    await page.locator('#logout').waitFor();
    await page.getByRole('heading', { name: 'Items', level: 1 }).waitFor();
    await page.getByText('Nothing seen yet').waitFor();
    const cookie = (await admin.context.cookies()).find((c) => c.name === 'wa_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    // ...but once a user exists, that form is refused and creates nothing
    await other.page.getByLabel('User name').fill('mallory');
    await other.page.getByLabel('Password', { exact: true }).fill('mallory-pw-1');
    await other.page.getByLabel('Password again').fill('mallory-pw-1');
    await other.page.getByRole('button', { name: 'Create admin account' }).click();
    await other.page.getByRole('heading', { name: 'Already set up' }).waitFor();
    expect((await s.app.store.listUsers()).map((u) => u.name)).toEqual(['root']);
    // and the page offers a login, not setup
    await other.page.goto('/');
    await other.page.getByRole('heading', { name: 'Log in' }).waitFor();
    expect(await other.page.getByText('Welcome to whereabouts').count()).toBe(0);
    await other.close();
  });

  it('logs out, refuses a wrong password politely, logs in', async () => {
    const { page } = admin;
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.getByLabel('User name').fill('root');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#login-error', { hasText: 'Wrong user name or password.' }).waitFor();
    expect(admin.errors.splice(0)).toEqual(['console: Failed to load resource: the server responded with a status of 401 (Unauthorized)']);
    await logIn(page, 'root', ROOT_PW);
    await expect(page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).count()).resolves.toBe(1);
  });

  it('an admin adds users, resets a password, grants and removes admin, deletes a user', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Users' }).click();
    await page.locator('#users').waitFor();
    const form = page.locator('#user-form');
    for (const [name, pw] of [['ann', ANN_PW], ['temp', 'temp-password-1']]) {
      await form.getByLabel('User name').fill(name);
      await form.getByLabel('Password').fill(pw);
      await form.getByRole('button', { name: 'Add user' }).click();
      await page.locator('#users tr', { hasText: name }).waitFor();
    }
    const temp = page.locator('#users tbody tr', { hasText: 'temp' });
    await temp.getByRole('button', { name: 'Make admin' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Make admin' }).click();
    await temp.locator('.badge-admin').waitFor();
    expect((await s.app.store.getUserByName('temp'))!.isAdmin).toBe(true);
    await temp.getByRole('button', { name: 'Remove admin' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Remove admin' }).click();
    await temp.getByRole('button', { name: 'Make admin' }).waitFor();
    expect((await s.app.store.getUserByName('temp'))!.isAdmin).toBe(false);

    const ann = page.locator('#users tbody tr', { hasText: 'ann' });
    await ann.getByRole('button', { name: 'Reset password' }).click();
    const dlg = page.getByRole('dialog');
    await dlg.getByLabel('New password').fill('short');
    await dlg.getByRole('button', { name: 'Set password' }).click();
    expect(await dlg.isVisible()).toBe(true); // too short: stays open
    await dlg.getByLabel('New password').fill(ANN_PW2);
    await dlg.getByRole('button', { name: 'Set password' }).click();
    await dlg.waitFor({ state: 'detached' });
    expect((await s.client().login('ann', ANN_PW2)).status).toBe(200);

    await temp.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete user' }).click();
    await temp.waitFor({ state: 'detached' });
    expect(await s.app.store.getUserByName('temp')).toBeNull();
    // the last admin cannot be demoted or deleted from the page
    const root = page.locator('#users tbody tr', { hasText: 'root' });
    await expect(root.getByRole('button', { name: 'Delete' }).isDisabled()).resolves.toBe(true);
  });

  it('devices: adds one and shows its token once with the setup line; rename, room, revoke', async () => {
    const { page } = admin;
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    await page.getByText('No devices yet').waitFor();
    const form = page.locator('#device-form');

    async function addDevice(name: string, room: string): Promise<string> {
      // a token still shown from the device added before must not be taken for this one's
      const shown = page.locator('#device-token');
      const previous = (await shown.count()) ? await shown.inputValue() : null;
      await form.getByLabel('Name').fill(name);
      await form.getByLabel('Room').fill(room);
      await form.getByRole('button', { name: 'Add device' }).click();
      await shown.waitFor();
      await page.waitForFunction((prev) => {
        const v = (document.querySelector('#device-token') as HTMLInputElement | null)?.value ?? '';
        return v !== '' && v !== prev;
      }, previous);
      const token = await shown.inputValue();
      expect(token).toMatch(/^wad_/);
      expect(await page.locator('#setup-command').textContent()).toBe(`whereabouts-pi setup --server ${s.url} --token ${token}`);
      await page.locator('#devices tr', { hasText: name }).first().waitFor();
      return token;
    }

    camToken = await addDevice('kitchen cam', 'kitchen');
    const me = await s.client(camToken).get('/v1/device');
    expect(me.status).toBe(200);
    expect(me.body.device).toMatchObject({ name: 'kitchen cam', room: 'kitchen' });
    await shoot(page, 'devices-new-token');
    await page.getByRole('button', { name: 'Done, I have copied it' }).click();
    expect(await page.locator('#device-token').count()).toBe(0);

    xssToken = await addDevice(XSS, XSS);
    const oldToken = await addDevice('old cam', 'hall');
    await page.getByRole('button', { name: 'Done, I have copied it' }).click();

    const row = page.locator('#devices tbody tr', { hasText: 'old cam' });
    await row.getByRole('button', { name: 'Edit' }).click();
    const dlg = page.getByRole('dialog');
    await dlg.getByLabel('Name').fill('garage cam');
    await dlg.getByLabel('Room').fill('garage');
    await dlg.getByRole('button', { name: 'Save' }).click();
    const garage = page.locator('#devices tbody tr', { hasText: 'garage cam' });
    await garage.locator('.device-room', { hasText: 'garage' }).waitFor();
    expect((await s.client(oldToken).get('/v1/device')).body.device).toMatchObject({ name: 'garage cam', room: 'garage' });

    await garage.getByRole('button', { name: 'Revoke' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
    await garage.waitFor({ state: 'detached' }); // revoked devices are hidden unless asked for
    expect((await s.client(oldToken).get('/v1/device')).status).toBe(401);
    await page.getByLabel('Show revoked').check();
    await page.locator('#devices tbody tr.revoked', { hasText: 'garage cam' }).locator('.badge-revoked').waitFor();
    await page.getByLabel('Show revoked').uncheck();
  });

  it('sightings posted by the device show up in Items with the snapshot and box; filters; history', async () => {
    const cam = s.client(camToken);
    const seen = new Date(Date.now() - 4 * 60_000).toISOString();
    const post = await cam.post('/v1/sightings', {
      seen_at: seen,
      detections: [
        { label: 'cup', score: 0.9, box: [0.45, 0.4, 0.1, 0.15] },
        { label: 'dining table', score: 0.8, box: [0.1, 0.5, 0.8, 0.5] },
        { label: 'book', score: 0.7, box: [0.7, 0.6, 0.2, 0.1] },
      ],
    });
    expect(post.status).toBe(201);
    // a camera frame with the cup on the table: the cup's latest sighting now has a snapshot
    const png = fs.readFileSync(path.join(SHARED, 'images', 'coffee.png'));
    const up = await cam.post('/v1/frames', png, { 'content-type': 'image/png' });
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    expect(up.body.detections.map((d: { label: string }) => d.label)).toContain('cup');
    const x = await s.client(xssToken).post('/v1/sightings', { detections: [{ label: XSS, score: 0.7, box: [0.2, 0.2, 0.3, 0.3] }, { label: 'bottle', score: 0.6, box: [0.6, 0.1, 0.1, 0.3] }] });
    expect(x.status).toBe(201);

    const { page } = admin;
    await page.getByRole('link', { name: 'Items' }).click();
    const cup = page.locator('.item-card[data-label="cup"]');
    await cup.waitFor();
    const items = (await (await page.request.get('/v1/items')).json()) as {
      items: Array<{ label: string; latest: { box: number[]; snapshot_url: string | null; room: string; seen_at: string } }>;
    };
    const latest = items.items.find((i) => i.label === 'cup')!.latest;
    expect(await cup.locator('.item-where').textContent()).toBe('kitchen · kitchen cam');
    const box = await cup.locator('.snap-box').evaluate((el: HTMLElement) => [el.style.left, el.style.top, el.style.width, el.style.height]);
    box.forEach((v, i) => {
      expect(v.endsWith('%')).toBe(true);
      expect(parseFloat(v)).toBeCloseTo(latest.box[i] * 100, 1);
    });
    expect(latest.snapshot_url).toMatch(/^\/v1\/frames\/\d+\/snapshot$/);
    {
      const img = cup.locator('.snap img');
      await expect(img.getAttribute('src')).resolves.toBe(latest.snapshot_url);
      await page.waitForFunction((el) => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0, await img.elementHandle());
      // the box sits over the image where the detector put it
      const ib = (await img.boundingBox())!;
      const bb = (await cup.locator('.snap-box').boundingBox())!;
      expect(Math.abs(bb.x - (ib.x + latest.box[0] * ib.width))).toBeLessThan(3);
      expect(Math.abs(bb.width - latest.box[2] * ib.width)).toBeLessThan(4);
    }
    // an item without a snapshot says so
    await page.locator('.item-card[data-label="book"] .snap-none').waitFor();
    const book = page.locator('.item-card[data-label="book"]');
    await expect(book.locator('time').textContent()).resolves.toBe('4 minutes ago');
    // latest first: every item once, each seen no later than the one above it; the oldest (book) last
    const order = (await page.locator('.item-card').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.label))) as string[];
    expect([...order].sort()).toEqual(items.items.map((i) => i.label).sort());
    const seenAt = new Map(items.items.map((i) => [i.label, Date.parse(i.latest.seen_at)]));
    const times = order.map((l) => seenAt.get(l)!);
    expect(times.every((t, i) => i === 0 || t <= times[i - 1]), `${order.join(', ')} / ${times.join(', ')}`).toBe(true);
    expect(order.at(-1)).toBe('book');

    // filters
    await page.getByLabel('Item', { exact: true }).fill('cup');
    await expect(page.locator('.item-card').count()).resolves.toBe(1);
    await page.getByLabel('Item', { exact: true }).fill('');
    await page.getByLabel('Room').selectOption('kitchen');
    expect(await page.locator('.item-card').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.label).sort())).toEqual(
      items.items.filter((i) => i.latest.room === 'kitchen').map((i) => i.label).sort(),
    );
    await page.getByLabel('Seen').selectOption('1h');
    await expect(page.locator('.item-card').count()).resolves.toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByLabel('Item', { exact: true }).fill('no such thing');
    await page.getByText('No items match').waitFor();
    await page.getByLabel('Item', { exact: true }).fill('');
    await page.locator(`.item-card[data-label="${XSS}"]`).waitFor();

    // history of one item
    await cup.getByRole('link', { name: 'cup', exact: true }).click();
    await page.waitForURL(/\/item\?label=cup$/);
    await page.getByRole('heading', { name: 'cup', level: 1 }).waitFor();
    await page.locator('#history .history-row').first().waitFor();
    expect(await page.locator('#history .history-row').count()).toBeGreaterThanOrEqual(1);
    await page.locator('#history .history-row').getByText('kitchen', { exact: true }).first().waitFor();
  });

  it('asks "where is my cup" and reads the answer; recent questions show their timings', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Ask' }).click();
    await page.getByLabel('Your question').fill('where is my cup');
    await page.getByRole('button', { name: 'Ask', exact: true }).click();
    const reply = page.locator('#reply');
    await reply.waitFor();
    const text = (await reply.textContent())!;
    expect(text).toMatch(/cup/i);
    expect(text).toMatch(/kitchen/);
    await page.locator('.answer-card .snap-box').waitFor();
    await page.locator('.answer-card .timings').getByText('lookup').waitFor();
    if (s.app.speech) {
      await page.getByRole('button', { name: /Hear it/ }).click();
      await page.locator('audio.player').waitFor();
    } else {
      // no synthesiser: no button, a polite note instead
      expect(await page.getByRole('button', { name: /Hear it/ }).count()).toBe(0);
      await page.locator('#speech-off').waitFor();
    }
    // the 406 of the API (when there is no synthesiser) stays graceful
    const r406 = await page.evaluate(async () => {
      const csrf = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')!.content;
      const r = await fetch('/v1/query?audio=wav', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: '{"text":"where is my cup"}' });
      return r.status;
    });
    expect(r406).toBe(s.app.speech ? 200 : 406);
    // a suggestion chip asks too
    await page.getByRole('button', { name: 'where is my cup?' }).waitFor();

    await page.getByRole('link', { name: 'Questions' }).click();
    const row = page.locator('#questions tbody tr', { hasText: 'where is my cup' }).first();
    await row.waitFor();
    expect(await row.locator('.q-reply').textContent()).toBe(text);
    await row.locator('.tlist').getByText('lookup').waitFor();
    await row.locator('.tlist').getByText('understanding').waitFor();
    await row.locator('.badge-outcome', { hasText: 'found' }).waitFor();
  });

  it('labels, device names and rooms containing <script> render as text', async () => {
    const { page, dialogs } = admin;
    await page.goto('/');
    const card = page.locator(`.item-card[data-label="${XSS}"]`);
    await card.waitFor();
    expect(await card.locator('.item-label').textContent()).toBe(XSS);
    expect(await card.locator('.item-where').textContent()).toBe(`${XSS} · ${XSS}`);
    await expect(card.locator('.item-label').isVisible()).resolves.toBe(true);
    await page.goto('/devices');
    const row = page.locator('#devices tbody tr', { hasText: XSS });
    await row.waitFor();
    expect(await row.locator('.device-name').textContent()).toBe(XSS);
    expect(await row.locator('.device-room').textContent()).toBe(XSS);
    await page.goto(`/item?label=${encodeURIComponent(XSS)}`);
    await page.getByRole('heading', { name: XSS }).waitFor();
    await page.locator('#history .history-row').first().waitFor();
    await page.goto('/ask');
    await page.getByLabel('Your question').fill(`where is my ${XSS}`);
    await page.getByRole('button', { name: 'Ask', exact: true }).click();
    await page.locator('#reply').waitFor();
    await page.goto('/questions');
    await page.locator('#questions').getByText(`where is my ${XSS}`).waitFor();
    expect(await page.locator('#main script').count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it('a non-admin sees only their own things: no admin sections, "admins only" on a direct visit, 403 from the API', async () => {
    const ann = await open(PHONE);
    const { page } = ann;
    await logIn(page, 'ann', ANN_PW2);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Items' }).waitFor();
    expect(await nav.getByRole('link', { name: 'Users' }).count()).toBe(0);
    await page.getByText('Nothing seen yet').waitFor(); // root's cup is not hers
    const res = await page.goto('/users');
    expect(res!.status()).toBe(403);
    await page.getByRole('heading', { name: 'Admins only' }).waitFor();
    expect(await page.locator('#users').count()).toBe(0);
    expect((await page.request.get('/v1/users')).status()).toBe(403);
    await page.goto('/devices');
    await page.getByRole('heading', { name: 'Your devices' }).waitFor();
    expect(await page.locator('#device-form select').count()).toBe(0); // no owner choice
    await page.getByText('No devices yet').waitFor();
    await page.goto('/questions');
    await page.getByText('No questions yet').waitFor();
    expect(await page.getByLabel('Everyone’s questions').count()).toBe(0);
    await page.goto('/users');
    await shoot(page, 'member-admins-only');
    // the only "errors" are the 403 answers this test asked for (the /users page and GET /v1/users)
    expect(ann.errors.filter((e) => !/status of 403/.test(e))).toEqual([]);
    await ann.close();
  });

  it('changing the password on the Account page ends the other sessions', async () => {
    const a = await open();
    const b = await open();
    await logIn(a.page, 'ann', ANN_PW2);
    await logIn(b.page, 'ann', ANN_PW2);
    await a.page.goto('/account');
    await a.page.getByLabel('Current password').fill(ANN_PW2);
    await a.page.getByLabel('New password', { exact: true }).fill(ANN_PW);
    await a.page.getByLabel('New password again').fill(ANN_PW);
    await a.page.getByRole('button', { name: 'Change password' }).click();
    await a.page.getByText('Password changed').waitFor();
    // this tab still works with its fresh CSRF token
    await a.page.goto('/ask');
    await a.page.getByLabel('Your question').fill('where is my cup');
    await a.page.getByRole('button', { name: 'Ask', exact: true }).click();
    await a.page.locator('#reply').waitFor();
    // the other browser is logged out
    await b.page.goto('/');
    await b.page.getByRole('heading', { name: 'Log in' }).waitFor();
    await a.close();
    await b.close();
  });

  it('saves screenshots of the main pages at phone and desktop size', async () => {
    const shots: string[] = [];
    for (const vp of [PHONE, DESKTOP]) {
      const w = await open(vp);
      const { page } = w;
      await page.goto('/');
      shots.push(await shoot(page, 'login'));
      await logIn(page, 'root', ROOT_PW);
      await page.locator('.item-card').first().waitFor();
      await page.locator('.item-card[data-label="cup"] img').evaluate((img: HTMLImageElement) => img.decode());
      shots.push(await shoot(page, 'items'));
      if (vp === DESKTOP) {
        await page.emulateMedia({ colorScheme: 'dark' });
        shots.push(await shoot(page, 'items-dark'));
        await page.emulateMedia({ colorScheme: 'light' });
      }
      await page.goto('/item?label=cup');
      await page.locator('#history .history-row').first().waitFor();
      shots.push(await shoot(page, 'item-history'));
      await page.goto('/devices');
      await page.locator('#devices').waitFor();
      shots.push(await shoot(page, 'devices'));
      await page.goto('/users');
      await page.locator('#users').waitFor();
      shots.push(await shoot(page, 'users'));
      await page.goto('/ask');
      await page.getByLabel('Your question').fill('where is my cup?');
      await page.getByRole('button', { name: 'Ask', exact: true }).click();
      await page.locator('#reply').waitFor();
      await page.locator('.answer-card img').evaluate((img: HTMLImageElement) => img.decode());
      shots.push(await shoot(page, 'ask'));
      await page.goto('/questions');
      await page.locator('#questions').waitFor();
      shots.push(await shoot(page, 'questions'));
      await page.getByRole('link', { name: /Your account/ }).click();
      await page.locator('#password-form').waitFor();
      shots.push(await shoot(page, 'account'));
      // no horizontal scrolling on any page
      for (const p of ['/', '/devices', '/users', '/ask', '/questions']) {
        await page.goto(p);
        await page.locator('#view > :not(.loading)').first().waitFor();
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        expect(overflow, `${p} at ${vp.width}px`).toBeLessThanOrEqual(0);
      }
      expect(w.errors).toEqual([]);
      expect(w.dialogs).toEqual([]);
      await w.close();
    }
    for (const f of shots) expect(fs.statSync(f).size).toBeGreaterThan(1000);
    // nothing went wrong in the main admin tab either (CSP violations are console errors)
    expect(admin.errors).toEqual([]);
  });
});
