/** Devices: add one (its token is shown once, with the ready-to-paste setup line), rename, room, revoke. */
import { api, type Device, type User } from './api.js';
import { alertBox, busy, empty, field, formDialog, h, replace, td, timeEl, toast } from './dom.js';
import type { PageContext } from './app.js';

const STATUS_TEXT: Record<string, string> = { online: 'online', idle: 'idle', 'never seen': 'never seen', revoked: 'revoked' };

/**
 * A Copy button. The clipboard API exists only on https:// pages and localhost; elsewhere (a plain http://
 * page on the LAN) the text is selected in `target` and copied the old way, or left selected to copy by hand.
 */
function copyButton(getText: () => string, what: string, target: () => HTMLElement): HTMLButtonElement {
  const b = h('button', { type: 'button', class: 'btn btn-small' }, 'Copy');
  b.setAttribute('aria-label', `Copy ${what}`);
  b.addEventListener('click', async () => {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(getText());
        toast(`Copied the ${what}.`);
        return;
      } catch {
        /* blocked: select it instead */
      }
    }
    const el = target();
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
      el.focus();
      el.select();
    } else {
      const range = document.createRange();
      range.selectNodeContents(el);
      const sel = window.getSelection();
      sel?.removeAllRanges();
      sel?.addRange(range);
    }
    let copied = false;
    try {
      copied = document.execCommand('copy');
    } catch {
      copied = false;
    }
    toast(copied ? `Copied the ${what}.` : `The ${what} is selected: press Ctrl+C (or ⌘C) to copy it.`, copied ? undefined : 'error');
  });
  return b;
}

export async function renderDevices(ctx: PageContext): Promise<void> {
  const admin = ctx.me.admin;
  let users: User[] = [];
  if (admin) users = (await api<{ users: User[] }>('GET', '/v1/users')).users;
  const userName = (id: number) => users.find((u) => u.id === id)?.name ?? `#${id}`;

  // ---- add form ----
  const name = h('input', { name: 'name', required: true, maxlength: '64', autocomplete: 'off', placeholder: 'e.g. kitchen cam' });
  const room = h('input', { name: 'room', maxlength: '64', autocomplete: 'off', placeholder: 'e.g. kitchen' });
  const owner = admin
    ? h('select', { name: 'user' }, users.map((u) => h('option', { value: u.name, selected: u.id === ctx.me.id }, u.id === ctx.me.id ? `${u.name} (you)` : u.name)))
    : null;
  const formMsg = h('div');
  const addForm = h(
    'form',
    { class: 'form form-grid', id: 'device-form', novalidate: true },
    field('Name', name),
    field('Room', room, 'Where the camera is; spoken in answers.'),
    owner ? field('Owner', owner, 'Whose things this camera looks after.') : null,
    h('div', { class: 'form-submit' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add device')),
  );
  const tokenBox = h('div', { id: 'new-device', 'aria-live': 'polite' });
  const addCard = h('section', { class: 'card', 'aria-labelledby': 'add-device-title' }, h('h2', { id: 'add-device-title' }, 'Add a camera'), addForm, formMsg, tokenBox);

  // ---- list ----
  const showRevoked = h('input', { type: 'checkbox', id: 'show-revoked' });
  const listHead = h(
    'div',
    { class: 'section-head' },
    h('h2', { id: 'devices-title' }, admin ? 'All devices' : 'Your devices'),
    h('label', { class: 'check', for: 'show-revoked' }, showRevoked, ' Show revoked'),
  );
  const listBox = h('div');
  replace(ctx.view, h('div', { class: 'page-head' }, h('h1', null, 'Devices')), addCard, h('section', { 'aria-labelledby': 'devices-title' }, listHead, listBox));

  let devices: Device[] = [];

  async function load(): Promise<void> {
    devices = (await api<{ devices: Device[] }>('GET', admin ? '/v1/devices?all=true' : '/v1/devices')).devices;
    draw();
  }

  function draw(): void {
    const shown = devices.filter((d) => showRevoked.checked || !d.revoked_at);
    const revoked = devices.length - devices.filter((d) => !d.revoked_at).length;
    showRevoked.parentElement!.hidden = revoked === 0;
    if (shown.length === 0) {
      replace(listBox, empty('No devices yet', 'Add a camera above, then run the setup line on its Raspberry Pi.'));
      return;
    }
    const rows = shown.map((d) =>
      h(
        'tr',
        { class: d.revoked_at ? 'revoked' : '', dataset: { deviceId: String(d.id) } },
        td(null, { class: 'cell-name' }, h('span', { class: 'device-name' }, d.name)),
        td('Room', null, d.room ? h('span', { class: 'device-room' }, d.room) : h('span', { class: 'muted' }, '—')),
        admin ? td('Owner', null, userName(d.user_id)) : null,
        td('Status', null, h('span', { class: `badge badge-${d.status.replace(' ', '-')}` }, STATUS_TEXT[d.status] ?? d.status)),
        td('Last seen', null, timeEl(d.last_seen_at)),
        td(
          null,
          { class: 'cell-actions' },
          d.revoked_at
            ? h('span', { class: 'muted' }, 'revoked ', timeEl(d.revoked_at))
            : [
                h('a', { class: 'btn btn-small', href: `/zones?device=${d.id}` }, 'Zones', h('span', { class: 'sr-only' }, ` of ${d.name}`)),
                h('button', { type: 'button', class: 'btn btn-small', onclick: () => void edit(d) }, 'Edit', h('span', { class: 'sr-only' }, ` ${d.name}`)),
                h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', onclick: () => void revoke(d) }, 'Revoke', h('span', { class: 'sr-only' }, ` ${d.name}`)),
              ],
        ),
      ),
    );
    replace(
      listBox,
      h(
        'table',
        { class: 'table table-collapse', id: 'devices' },
        h('caption', { class: 'sr-only' }, admin ? 'All devices' : 'Your devices'),
        h(
          'thead',
          null,
          h('tr', null, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Room'), admin ? h('th', { scope: 'col' }, 'Owner') : null, h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Last seen'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions'))),
        ),
        h('tbody', null, rows),
      ),
    );
  }

  async function edit(d: Device): Promise<void> {
    const n = h('input', { name: 'name', required: true, maxlength: '64', value: d.name });
    const r = h('input', { name: 'room', maxlength: '64', value: d.room ?? '' });
    const ok = await formDialog({
      title: 'Edit device',
      body: [field('Name', n), field('Room', r, 'Leave empty for no room.')],
      submit: 'Save',
      action: async () => {
        if (!n.value.trim()) throw new Error('The device needs a name.');
        await api('PATCH', `/v1/devices/${d.id}`, { name: n.value.trim(), room: r.value.trim() || null });
      },
    });
    if (ok) {
      toast('Device saved.');
      await load();
    }
  }

  async function revoke(d: Device): Promise<void> {
    const ok = await formDialog({
      title: 'Revoke device?',
      body: h('p', null, 'The device ', h('strong', null, d.name), ' will no longer be able to send pictures or ask questions. Its token stops working at once. This cannot be undone.'),
      submit: 'Revoke',
      danger: true,
      action: async () => {
        await api('DELETE', `/v1/devices/${d.id}`);
      },
    });
    if (ok) {
      toast('Device revoked.');
      await load();
    }
  }

  showRevoked.addEventListener('change', draw);
  addForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    replace(formMsg);
    if (!name.value.trim()) {
      replace(formMsg, alertBox('Give the device a name.'));
      name.focus();
      return;
    }
    void busy(addForm, async () => {
      try {
        const body: Record<string, unknown> = { name: name.value.trim(), room: room.value.trim() || null };
        if (owner) body.user = owner.value;
        const r = await api<{ device: Device; token: string; setup_command: string; setup_note?: string | null }>('POST', '/v1/devices', body);
        showToken(r.device, r.token, r.setup_command, r.setup_note ?? null);
        addForm.reset();
        await load();
      } catch (err) {
        replace(formMsg, alertBox(err instanceof Error ? err.message : String(err)));
      }
    });
  });

  function showToken(d: Device, token: string, setup: string, note: string | null): void {
    const tokenInput = h('input', { id: 'device-token', readonly: true, value: token, class: 'mono', spellcheck: 'false' });
    const setupEl = h('code', { id: 'setup-command', class: 'mono' }, setup);
    const done = h('button', { type: 'button', class: 'btn' }, 'Done, I have copied it');
    const callout = h(
      'div',
      { class: 'callout', role: 'region', 'aria-labelledby': 'new-device-title', tabindex: '-1' },
      h('h3', { id: 'new-device-title' }, 'Device “', d.name, '” is ready'),
      h('p', null, h('strong', null, 'Copy the token now: it is shown only once.'), ' Only a hash of it is kept on the server.'),
      h('div', { class: 'field' }, h('label', { for: 'device-token' }, 'Device token'), h('div', { class: 'copy-row' }, tokenInput, copyButton(() => token, 'token', () => tokenInput))),
      h('p', { class: 'label' }, 'On the Raspberry Pi, run:'),
      h('div', { class: 'copy-row' }, h('pre', { class: 'setup' }, setupEl), copyButton(() => setup, 'setup command', () => setupEl)),
      note ? h('p', { class: 'alert alert-error', id: 'setup-note', role: 'note' }, note) : null,
      h('div', { class: 'actions' }, done),
    );
    tokenInput.addEventListener('focus', () => tokenInput.select());
    done.addEventListener('click', () => {
      replace(tokenBox);
      name.focus();
    });
    replace(tokenBox, callout);
    callout.focus();
  }

  try {
    await load();
  } catch (err) {
    replace(listBox, alertBox(err instanceof Error ? err.message : String(err)));
  }
}
