/** Entry point of the admin page: login/logout, then the renderer of the current page. */
import { api, ApiError, onSessionEnded, setCsrfToken } from './api.js';
import { alertBox, busy, field, h, refreshTimes, replace, toast } from './dom.js';
import { renderItems, renderItemHistory } from './items.js';
import { renderDevices } from './devices.js';
import { renderUsers } from './users.js';
import { renderAsk } from './ask.js';
import { renderQuestions } from './questions.js';
import { renderAccount } from './account.js';
import { renderLabels, renderSnapshot, renderZones } from './zones.js';

export interface PageContext {
  view: HTMLElement;
  me: { id: number; name: string; admin: boolean };
  speech: boolean;
  listen: boolean;
  /** the HTTPS port when the server has one (--tls-cert / --tls-self-signed), else null */
  tlsPort: number | null;
}

const RENDERERS: Record<string, (ctx: PageContext) => Promise<void>> = {
  items: renderItems,
  item: renderItemHistory,
  devices: renderDevices,
  users: renderUsers,
  ask: renderAsk,
  questions: renderQuestions,
  account: renderAccount,
  zones: renderZones,
  snapshot: renderSnapshot,
  labels: renderLabels,
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

/** logs this browser out (other browsers and devices stay logged in; "log out everywhere" is on Account) */
function setUpLogout(): void {
  const btn = document.getElementById('logout') as HTMLButtonElement | null;
  btn?.addEventListener('click', () => {
    btn.disabled = true;
    api('DELETE', '/v1/session')
      .catch(() => {})
      .finally(() => location.assign('/'));
  });
}

/**
 * The session ended while the page was open (logged out in another tab, "log out everywhere", a password
 * change): a banner says so and offers to log in again right here, so nothing typed on the page is lost.
 */
function showSessionEnded(me: string): void {
  if (document.getElementById('session-ended')) return;
  const name = h('input', { name: 'name', required: true, maxlength: '64', autocomplete: 'username', value: me });
  const password = h('input', { name: 'password', type: 'password', required: true, maxlength: '1024', autocomplete: 'current-password' });
  const msg = h('div');
  const form = h(
    'form',
    { class: 'form session-ended-form', novalidate: true },
    field('User name', name),
    field('Password', password),
    msg,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Log in again'),
  );
  const banner = h(
    'section',
    { class: 'card session-ended', id: 'session-ended', role: 'alert', 'aria-label': 'Session ended' },
    h('h2', null, 'Your session has ended'),
    h('p', null, 'You were logged out (in another tab, everywhere, or by a password change). Log in again to carry on: what you typed on this page is kept.'),
    form,
  );
  const main = document.querySelector('main') ?? document.body;
  main.insertBefore(banner, main.firstChild);
  password.focus();
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    replace(msg);
    if (!name.value.trim() || !password.value) {
      replace(msg, alertBox('Enter your user name and password.'));
      return;
    }
    void busy(form, async () => {
      try {
        const r = await api<{ csrf_token: string; user: { name: string } }>('POST', '/v1/session', { name: name.value.trim(), password: password.value });
        // someone else logged in: this page was built for the previous user
        if (r.user.name !== me) return location.reload();
        setCsrfToken(r.csrf_token);
        banner.remove();
        toast('Logged in again: carry on where you were.');
      } catch (err) {
        replace(msg, alertBox(err instanceof ApiError && err.status === 401 ? 'Wrong user name or password.' : err instanceof Error ? err.message : String(err)));
        password.select();
      }
    });
  });
}

async function main(): Promise<void> {
  setUpLogin();
  setUpLogout();
  const d = document.body.dataset;
  const view = document.getElementById('view');
  const render = RENDERERS[d.page ?? ''];
  if (!view || !render || !d.userId) return;
  onSessionEnded(() => showSessionEnded(d.userName ?? ''));
  const ctx: PageContext = {
    view,
    me: { id: Number(d.userId), name: d.userName ?? '', admin: d.admin === '1' },
    speech: d.speech === '1',
    listen: d.listen === '1',
    tlsPort: d.tlsPort ? Number(d.tlsPort) : null,
  };
  try {
    await render(ctx);
  } catch (err) {
    replace(view, alertBox(`Could not load this page: ${err instanceof Error ? err.message : String(err)}`));
  }
  setInterval(() => refreshTimes(), 30_000);
}

void main();
