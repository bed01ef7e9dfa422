/** Account: who am I, change my password (ends my other sessions), log out everywhere. */
import { api, setCsrfToken } from './api.js';
import { alertBox, busy, field, h, replace } from './dom.js';
import type { PageContext } from './app.js';

export async function renderAccount(ctx: PageContext): Promise<void> {
  const current = h('input', { type: 'password', name: 'current', required: true, maxlength: '1024', autocomplete: 'current-password' });
  const next = h('input', { type: 'password', name: 'password', required: true, minlength: '8', maxlength: '1024', autocomplete: 'new-password' });
  const again = h('input', { type: 'password', name: 'confirm', required: true, minlength: '8', maxlength: '1024', autocomplete: 'new-password' });
  const msg = h('div', { 'aria-live': 'polite' });
  const everywhere = h('button', { type: 'button', class: 'btn btn-danger', id: 'logout-everywhere' }, 'Log out everywhere');
  const form = h(
    'form',
    { class: 'form', id: 'password-form', novalidate: true },
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: ctx.me.name, hidden: true, readonly: true }),
    field('Current password', current),
    field('New password', next, 'At least 8 characters.'),
    field('New password again', again),
    msg,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Change password'),
  );
  replace(
    ctx.view,
    h('div', { class: 'page-head' }, h('h1', null, 'Account')),
    h(
      'section',
      { class: 'card narrow-left' },
      h('p', null, 'Logged in as ', h('strong', null, ctx.me.name), ctx.me.admin ? ' (admin).' : '.'),
      h('h2', null, 'Change password'),
      h('p', { class: 'muted' }, 'Changing it logs you out everywhere else (other browsers, phones).'),
      form,
    ),
    h(
      'section',
      { class: 'card narrow-left' },
      h('h2', null, 'Log out everywhere'),
      h('p', { class: 'muted' }, '“Log out” at the top ends only this browser’s session. This ends every session of your account: other browsers, phones, and their voice connections. Cameras and speakers keep their device tokens.'),
      everywhere,
    ),
  );
  everywhere.addEventListener('click', () => {
    everywhere.disabled = true;
    api('DELETE', '/v1/session?everywhere=true')
      .catch(() => {})
      .finally(() => location.assign('/'));
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    replace(msg);
    if (!current.value || next.value.length < 8) {
      replace(msg, alertBox('Enter your current password and a new one of at least 8 characters.'));
      return;
    }
    if (next.value !== again.value) {
      replace(msg, alertBox('The two new passwords differ.'));
      return;
    }
    void busy(form, async () => {
      try {
        const r = await api<{ csrf_token: string }>('POST', '/v1/session/password', { current: current.value, password: next.value });
        setCsrfToken(r.csrf_token);
        form.reset();
        replace(msg, alertBox('Password changed. Your other sessions have ended.', 'ok'));
      } catch (err) {
        replace(msg, alertBox(err instanceof Error ? err.message : String(err)));
      }
    });
  });
}
