/**
 * `GET /v1/listen` (WebSocket): ask by voice. The wire protocol is assistant/protocol.ts, documented in
 * docs/protocol.md. One connection carries many utterances, one at a time:
 *
 *   client: {"type":"start","sample_rate":16000}, binary s16le mono PCM frames..., {"type":"stop"}
 *   server: ready | listening, partial*, transcript, reply, (audio + binary frames)*, done | error
 *
 * Auth: `Authorization: Bearer <device token>` (or a session token), or the logged-in session cookie
 * (browsers; the Origin must then match the Host). A bad bearer token is refused before the upgrade (HTTP
 * 401); a connection without credentials is accepted, told `unauthorized`, and closed (code 1008).
 *
 * Registration: `await app.register(listenRoutes, { asr })`. Without `asr` the plugin starts the recogniser
 * itself from app.config (unless config.noModels), rebuilds its grammar when the labels change, and stops it
 * when the server closes; if the model is missing, voice requests get `unavailable` and the rest of the
 * server keeps working.
 */
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { createAsr, AsrError, type Asr, type AsrStream } from '../asr/index.js';
import type { DialogContext } from '../dialog.js';
import {
  MAX_AUDIO_FRAME_BYTES,
  MAX_SAMPLE_RATE,
  MIN_SAMPLE_RATE,
  PROTOCOL_VERSION,
  REPLY_AUDIO_CHUNK_BYTES,
  parseClientMessage,
  type ErrorEventCode,
  type ServerEvent,
  type TranscriptEvent,
} from '../protocol.js';
import type { Principal } from '../plugins/auth.js';
import { AppError } from '../errors.js';
import { ListenSchema } from '../schemas.js';
import { countAsr, countError, recordQuery, registerGauge, voiceStreamOpened } from '../metrics.js'; // metrics

export interface ListenOptions {
  /** a recogniser to use (the caller closes it); null: voice is unavailable; undefined: start one from config */
  asr?: Asr | null;
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

type State = 'idle' | 'listening' | 'busy';

const round = (ms: number) => Math.round(ms * 100) / 100;

class Conversation {
  private state: State = 'idle';
  /** after the server ended an utterance (endpoint, max length), audio still in flight is dropped until stop/start */
  private draining = false;
  private stream: AsrStream | null = null;
  /** the utterance whose partials are forwarded: from start until its transcript is sent */
  private heard: AsrStream | null = null;
  private rate = 16000;
  private wantAudio = true;
  private bytes = 0;
  private maxBytes = 0;
  private closed = false;
  private cancelSpeech: (() => void) | null = null;
  /** what this conversation remembers between utterances (assistant/dialog.ts) */
  private dialog: DialogContext | null = null;
  /** the connection's request logger, then a child carrying the current utterance's id on every line */
  private log: FastifyBaseLogger;

  constructor(
    private readonly app: FastifyInstance,
    private readonly socket: WebSocket,
    private readonly principal: Principal,
    private readonly asr: Asr | null,
    private readonly asrProblem: string | null,
    private readonly requestLog: FastifyBaseLogger,
  ) {
    this.log = requestLog;
  }

  start() {
    this.socket.on('message', (data: RawData, isBinary: boolean) => {
      try {
        this.onMessage(data, isBinary);
      } catch (e) {
        this.log.error({ err: e }, 'voice socket: message handling failed');
        this.fail('internal', 'something went wrong on the server');
      }
    });
    this.socket.on('close', () => this.onClose());
    this.socket.once('close', voiceStreamOpened()); // metrics
    this.socket.on('error', () => this.onClose());
    this.send({ type: 'ready', protocol: PROTOCOL_VERSION, sample_rates: [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE] });
  }

  private send(e: ServerEvent) {
    if (!this.closed && this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(e));
  }

  private sendError(code: ErrorEventCode, message: string) {
    countError(code, 'ws'); // metrics
    this.send({ type: 'error', code, message });
  }

  /** ends the current utterance (if any) with an error; the connection stays open */
  private fail(code: ErrorEventCode, message: string) {
    if (this.heard === this.stream) this.heard = null;
    if (this.stream) {
      this.stream.abort();
      this.stream = null;
    }
    if (this.state === 'listening') this.state = 'idle';
    this.sendError(code, message);
  }

  private onClose() {
    if (this.closed) return;
    this.closed = true;
    if (this.stream) {
      this.stream.abort();
      this.stream = null;
    }
    this.cancelSpeech?.();
  }

  private onMessage(data: RawData, isBinary: boolean) {
    if (this.closed) return;
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    if (isBinary) return this.onAudio(buf);
    if (buf.length > MAX_TEXT_FRAME) return this.fail('bad_message', `text frames are at most ${MAX_TEXT_FRAME} bytes`);
    const text = buf.toString('utf8');
    const m = parseClientMessage(text);
    if (!m) {
      const hint = this.state === 'listening' ? ' (audio goes in binary frames)' : '';
      return this.fail('bad_message', `expected {"type":"start","sample_rate":N} or {"type":"stop"}${hint}`);
    }
    if ('type' in m && m.type === 'start') return this.onStart(m.sample_rate, m.format, m.channels, m.audio);
    if ('config' in m) return this.onStart(m.config.sample_rate, undefined, undefined, undefined);
    return this.onStop();
  }

  private onStart(rate: unknown, format: unknown, channels: unknown, audio: unknown) {
    if (this.state === 'busy') return this.sendError('bad_message', 'still answering the previous question: wait for "done"');
    if (this.stream) {
      // a new start while listening drops the unfinished utterance
      this.heard = null;
      this.stream.abort();
      this.stream = null;
      this.state = 'idle';
    }
    this.draining = false;
    if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE)
      return this.fail('bad_audio', `sample_rate must be a whole number from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE}, got ${JSON.stringify(rate)}`);
    if (format !== undefined && format !== 's16le') return this.fail('bad_audio', `format must be "s16le", got ${JSON.stringify(format)}`);
    if (channels !== undefined && channels !== 1) return this.fail('bad_audio', `channels must be 1 (mono), got ${JSON.stringify(channels)}`);
    if (audio !== undefined && typeof audio !== 'boolean') return this.fail('bad_message', '"audio" must be true or false');
    if (!this.asr) return this.fail('unavailable', this.asrProblem ?? 'speech recognition is not available');
    let s: AsrStream;
    try {
      s = this.asr.open(rate);
    } catch (e) {
      if (e instanceof AsrError) return this.fail(e.code === 'busy' ? 'busy' : e.code === 'bad_audio' ? 'bad_audio' : 'unavailable', e.message);
      throw e;
    }
    this.stream = s;
    this.rate = rate;
    this.wantAudio = audio !== false;
    this.bytes = 0;
    this.maxBytes = Math.round(Math.max(1, this.app.config.maxUtteranceSeconds) * rate) * 2;
    this.heard = s;
    s.on('partial', (text) => {
      // also after stop: audio sent just before it is still being decoded
      if (this.heard === s && text) this.send({ type: 'partial', text });
    });
    s.on('endpoint', (text) => {
      if (this.stream === s && text) void this.endUtterance('endpoint');
    });
    s.on('error', (e) => {
      if (this.stream === s) {
        this.log.error({ err: e }, 'voice socket: recogniser failed');
        this.fail('internal', 'the speech recogniser failed; try again');
      }
    });
    this.state = 'listening';
    // every log line of this utterance, through every stage, carries its id (and the connection's reqId)
    this.log = this.requestLog.child({ utterance: crypto.randomUUID() });
    this.log.info({ sample_rate: rate, device: this.principal.kind === 'device' ? this.principal.device.id : null }, 'utterance started');
    this.send({ type: 'listening', sample_rate: rate });
  }

  private onAudio(buf: Buffer) {
    if (this.state !== 'listening' || !this.stream) {
      if (this.state === 'busy' || this.draining) return; // audio still in flight after the utterance ended
      return this.sendError('bad_audio', 'send {"type":"start","sample_rate":N} before audio');
    }
    if (buf.length === 0) return;
    if (buf.length > MAX_AUDIO_FRAME_BYTES) return this.fail('bad_audio', `audio frames are at most ${MAX_AUDIO_FRAME_BYTES} bytes`);
    if (buf.length % 2 !== 0) return this.fail('bad_audio', `audio frames must hold whole 16-bit samples (got ${buf.length} bytes)`);
    this.stream.write(buf);
    this.bytes += buf.length;
    if (this.bytes >= this.maxBytes) void this.endUtterance('max_length');
  }

  private onStop() {
    if (this.state === 'listening') return void this.endUtterance('stop');
    this.draining = false; // the stop that follows a server-ended utterance, or a stray one: nothing to do
  }

  private async endUtterance(reason: TranscriptEvent['reason']) {
    const s = this.stream;
    if (!s || this.state !== 'listening') return;
    this.stream = null;
    this.state = 'busy';
    this.draining = reason !== 'stop';
    try {
      let r;
      try {
        r = await s.finish();
      } catch (e) {
        if (this.heard === s) this.heard = null;
        if (this.closed) return;
        this.log.error({ err: e }, 'voice socket: recogniser failed');
        this.state = 'idle';
        return this.sendError('internal', 'the speech recogniser failed; try again');
      }
      if (this.heard === s) this.heard = null;
      if (this.closed) return;
      const text = r.text;
      countAsr(r.audioSeconds, r.cpuMs); // metrics
      if (reason === 'max_length' && !text) {
        this.state = 'idle';
        return this.sendError('too_long', `stopped listening after ${this.app.config.maxUtteranceSeconds} s without hearing a question`);
      }
      this.log.info({ stage: 'asr', ms: round(r.ms), reason, audio_s: r.audioSeconds }, 'heard');
      this.log.debug({ text }, 'transcript');
      this.send({ type: 'transcript', text, reason });
      await this.reply(text, r.ms);
    } catch (e) {
      if (!this.closed) {
        this.log.error({ err: e }, 'voice socket: answering failed');
        this.sendError('internal', 'something went wrong while answering');
      }
    } finally {
      if (this.state === 'busy') this.state = 'idle';
    }
  }

  private async reply(text: string, asrMs: number) {
    const p = this.principal;
    const userId = p.user.id;
    const a = await this.app.answerer.answer(userId, text, { dialog: this.dialog });
    this.dialog = a.dialog;
    if (this.closed) return;
    const speech = this.wantAudio ? this.app.speech : null;
    let ttsMs = 0;
    let iterator: AsyncIterator<Buffer> | null = null;
    let first: IteratorResult<Buffer> | null = null;
    if (speech && a.reply) {
      const t = performance.now();
      iterator = speech.stream(a.reply)[Symbol.asyncIterator]();
      this.cancelSpeech = () => void iterator?.return?.();
      first = await iterator.next();
      ttsMs = round(performance.now() - t);
      if (this.closed) return void iterator.return?.();
    }
    const timings = { asr_ms: round(asrMs), nlp_ms: a.timings.nlp_ms, lookup_ms: a.timings.lookup_ms, tts_ms: ttsMs };
    this.log.info({ stage: 'answer', intent: a.intent, outcome: a.outcome, label: a.label, ...timings }, 'answered');
    recordQuery('voice', a.outcome, timings); // metrics
    this.send({
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
            device: a.sighting.device,
            frame_id: a.sighting.frame_id,
          }
        : null,
      timings,
    });
    this.app.queryLog.addAnswer(p, 'voice', text, a, timings);
    if (iterator && first) await this.speak(iterator, first);
    this.cancelSpeech = null;
    if (!this.closed) {
      this.log.info({ stage: 'tts' }, 'spoken');
      this.send({ type: 'done' });
    }
  }

  /**
   * Streams reply audio: chunks that synthesis hands out together go under one `audio` event (its `bytes`
   * is exactly what follows, in frames of at most 8 KiB); a later burst gets its own `audio` event.
   */
  private async speak(it: AsyncIterator<Buffer>, first: IteratorResult<Buffer>) {
    const TICK = Symbol('tick');
    const sampleRate = this.app.speech?.sampleRate ?? 16000;
    let batch: Buffer[] = [];
    const flush = async () => {
      const total = batch.reduce((n, b) => n + b.length, 0);
      if (total > 0 && !this.closed) {
        this.send({ type: 'audio', format: 's16le', sample_rate: sampleRate, bytes: total });
        for (const b of batch)
          for (let o = 0; o < b.length; o += REPLY_AUDIO_CHUNK_BYTES) this.socket.send(b.subarray(o, o + REPLY_AUDIO_CHUNK_BYTES), { binary: true });
        while (!this.closed && this.socket.bufferedAmount > MAX_BUFFERED) await new Promise((r) => setTimeout(r, 20));
      }
      batch = [];
    };
    let r: IteratorResult<Buffer> | typeof TICK = first;
    let pending: Promise<IteratorResult<Buffer>> | null = null;
    try {
      for (;;) {
        if (this.closed) return void it.return?.();
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
      if (!this.closed) this.log.error({ err: e }, 'voice socket: speech synthesis failed');
    }
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

  let asr: Asr | null = opts.asr ?? null;
  let problem: string | null = null;
  if (opts.asr === undefined) {
    if (app.config.noModels) problem = 'speech recognition is off (the server runs without models)';
    else {
      try {
        const v = app.labelBook.vocabulary;
        asr = await createAsr(app.config, v.phrases(), {
          preferred: v.labels,
          log: {
            debug: (m) => app.log.debug(m),
            info: (m) => app.log.info(m),
            warn: (m) => app.log.warn(m),
            error: (m) => app.log.error(m),
          },
        });
        const started = asr;
        app.addHook('onClose', async () => started.close());
      } catch (e) {
        problem = (e as Error).message;
        app.log.error(`speech recognition unavailable: ${problem}`);
      }
    }
  } else if (!opts.asr) problem = 'speech recognition is not available';
  if (asr) {
    const a = asr;
    const offBacklog = registerGauge('whereabouts_asr_backlog_seconds', 'seconds of audio waiting for the recogniser', () => a.stats().queued); // metrics
    app.addHook('onClose', async () => offBacklog()); // metrics
    const off = app.labelBook.onChange((v) => a.setPhrases(v.phrases(), v.labels));
    app.addHook('onClose', async () => void off());
  }
  if (!app.hasDecorator('asr')) app.decorate('asr', asr);

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
    new Conversation(app, socket, p, asr, problem, request.log).start();
  } });
}

export default fp<ListenOptions>(listenRoutes, { name: 'whereabouts-listen', dependencies: ['context', 'auth'] });
