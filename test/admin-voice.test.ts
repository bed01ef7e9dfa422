/**
 * "Hold to talk" on the Ask page, end to end: Chromium's fake microphone plays a committed speech WAV,
 * the page streams it over /v1/listen (cookie auth) and shows the transcript and the answer. Needs Chromium,
 * the installed speech model (models/files) and the detector from ../shared: under CI their absence fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../dist/assistant/app.js';
import { loadConfig } from '../dist/assistant/config.js';
import { addDevice, addUser } from '../dist/assistant/accounts.js';
import { Client } from './helpers/server.js';
import { REPO, SHARED, YOLOX_FILE, tempDir } from './helpers/tmp.js';
import { CHROMIUM, DESKTOP, logIn, shoot } from './helpers/browser.js';
import { describeWhenReady, missingPaths } from './helpers/needs.js';

const MODELS = path.join(REPO, 'models', 'files');
const ASR_MODEL = 'vosk-model-small-en-us-0.15';
const YOLOX = YOLOX_FILE;
const WAV = path.join(REPO, 'audio-fixtures', 'wav', 'where-is-my-cup.en-us.s150.wav');
const missing = missingPaths({ Chromium: CHROMIUM, 'the speech model': path.join(MODELS, ASR_MODEL), libvosk: path.join(MODELS, 'lib'), 'the speech fixture': WAV, 'the detector': YOLOX });

describeWhenReady('admin page: hold to talk (Chromium fake microphone)', missing, () => {
  let app: FastifyInstance;
  let url = '';
  let browser: Browser;

  beforeAll(async () => {
    // a models folder with the detector kept in the repository and the installed speech files
    const modelsDir = tempDir('wa-voice-models-');
    fs.copyFileSync(YOLOX, path.join(modelsDir, 'yolox_nano.onnx'));
    fs.symlinkSync(path.join(MODELS, ASR_MODEL), path.join(modelsDir, ASR_MODEL));
    fs.symlinkSync(path.join(MODELS, 'lib'), path.join(modelsDir, 'lib'));
    const config = loadConfig([], {}, { port: 0, dataDir: tempDir(), modelsDir, logLevel: 'warn', noModels: false, timeZone: 'UTC', asrWorkers: 1, visionWorkers: 1 });
    app = await buildApp(config, { logger: false });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const ann = await addUser(app.store, 'ann', 'ann-password-1', true);
    const { token } = await addDevice(app.store, ann.id, 'kitchen cam', 'kitchen');
    const r = await new Client(url, token).post('/v1/sightings', { detections: [{ label: 'cup', score: 0.9, box: [0.45, 0.4, 0.1, 0.15] }] });
    expect(r.status).toBe(201);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${WAV}`,
        '--autoplay-policy=no-user-gesture-required',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.close();
  });

  it('streams the microphone over /v1/listen and shows what was heard and the answer', async () => {
    const context = await browser.newContext({ baseURL: url, viewport: DESKTOP, permissions: ['microphone'] });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await logIn(page, 'ann', 'ann-password-1', '/ask');
    const talk = page.getByRole('button', { name: 'Hold to talk' });
    await talk.waitFor();
    const box = (await talk.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.locator('#talk.live').waitFor();
    await page.waitForTimeout(2600); // the fake microphone plays the question (1.9 s), looping
    await page.mouse.up();
    const reply = page.locator('#reply');
    await reply.waitFor({ timeout: 30_000 });
    expect(await reply.textContent()).toMatch(/cup.*kitchen|kitchen.*cup/i);
    expect(await page.locator('.transcript').textContent()).toMatch(/cup/);
    await page.locator('.answer-card .tlist').getByText('speech recognition').waitFor();
    await shoot(page, 'ask-voice');
    // the question is logged as spoken
    await page.goto('/questions');
    await page.locator('#questions .badge-source', { hasText: 'spoken' }).first().waitFor();
    // with what the recogniser heard: its alternatives and the words' confidences
    const heard = page.locator('#questions details.heard').first();
    await heard.locator('summary').click();
    await heard.getByRole('list', { name: 'Alternatives' }).getByText(/cup/).first().waitFor();
    expect(await heard.locator('.heard-words').textContent()).toMatch(/cup \d+ %/);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('a reply that asks back opens the microphone again by itself; the server hears the answer', async () => {
    // the answerer asks back once (as a clarifying answer does); everything else is the real pipeline
    const answerer = app.answerer;
    const orig = answerer.answer.bind(answerer);
    const heard: string[] = [];
    answerer.answer = async (...a: Parameters<typeof orig>) => {
      const r = await orig(...a);
      heard.push(a[1]);
      return { ...r, follow_up: heard.length === 1 };
    };
    try {
      const context = await browser.newContext({ baseURL: url, viewport: DESKTOP, permissions: ['microphone'] });
      const page = await context.newPage();
      await logIn(page, 'ann', 'ann-password-1', '/ask');
      const talk = page.locator('#talk');
      await talk.waitFor();
      const box = (await talk.boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.locator('#talk.live').waitFor();
      await page.waitForTimeout(2600);
      await page.mouse.up();
      // no second press: the looping fake microphone answers, the server ends that answer itself
      const deadline = Date.now() + 40_000;
      while (heard.length < 2 && Date.now() < deadline) await page.waitForTimeout(200);
      expect(heard.length).toBe(2);
      expect(heard[1]).toMatch(/cup/);
      // then the page is idle again
      await page.getByRole('button', { name: 'Hold to talk' }).waitFor({ timeout: 20_000 });
      await context.close();
    } finally {
      answerer.answer = orig;
    }
  });
});
