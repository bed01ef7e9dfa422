/**
 * Browser helpers for the admin page tests: playwright-core driving Debian's Chromium (/usr/bin/chromium;
 * never a downloaded browser). Each page records browser dialogs (alert/confirm: the page must never open
 * one), uncaught page errors and console errors (CSP violations show up there).
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO } from './tmp.js';

export const CHROMIUM = process.env.WHEREABOUTS_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = path.join(REPO, 'test', 'artifacts');

export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

export function haveChromium(): boolean {
  // in CI the browser tests must run: a missing Chromium is a failure there, not a skip
  return fs.existsSync(CHROMIUM) || process.env.CI === 'true';
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** messages of browser dialogs that opened (each is dismissed) */
  dialogs: string[];
  /** uncaught exceptions and console errors */
  errors: string[];
  close(): Promise<void>;
}

export async function openPage(browser: Browser, baseURL: string, viewport = DESKTOP): Promise<WatchedPage> {
  const context = await browser.newContext({ baseURL, viewport, deviceScaleFactor: 1, locale: 'en-GB', timezoneId: 'UTC', reducedMotion: 'reduce' });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const dialogs: string[] = [];
  const errors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss().catch(() => {});
  });
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return { page, context, dialogs, errors, close: () => context.close() };
}

/** logs in through the login form shown at `path` and waits for the logged-in page */
export async function logIn(page: Page, name: string, password: string, at = '/'): Promise<void> {
  await page.goto(at);
  await page.getByLabel('User name').fill(name);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#logout').waitFor();
}

/** a full-page screenshot under test/artifacts/ (git-ignored); returns its path */
export async function shoot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const vp = page.viewportSize();
  const file = path.join(ARTIFACTS, `${name}-${vp ? `${vp.width}x${vp.height}` : 'page'}.png`);
  await page.evaluate(() => document.fonts?.ready);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}
