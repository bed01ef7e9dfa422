/**
 * Items: every label seen (latest first) with its latest snapshot and box; filters (the item filter takes what
 * Ask takes: "mugs" finds the cup); places (furniture, people) only on request; one item's timeline.
 */
import { api, type Item, type Sighting } from './api.js';
import { absTime, alertBox, empty, field, h, replace, snapshot, timeEl, type Child } from './dom.js';
import type { PageContext } from './app.js';

const TIMES: Array<[string, string, number]> = [
  ['', 'Any time', 0],
  ['1h', 'Last hour', 3600_000],
  ['24h', 'Last 24 hours', 86400_000],
  ['7d', 'Last 7 days', 7 * 86400_000],
  ['30d', 'Last 30 days', 30 * 86400_000],
];
const NO_ROOM = '\u0000none';

function where(s: Sighting): Child[] {
  return [
    s.zone ? [h('span', { class: 'zone-name' }, s.zone), h('span', { class: 'sep', 'aria-hidden': 'true' }, ' · ')] : '',
    s.room ? h('span', { class: 'room' }, s.room) : h('span', { class: 'room room-none' }, 'no room set'),
    h('span', { class: 'sep', 'aria-hidden': 'true' }, ' · '),
    h('span', { class: 'device' }, s.device),
  ];
}

const itemHref = (label: string) => `/item?label=${encodeURIComponent(label)}`;

function itemCard(it: Item): HTMLElement {
  const s = it.latest;
  return h(
    'li',
    { class: 'card item-card', dataset: { label: it.label } },
    h('a', { href: itemHref(it.label), class: 'item-snap', tabindex: '-1', 'aria-hidden': 'true' }, snapshot({ ...s, label: it.label })),
    h(
      'div',
      { class: 'item-body' },
      h('h2', { class: 'item-label' }, h('a', { href: itemHref(it.label) }, it.label)),
      h('p', { class: 'item-where' }, where(s)),
      h('p', { class: 'item-when' }, timeEl(s.seen_at), h('span', { class: 'muted' }, ` · seen ${it.count} ${it.count === 1 ? 'time' : 'times'}`)),
      h('p', { class: 'item-more' }, h('a', { href: itemHref(it.label), class: 'link-more' }, 'History', h('span', { class: 'sr-only' }, ` of ${it.label}`))),
    ),
  );
}

export async function renderItems(ctx: PageContext): Promise<void> {
  const params = new URLSearchParams(location.search);
  const label = h('input', { type: 'search', id: 'filter-label', name: 'label', list: 'label-list', autocomplete: 'off', placeholder: 'e.g. cup', value: params.get('label') ?? '' });
  const room = h('select', { id: 'filter-room', name: 'room' });
  const time = h('select', { id: 'filter-time', name: 'time' }, TIMES.map(([v, t]) => h('option', { value: v }, t)));
  time.value = params.get('time') ?? '';
  const datalist = h('datalist', { id: 'label-list' });
  const count = h('p', { class: 'muted count', 'aria-live': 'polite' });
  const refresh = h('button', { type: 'button', class: 'btn btn-small' }, 'Refresh');
  const clear = h('button', { type: 'reset', class: 'btn btn-small btn-quiet' }, 'Clear');
  const filters = h(
    'form',
    { class: 'filters card', role: 'search', 'aria-label': 'Filter items' },
    field('Item', label),
    field('Room', room),
    field('Seen', time),
    h('div', { class: 'filter-actions' }, clear, refresh),
    datalist,
  );
  const list = h('ul', { class: 'items', id: 'items' });
  const header = h('div', { class: 'page-head' }, h('h1', null, 'Items'), count);
  replace(ctx.view, header, filters, list);

  const places = h('input', { type: 'checkbox', id: 'filter-places', checked: params.get('places') === '1' });
  const placesBox = h('p', { class: 'places-toggle small' }, h('label', { class: 'check', for: 'filter-places' }, places, ' Show places too (furniture, people)'), ' · ', h('a', { href: '/labels' }, 'What counts as an item?'));
  header.after(placesBox);

  let items: Item[] = [];
  let lastJson = '';
  /** the label the filter's words name, as Ask would understand them ("mugs" -> cup); null when none */
  let resolved: string | null = null;
  let resolving = 0;

  async function resolveFilter(): Promise<void> {
    const q = label.value.trim();
    const ticket = ++resolving;
    let found: string | null = null;
    if (q) {
      try {
        found = (await api<{ label?: string }>('GET', `/v1/items?label=${encodeURIComponent(q)}`)).label ?? null;
      } catch {
        found = null; // not a word for any label: the plain text match still applies
      }
    }
    if (ticket !== resolving) return;
    resolved = found;
    apply();
  }
  let resolveTimer: ReturnType<typeof setTimeout> | undefined;
  function resolveSoon(): void {
    clearTimeout(resolveTimer);
    resolveTimer = setTimeout(() => void resolveFilter(), 200);
  }

  function apply(): void {
    const q = label.value.trim().toLowerCase();
    const r = room.value;
    const win = TIMES.find(([v]) => v === time.value)?.[2] ?? 0;
    const since = win ? Date.now() - win : 0;
    const shown = items.filter(
      (it) =>
        (!q || it.label.includes(q) || it.label === resolved) &&
        (!r || (r === NO_ROOM ? it.latest.room === null : it.latest.room === r)) &&
        (!since || Date.parse(it.latest.seen_at) >= since),
    );
    const url = new URL(location.href);
    for (const [k, v] of [['label', label.value.trim()], ['room', r], ['time', time.value], ['places', places.checked ? '1' : '']] as const) {
      if (v) url.searchParams.set(k, v);
      else url.searchParams.delete(k);
    }
    history.replaceState(null, '', url);
    if (items.length === 0)
      replace(list, h('li', null, empty('Nothing seen yet', ['Add a camera on the ', h('a', { href: '/devices' }, 'Devices'), ' page; what it sees shows up here.'])));
    else if (shown.length === 0) replace(list, h('li', null, empty('No items match', 'Try another item, room or time.')));
    else replace(list, shown.map(itemCard));
    count.textContent = items.length ? `${shown.length} of ${items.length} ${items.length === 1 ? 'item' : 'items'}` : '';
  }

  async function load(): Promise<void> {
    const r = await api<{ items: Item[] }>('GET', places.checked ? '/v1/items?all=true' : '/v1/items');
    const json = JSON.stringify(r.items);
    if (json === lastJson) return;
    lastJson = json;
    items = r.items.slice().sort((a, b) => Date.parse(b.latest.seen_at) - Date.parse(a.latest.seen_at) || a.label.localeCompare(b.label));
    const rooms = [...new Set(items.map((i) => i.latest.room).filter((x): x is string => !!x))].sort();
    const want = room.value || params.get('room') || '';
    replace(room, h('option', { value: '' }, 'All rooms'), rooms.map((x) => h('option', { value: x }, x)), items.some((i) => !i.latest.room) ? h('option', { value: NO_ROOM }, 'No room set') : null);
    room.value = [...room.options].some((o) => o.value === want) ? want : '';
    replace(datalist, items.map((i) => h('option', { value: i.label })));
    apply();
  }

  label.addEventListener('input', () => {
    apply();
    resolveSoon();
  });
  places.addEventListener('change', () => {
    lastJson = '';
    load().catch((err) => replace(list, h('li', null, alertBox(String(err.message ?? err)))));
  });
  room.addEventListener('change', apply);
  time.addEventListener('change', apply);
  filters.addEventListener('submit', (e) => e.preventDefault());
  filters.addEventListener('reset', () => setTimeout(apply));
  refresh.addEventListener('click', () => {
    lastJson = '';
    load().catch((err) => replace(list, h('li', null, alertBox(String(err.message ?? err)))));
  });
  await load();
  if (label.value.trim()) await resolveFilter();
  setInterval(() => {
    if (document.visibilityState === 'visible') load().catch(() => {});
  }, 30_000);
}

const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
const clockFmt = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' });
const placeOf = (s: Sighting) => `${s.zone ?? ''}\u0000${s.room ?? ''}\u0000${s.device}`;

/** one item's timeline: its sightings by day, newest first, with where it moved and each snapshot */
export async function renderItemHistory(ctx: PageContext): Promise<void> {
  const label = new URLSearchParams(location.search).get('label')?.trim() ?? '';
  const back = h('a', { href: '/', class: 'back' }, '← All items');
  if (!label) {
    replace(ctx.view, back, alertBox('Choose an item on the Items page.', 'info'));
    return;
  }
  const title = h('h1', null, label);
  document.title = `${label} · whereabouts`;
  const list = h('ol', { class: 'history timeline', id: 'history' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true }, 'Show older sightings');
  const status = h('div');
  replace(ctx.view, back, h('div', { class: 'page-head' }, title, h('p', { class: 'muted' }, 'Where it has been: every time a camera saw it, newest first.')), status, list, h('p', { class: 'center' }, more));
  const PAGE = 30;
  let before: string | null = null;
  let beforeId: number | null = null;
  let lastDay = '';
  /** the row shown just above (newer) and how to mark it as a move */
  let previous: { s: Sighting; markMoved: () => void } | null = null;

  async function load(): Promise<void> {
    const q = new URLSearchParams({ label, limit: String(PAGE) });
    if (before) q.set('before', before);
    if (before && beforeId) q.set('before_id', String(beforeId));
    const r = await api<{ sightings: Sighting[] }>('GET', `/v1/sightings?${q}`);
    if (!before && r.sightings.length === 0) replace(list, h('li', null, empty('Never seen', `No camera has seen a ${label} yet.`)));
    // the words typed may name another label ("mugs"): title it by what was found
    if (!before && r.sightings[0] && r.sightings[0].label !== label) {
      title.textContent = r.sightings[0].label;
      title.appendChild(h('span', { class: 'muted small' }, ` (you asked for “${label}”)`));
      document.title = `${r.sightings[0].label} · whereabouts`;
    }
    for (const s of r.sightings) {
      const day = dayFmt.format(Date.parse(s.seen_at));
      if (day !== lastDay) {
        lastDay = day;
        list.appendChild(h('li', { class: 'timeline-day' }, h('h2', null, day)));
      }
      // a move: the newer row (shown above) was somewhere else
      if (previous && placeOf(previous.s) !== placeOf(s)) previous.markMoved();
      const snap = snapshot(s, { small: true });
      const body = h(
        'div',
        { class: 'history-body' },
        h(
          'p',
          { class: 'history-when' },
          timeEl(s.seen_at),
          h('span', { class: 'muted abs' }, ` · ${absTime(s.seen_at)}`),
          s.first_seen_at !== s.seen_at ? h('span', { class: 'muted abs' }, ` · there from ${clockFmt.format(Date.parse(s.first_seen_at))}`) : '',
        ),
        h('p', null, where(s)),
        h('p', { class: 'muted' }, s.label === label ? '' : `${s.label} · `, `confidence ${Math.round(s.score * 100)}%`),
      );
      const row = h('li', { class: 'card history-row', dataset: { sightingId: String(s.id) } }, s.frame_id && s.snapshot_url ? h('a', { href: `/snapshot?frame=${s.frame_id}&sighting=${s.id}`, class: 'snap-link', 'aria-label': `Open the snapshot of ${absTime(s.seen_at)}` }, snap) : snap, body);
      list.appendChild(row);
      previous = {
        s,
        markMoved: () => {
          if (!row.querySelector('.moved')) body.prepend(h('p', { class: 'moved badge' }, 'moved here'));
        },
      };
    }
    // the last row's time and id: the next page starts right after it, even among rows of the same time
    const last = r.sightings[r.sightings.length - 1];
    if (last) {
      before = last.seen_at;
      beforeId = last.id;
    }
    more.hidden = r.sightings.length < PAGE;
  }
  more.addEventListener('click', () => {
    more.disabled = true;
    load()
      .catch((err) => replace(status, alertBox(err.message)))
      .finally(() => (more.disabled = false));
  });
  try {
    await load();
  } catch (err) {
    replace(status, alertBox(err instanceof Error ? err.message : String(err)));
  }
}
