/** Entry point of the admin page: login/logout, then the renderer of the current page. */
import { api, ApiError } from './api.js';
import { alertBox, busy, refreshTimes, replace } from './dom.js';
import { renderItems, renderItemHistory } from './items.js';
import { renderDevices } from './devices.js';
import { renderUsers } from './users.js';
import { renderAsk } from './ask.js';
import { renderQuestions } from './questions.js';
import { renderAccount } from './account.js';

export interface PageContext {
  view: HTMLElement;
  me: { id: number; name: string; admin: boolean };
  speech: boolean;
  listen: boolean;
}

const RENDERERS: Record<string, (ctx: PageContext) => Promise<void>> = {
  items: renderItems,
  item: renderItemHistory,
  devices: renderDevices,
  users: renderUsers,
  ask: renderAsk,
  questions: renderQuestions,
  account: renderAccount,
};

function setUpLogin(): void {
  const form = document.getElementById('login-form') as HTMLFormElement | null;
  if (!form) return;
  const error = document.getElementById('login-error') as HTMLElement;
  const name = form.elements.namedItem('name') as HTMLInputElement;
  const password = form.elements.namedItem('password') as HTMLInputElement;
  name.focus();
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    error.hidden = true;
    if (!name.value.trim() || !password.value) {
      error.textContent = 'Enter your user name and password.';
      error.hidden = false;
      return;
    }
    void busy(form, async () => {
      try {
        await api('POST', '/v1/session', { name: name.value.trim(), password: password.value });
        location.reload();
        await new Promise(() => {}); // keep the form disabled until the page reloads
      } catch (err) {
        error.textContent =
          err instanceof ApiError && err.status === 401 ? 'Wrong user name or password.' : err instanceof Error ? err.message : String(err);
        error.hidden = false;
        password.select();
      }
    });
  });
}

function setUpLogout(): void {
  const btn = document.getElementById('logout') as HTMLButtonElement | null;
  btn?.addEventListener('click', () => {
    btn.disabled = true;
    api('DELETE', '/v1/session')
      .catch(() => {})
      .finally(() => location.assign('/'));
  });
}

async function main(): Promise<void> {
  setUpLogin();
  setUpLogout();
  const d = document.body.dataset;
  const view = document.getElementById('view');
  const render = RENDERERS[d.page ?? ''];
  if (!view || !render || !d.userId) return;
  const ctx: PageContext = {
    view,
    me: { id: Number(d.userId), name: d.userName ?? '', admin: d.admin === '1' },
    speech: d.speech === '1',
    listen: d.listen === '1',
  };
  try {
    await render(ctx);
  } catch (err) {
    replace(view, alertBox(`Could not load this page: ${err instanceof Error ? err.message : String(err)}`));
  }
  setInterval(() => refreshTimes(), 30_000);
}

void main();
