/** Ask: type a question (POST /v1/query), read the answer, hear it (POST /v1/speak), or hold to talk. */
import { api, request, ApiError, type Answer, type Item } from './api.js';
import { alertBox, busy, h, icon, replace, snapshot, timeEl, type Child } from './dom.js';
import { timingsView } from './questions.js';
import { Talker, talkSupported } from './talk.js';
import type { PageContext } from './app.js';
import { frameDetailView, type FrameDetail } from './zones.js';
import type { ConversationState, ReplyEvent, SightingView } from '../../../protocol/protocol.js';

export async function renderAsk(ctx: PageContext): Promise<void> {
  const input = h('input', { id: 'ask-text', name: 'text', type: 'text', required: true, maxlength: '1000', autocomplete: 'off', placeholder: 'where is my cup?', enterkeyhint: 'send' });
  const askBtn = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Ask');
  const form = h(
    'form',
    { class: 'ask-form', id: 'ask-form', novalidate: true },
    h('label', { for: 'ask-text', class: 'ask-label' }, 'Your question'),
    h('div', { class: 'ask-row' }, input, askBtn),
  );
  const answer = h('div', { id: 'answer', class: 'answer', 'aria-live': 'polite' });
  const tryBox = h('p', { class: 'try muted' });
  const talkBox = h('div', { class: 'talk' });
  replace(
    ctx.view,
    h('div', { class: 'page-head' }, h('h1', null, 'Ask'), h('p', { class: 'muted' }, 'Ask where something is, the way you would ask the speaker.')),
    h('section', { class: 'card' }, form, tryBox, talkBox),
    answer,
  );
  input.focus();

  let speechOn = ctx.speech;
  let lastQuestion = '';
  /** the conversation so far (sent back with the next question: "and my phone?") */
  let conversation: Answer['context'] | null = null;

  function speechUnavailable(): HTMLElement {
    return h('p', { class: 'muted small', id: 'speech-off' }, 'Spoken replies are not available: the speech synthesiser is not loaded on this server.');
  }

  function showAnswer(
    // a typed answer's sighting (Answer) or a voice reply's (the protocol's SightingView): what both carry
    a: { reply: string; outcome: string; intent?: string; sighting: (SightingView & { snapshot_url?: string | null }) | null; timings: Record<string, number>; items?: Answer['items'] },
    question: string,
    opts: { voice?: boolean; transcript?: string } = {},
  ): void {
    const kids: Child[] = [];
    if (opts.transcript !== undefined) kids.push(h('p', { class: 'muted transcript' }, 'You said: “', opts.transcript, '”'));
    kids.push(h('p', { class: `reply outcome-${a.outcome}`, id: 'reply' }, a.reply));
    const s = a.sighting;
    // "show me my cup": the whole snapshot, every box and zone, right here
    const show = a.intent === 'show_item' && s?.frame_id ? h('div', { class: 'answer-show', id: 'answer-show' }, h('p', { class: 'muted loading' }, 'Opening the snapshot…')) : null;
    if (show && s?.frame_id) {
      const frameId = s.frame_id;
      const sid = (s as { id?: number }).id ?? null;
      api<FrameDetail>('GET', `/v1/frames/${frameId}`)
        .then((d) => replace(show, frameDetailView(d, sid), h('p', null, h('a', { href: `/snapshot?frame=${frameId}${sid ? `&sighting=${sid}` : ''}` }, 'Open full size'))))
        .catch((err: unknown) => replace(show, alertBox(err instanceof Error ? err.message : String(err))));
      kids.push(show);
    } else if (a.items?.length) {
      kids.push(
        h(
          'ul',
          { class: 'answer-items' },
          a.items.map((it) => h('li', null, h('a', { href: `/item?label=${encodeURIComponent(it.label)}` }, snapshot({ ...it.sighting, label: it.label }, { small: true }), h('span', null, it.label)))),
        ),
      );
    } else if (s) {
      kids.push(
        h(
          'div',
          { class: 'answer-sighting' },
          snapshot(s),
          h(
            'dl',
            { class: 'facts' },
            h('dt', null, 'Item'),
            h('dd', null, h('a', { href: `/item?label=${encodeURIComponent(s.label)}` }, s.label)),
            ...(s.zone ? [h('dt', null, 'Zone'), h('dd', null, s.zone)] : []),
            h('dt', null, 'Room'),
            h('dd', null, s.room ?? 'no room set'),
            h('dt', null, 'Camera'),
            h('dd', null, s.device),
            h('dt', null, 'Seen'),
            h('dd', null, timeEl(s.seen_at)),
          ),
        ),
      );
    }
    kids.push(timingsView(a.timings));
    const actions = h('div', { class: 'actions actions-left' });
    if (!opts.voice) {
      if (speechOn) {
        const hear = h('button', { type: 'button', class: 'btn', id: 'hear' }, icon('speaker'), 'Hear it');
        hear.addEventListener('click', () => void playSpoken(a.reply, hear, actions));
        actions.appendChild(hear);
      } else actions.appendChild(speechUnavailable());
    }
    if (actions.childNodes.length) kids.push(actions);
    replace(answer, h('section', { class: 'card answer-card', 'aria-label': 'Answer' }, kids));
  }

  async function playSpoken(reply: string, btn: HTMLButtonElement, actions: HTMLElement): Promise<void> {
    btn.disabled = true;
    try {
      // speak the answer already shown (asking again would log the question twice)
      const res = await request('POST', '/v1/speak', { text: reply }, 'audio/wav');
      const blob = await res.blob();
      const url = URL.createObjectURL(blob);
      const audio = h('audio', { controls: true, src: url, class: 'player' });
      audio.addEventListener('ended', () => btn.focus());
      replace(actions, btn, audio);
      await audio.play().catch(() => {});
    } catch (err) {
      if (err instanceof ApiError && err.status === 406) {
        speechOn = false;
        replace(actions, speechUnavailable());
      } else replace(actions, btn, alertBox(err instanceof Error ? err.message : String(err)));
    } finally {
      btn.disabled = false;
    }
  }

  async function ask(text: string): Promise<void> {
    lastQuestion = text;
    replace(answer, h('p', { class: 'muted loading' }, 'Thinking…'));
    try {
      const a = await api<Answer>('POST', '/v1/query', { text, context: conversation });
      conversation = a.context ?? null;
      if (text === lastQuestion) showAnswer(a, text);
    } catch (err) {
      replace(answer, alertBox(err instanceof Error ? err.message : String(err)));
    }
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) {
      replace(answer, alertBox('Type a question first, for example “where is my cup?”'));
      input.focus();
      return;
    }
    void busy(form, () => ask(text)).then(() => input.focus());
  });

  // suggestions from what has been seen
  api<{ items: Item[] }>('GET', '/v1/items')
    .then(({ items }) => {
      const labels = items
        .slice()
        .sort((a, b) => Date.parse(b.latest.seen_at) - Date.parse(a.latest.seen_at))
        .slice(0, 4)
        .map((i) => i.label);
      if (!labels.length) return;
      replace(
        tryBox,
        'Try: ',
        labels.map((l, i) => [
          i ? ' ' : '',
          h(
            'button',
            {
              type: 'button',
              class: 'chip',
              onclick: () => {
                input.value = `where is my ${l}?`;
                form.requestSubmit();
              },
            },
            `where is my ${l}?`,
          ),
        ]),
      );
    })
    .catch(() => {});

  // browsers give the microphone only to https:// pages and to this computer itself: say so, and where to go
  if (ctx.listen && !window.isSecureContext) replace(talkBox, micNeedsHttps(ctx.tlsPort));

  // hold to talk over the voice WebSocket, when the server has it and the browser can record
  if (ctx.listen && talkSupported()) {
    const btnText = h('span', null, 'Hold to talk');
    const btn = h('button', { type: 'button', class: 'btn btn-talk', id: 'talk', 'aria-describedby': 'talk-hint' }, icon('mic'), btnText);
    const status = h('p', { class: 'muted small', id: 'talk-hint' }, 'Press and hold (or hold the space bar on the button), ask, then let go.');
    replace(talkBox, btn, status);
    const phaseText: Record<string, string> = { idle: 'Hold to talk', listening: 'Listening…', thinking: 'Thinking…', speaking: 'Speaking…' };
    const talker = new Talker((s: ConversationState) => {
      btnText.textContent = phaseText[s.phase] ?? phaseText.idle;
      btn.classList.toggle('live', s.phase === 'listening');
      if (s.reply && s.reply !== shownReply) {
        shownReply = s.reply;
        showVoice(s.reply, s.transcript ?? '');
      }
      if (s.error) replace(status, alertBox(s.error.message));
      else if (s.phase === 'listening') status.textContent = s.partial ? `“${s.partial}”` : 'Listening… let go when you are done.';
      else if (s.phase === 'thinking') status.textContent = `Heard “${s.transcript ?? ''}”, thinking…`;
      else if (s.phase === 'speaking') status.textContent = 'Receiving the spoken answer…';
      else if (s.reply) status.textContent = 'Press and hold to ask again.';
    });
    let shownReply: ReplyEvent | null = null;
    const showVoice = (r: ReplyEvent, transcript: string) => showAnswer({ reply: r.text, outcome: r.outcome, intent: r.intent, sighting: r.sighting, timings: r.timings }, transcript, { voice: true, transcript });
    let holding = false;
    const down = (ev: Event) => {
      ev.preventDefault();
      if (holding) return;
      holding = true;
      talker.start().catch((err: unknown) => {
        holding = false;
        replace(status, alertBox(err instanceof Error ? `Cannot record: ${err.message}` : 'Cannot record.'));
        talker.reset();
      });
    };
    const up = () => {
      if (!holding) return;
      holding = false;
      talker.stop();
    };
    btn.addEventListener('pointerdown', (e) => {
      btn.setPointerCapture(e.pointerId);
      down(e);
    });
    btn.addEventListener('pointerup', up);
    btn.addEventListener('pointercancel', up);
    btn.addEventListener('contextmenu', (e) => e.preventDefault());
    btn.addEventListener('keydown', (e) => {
      if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) down(e);
    });
    btn.addEventListener('keyup', (e) => {
      if (e.key === ' ' || e.key === 'Enter') up();
    });
    btn.addEventListener('blur', up);
  }
}

/** why "Hold to talk" is missing on a plain http:// page from another machine, and the way to get it */
export function micNeedsHttps(tlsPort: number | null): HTMLElement {
  const here = `${location.protocol}//${location.host}`;
  if (tlsPort) {
    const url = `https://${location.hostname}:${tlsPort}${location.pathname}`;
    return h(
      'p',
      { class: 'muted small', id: 'talk-https' },
      'Hold to talk needs the microphone, which browsers give only to https:// pages (or to this server’s own machine). Open ',
      h('a', { href: url }, url),
      ' to talk; the first time, the browser asks you to accept the server’s certificate.',
    );
  }
  return h(
    'p',
    { class: 'muted small', id: 'talk-https' },
    `Hold to talk needs the microphone, which browsers give only to https:// pages or to localhost, not to ${here}. `,
    'Start the server with --tls-self-signed (or --tls-cert and --tls-key) and open its https:// address, or type your question above.',
  );
}
