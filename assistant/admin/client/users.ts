/** Users (admins only): list, add, delete, reset a password, grant or remove admin. */
import { api, type User, type UserReply, type UsersReply } from './api.js';
import { alertBox, busy, field, formDialog, h, replace, td, timeEl, toast } from './dom.js';
import type { PageContext } from './app.js';

export async function renderUsers(ctx: PageContext): Promise<void> {
  const name = h('input', { name: 'name', required: true, maxlength: '64', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', pattern: '[A-Za-z0-9][A-Za-z0-9._\\-]*' });
  const password = h('input', { name: 'password', type: 'password', required: true, minlength: '8', maxlength: '1024', autocomplete: 'new-password' });
  const isAdmin = h('input', { type: 'checkbox', name: 'admin', id: 'new-user-admin' });
  const msg = h('div');
  const form = h(
    'form',
    { class: 'form form-grid', id: 'user-form', novalidate: true },
    field('User name', name, 'Letters, digits, dot, dash or underscore.'),
    field('Password', password, 'At least 8 characters.'),
    h('div', { class: 'field field-check' }, h('label', { class: 'check', for: 'new-user-admin' }, isAdmin, ' Admin (can manage users and every device)')),
    h('div', { class: 'form-submit' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add user')),
  );
  const listBox = h('div');
  replace(
    ctx.view,
    h('div', { class: 'page-head' }, h('h1', null, 'Users')),
    h('section', { class: 'card', 'aria-labelledby': 'add-user-title' }, h('h2', { id: 'add-user-title' }, 'Add a user'), form, msg),
    h('section', { 'aria-labelledby': 'users-title' }, h('h2', { id: 'users-title' }, 'Everyone'), listBox),
  );

  let users: User[] = [];
  async function load(): Promise<void> {
    users = (await api<UsersReply>('GET', '/v1/users')).users;
    const admins = users.filter((u) => u.admin).length;
    const rows = users.map((u) => {
      const me = u.id === ctx.me.id;
      const lastAdmin = u.admin && admins <= 1;
      return h(
        'tr',
        { dataset: { userId: String(u.id) } },
        td(null, { class: 'cell-name' }, h('span', { class: 'user-name' }, u.name), me ? h('span', { class: 'muted' }, ' (you)') : null),
        td('Role', null, u.admin ? h('span', { class: 'badge badge-admin' }, 'admin') : h('span', { class: 'badge' }, 'member')),
        td('Added', null, timeEl(u.created_at)),
        td(
          null,
          { class: 'cell-actions' },
          h('button', { type: 'button', class: 'btn btn-small', onclick: () => void resetPassword(u) }, 'Reset password', h('span', { class: 'sr-only' }, ` for ${u.name}`)),
          h(
            'button',
            { type: 'button', class: 'btn btn-small', disabled: lastAdmin, title: lastAdmin ? 'The last admin cannot be demoted' : null, onclick: () => void toggleAdmin(u) },
            u.admin ? 'Remove admin' : 'Make admin',
            h('span', { class: 'sr-only' }, ` ${u.name}`),
          ),
          h(
            'button',
            { type: 'button', class: 'btn btn-small btn-danger-quiet', disabled: lastAdmin, title: lastAdmin ? 'The last admin cannot be deleted' : null, onclick: () => void remove(u) },
            'Delete',
            h('span', { class: 'sr-only' }, ` ${u.name}`),
          ),
        ),
      );
    });
    replace(
      listBox,
      h(
        'table',
        { class: 'table table-collapse', id: 'users' },
        h('caption', { class: 'sr-only' }, 'Users'),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col' }, 'Added'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')))),
        h('tbody', null, rows),
      ),
    );
  }

  async function resetPassword(u: User): Promise<void> {
    const pw = h('input', { type: 'password', name: 'password', required: true, minlength: '8', maxlength: '1024', autocomplete: 'new-password' });
    const ok = await formDialog({
      title: `Reset password for ${u.name}`,
      body: [field('New password', pw, 'At least 8 characters. Every session of this user ends.')],
      submit: 'Set password',
      action: async () => {
        await api('PATCH', `/v1/users/${u.id}`, { password: pw.value });
      },
    });
    if (ok) {
      toast(`Password for ${u.name} changed.`);
      if (u.id === ctx.me.id) location.reload();
    }
  }

  async function toggleAdmin(u: User): Promise<void> {
    const ok = await formDialog({
      title: u.admin ? `Remove admin from ${u.name}?` : `Make ${u.name} an admin?`,
      body: h('p', null, u.admin ? 'They will only see their own devices, items and questions.' : 'They will be able to manage every user and device.'),
      submit: u.admin ? 'Remove admin' : 'Make admin',
      action: async () => {
        await api('PATCH', `/v1/users/${u.id}`, { admin: !u.admin });
      },
    });
    if (!ok) return;
    toast(u.admin ? `${u.name} is no longer an admin.` : `${u.name} is now an admin.`);
    if (u.id === ctx.me.id) location.assign('/');
    else await load();
  }

  async function remove(u: User): Promise<void> {
    const ok = await formDialog({
      title: `Delete ${u.name}?`,
      body: h('p', null, 'This deletes ', h('strong', null, u.name), ' with their devices, sightings, snapshots and questions. This cannot be undone.'),
      submit: 'Delete user',
      danger: true,
      action: async () => {
        await api('DELETE', `/v1/users/${u.id}`);
      },
    });
    if (!ok) return;
    toast(`${u.name} deleted.`);
    if (u.id === ctx.me.id) location.assign('/');
    else await load();
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    replace(msg);
    if (!form.checkValidity()) {
      replace(msg, alertBox('Enter a user name (letters, digits, dot, dash, underscore) and a password of at least 8 characters.'));
      return;
    }
    void busy(form, async () => {
      try {
        const r = await api<UserReply>('POST', '/v1/users', { name: name.value.trim(), password: password.value, admin: isAdmin.checked });
        toast(`${r.user.name} added.`);
        form.reset();
        await load();
      } catch (err) {
        replace(msg, alertBox(err instanceof Error ? err.message : String(err)));
      }
    });
  });

  try {
    await load();
  } catch (err) {
    replace(listBox, alertBox(err instanceof Error ? err.message : String(err)));
  }
}
