/**
 * Zones on the admin page, end to end in Chromium with the real parts: the device uploads a real photo (YOLOX-Nano
 * from ../shared), a zone is drawn on its snapshot with the mouse (and others with the keyboard and by touch), the
 * device uploads the photo again, and both the written answer (Ask) and the spoken one (hold to talk: Chromium's
 * fake microphone plays a committed speech WAV over /v1/listen; the reply is synthesised) name the zone. Then
 * "show me my cup" opens the snapshot with its boxes and zones, the timeline names the zone, and the item filter
 * takes "mugs".
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../dist/assistant/app.js';
import { loadConfig } from '../dist/assistant/config.js';
import { addDevice, addUser } from '../dist/assistant/accounts.js';
import { Client } from './helpers/server.js';
import { REPO, SHARED, tempDir } from './helpers/tmp.js';
import { CHROMIUM, DESKTOP, PHONE, haveChromium, logIn, shoot } from './helpers/browser.js';

const MODELS = path.join(REPO, 'models', 'files');
const ASR_MODEL = 'vosk-model-small-en-us-0.15';
const YOLOX = path.join(SHARED, 'models', 'yolox_nano.onnx');
const WAV = path.join(REPO, 'audio-fixtures', 'wav', 'where-is-my-cup.en-us.s150.wav');
const PHOTO = path.join(SHARED, 'images', 'coffee.png');
const ready = haveChromium() && fs.existsSync(path.join(MODELS, ASR_MODEL)) && fs.existsSync(path.join(MODELS, 'lib')) && fs.existsSync(WAV) && fs.existsSync(YOLOX);
if (!ready && process.env.CI === 'true') throw new Error('zones UI test: Chromium, the speech model, the speech fixture or YOLOX-Nano is missing');

(ready ? describe : describe.skip)('admin page: zones drawn on a real snapshot name the spot (Chromium)', () => {
  let app: FastifyInstance;
  let url = '';
  let browser: Browser;
  let cam: Client;
  let deviceId = 0;
  let cupBox: number[] = [];

  beforeAll(async () => {
    const modelsDir = tempDir('wa-zones-models-');
    fs.copyFileSync(YOLOX, path.join(modelsDir, 'yolox_nano.onnx'));
    fs.symlinkSync(path.join(MODELS, ASR_MODEL), path.join(modelsDir, ASR_MODEL));
    fs.symlinkSync(path.join(MODELS, 'lib'), path.join(modelsDir, 'lib'));
    for (const f of fs.readdirSync(MODELS)) if (!fs.existsSync(path.join(modelsDir, f))) fs.symlinkSync(path.join(MODELS, f), path.join(modelsDir, f));
    const config = loadConfig([], {}, { port: 0, dataDir: tempDir(), modelsDir, logLevel: 'warn', noModels: false, timeZone: 'UTC', asrWorkers: 1, visionWorkers: 1 });
    app = await buildApp(config, { logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const ann = await addUser(app.store, 'ann', 'ann-password-1', true);
    const { device, token } = await addDevice(app.store, ann.id, 'kitchen cam', 'kitchen');
    deviceId = device.id;
    cam = new Client(url, token);
    // the camera's first picture: the snapshot the zone is drawn on
    const r = await cam.post('/v1/frames', fs.readFileSync(PHOTO), { 'content-type': 'image/png', 'x-captured-at': String(Date.now() - 20 * 60_000) });
    expect(r.status).toBe(201);
    cupBox = r.body.detections.find((d: any) => d.label === 'cup').box;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
        '--no-first-run', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${WAV}`,
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  async function watched(viewport = DESKTOP, touch = false) {
    const context = await browser.newContext({ baseURL: url, viewport, locale: 'en-GB', timezoneId: 'UTC', permissions: ['microphone'], hasTouch: touch, isMobile: touch });
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('dialog', (d) => {
      errors.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    return { page, context, errors };
  }

  /** page coordinates of a normalised point of the drawing area */
  async function at(page: Page, x: number, y: number) {
    const b = (await page.locator('#zone-canvas').boundingBox())!;
    return { x: b.x + x * b.width, y: b.y + y * b.height };
  }

  it('draws a zone with the mouse on the snapshot, then the answers (written and spoken) name it', async () => {
    const { page, context, errors } = await watched();
    await logIn(page, 'ann', 'ann-password-1', '/devices');
    await page.getByRole('link', { name: 'Zones of kitchen cam' }).click();
    await page.locator('#zone-canvas').waitFor();
    await page.locator('.zone-stage img').evaluate((img: HTMLImageElement) => img.decode());
    await page.getByRole('button', { name: 'Draw a zone' }).click();
    // a box around the foot of the cup (bottom-centre of its box)
    const fx = cupBox[0] + cupBox[2] / 2;
    const fy = cupBox[1] + cupBox[3];
    const d = 0.07;
    for (const [x, y] of [[fx - d, fy - d], [fx + d, fy - d], [fx + d, fy + d], [fx - d, fy + d]]) {
      const p = await at(page, Math.max(0.01, Math.min(0.99, x)), Math.max(0.01, Math.min(0.99, y)));
      await page.mouse.click(p.x, p.y);
    }
    expect(await page.locator('.draft-point, .draft-first').count()).toBe(4);
    await page.getByRole('button', { name: 'Finish' }).click();
    await page.getByLabel('Zone name').fill('kitchen counter');
    await page.getByRole('button', { name: 'Save zone' }).click();
    await page.locator('#zone-list .zone-name', { hasText: 'kitchen counter' }).waitFor();
    expect(await page.locator('.zone-stage .zone-shape').count()).toBe(1);
    expect(await page.locator('.zone-stage .zone-tag').textContent()).toBe('kitchen counter');
    await shoot(page, 'zones-drawn');

    // the device uploads the photo again
    const again = await cam.post('/v1/frames', fs.readFileSync(PHOTO), { 'content-type': 'image/png', 'x-captured-at': String(Date.now() - 4 * 60_000) });
    expect(again.status).toBe(201);
    expect(again.body.detections.some((x: any) => x.label === 'cup')).toBe(true);

    // written
    await page.goto('/ask');
    await page.getByLabel('Your question').fill('where is my mug?');
    await page.getByRole('button', { name: 'Ask' }).click();
    await page.locator('#reply').waitFor();
    expect(await page.locator('#reply').textContent()).toMatch(/^Your mug was on the kitchen counter, in the kitchen, four minutes ago\.$/);
    expect(await page.locator('.answer-card .facts').textContent()).toContain('kitchen counter');

    // spoken: hold to talk; the fake microphone asks "where is my cup"; watch the socket for the reply and its audio
    const heard: { replies: string[]; audioBytes: number } = { replies: [], audioBytes: 0 };
    page.on('websocket', (ws) =>
      ws.on('framereceived', (f) => {
        if (typeof f.payload !== 'string') heard.audioBytes += f.payload.length;
        else {
          const e = JSON.parse(f.payload);
          if (e.type === 'reply') heard.replies.push(e.text);
        }
      }),
    );
    const talk = page.getByRole('button', { name: 'Hold to talk' });
    await talk.waitFor();
    const box = (await talk.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.locator('#talk.live').waitFor();
    await page.waitForTimeout(2600);
    await page.mouse.up();
    await page.locator('.transcript').waitFor({ timeout: 30_000 });
    await page.waitForFunction(() => /kitchen counter/.test(document.querySelector('#reply')?.textContent ?? '') && !!document.querySelector('.transcript'), null, { timeout: 30_000 });
    expect(await page.locator('#reply').textContent()).toMatch(/^Your cup was on the kitchen counter, in the kitchen, /);
    // the reply was spoken: its text over the socket, then synthesised audio
    await page.waitForFunction(() => true);
    await expect.poll(() => heard.audioBytes, { timeout: 30_000 }).toBeGreaterThan(16000);
    expect(heard.replies.at(-1)).toMatch(/^Your cup was on the kitchen counter, in the kitchen, /);
    await shoot(page, 'zones-answer');

    // "show me my cup" opens the snapshot: every box and the zone
    await page.getByLabel('Your question').fill('show me my cup');
    await page.getByRole('button', { name: 'Ask' }).click();
    await page.locator('#answer-show .scene .zone-shape').waitFor();
    expect(await page.locator('#answer-show .snap-box').count()).toBeGreaterThanOrEqual(2);
    await page.getByRole('link', { name: 'Open full size' }).click();
    await page.locator('.scene-full .zone-tag', { hasText: 'kitchen counter' }).waitFor();
    expect(await page.locator('.scene-list').textContent()).toContain('kitchen counter');

    // the timeline takes what Ask takes, and names the zone
    await page.goto('/item?label=mugs');
    await page.locator('#history .history-row').first().waitFor();
    expect(await page.locator('h1').textContent()).toMatch(/^cup/);
    expect(await page.locator('#history .history-row').first().textContent()).toContain('kitchen counter');
    // so does the item filter
    await page.goto('/');
    await page.locator('#filter-label').fill('mugs');
    await page.locator('#items .item-card[data-label="cup"]').waitFor();
    expect(await page.locator('#items .item-card').count()).toBe(1);
    // furniture and people are not items unless asked for
    expect(await page.locator('#items .item-card[data-label="dining table"]').count()).toBe(0);
    expect(errors).toEqual([]);
    await context.close();
  }, 120_000);

  it('draws zones with the keyboard and by touch', async () => {
    const { page, context, errors } = await watched();
    await logIn(page, 'ann', 'ann-password-1', `/zones?device=${deviceId}`);
    const canvas = page.locator('#zone-canvas');
    await canvas.waitFor();
    await canvas.focus();
    // the cross starts in the middle: go to the top-left corner region and add three corners
    for (let i = 0; i < 8; i++) await page.keyboard.press('Shift+ArrowUp');
    for (let i = 0; i < 8; i++) await page.keyboard.press('Shift+ArrowLeft');
    await page.keyboard.press('Enter'); // (0.1, 0.1)
    for (let i = 0; i < 4; i++) await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('Enter'); // (0.3, 0.1)
    for (let i = 0; i < 4; i++) await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Enter'); // (0.3, 0.3)
    await page.keyboard.press('Backspace');
    expect(await page.locator('#zone-status').textContent()).toMatch(/Removed the last corner/);
    await page.keyboard.press('Enter');
    await page.keyboard.press('Shift+ArrowLeft');
    await page.keyboard.press('Enter'); // a fourth corner (0.25, 0.3)
    await page.keyboard.press('f');
    await page.getByLabel('Zone name').fill('top shelf');
    await page.keyboard.press('Enter');
    await page.locator('#zone-list .zone-name', { hasText: 'top shelf' }).waitFor();
    await context.close();

    // a phone: tap the corners
    const phone = await watched(PHONE, true);
    await logIn(phone.page, 'ann', 'ann-password-1', `/zones?device=${deviceId}`);
    await phone.page.locator('#zone-canvas').waitFor();
    await phone.page.getByRole('button', { name: 'Draw a zone' }).tap();
    for (const [x, y] of [[0.7, 0.1], [0.95, 0.1], [0.95, 0.3]]) {
      const p = await at(phone.page, x, y);
      await phone.page.touchscreen.tap(p.x, p.y);
    }
    const first = await at(phone.page, 0.7, 0.1);
    await phone.page.touchscreen.tap(first.x, first.y); // tapping the first corner again closes the zone
    await phone.page.getByLabel('Zone name').fill('window sill');
    await phone.page.getByRole('button', { name: 'Save zone' }).tap();
    await phone.page.locator('#zone-list .zone-name', { hasText: 'window sill' }).waitFor();
    await shoot(phone.page, 'zones-phone');

    const zones = (await app.store.listZones((await app.store.getUserByName('ann'))!.id, deviceId)).map((z) => [z.name, z.points.length]);
    expect(zones).toEqual(expect.arrayContaining([['top shelf', 4], ['window sill', 3], ['kitchen counter', 4]]));
    const shelf = (await app.store.listZones((await app.store.getUserByName('ann'))!.id, deviceId)).find((z) => z.name === 'top shelf')!;
    expect(shelf.points[0][0]).toBeCloseTo(0.1, 2);
    expect(shelf.points[0][1]).toBeCloseTo(0.1, 2);
    expect(errors).toEqual([]);
    expect(phone.errors).toEqual([]);
    await phone.context.close();
  }, 90_000);
});
