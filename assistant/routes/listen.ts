/**
 * `GET /v1/listen` (WebSocket): ask by voice. The wire protocol is protocol/protocol.ts, documented in
 * docs/protocol.md. One connection carries many utterances, one at a time:
 *
 *   client: {"type":"start","sample_rate":16000}, binary s16le mono PCM frames..., {"type":"stop"}
 *   server: ready | listening, partial*, transcript, reply, (audio + binary frames)*, done | error
 *
 * Auth: `Authorization: Bearer <device token>` (or a session token), or the logged-in session cookie
 * (browsers; the Origin must then match the Host). A bad bearer token is refused before the upgrade (HTTP
 * 401); a connection without credentials is accepted, told `unauthorized`, and closed (code 1008).
 *
 * Registration: `await app.register(listenRoutes, { asr })` with the recogniser app.ts started (the caller
 * closes it); with `asr: null` (no models, or asr-engine none) voice requests get `unavailable`.
 */
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { AsrError, type Asr, type AsrProgress, type AsrResult, type AsrStream } from '../asr/index.js';
import type { Answer } from '../answer.js';
import type { Hypothesis } from '../../nlp/hearing.js';
import { liveDialog, type DialogContext } from '../dialog.js';
import { REPLY_AUDIO_CHUNK_BYTES, parseClientMessage, type ReplyEvent, type ServerEvent } from '../../protocol/protocol.js';
import type { Principal } from '../plugins/auth.js';
import type { HeardRecord } from '../../store/types.js';
import { AppError } from '../errors.js';
import { ListenSchema } from '../schemas.js';
import { CompletenessClassifier } from '../voice/complete.js';
import type { VoiceGuard } from '../voice/guard.js';
import { TURN_DEFAULTS, initialTurn, reduceTurn, type TimerKind, type TurnEffect, type TurnEvent, type TurnSettings, type TurnState } from '../voice/turn.js';
import { countAsr, countError, countFlush, countUtteranceEnd, recordQuery, registerGauge, voiceStreamOpened } from '../metrics.js'; // metrics

export interface ListenOptions {
  /** the recogniser (the caller closes it); null: voice is unavailable */
  asr: Asr | null;
  /** voice turn settings over the configured ones (tests: short watchdog, follow-up wait) */
  turn?: Partial<TurnSettings>;
  /** connection policy hooks (else app.voiceGuard when decorated) */
  guard?: VoiceGuard | null;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** the speech recogniser behind /v1/listen (null when not loaded) */
    asr: Asr | null;
  }
}

/** largest JSON text frame we read */
const MAX_TEXT_FRAME = 4096;
/** reply audio waits while this much is still unsent to a slow client */
const MAX_BUFFERED = 4 * 1024 * 1024;

const round = (ms: number) => Math.round(ms * 100) / 100;

/** the turn settings from the configuration (voice-* settings) */
export function turnSettings(config: FastifyInstance['config'], over: Partial<TurnSettings> = {}): TurnSettings {
  const c = config as unknown as Record<string, unknown>;
  const num = (k: string, d: number) => (typeof c[k] === 'number' && Number.isFinite(c[k]) ? (c[k] as number) : d);
  return {
    ...TURN_DEFAULTS,
    maxUtteranceSeconds: num('maxUtteranceSeconds', TURN_DEFAULTS.maxUtteranceSeconds),
    endSilenceMs: num('voiceEndSilenceMs', TURN_DEFAULTS.endSilenceMs),
    hesitationMs: num('voiceHesitationMs', TURN_DEFAULTS.hesitationMs),
    followUpMs: num('voiceFollowUpSeconds', TURN_DEFAULTS.followUpMs / 1000) * 1000,
    noSpeechMs: num('voiceNoSpeechSeconds', TURN_DEFAULTS.noSpeechMs / 1000) * 1000,
    ...over,
  };
}

/** a reply being prepared: the answer and, with speech, the first synthesised chunk */
interface Prepared {
  answer: Answer;
  iterator: AsyncIterator<Buffer> | null;
  first: IteratorResult<Buffer> | null;
  ttsMs: number;
}

/**
 * The plumbing around the pure turn reducer (voice/turn.ts) for one connection: it turns socket messages,
 * recogniser callbacks, answers and timers into TurnEvents, and carries out the reducer's effects.
 */
class Connection {
  private state: TurnState = initialTurn();
  private queue: TurnEvent[] = [];
  private running = false;
  private stream: { seq: number; s: AsrStream; release: (() => void) | null } | null = null;
  private timers = new Map<TimerKind, NodeJS.Timeout>();
  /** a speculative answer: started on a stable complete partial, kept if the final transcript agrees */
  private spec: { seq: number; text: string; dialog: DialogContext | null; p: Promise<Prepared>; dropped: boolean; ac: AbortController } | null = null;
  /** the answer being prepared (its speech's first piece not yet out): a stop aborts its synthesis */
  private answering: { seq: number; ac: AbortController } | null = null;
  /** the recogniser's N-best list for the utterance being answered */
  private heard: { seq: number; alternatives: Hypothesis[]; record: HeardRecord; look: AsrResult['secondLook'] } | null = null;
  /** the reply being spoken: its first chunk and the rest */
  private reply: { seq: number; prepared: Prepared; stopped: boolean } | null = null;
  /** what this conversation remembers between utterances (assistant/dialog.ts) */
  private dialog: DialogContext | null = null;
  /** the reply audio's sample rate the client asked for (null: the synthesiser's) */
  private replyRate: number | null = null;
  private log: FastifyBaseLogger;
  private readonly classifier: CompletenessClassifier;
  private unwatch: (() => void) | null = null;

  constructor(
    private readonly app: FastifyInstance,
    private readonly socket: WebSocket,
    private readonly principal: Principal,
    private readonly asr: Asr | null,
    private readonly asrProblem: string | null,
    private readonly requestLog: FastifyBaseLogger,
    private readonly cfg: TurnSettings,
    private guard: VoiceGuard | null,
    classifier: CompletenessClassifier,
  ) {
    this.log = requestLog;
    this.classifier = classifier;
  }

  open() {
    this.socket.on('message', (data: RawData, isBinary: boolean) => {
      try {
        this.onMessage(data, isBinary);
      } catch (e) {
        this.log.error({ err: e }, 'voice socket: message handling failed');
        this.sendNow({ type: 'error', code: 'internal', message: 'something went wrong on the server' });
      }
    });
    const offMetric = voiceStreamOpened(); // metrics
    this.socket.once('close', () => {
      offMetric();
      this.onClose();
    });
    this.socket.on('error', () => this.onClose());
    const refusal = this.guard?.admit?.(this.principal) ?? null;
    if (refusal) {
      this.guard = null; // nothing to release
      this.dispatch({ type: 'terminate', code: refusal.code, message: refusal.message, closeCode: 1008 });
      return;
    }
    this.unwatch = this.guard?.watch?.(this.principal, (code, message) => this.dispatch({ type: 'terminate', code, message, closeCode: 1008 })) ?? null;
    this.dispatch({ type: 'connected' });
  }

  /** runs events one at a time; events raised while effects run are queued behind them */
  dispatch(e: TurnEvent) {
    this.queue.push(e);
    if (this.running) return;
    this.running = true;
    try {
      while (this.queue.length) {
        const ev = this.queue.shift()!;
        const r = reduceTurn(this.state, ev, this.cfg);
        this.state = r.state;
        for (const fx of r.effects) {
          try {
            this.run(fx);
          } catch (err) {
            this.log.error({ err, effect: fx.type }, 'voice socket: effect failed');
          }
        }
      }
    } finally {
      this.running = false;
    }
  }

  private sendNow(e: ServerEvent) {
    if (this.socket.readyState !== this.socket.OPEN) return;
    if (e.type === 'error') countError(e.code, 'ws'); // metrics
    this.socket.send(JSON.stringify(e));
  }

  private onClose() {
    if (this.state.closed) return;
    this.dispatch({ type: 'closed' });
    this.unwatch?.();
    this.unwatch = null;
    this.guard?.release?.(this.principal);
  }

  private onMessage(data: RawData, isBinary: boolean) {
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    if (isBinary) return this.dispatch({ type: 'audio', pcm: buf });
    if (buf.length > MAX_TEXT_FRAME) return this.dispatch({ type: 'bad_message', message: `text frames are at most ${MAX_TEXT_FRAME} bytes` });
    const m = parseClientMessage(buf.toString('utf8'));
    if (!m) return this.dispatch({ type: 'bad_message', message: 'expected {"type":"start","sample_rate":N}, {"type":"stop"} or {"type":"cancel"}' });
    if ('type' in m) {
      if (m.type === 'start') {
        const rr = m.reply_sample_rate;
        if (rr !== undefined && !(Number.isInteger(rr) && rr >= 8000 && rr <= 48000)) return this.dispatch({ type: 'bad_message', message: 'reply_sample_rate must be a whole number from 8000 to 48000' });
        if (rr !== undefined) this.replyRate = rr; // reply audio at the rate the client asked for (speech.ts resamples)
        return this.dispatch({ type: 'start', sample_rate: m.sample_rate, format: m.format, channels: m.channels, audio: m.audio, endpoint: m.endpoint, hands_free: m.hands_free });
      }
      if (m.type === 'cancel') return this.dispatch({ type: 'cancel' });
      return this.dispatch({ type: 'stop' });
    }
    if ('config' in m) return this.dispatch({ type: 'start', sample_rate: m.config.sample_rate });
    return this.dispatch({ type: 'stop' });
  }

  // ---- effects ------------------------------------------------------------------------------------------

  private run(fx: TurnEffect) {
    switch (fx.type) {
      case 'send':
        return this.sendNow(fx.event);
      case 'log':
        return this.log[fx.level](fx.data ?? {}, fx.msg);
      case 'open_asr':
        return this.openAsr(fx.seq, fx.rate, fx.endpointing);
      case 'write_asr':
        if (this.stream?.seq === fx.seq) this.stream.s.write(fx.pcm);
        return;
      case 'finish_asr':
        countUtteranceEnd(fx.reason, fx.words); // metrics
        return this.finishAsr(fx.seq);
      case 'flush_asr':
        if (this.stream?.seq === fx.seq) {
          countFlush(); // metrics
          this.stream.s.flush();
        }
        return;
      case 'abort_asr':
        return this.closeStream(fx.seq, true);
      case 'speculate':
        return this.speculate(fx.seq, fx.text);
      case 'drop_speculation':
        return this.dropSpeculation();
      case 'answer':
        return void this.answer(fx.seq, fx.text, fx.asrMs, fx.audio);
      case 'speak':
        return void this.speak(fx.seq);
      case 'stop_speech':
        return this.stopSpeech(fx.seq);
      case 'set_timer': {
        const old = this.timers.get(fx.kind);
        if (old) clearTimeout(old);
        const t = setTimeout(() => {
          this.timers.delete(fx.kind);
          this.dispatch({ type: 'timer', kind: fx.kind, seq: fx.seq });
        }, fx.ms);
        t.unref?.();
        this.timers.set(fx.kind, t);
        return;
      }
      case 'clear_timer': {
        const t = this.timers.get(fx.kind);
        if (t) clearTimeout(t);
        this.timers.delete(fx.kind);
        return;
      }
      case 'close':
        if (this.socket.readyState === this.socket.OPEN) this.socket.close(fx.code, fx.reason);
        return;
    }
  }

  private openAsr(seq: number, rate: number, endpointing: boolean) {
    if (!this.asr) return this.dispatch({ type: 'asr_refused', seq, code: 'unavailable', message: this.asrProblem ?? 'speech recognition is not available' });
    let release: (() => void) | null = null;
    const g = this.guard?.openStream?.(this.principal);
    if (g && typeof g === 'object') return this.dispatch({ type: 'asr_refused', seq, code: g.code, message: g.message });
    if (typeof g === 'function') release = g;
    let s: AsrStream;
    try {
      s = this.asr.open(rate, { endpointing });
    } catch (e) {
      release?.();
      if (e instanceof AsrError)
        return this.dispatch({ type: 'asr_refused', seq, code: e.code === 'busy' ? 'busy' : e.code === 'bad_audio' ? 'bad_audio' : 'unavailable', message: e.message });
      throw e;
    }
    this.stream = { seq, s, release };
    // every log line of this utterance, through every stage, carries its id (and the connection's reqId)
    this.log = this.requestLog.child({ utterance: crypto.randomUUID() });
    if (this.principal.kind === 'device') this.log.debug({ device: this.principal.device.id }, 'device');
    const dialog = () => liveDialog(this.dialog, Date.now());
    s.on('progress', (p: AsrProgress) =>
      this.dispatch({ type: 'asr_progress', seq, text: p.text, silenceMs: p.silenceMs, speech: p.speech, complete: this.classifier.classify(p.text, dialog(), p.unknownTail), loudQuietMs: p.loudQuietMs, levelRangeDb: p.levelRangeDb, audioMs: p.audioMs }),
    );
    s.on('partial', (text: string) => {
      // without a VAD the partials come only this way
      if (!s.hasVad) this.dispatch({ type: 'asr_progress', seq, text, silenceMs: null, speech: true, complete: 'incomplete' });
    });
    s.on('endpoint', (text: string) => this.dispatch({ type: 'asr_endpoint', seq, text, complete: this.classifier.classify(text, dialog()) }));
    s.on('error', (e: AsrError) => this.dispatch({ type: 'asr_error', seq, message: e.message }));
    this.dispatch({ type: 'asr_opened', seq });
  }

  private closeStream(seq: number, abort: boolean) {
    const cur = this.stream;
    if (!cur || cur.seq !== seq) return;
    this.stream = null;
    if (abort) cur.s.abort();
    cur.release?.();
  }

  private finishAsr(seq: number) {
    const cur = this.stream;
    if (!cur || cur.seq !== seq) return;
    cur.s.finish().then(
      (r) => {
        this.closeStream(seq, false);
        countAsr(r.audioSeconds, r.cpuMs); // metrics
        if (!this.state.closed) this.log.debug({ text: r.text, alternatives: r.alternatives.length }, 'transcript');
        const alternatives = r.alternatives.map((a) => ({ text: a.text, confidence: a.confidence }));
        const words = r.words.map((w) => ({ word: w.word, conf: w.conf }));
        this.heard = { seq, alternatives, record: { alternatives, words }, look: r.secondLook };
        this.dispatch({ type: 'asr_final', seq, text: r.text, ms: round(r.ms), alternatives, words });
      },
      (e: Error) => {
        this.closeStream(seq, false);
        this.dispatch({ type: 'asr_error', seq, message: e.message });
      },
    );
  }

  /** the answer and (with speech) its first synthesised chunk */
  private async prepare(text: string, dialog: DialogContext | null, audio: boolean, isStale: () => boolean, alternatives?: Hypothesis[], signal?: AbortSignal, look?: AsrResult['secondLook']): Promise<Prepared> {
    const a = await this.app.answerer.answer(this.principal.user.id, text, { dialog, alternatives, secondLook: look ? () => look.take() : undefined });
    const speech = audio ? this.app.speech : null;
    if (!speech || !a.reply || isStale()) return { answer: a, iterator: null, first: null, ttsMs: 0 };
    const t = performance.now();
    // the signal drops the synthesis (queued pieces leave the synthesiser's queue) even before its first audio
    const iterator = speech.stream(a.reply, { ...(this.replyRate ? { sampleRate: this.replyRate } : {}), signal })[Symbol.asyncIterator]();
    const first = await iterator.next();
    return { answer: a, iterator, first, ttsMs: round(performance.now() - t) };
  }

  private speculate(seq: number, text: string) {
    this.dropSpeculation();
    const dialog = this.dialog;
    const spec = { seq, text, dialog, dropped: false, ac: new AbortController(), p: null as unknown as Promise<Prepared> };
    spec.p = this.prepare(text, dialog, this.state.wantAudio, () => spec.dropped, undefined, spec.ac.signal);
    spec.p.then(
      (r) => {
        if (spec.dropped) void r.iterator?.return?.();
      },
      () => {},
    );
    this.spec = spec;
  }

  private dropSpeculation() {
    const spec = this.spec;
    if (!spec) return;
    this.spec = null;
    spec.dropped = true;
    spec.ac.abort(); // its speech stops being synthesised now, not after its first piece
    spec.p.then((r) => void r.iterator?.return?.(), () => {});
  }

  private async answer(seq: number, text: string, asrMs: number, audio: boolean) {
    try {
      const spec = this.spec;
      let prepared: Prepared;
      let speculative = false;
      let specWaitMs = 0;
      // the recogniser's N-best list: the answer is decided from it (nlp/hearing.ts), not from the words alone
      const heard = this.heard?.seq === seq ? this.heard : null;
      const alternatives = heard?.alternatives;
      this.heard = null;
      // a speculative answer was prepared from the words so far; it stands only when the whole list leads to
      // the same decision (an unsure item is asked about, not answered)
      if (spec && spec.seq === seq && spec.text === text && spec.dialog === this.dialog && this.app.answerer.sameHearing(text, alternatives, !!heard?.look)) {
        this.spec = null;
        this.answering = { seq, ac: spec.ac };
        const t0 = performance.now();
        prepared = await spec.p;
        // what this answer still waited for: the speculation's answer and first audio, if not ready yet
        specWaitMs = performance.now() - t0;
        speculative = true;
      } else {
        this.dropSpeculation();
        const ac = new AbortController();
        this.answering = { seq, ac };
        prepared = await this.prepare(text, this.dialog, audio, () => this.state.seq !== seq || this.state.closed, alternatives, ac.signal, heard?.look);
      }
      if (this.answering?.seq === seq) this.answering = null;
      heard?.look?.release();
      if (this.state.seq !== seq || this.state.closed || this.state.phase !== 'answering') {
        void prepared.iterator?.return?.();
        return;
      }
      const a = prepared.answer;
      this.dialog = a.dialog;
      const look = a.second_look;
      const timings = { asr_ms: round(asrMs), nlp_ms: a.timings.nlp_ms, lookup_ms: a.timings.lookup_ms, tts_ms: speculative ? round(specWaitMs) : prepared.ttsMs, ...(look ? { second_look_ms: look.ms } : {}) };
      this.log.info({ stage: 'answer', intent: a.intent, outcome: a.outcome, label: a.label, speculative, ...timings }, 'answered');
      recordQuery('voice', a.outcome, timings); // metrics
      this.app.queryLog.addAnswer(this.principal, 'voice', text, a, timings, heard ? { ...heard.record, check: look ? { text: look.text, verdict: look.verdict } : null } : null);
      const reply: ReplyEvent = {
        type: 'reply',
        text: a.reply,
        intent: a.intent,
        outcome: a.outcome,
        item: a.item,
        label: a.label,
        sighting: a.sighting
          ? {
              label: a.sighting.label,
              score: a.sighting.score,
              box: a.sighting.box,
              seen_at: a.sighting.seen_at,
              room: a.sighting.room,
              zone: a.sighting.zone,
              device: a.sighting.device,
              frame_id: a.sighting.frame_id,
            }
          : null,
        timings,
        follow_up: a.follow_up,
      };
      const speech = !!(prepared.iterator && prepared.first && !prepared.first.done);
      if (speech) this.reply = { seq, prepared, stopped: false };
      else void prepared.iterator?.return?.();
      this.dispatch({ type: 'answered', seq, reply, followUp: a.follow_up, speech });
    } catch (e) {
      this.dispatch({ type: 'answer_failed', seq, message: (e as Error).message });
    }
  }

  private stopSpeech(seq: number) {
    if (this.answering?.seq === seq) {
      this.answering.ac.abort();
      this.answering = null;
    }
    const r = this.reply;
    if (!r || r.seq !== seq) return;
    r.stopped = true;
    this.reply = null;
    void r.prepared.iterator?.return?.();
  }

  /**
   * Streams reply audio: chunks that synthesis hands out together go under one `audio` event (its `bytes`
   * is exactly what follows, in frames of at most 8 KiB); a later burst gets its own `audio` event.
   * A stop (cancel, barge-in, close) takes effect between bursts, so the framing stays whole.
   */
  private async speak(seq: number) {
    const cur = this.reply;
    if (!cur || cur.seq !== seq) return this.dispatch({ type: 'spoken', seq });
    const it = cur.prepared.iterator!;
    const sampleRate = this.replyRate ?? this.app.speech?.sampleRate ?? 16000;
    const stopped = () => cur.stopped || this.state.closed || this.socket.readyState !== this.socket.OPEN;
    const TICK = Symbol('tick');
    let batch: Buffer[] = [];
    const flush = async () => {
      const total = batch.reduce((n, b) => n + b.length, 0);
      if (total > 0 && !stopped()) {
        this.sendNow({ type: 'audio', format: 's16le', sample_rate: sampleRate, bytes: total });
        for (const b of batch)
          for (let o = 0; o < b.length; o += REPLY_AUDIO_CHUNK_BYTES) this.socket.send(b.subarray(o, o + REPLY_AUDIO_CHUNK_BYTES), { binary: true });
        while (!stopped() && this.socket.bufferedAmount > MAX_BUFFERED) await new Promise((r) => setTimeout(r, 20));
      }
      batch = [];
    };
    let r: IteratorResult<Buffer> | typeof TICK = cur.prepared.first!;
    let pending: Promise<IteratorResult<Buffer>> | null = null;
    try {
      for (;;) {
        if (stopped()) break;
        if (r === TICK) {
          await flush();
          r = await pending!;
          continue;
        }
        if (r.done) break;
        if (r.value.length) batch.push(r.value);
        pending = it.next();
        r = await Promise.race([pending, new Promise<typeof TICK>((res) => setTimeout(res, 5, TICK))]);
      }
      await flush();
    } catch (e) {
      if (!stopped()) this.log.error({ err: e }, 'voice socket: speech synthesis failed');
    } finally {
      if (stopped()) void it.return?.();
      if (this.reply === cur) this.reply = null;
    }
    this.dispatch({ type: 'spoken', seq });
  }
}

function originMatches(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (!origin) return true; // not a browser
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

async function listenRoutes(app: FastifyInstance, opts: ListenOptions) {
  if (!app.hasDecorator('websocketServer')) await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  // An upgrade refused by an earlier onRequest hook (a bad bearer token: HTTP 401) skips @fastify/websocket's
  // own onRequest hook, so nothing closes the raw socket after the response and app.close() would wait on it
  // forever. Close it here. (Registering @fastify/websocket before the auth plugin also avoids this.)
  app.addHook('onResponse', (request, _reply, done) => {
    const r = request as FastifyRequest & { ws?: boolean };
    if (!r.ws && /^websocket$/i.test(String(request.headers.upgrade ?? ''))) request.raw.socket?.destroy();
    done();
  });

  const asr = opts.asr;
  const problem = asr ? null : 'speech recognition is not available';
  if (asr) {
    const a = asr;
    const offBacklog = registerGauge('whereabouts_asr_backlog_seconds', 'seconds of audio waiting for the recogniser', () => a.stats().queued); // metrics
    app.addHook('onClose', async () => offBacklog()); // metrics
  }
  if (!app.hasDecorator('asr')) app.decorate('asr', asr);
  // what counts as a whole question follows the vocabulary (fixed at start-up, like the labels)
  const classifier = new CompletenessClassifier(app.labelBook.vocabulary);
  const cfg = turnSettings(app.config, opts.turn);

  // a plain HTTP request (no upgrade) gets the one error shape; the socket side is the wsHandler
  const upgradeRequired = async () => {
    throw new AppError('upgrade_required', 'this is a WebSocket endpoint: connect with "Upgrade: websocket" (see docs/protocol.md)', { headers: { upgrade: 'websocket' } });
  };
  app.route({ method: 'GET', url: '/v1/listen', schema: ListenSchema, handler: upgradeRequired, wsHandler: (socket: WebSocket, request: FastifyRequest) => {
    const p = request.principal;
    if (!p || (p.kind === 'user' && p.via === 'cookie' && !originMatches(request))) {
      socket.send(
        JSON.stringify({
          type: 'error',
          code: 'unauthorized',
          message: p ? 'cross-origin voice connections are not allowed' : 'send "Authorization: Bearer <device token>" or log in first',
        } satisfies ServerEvent),
      );
      socket.close(1008, 'unauthorized');
      return;
    }
    if (p.kind === 'device') void app.store.touchDevice(p.device.id, Date.now()).catch(() => {});
    const guard = opts.guard !== undefined ? opts.guard : (app.voiceGuard ?? null);
    const g = guard?.noAudioMs ? { ...cfg, noAudioMs: guard.noAudioMs } : cfg;
    new Connection(app, socket, p, asr, problem, request.log, g, guard, classifier).open();
  } });
}

export default fp<ListenOptions>(listenRoutes, { name: 'whereabouts-listen', dependencies: ['context', 'auth'] });
