/**
 * Tiny DOM helpers for the admin page. Text always goes in through text nodes (never innerHTML), so
 * labels, rooms, device and user names that contain markup render as plain text.
 */

export type Child = Node | string | number | null | undefined | false | Child[];
type Handler = (ev: Event) => void;
export interface Attrs {
  [name: string]: string | number | boolean | null | undefined | Handler | Record<string, string>;
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v as Handler);
      else if (k === 'dataset' && typeof v === 'object') Object.assign(el.dataset, v);
      else if (k === 'style') throw new Error('set styles through CSSOM (el.style.x), not attributes');
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(parent, c);
    else parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** a table cell whose content stays one block (the narrow-screen layout puts its label beside it) */
export function td(label: string | null, attrs: Attrs | null, ...children: Child[]): HTMLTableCellElement {
  return h('td', { ...(attrs ?? {}), ...(label ? { 'data-label': label } : {}) }, h('div', { class: 'cell' }, children));
}

const ICONS: Record<string, string> = {
  speaker: 'M4 9v6h4l5 4V5L8 9H4zm12.5 3a4.5 4.5 0 0 0-2.5-4v8a4.5 4.5 0 0 0 2.5-4zM14 3.2v2.1a7 7 0 0 1 0 13.4v2.1a9 9 0 0 0 0-17.6z',
  mic: 'M12 15a3 3 0 0 0 3-3V6a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V22h2v-3.1a7 7 0 0 0 6-6.9h-2z',
};

/** a small decorative icon (SVG built with DOM calls: no markup strings, no inline styles) */
export function icon(name: keyof typeof ICONS & string): SVGSVGElement {
  const NS = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(NS, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('class', 'icon');
  const path = document.createElementNS(NS, 'path');
  path.setAttribute('d', ICONS[name] ?? '');
  svg.appendChild(path);
  return svg;
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

// ---- time ----

const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const absFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** "4 minutes ago", "yesterday", "just now" */
export function relTime(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return iso;
  const s = Math.round((t - now) / 1000);
  const a = Math.abs(s);
  if (a < 45) return 'just now';
  if (a < 45 * 60) return rtf.format(Math.round(s / 60), 'minute');
  if (a < 22 * 3600) return rtf.format(Math.round(s / 3600), 'hour');
  if (a < 26 * 86400) return rtf.format(Math.round(s / 86400), 'day');
  if (a < 320 * 86400) return rtf.format(Math.round(s / (30 * 86400)), 'month');
  return rtf.format(Math.round(s / (365 * 86400)), 'year');
}

export function absTime(iso: string): string {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? absFmt.format(t) : iso;
}

/** a <time> element showing relative time, the exact time on hover; kept fresh by refreshTimes() */
export function timeEl(iso: string | null, cls = ''): HTMLElement {
  if (!iso) return h('span', { class: `muted ${cls}` }, 'never');
  return h('time', { datetime: iso, title: absTime(iso), class: `rel ${cls}`.trim() }, relTime(iso));
}

export function refreshTimes(root: ParentNode = document): void {
  root.querySelectorAll<HTMLTimeElement>('time.rel').forEach((t) => {
    const next = relTime(t.dateTime);
    if (t.textContent !== next) t.textContent = next;
  });
}

// ---- snapshot with the detection box drawn over it ----

export interface BoxedSighting {
  label: string;
  box: [number, number, number, number];
  snapshot_url?: string | null;
}

const pct = (v: number) => `${Math.max(0, Math.min(100, v * 100)).toFixed(2)}%`;

/** the snapshot (or a placeholder of the same shape) with an absolutely positioned box over the item */
export function snapshot(s: BoxedSighting, opts: { small?: boolean } = {}): HTMLElement {
  const [x, y, w, hgt] = s.box;
  const box = h('div', { class: 'snap-box', 'aria-hidden': 'true' }, h('span', { class: 'snap-tag' }, s.label));
  box.style.left = pct(x);
  box.style.top = pct(y);
  box.style.width = pct(w);
  box.style.height = pct(hgt);
  if (y < 0.12) box.classList.add('tag-inside');
  const fig = h('div', { class: `snap${opts.small ? ' snap-small' : ''}` });
  if (s.snapshot_url) {
    const img = h('img', { src: s.snapshot_url, alt: `Camera snapshot where the ${s.label} was seen`, loading: 'lazy', decoding: 'async' });
    img.addEventListener('error', () => {
      fig.classList.add('snap-missing');
      img.remove();
      fig.prepend(h('span', { class: 'snap-none' }, 'snapshot unavailable'));
    });
    append(fig, [img, box]);
  } else {
    fig.classList.add('snap-missing');
    append(fig, [h('span', { class: 'snap-none' }, 'no snapshot'), box]);
  }
  return fig;
}

// ---- feedback ----

let toastTimer: ReturnType<typeof setTimeout> | undefined;
export function toast(message: string, kind: 'ok' | 'error' = 'ok'): void {
  const t = document.getElementById('toast');
  if (!t) return;
  t.textContent = message;
  t.className = `toast toast-${kind} show`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove('show'), kind === 'error' ? 6000 : 3000);
}

/** an inline alert inside a form/section */
export function alertBox(message: string, kind: 'error' | 'ok' | 'info' = 'error'): HTMLElement {
  return h('p', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
}

/**
 * An accessible modal with a form (no native confirm()/prompt(): the page never opens browser dialogs).
 * `action` runs on submit; an error it throws is shown inside the dialog, which stays open.
 * Resolves true when the action succeeded, false when cancelled.
 */
export function formDialog(opts: {
  title: string;
  body: Child;
  submit: string;
  danger?: boolean;
  action?: (form: HTMLFormElement) => Promise<void>;
}): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = h('button', { type: 'submit', class: `btn ${opts.danger ? 'btn-danger' : 'btn-primary'}` }, opts.submit);
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const msg = h('div', { class: 'dialog-msg' });
    const form = h('form', { class: 'form', novalidate: true }, h('h2', { id: titleId }, opts.title), h('div', { class: 'dialog-body' }, opts.body), msg, h('div', { class: 'actions' }, cancel, ok));
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
    let result = false;
    cancel.addEventListener('click', () => dlg.close());
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (!form.reportValidity()) return;
      void busy(form, async () => {
        try {
          await opts.action?.(form);
          result = true;
          dlg.close();
        } catch (err) {
          replace(msg, alertBox(err instanceof Error ? err.message : String(err)));
        }
      });
    });
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(result);
    });
    document.body.appendChild(dlg);
    dlg.showModal();
    const first = form.querySelector<HTMLElement>('.dialog-body input, .dialog-body select');
    (first ?? cancel).focus();
  });
}

export function confirmDialog(opts: { title: string; message: Child; confirm: string; danger?: boolean }): Promise<boolean> {
  return formDialog({ title: opts.title, body: h('p', null, opts.message), submit: opts.confirm, danger: opts.danger });
}

/** disables a form's controls while `work` runs */
export async function busy<T>(form: HTMLElement, work: () => Promise<T>): Promise<T> {
  const controls = Array.from(form.querySelectorAll<HTMLButtonElement | HTMLInputElement>('button, input, select, textarea'));
  const was = controls.map((c) => c.disabled);
  controls.forEach((c) => (c.disabled = true));
  form.setAttribute('aria-busy', 'true');
  try {
    return await work();
  } finally {
    controls.forEach((c, i) => (c.disabled = was[i]));
    form.removeAttribute('aria-busy');
  }
}

/** a labelled form field */
export function field(label: string, input: HTMLElement, hint?: string): HTMLElement {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  const kids: Child[] = [h('label', { for: id }, label), input];
  if (hint) {
    const hintId = `${id}-hint`;
    input.setAttribute('aria-describedby', hintId);
    kids.push(h('p', { class: 'hint', id: hintId }, hint));
  }
  return h('div', { class: 'field' }, kids);
}

export function empty(title: string, text: Child): HTMLElement {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), h('p', { class: 'muted' }, text));
}
