/**
 * Server-rendered parts of the admin page: an HTML escaper and the page shell. Everything user-supplied
 * goes through `esc` (text and attribute values); the client fills the page body with textContent only.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** escapes text for HTML element content and quoted attribute values */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

/** tagged template that escapes every interpolated value unless it is already `Html` */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1];
  });
  return new Html(out);
}
function render(v: unknown): string {
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === null || v === undefined || v === false) return '';
  return esc(v);
}

export interface NavItem {
  page: string;
  href: string;
  label: string;
  admin?: boolean;
}

export const NAV: NavItem[] = [
  { page: 'items', href: '/', label: 'Items' },
  { page: 'ask', href: '/ask', label: 'Ask' },
  { page: 'devices', href: '/devices', label: 'Devices' },
  { page: 'questions', href: '/questions', label: 'Questions' },
  { page: 'users', href: '/users', label: 'Users', admin: true },
];

export interface ShellUser {
  id: number;
  name: string;
  admin: boolean;
}

export interface ShellOptions {
  title: string;
  /** the page the client script renders into <main> ('' for server-only pages) */
  page: string;
  /** the nav entry to mark as current */
  current?: string;
  user?: ShellUser | null;
  csrf?: string;
  flags?: Record<string, string>;
  /** server-rendered content of <main> */
  body?: Html;
  /** load the client script (default: true when there is a user or a login form) */
  script?: boolean;
}

export function shell(o: ShellOptions): string {
  const user = o.user ?? null;
  const data: Record<string, string> = { page: o.page, ...(o.flags ?? {}) };
  if (user) Object.assign(data, { userId: String(user.id), userName: user.name, admin: user.admin ? '1' : '0' });
  const dataAttrs = Object.entries(data)
    .map(([k, v]) => ` data-${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}="${esc(v)}"`)
    .join('');
  const nav = user
    ? html`<nav class="nav" aria-label="Main">
        <ul>
          ${NAV.filter((n) => !n.admin || user.admin).map(
            (n) =>
              html`<li><a href="${n.href}"${new Html(n.page === (o.current ?? o.page) ? ' aria-current="page"' : '')}>${n.label}</a></li>`,
          )}
        </ul>
      </nav>`
    : '';
  const who = user
    ? html`<div class="who">
        <a class="who-name" href="/account" title="Your account (${user.name})"${new Html((o.current ?? o.page) === 'account' ? ' aria-current="page"' : '')}><span class="sr-only">Your account: </span><span class="who-text">${user.name}</span>${user.admin ? html` <span class="badge badge-admin">admin</span>` : ''}</a>
        <button type="button" class="btn btn-quiet btn-small" id="logout">Log out</button>
      </div>`
    : '';
  const script = o.script ?? true;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
${o.csrf ? `<meta name="csrf-token" content="${esc(o.csrf)}">\n` : ''}<title>${esc(o.title)} · whereabouts</title>
<link rel="icon" href="/assets/admin/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/admin/admin.css">
${script ? '<script type="module" src="/assets/admin/client/app.js"></script>\n' : ''}</head>
<body${dataAttrs}>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <div class="top-row">
    <a class="brand" href="/"><svg class="brand-icon" aria-hidden="true" viewBox="0 0 24 24"><path d="M12 2a7 7 0 0 0-7 7c0 5.2 7 13 7 13s7-7.8 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z"/></svg><span>whereabouts</span></a>
    ${who}
  </div>
  ${nav}
</header>
<main id="main" class="main" tabindex="-1">
${o.body ?? ''}
</main>
<div id="toast" class="toast" role="status" aria-live="polite"></div>
</body>
</html>
`;
}
