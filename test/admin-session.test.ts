/**
 * Sessions on the admin page, in Chromium: "Log out" ends this browser's session only; "Log out everywhere"
 * (Account page) ends every session; a request that finds the session ended says so, keeps what was typed,
 * and lets the user log in again on the spot and carry on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { startTestServer, type TestServer } from './helpers/server.js';
import { haveChromium, launchBrowser, logIn, openPage, type WatchedPage } from './helpers/browser.js';

const PW = 'ann-password-1';
const suite = haveChromium() ? describe : describe.skip;

suite('sessions on the page (Chromium)', () => {
  let s: TestServer;
  let browser: Browser;
  const pages: WatchedPage[] = [];

  beforeAll(async () => {
    s = await startTestServer();
    await s.user('ann', { password: PW });
    browser = await launchBrowser();
  });
  afterAll(async () => {
    for (const p of pages) await p.close().catch(() => {});
    await browser?.close();
    await s?.close();
  });

  it('log out ends this browser only; a 401 keeps the typed question and offers to log in again; log out everywhere ends the rest', async () => {
    const home = await openPage(browser, s.url);
    const laptop = await openPage(browser, s.url); // another browser (its own cookies)
    pages.push(home, laptop);
    await logIn(home.page, 'ann', PW);
    await logIn(laptop.page, 'ann', PW);

    // a second tab of the same browser, with a question typed but not sent
    const tab2 = await home.context.newPage();
    tab2.setDefaultTimeout(10_000);
    const tab2Errors: string[] = [];
    tab2.on('pageerror', (e) => tab2Errors.push(e.message));
    tab2.on('dialog', (d) => {
      tab2Errors.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    await tab2.goto('/ask');
    await tab2.getByRole('heading', { name: 'Ask', level: 1 }).waitFor();
    await tab2.locator('#ask-text').fill('where is my cup?');

    // log out in the first tab: this browser's session ends...
    await home.page.getByRole('button', { name: 'Log out' }).click();
    await home.page.getByRole('heading', { name: 'Log in' }).waitFor();
    // ...the other browser stays logged in
    await laptop.page.goto('/ask');
    await laptop.page.getByRole('heading', { name: 'Ask', level: 1 }).waitFor();

    // the second tab sends its question: it is told the session ended, and keeps the text
    await tab2.getByRole('button', { name: 'Ask' }).click();
    const banner = tab2.locator('#session-ended');
    await banner.getByText('Your session has ended').waitFor();
    expect(await tab2.locator('#ask-text').inputValue()).toBe('where is my cup?');
    expect(tab2.url()).toMatch(/\/ask$/); // no reload, no bounce to the login form
    // log in again right there, then ask: the typed question goes through
    await banner.getByLabel('Password').fill(PW);
    await banner.getByRole('button', { name: 'Log in again' }).click();
    await banner.waitFor({ state: 'detached' });
    await tab2.getByRole('button', { name: 'Ask' }).click();
    await tab2.locator('#reply').waitFor();
    expect((await tab2.locator('#reply').textContent())!.length).toBeGreaterThan(5);

    // "log out everywhere" from the other browser's Account page ends this browser's fresh session too
    await laptop.page.goto('/account');
    await laptop.page.getByRole('button', { name: 'Log out everywhere' }).click();
    await laptop.page.getByRole('heading', { name: 'Log in' }).waitFor();
    await tab2.locator('#ask-text').fill('where are my keys?');
    await tab2.getByRole('button', { name: 'Ask' }).click();
    await tab2.locator('#session-ended').waitFor();
    expect(await tab2.locator('#ask-text').inputValue()).toBe('where are my keys?');
    expect(tab2Errors).toEqual([]);
    expect([...home.dialogs, ...laptop.dialogs]).toEqual([]);
    expect([...home.errors, ...laptop.errors].filter((e) => !/status of 401/.test(e))).toEqual([]);
  });
});
