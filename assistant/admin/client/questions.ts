/** Recent questions with their per-stage timings (GET /v1/queries). */
import { api, type QueriesReply, type QueryRow, type User, type UsersReply } from './api.js';
import { alertBox, empty, h, replace, td, timeEl } from './dom.js';
import type { PageContext } from './app.js';

const STAGES: Record<string, string> = {
  asr_ms: 'speech recognition',
  nlp_ms: 'understanding',
  lookup_ms: 'lookup',
  tts_ms: 'speech',
  second_look_ms: 'second look (part of understanding)',
};

const fmtMs = (ms: number) => (ms >= 100 ? `${Math.round(ms)} ms` : ms >= 10 ? `${ms.toFixed(1)} ms` : `${ms.toFixed(2)} ms`);

/** per-stage timings as a small stacked bar plus a labelled list */
export function timingsView(t: Record<string, number>): HTMLElement {
  const entries = Object.entries(t).filter(([, v]) => typeof v === 'number' && Number.isFinite(v));
  const total = entries.reduce((n, [, v]) => n + v, 0);
  const bar = h('div', { class: 'tbar', 'aria-hidden': 'true' });
  for (const [k, v] of entries) {
    const seg = h('span', { class: `tseg tseg-${k.replace(/_ms$/, '')}` });
    seg.style.width = total > 0 ? `${((v / total) * 100).toFixed(2)}%` : `${100 / entries.length}%`;
    bar.appendChild(seg);
  }
  return h(
    'div',
    { class: 'timings' },
    bar,
    h(
      'ul',
      { class: 'tlist', 'aria-label': 'Time per stage' },
      entries.map(([k, v]) => h('li', null, h('span', { class: `tdot tseg-${k.replace(/_ms$/, '')}`, 'aria-hidden': 'true' }), `${STAGES[k] ?? k.replace(/_ms$/, '')} `, h('strong', null, fmtMs(v)))),
      h('li', { class: 'ttotal' }, 'total ', h('strong', null, fmtMs(total))),
    ),
  );
}

const pct = (x: number) => `${Math.round(x * 100)} %`;

/**
 * What the recogniser heard for a spoken question: its alternatives (share of the N-best mass), the best
 * one's words with their confidences (unsure words marked), and the second look when one was taken.
 */
export function heardView(heard: NonNullable<QueryRow['heard']>): HTMLElement {
  return h(
    'details',
    { class: 'heard' },
    h('summary', null, `Heard (${heard.alternatives.length} alternative${heard.alternatives.length === 1 ? '' : 's'})`),
    h(
      'ol',
      { class: 'heard-alts', 'aria-label': 'Alternatives' },
      heard.alternatives.map((a) => h('li', null, a.text || '(nothing)', ' ', h('span', { class: 'muted' }, pct(a.confidence)))),
    ),
    heard.words.length
      ? h(
          'p',
          { class: 'heard-words', 'aria-label': 'Word confidences' },
          heard.words.map((w) => h('span', { class: w.conf < 0.7 ? 'word word-unsure' : 'word', title: `confidence ${pct(w.conf)}` }, `${w.word} `, h('small', null, pct(w.conf)), ' ')),
        )
      : null,
    heard.check ? h('p', { class: 'heard-check' }, 'Second look (no grammar): ', h('q', null, heard.check.text || '(nothing)'), ` — ${heard.check.verdict.replace(/_/g, ' ')}`) : null,
  );
}

const OUTCOME: Record<string, string> = {
  found: 'found',
  never_seen: 'never seen',
  not_detectable: 'not detectable',
  not_understood: 'not understood',
  no_item: 'no item',
  not_heard: 'not heard',
  clarify: 'asked back',
  unknown_item: 'unknown thing',
  cancelled: 'cancelled',
};

export async function renderQuestions(ctx: PageContext): Promise<void> {
  const admin = ctx.me.admin;
  const everyone = h('input', { type: 'checkbox', id: 'all-questions' });
  const refresh = h('button', { type: 'button', class: 'btn btn-small' }, 'Refresh');
  const listBox = h('div');
  replace(
    ctx.view,
    h(
      'div',
      { class: 'page-head' },
      h('h1', null, 'Questions'),
      h('p', { class: 'muted' }, 'The latest questions, spoken or typed, with the time each stage took.'),
    ),
    h('div', { class: 'section-head' }, admin ? h('label', { class: 'check', for: 'all-questions' }, everyone, ' Everyone’s questions') : h('span'), refresh),
    listBox,
  );
  let users: User[] | null = null;

  async function load(): Promise<void> {
    const all = admin && everyone.checked;
    if (all && !users) users = (await api<UsersReply>('GET', '/v1/users')).users;
    const rows = (await api<QueriesReply>('GET', `/v1/queries?limit=100${all ? '&all=true' : ''}`)).queries;
    if (!rows.length) {
      replace(listBox, empty('No questions yet', ['Ask one on the ', h('a', { href: '/ask' }, 'Ask'), ' page or say it to a speaker.']));
      return;
    }
    const who = (id: number) => users?.find((u) => u.id === id)?.name ?? `#${id}`;
    replace(
      listBox,
      h(
        'table',
        { class: 'table table-collapse questions', id: 'questions' },
        h('caption', { class: 'sr-only' }, 'Recent questions'),
        h(
          'thead',
          null,
          h('tr', null, h('th', { scope: 'col' }, 'When'), all ? h('th', { scope: 'col' }, 'Who') : null, h('th', { scope: 'col' }, 'Question'), h('th', { scope: 'col' }, 'Answer'), h('th', { scope: 'col' }, 'Timings')),
        ),
        h(
          'tbody',
          null,
          rows.map((q) =>
            h(
              'tr',
              null,
              td('When', { class: 'nowrap' }, timeEl(q.created_at), h('span', { class: 'badge badge-source' }, q.source === 'voice' ? 'spoken' : 'typed')),
              all ? td('Who', null, who(q.user_id)) : null,
              td('Question', { class: 'q-text' }, q.text, q.heard ? heardView(q.heard) : null),
              td('Answer', null, h('span', { class: 'q-reply' }, q.reply), ' ', h('span', { class: `badge badge-outcome outcome-${q.outcome}` }, OUTCOME[q.outcome] ?? q.outcome)),
              td('Timings', { class: 'cell-timings' }, timingsView(q.timings)),
            ),
          ),
        ),
      ),
    );
  }
  const reload = () => void load().catch((err) => replace(listBox, alertBox(err instanceof Error ? err.message : String(err))));
  everyone.addEventListener('change', reload);
  refresh.addEventListener('click', reload);
  await load();
}
