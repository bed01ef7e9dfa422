/**
 * Zones and snapshots on the admin page:
 *   - /zones?device=ID: draw named zones on the camera's newest snapshot (mouse, touch or pen: tap the corners;
 *     keyboard: arrow keys move a cross, Enter adds a corner, Backspace takes the last one back, F finishes,
 *     Escape cancels), rename and delete them;
 *   - /snapshot?frame=ID[&sighting=ID]: the full-size snapshot with every box and every zone of its camera;
 *   - /labels: which labels count as items (listed, suggested) and which are places (furniture, people).
 * Shapes are drawn with SVG built by DOM calls; text goes in as text nodes only.
 */
import { api, type Sighting } from './api.js';
import { absTime, alertBox, busy, confirmDialog, empty, field, formDialog, h, replace, timeEl, toast, type Child } from './dom.js';
import type { PageContext } from './app.js';

export type Point = [number, number];
export interface Zone {
  id: number;
  device_id: number;
  name: string;
  points: Point[];
  created_at: string | null;
  updated_at: string | null;
}
export interface FrameRef {
  id: number;
  device_id: number;
  captured_at: string | null;
  width: number;
  height: number;
  snapshot_url: string | null;
}
export interface FrameDetail {
  frame: FrameRef;
  device: { id: number; name: string; room: string | null };
  sightings: Array<Sighting & { zone: string | null }>;
  zones: Zone[];
}

const NS = 'http://www.w3.org/2000/svg';
const pct = (v: number) => `${Math.max(0, Math.min(100, v * 100)).toFixed(2)}%`;

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number> = {}): SVGElementTagNameMap[K] {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

const toSvg = (pts: readonly Point[]) => pts.map(([x, y]) => `${(x * 1000).toFixed(1)},${(y * 1000).toFixed(1)}`).join(' ');

/** the polygon's label position: its top-most point (ties: left-most) */
function labelAt(pts: readonly Point[]): Point {
  return pts.reduce((a, b) => (b[1] < a[1] || (b[1] === a[1] && b[0] < a[0]) ? b : a), pts[0]);
}

/**
 * A snapshot with an SVG layer (zones, a polygon being drawn) and HTML boxes over it. The layer uses a
 * 0..1000 viewBox stretched over the picture, so normalised points map straight onto it.
 */
export function sceneView(o: {
  url: string | null;
  alt: string;
  zones: readonly Zone[];
  boxes?: ReadonlyArray<{ label: string; box: [number, number, number, number]; highlight?: boolean; zone?: string | null }>;
  full?: boolean;
}): { root: HTMLElement; layer: SVGSVGElement } {
  const root = h('div', { class: `snap scene${o.full ? ' scene-full' : ''}` });
  const layer = svg('svg', { viewBox: '0 0 1000 1000', preserveAspectRatio: 'none', class: 'scene-layer', 'aria-hidden': 'true' });
  for (const z of o.zones) {
    const g = svg('g', { class: 'zone', 'data-zone': z.name });
    g.appendChild(svg('polygon', { points: toSvg(z.points), class: 'zone-shape' }));
    layer.appendChild(g);
  }
  if (o.url) {
    const img = h('img', { src: o.url, alt: o.alt, decoding: 'async' });
    img.addEventListener('error', () => {
      root.classList.add('snap-missing');
      img.remove();
      root.prepend(h('span', { class: 'snap-none' }, 'snapshot unavailable'));
    });
    root.appendChild(img);
  } else {
    root.classList.add('snap-missing');
    root.appendChild(h('span', { class: 'snap-none' }, 'no snapshot'));
  }
  root.appendChild(layer);
  // zone names as HTML (SVG text would stretch with the picture)
  for (const z of o.zones) {
    if (!z.points.length) continue;
    const [x, y] = labelAt(z.points);
    const tag = h('span', { class: 'zone-tag', 'aria-hidden': 'true' }, z.name);
    tag.style.left = pct(x);
    tag.style.top = pct(y);
    root.appendChild(tag);
  }
  for (const b of o.boxes ?? []) {
    const [x, y, w, hh] = b.box;
    const el = h('div', { class: `snap-box${b.highlight ? ' snap-box-hi' : ' snap-box-other'}`, 'aria-hidden': 'true' }, h('span', { class: 'snap-tag' }, b.label));
    el.style.left = pct(x);
    el.style.top = pct(y);
    el.style.width = pct(w);
    el.style.height = pct(hh);
    if (y < 0.12) el.classList.add('tag-inside');
    root.appendChild(el);
  }
  return { root, layer };
}

/** the full snapshot view of one frame (also used inline by Ask for "show me my cup") */
export function frameDetailView(d: FrameDetail, highlight: number | null): HTMLElement {
  const { root } = sceneView({
    url: d.frame.snapshot_url,
    alt: `Snapshot from ${d.device.name}${d.frame.captured_at ? `, ${absTime(d.frame.captured_at)}` : ''}, with ${d.sightings.length} boxes and ${d.zones.length} zones`,
    zones: d.zones,
    boxes: d.sightings.map((s) => ({ label: s.label, box: s.box, highlight: highlight === null || s.id === highlight, zone: s.zone })),
    full: true,
  });
  const list = h(
    'ul',
    { class: 'scene-list' },
    d.sightings.map((s) =>
      h(
        'li',
        { class: s.id === highlight ? 'scene-hi' : '' },
        h('a', { href: `/item?label=${encodeURIComponent(s.label)}` }, s.label),
        s.zone ? [' · ', h('span', { class: 'zone-name' }, s.zone)] : '',
        h('span', { class: 'muted' }, ` · ${Math.round(s.score * 100)}%`),
      ),
    ),
  );
  return h(
    'figure',
    { class: 'scene-figure' },
    root,
    h(
      'figcaption',
      { class: 'muted' },
      `${d.device.name}${d.device.room ? ` (${d.device.room})` : ''}`,
      d.frame.captured_at ? [' · ', timeEl(d.frame.captured_at), ` · ${absTime(d.frame.captured_at)}`] : '',
      d.frame.width ? ` · ${d.frame.width}×${d.frame.height}` : '',
    ),
    d.sightings.length ? list : h('p', { class: 'muted' }, 'No boxes left on this snapshot (the camera has seen these things again since).'),
  );
}

// ---- /snapshot -------------------------------------------------------------------------------------------

export async function renderSnapshot(ctx: PageContext): Promise<void> {
  const q = new URLSearchParams(location.search);
  const frame = Number(q.get('frame'));
  const highlight = q.get('sighting') ? Number(q.get('sighting')) : null;
  const back = h('a', { href: '/', class: 'back' }, '← All items');
  if (!Number.isInteger(frame) || frame < 1) {
    replace(ctx.view, back, alertBox('No snapshot chosen.', 'info'));
    return;
  }
  const d = await api<FrameDetail>('GET', `/v1/frames/${frame}`);
  document.title = `Snapshot · ${d.device.name} · whereabouts`;
  replace(
    ctx.view,
    back,
    h('div', { class: 'page-head' }, h('h1', null, 'Snapshot'), h('p', { class: 'muted' }, 'Every box the camera saw in this picture, and its zones.')),
    frameDetailView(d, highlight),
    h('p', null, h('a', { href: `/zones?device=${d.device.id}` }, `Zones of ${d.device.name}`)),
  );
}

// ---- /zones ----------------------------------------------------------------------------------------------

interface DeviceZones {
  device: { id: number; name: string; room: string | null };
  zones: Zone[];
  snapshot: FrameRef | null;
}

const STEP = 0.01;
const BIG_STEP = 0.05;
/** a tap this close to the first corner closes the shape */
const CLOSE_DISTANCE = 0.03;

export async function renderZones(ctx: PageContext): Promise<void> {
  const id = Number(new URLSearchParams(location.search).get('device'));
  const back = h('a', { href: '/devices', class: 'back' }, '← Devices');
  if (!Number.isInteger(id) || id < 1) {
    replace(ctx.view, back, alertBox('Choose a camera on the Devices page.', 'info'));
    return;
  }
  let data = await api<DeviceZones>('GET', `/v1/devices/${id}/zones`);
  document.title = `Zones · ${data.device.name} · whereabouts`;

  const status = h('p', { class: 'sr-only', 'aria-live': 'polite', id: 'zone-status' });
  const help = h(
    'p',
    { class: 'muted small', id: 'zone-help' },
    'Tap or click the corners of the area, then Finish (or tap the first corner again). With the keyboard: focus the picture, move the cross with the arrow keys (Shift for bigger steps), Enter adds a corner, Backspace removes the last one, F finishes, Escape cancels.',
  );
  const drawBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'zone-draw' }, 'Draw a zone');
  const undoBtn = h('button', { type: 'button', class: 'btn', id: 'zone-undo', hidden: true }, 'Undo corner');
  const finishBtn = h('button', { type: 'button', class: 'btn btn-primary', id: 'zone-finish', hidden: true, disabled: true }, 'Finish');
  const cancelBtn = h('button', { type: 'button', class: 'btn btn-quiet', id: 'zone-cancel', hidden: true }, 'Cancel');
  const nameForm = h('form', { class: 'form zone-name-form', id: 'zone-save-form', hidden: true, novalidate: true });
  const nameInput = h('input', { id: 'zone-name', name: 'name', required: true, maxlength: '64', autocomplete: 'off', placeholder: 'e.g. kitchen counter' });
  const saveMsg = h('div');
  replace(
    nameForm,
    field('Zone name', nameInput, 'Said in answers: “Your cup was on the kitchen counter”.'),
    h('div', { class: 'actions actions-left' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save zone'), h('button', { type: 'button', class: 'btn btn-quiet', onclick: () => cancel() }, 'Discard')),
    saveMsg,
  );
  const stage = h('div', { class: 'zone-stage' });
  const listBox = h('div', { id: 'zone-list' });

  replace(
    ctx.view,
    back,
    h('div', { class: 'page-head' }, h('h1', null, `Zones of ${data.device.name}`), h('p', { class: 'muted' }, 'Name the parts of the picture where things are put down: the answers use them (“on the desk”, “on the shoe rack”). Something is in a zone when the bottom middle of its box is inside.')),
    h('section', { class: 'card' }, stage, h('div', { class: 'actions actions-left zone-tools' }, drawBtn, undoBtn, finishBtn, cancelBtn), help, status, nameForm),
    h('section', { class: 'card', 'aria-labelledby': 'zone-list-title' }, h('h2', { id: 'zone-list-title' }, 'Zones'), listBox),
  );

  let drawing = false;
  let points: Point[] = [];
  let cursor: Point = [0.5, 0.5];
  let layer: SVGSVGElement | null = null;
  let overlay: HTMLElement | null = null;
  const live = svg('g', { class: 'zone-draft' });

  const announce = (text: string) => {
    status.textContent = text;
  };
  const pctText = ([x, y]: Point) => `${Math.round(x * 100)}% across, ${Math.round(y * 100)}% down`;

  function drawStage(): void {
    if (!data.snapshot?.snapshot_url) {
      replace(stage, empty('No snapshot yet', 'Zones are drawn on the camera’s newest picture. Once this camera has sent a frame, it shows up here.'));
      drawBtn.disabled = true;
      return;
    }
    drawBtn.disabled = false;
    const v = sceneView({ url: data.snapshot.snapshot_url, alt: `Newest snapshot of ${data.device.name}`, zones: data.zones, full: true });
    layer = v.layer;
    layer.appendChild(live);
    overlay = h('div', {
      class: 'zone-input',
      tabindex: '0',
      role: 'application',
      'aria-roledescription': 'zone drawing area',
      'aria-label': `Snapshot of ${data.device.name}. Press Enter to start drawing a zone.`,
      'aria-describedby': 'zone-help',
      id: 'zone-canvas',
    });
    overlay.addEventListener('pointerdown', onPointer);
    overlay.addEventListener('keydown', onKey);
    overlay.addEventListener('focus', () => paint());
    overlay.addEventListener('blur', () => paint());
    v.root.appendChild(overlay);
    replace(stage, v.root);
    paint();
  }

  function paint(): void {
    live.replaceChildren();
    if (!drawing) return;
    if (points.length >= 2) live.appendChild(svg('polyline', { points: toSvg(points.length >= 3 ? [...points, points[0]] : points), class: 'draft-line' }));
    if (points.length >= 3) live.appendChild(svg('polygon', { points: toSvg(points), class: 'draft-fill' }));
    points.forEach(([x, y], i) => live.appendChild(svg('circle', { cx: x * 1000, cy: y * 1000, r: i === 0 ? 9 : 6, class: i === 0 ? 'draft-first' : 'draft-point' })));
    if (overlay && document.activeElement === overlay) {
      const [x, y] = cursor;
      live.appendChild(svg('line', { x1: x * 1000 - 20, y1: y * 1000, x2: x * 1000 + 20, y2: y * 1000, class: 'draft-cross' }));
      live.appendChild(svg('line', { x1: x * 1000, y1: y * 1000 - 20, x2: x * 1000, y2: y * 1000 + 20, class: 'draft-cross' }));
    }
    undoBtn.disabled = points.length === 0;
    finishBtn.disabled = points.length < 3;
  }

  function start(): void {
    drawing = true;
    points = [];
    nameForm.hidden = true;
    drawBtn.hidden = true;
    undoBtn.hidden = finishBtn.hidden = cancelBtn.hidden = false;
    stage.classList.add('drawing');
    overlay?.setAttribute('aria-label', `Snapshot of ${data.device.name}: drawing a zone. Add corners with Enter or a tap.`);
    announce('Drawing a zone: add its corners.');
    paint();
  }

  function cancel(): void {
    drawing = false;
    points = [];
    nameForm.hidden = true;
    drawBtn.hidden = false;
    undoBtn.hidden = finishBtn.hidden = cancelBtn.hidden = true;
    stage.classList.remove('drawing');
    overlay?.setAttribute('aria-label', `Snapshot of ${data.device.name}. Press Enter to start drawing a zone.`);
    paint();
  }

  function add(p: Point): void {
    if (!drawing) start();
    const q: Point = [Math.round(Math.max(0, Math.min(1, p[0])) * 1e4) / 1e4, Math.round(Math.max(0, Math.min(1, p[1])) * 1e4) / 1e4];
    if (points.length >= 3 && Math.hypot(q[0] - points[0][0], q[1] - points[0][1]) <= CLOSE_DISTANCE) return finish();
    points.push(q);
    announce(`Corner ${points.length} at ${pctText(q)}.${points.length >= 3 ? ' Press F or Finish to close the zone.' : ''}`);
    paint();
  }

  function undo(): void {
    if (!points.length) return;
    points.pop();
    announce(points.length ? `Removed the last corner; ${points.length} left.` : 'Removed the last corner.');
    paint();
  }

  function finish(): void {
    if (points.length < 3) {
      announce('A zone needs at least three corners.');
      return;
    }
    drawing = false;
    undoBtn.hidden = finishBtn.hidden = true;
    cancelBtn.hidden = true;
    nameForm.hidden = false;
    replace(saveMsg);
    // keep the outline visible while it is named
    live.replaceChildren(svg('polygon', { points: toSvg(points), class: 'draft-fill' }), svg('polyline', { points: toSvg([...points, points[0]]), class: 'draft-line' }));
    nameInput.value = '';
    nameInput.focus();
    announce(`Zone closed with ${points.length} corners. Name it and save.`);
  }

  function onPointer(ev: PointerEvent): void {
    if (!overlay || ev.button > 0) return;
    if (!drawing && !nameForm.hidden) return;
    ev.preventDefault();
    const r = overlay.getBoundingClientRect();
    if (r.width <= 0 || r.height <= 0) return;
    const p: Point = [(ev.clientX - r.left) / r.width, (ev.clientY - r.top) / r.height];
    cursor = p;
    add(p);
  }

  function onKey(ev: KeyboardEvent): void {
    const step = ev.shiftKey ? BIG_STEP : STEP;
    const move = (dx: number, dy: number) => {
      cursor = [Math.max(0, Math.min(1, cursor[0] + dx)), Math.max(0, Math.min(1, cursor[1] + dy))];
      announce(`Cross at ${pctText(cursor)}.`);
      paint();
    };
    switch (ev.key) {
      case 'ArrowLeft': move(-step, 0); break;
      case 'ArrowRight': move(step, 0); break;
      case 'ArrowUp': move(0, -step); break;
      case 'ArrowDown': move(0, step); break;
      case 'Enter':
      case ' ':
        if (!nameForm.hidden) return;
        add(cursor);
        break;
      case 'Backspace':
      case 'Delete':
        if (!drawing) return;
        undo();
        break;
      case 'f':
      case 'F':
        if (!drawing) return;
        finish();
        break;
      case 'Escape':
        if (!drawing && nameForm.hidden) return;
        cancel();
        announce('Drawing cancelled.');
        break;
      default:
        return;
    }
    ev.preventDefault();
  }

  drawBtn.addEventListener('click', () => {
    start();
    overlay?.focus();
  });
  undoBtn.addEventListener('click', undo);
  finishBtn.addEventListener('click', finish);
  cancelBtn.addEventListener('click', () => {
    cancel();
    drawBtn.focus();
  });
  nameForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = nameInput.value.trim();
    if (!name) {
      replace(saveMsg, alertBox('Give the zone a name, for example “desk”.'));
      nameInput.focus();
      return;
    }
    void busy(nameForm, async () => {
      try {
        await api('POST', `/v1/devices/${id}/zones`, { name, points });
        toast(`Saved the zone “${name}”.`);
        cancel();
        await reload();
        drawBtn.focus();
      } catch (err) {
        replace(saveMsg, alertBox(err instanceof Error ? err.message : String(err)));
      }
    });
  });

  function drawList(): void {
    if (!data.zones.length) {
      replace(listBox, empty('No zones yet', 'Draw one above: a desk, a counter, a shelf, the shoe rack.'));
      return;
    }
    replace(
      listBox,
      h(
        'ul',
        { class: 'zone-list' },
        data.zones.map((z) =>
          h(
            'li',
            { class: 'zone-row', dataset: { zoneId: String(z.id) } },
            h('span', { class: 'zone-name' }, z.name),
            h('span', { class: 'muted small' }, ` ${z.points.length} corners`),
            h(
              'span',
              { class: 'zone-actions' },
              h('button', { type: 'button', class: 'btn btn-small', onclick: () => void rename(z) }, 'Rename', h('span', { class: 'sr-only' }, ` ${z.name}`)),
              h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', onclick: () => void remove(z) }, 'Delete', h('span', { class: 'sr-only' }, ` ${z.name}`)),
            ),
          ),
        ),
      ),
    );
  }

  async function rename(z: Zone): Promise<void> {
    const n = h('input', { name: 'name', required: true, maxlength: '64', value: z.name });
    const ok = await formDialog({
      title: 'Rename zone',
      body: field('Name', n),
      submit: 'Save',
      action: async () => {
        if (!n.value.trim()) throw new Error('The zone needs a name.');
        await api('PATCH', `/v1/zones/${z.id}`, { name: n.value.trim() });
      },
    });
    if (ok) await reload();
  }

  async function remove(z: Zone): Promise<void> {
    const ok = await confirmDialog({ title: 'Delete zone', message: `Delete “${z.name}”? Answers will no longer use it.`, confirm: 'Delete', danger: true });
    if (!ok) return;
    await api('DELETE', `/v1/zones/${z.id}`);
    toast(`Deleted “${z.name}”.`);
    await reload();
  }

  async function reload(): Promise<void> {
    data = await api<DeviceZones>('GET', `/v1/devices/${id}/zones`);
    drawStage();
    drawList();
  }

  drawStage();
  drawList();
}

// ---- /labels ---------------------------------------------------------------------------------------------

interface LabelSetting {
  label: string;
  kind: 'item' | 'place';
  default_kind: 'item' | 'place';
}

export async function renderLabels(ctx: PageContext): Promise<void> {
  const back = h('a', { href: '/', class: 'back' }, '← All items');
  const msg = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'form', id: 'labels-form', novalidate: true });
  replace(
    ctx.view,
    back,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'What counts as an item'),
      h('p', { class: 'muted' }, 'Ticked labels are things you look for: they are listed on the Items page and suggested as examples. The others (furniture, people) are places: used in answers (“on the dining table”) and still answered when you ask about them.'),
    ),
    h('section', { class: 'card' }, form, msg),
  );
  let settings = (await api<{ labels: LabelSetting[]; customised: boolean }>('GET', '/v1/settings/labels'));

  function draw(): void {
    const boxes = settings.labels
      .slice()
      .sort((a, b) => a.label.localeCompare(b.label))
      .map((l) => {
        const id = `label-${l.label.replace(/[^a-z0-9]+/gi, '-')}`;
        const input = h('input', { type: 'checkbox', id, name: 'item', value: l.label, checked: l.kind === 'item' });
        return h('label', { class: 'check label-check', for: id }, input, ' ', l.label, l.default_kind === 'place' ? h('span', { class: 'muted small' }, ' (place by default)') : '');
      });
    const kids: Child[] = [
      h('fieldset', { class: 'label-grid' }, h('legend', { class: 'sr-only' }, 'Items'), boxes),
      h(
        'div',
        { class: 'actions actions-left' },
        h('button', { type: 'submit', class: 'btn btn-primary' }, 'Save'),
        h('button', { type: 'button', class: 'btn btn-quiet', id: 'labels-reset', disabled: !settings.customised, onclick: () => void save(null) }, 'Back to the default'),
      ),
    ];
    replace(form, kids);
  }

  async function save(places: string[] | null): Promise<void> {
    await busy(form, async () => {
      try {
        settings = await api<{ labels: LabelSetting[]; customised: boolean }>('PUT', '/v1/settings/labels', { places });
        draw();
        replace(msg, alertBox(places === null ? 'Back to the default.' : 'Saved.', 'ok'));
      } catch (err) {
        replace(msg, alertBox(err instanceof Error ? err.message : String(err)));
      }
    });
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const places = [...form.querySelectorAll<HTMLInputElement>('input[name="item"]')].filter((i) => !i.checked).map((i) => i.value);
    void save(places);
  });
  draw();
}
