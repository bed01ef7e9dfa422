/**
 * `whereabouts-pi listen`: talks to `GET /v1/listen` (WebSocket) with the shared protocol of
 * protocol/protocol.ts, folding every server event through its pure `reduceConversation`.
 *
 * One question ("turn"): send `start` -> the server says `listening` -> binary s16le audio (held back until
 * `listening`) -> `stop` (button released, Enter, end of speech, end of file; or the server ends the
 * utterance itself with a `transcript`) -> `transcript`, `reply`, `audio` + exactly `bytes` bytes of
 * binary audio -> `done`. The reply audio goes to the AudioSink.
 *
 * What opens and closes a question (the "driver"): Enter on a terminal, a GPIO button (gpiomon), the energy
 * VAD (hands-free), or audio files (`--input`, each file one question unless `--vad`; a later file answers the
 * reply's question when it asked one). Hands-free, the energy VAD only opens a question: the microphone then
 * streams until the server's endpointer has heard the whole question (its `transcript`). Barge-in: a button
 * press (or Enter) during the reply, or speech heard during it (hands-free), sends `cancel` and stops the
 * local playback. After a reply that asks a question (`follow_up`), the microphone stays open and the server
 * listens for the answer without another start.
 * A lost connection is re-opened with exponential backoff and jitter.
 */
import { EventEmitter } from 'node:events';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import WebSocket from 'ws';
import {
  MAX_AUDIO_FRAME_BYTES,
  PROTOCOL_VERSION,
  initialConversation,
  isServerEvent,
  reduceConversation,
  type ClientMessage,
  type ConversationState,
  type DoneEvent,
  type ErrorEvent,
  type ReadyEvent,
  type ReplyEvent,
  type ServerEvent,
} from '../protocol/protocol.js';
import { splitBuffer } from '../protocol/pcm.js';
import type { AudioSink, AudioSource, SinkStream } from './audio.js';
import { Backoff, Sleeper } from './backoff.js';
import { GpioButton } from './button.js';
import type { PiConfig } from './config.js';
import { AuthError, PiError } from './errors.js';
import { authError, describeNetError } from './http.js';
import type { Logger } from './log.js';
import { EnergyVad } from './vad.js';

export function listenUrl(server: string): string {
  return server.replace(/^http/i, 'ws') + '/v1/listen';
}

// ---- the socket ------------------------------------------------------------------------------------------

export class VoiceLink extends EventEmitter {
  ready: ReadyEvent | null = null;
  private closed = false;

  private constructor(private readonly ws: WebSocket) {
    super();
  }

  /** opens the socket and waits for `ready`; one-line errors for a refused token and an unreachable server */
  static open(server: string, token: string, timeoutMs = 10_000): Promise<VoiceLink> {
    const url = listenUrl(server);
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, handshakeTimeout: timeoutMs, maxPayload: 16 * 1024 * 1024 });
      const link = new VoiceLink(ws);
      let settled = false;
      const fail = (e: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(t);
        ws.removeAllListeners('close');
        ws.on('error', () => {});
        try {
          ws.terminate();
        } catch {
          /* already down */
        }
        reject(e);
      };
      const t = setTimeout(() => fail(new PiError(`the server at ${server} did not say it was ready within ${timeoutMs / 1000} s`)), timeoutMs);
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d));
        res.on('end', () => {
          let json: any = null;
          try {
            json = JSON.parse(body);
          } catch {
            /* not JSON */
          }
          const status = res.statusCode ?? 0;
          if (status === 401 || status === 403) fail(authError(server, { status, json }));
          else if (status === 404) fail(new PiError(`the server at ${server} has no voice endpoint (GET /v1/listen answered 404): is it a whereabouts server, and new enough?`));
          else fail(new PiError(`the server at ${server} refused the voice connection (${status}${json?.error?.message ? `: ${json.error.message}` : ''})`));
        });
      });
      ws.on('error', (e) => {
        if (!settled) fail(new PiError(`cannot reach the server at ${server}: ${describeNetError(e)}`));
        else link.emit('problem', e);
      });
      ws.on('close', (code, reason) => {
        link.closed = true;
        if (!settled) fail(new PiError(`the server at ${server} closed the voice connection (${code}${reason.length ? `: ${reason}` : ''})`));
        else link.emit('close', code, reason.toString());
      });
      ws.on('message', (data, isBinary) => {
        const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        if (isBinary) {
          link.emit('audio', buf);
          return;
        }
        let e: unknown;
        try {
          e = JSON.parse(buf.toString('utf8'));
        } catch {
          return;
        }
        if (!isServerEvent(e)) return;
        if (!settled) {
          if (e.type === 'ready') {
            settled = true;
            clearTimeout(t);
            link.ready = e;
            resolve(link);
          } else if (e.type === 'error') {
            if (e.code === 'unauthorized') fail(authError(server, { status: 401, json: { error: e } }));
            else fail(new PiError(`the server at ${server} refused the voice connection (${e.code}: ${e.message})`));
          }
          return;
        }
        link.emit('event', e);
      });
    });
  }

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === WebSocket.OPEN;
  }

  send(m: ClientMessage): void {
    if (this.isOpen) this.ws.send(JSON.stringify(m));
  }

  sendAudio(pcm: Buffer): void {
    if (!this.isOpen) return;
    for (const piece of splitBuffer(pcm, MAX_AUDIO_FRAME_BYTES)) this.ws.send(piece, { binary: true });
  }

  close(): void {
    this.closed = true;
    try {
      this.ws.close(1000);
    } catch {
      /* gone */
    }
  }
}

// ---- what the user sees ----------------------------------------------------------------------------------

export class Ui {
  private partialShown = false;
  constructor(
    private readonly o: { json: boolean; partials: boolean; out: NodeJS.WritableStream & { isTTY?: boolean } },
  ) {}

  private line(s: string): void {
    if (this.partialShown) {
      this.o.out.write('\r\x1b[K');
      this.partialShown = false;
    }
    this.o.out.write(s + '\n');
  }

  event(e: ServerEvent): void {
    if (this.o.json) {
      this.o.out.write(JSON.stringify(e) + '\n');
      return;
    }
    switch (e.type) {
      case 'partial':
        if (!e.text) return;
        if (this.o.out.isTTY) {
          this.o.out.write(`\r\x1b[K… ${e.text}`);
          this.partialShown = true;
        } else if (this.o.partials) this.line(`… ${e.text}`);
        return;
      case 'transcript':
        this.line(`you: ${e.text || '(nothing heard)'}`);
        return;
      case 'reply':
        this.line(`whereabouts: ${e.text}`);
        return;
      default:
    }
  }

  played(bytes: number, sampleRate: number, sink: string): void {
    if (this.o.json) this.o.out.write(JSON.stringify({ type: 'played', bytes, sample_rate: sampleRate, sink }) + '\n');
  }

  hint(s: string): void {
    if (!this.o.json) this.line(s);
  }
}

// ---- one conversation over one socket -------------------------------------------------------------------

/** the connection went away (or stopped answering): reconnect, unless this was a one-shot run */
export class LinkLost extends PiError {}

export interface TurnResult {
  transcript: string | null;
  reply: ReplyEvent | null;
  /** the reply asked a question: the server listens for the answer now (keep the microphone open) */
  followUp: boolean;
  /** the reply was cancelled (barge-in) or nobody answered a follow-up */
  ended: 'cancelled' | 'no_speech' | 'not_a_request' | null;
  /** bytes announced by the `audio` event, and bytes handed to the sink */
  audioBytes: number;
  played: number;
  error: ErrorEvent | null;
}

interface Turn {
  serverListening: boolean;
  queued: Buffer[];
  /** no more audio goes to the server (stop sent, or the server ended the utterance) */
  closedForAudio: boolean;
  stopSent: boolean;
  sink: SinkStream | null;
  sampleRate: number;
  /** the current sink stream's end, once ended */
  playback: Promise<void> | null;
  playbacks: Array<Promise<void>>;
  audioBytes: number;
  played: number;
  playedBefore: number;
  resolve: (r: TurnResult) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
  /** the server opened this turn itself (follow-up); no start was sent */
  followUp: boolean;
  /** cancel sent: the reply audio still arriving is not played */
  cancelled: boolean;
}

/** the answer to a stop must come within this long */
const ANSWER_TIMEOUT_MS = 60_000;

export class Conversation extends EventEmitter {
  state: ConversationState = initialConversation;
  private turn: Turn | null = null;
  /** a follow-up `listening` arrived between turns */
  private followUpListening = false;

  constructor(
    readonly link: VoiceLink,
    private readonly o: { sink: AudioSink; ui: Ui; log: Logger; sampleRate: number; audio: boolean },
  ) {
    super();
    link.on('event', (e: ServerEvent) => this.onEvent(e));
    link.on('audio', (b: Buffer) => this.onAudio(b));
    link.on('close', (code: number, reason: string) => {
      const err = new LinkLost(`the server closed the voice connection (${code}${reason ? `: ${reason}` : ''})`);
      if (this.turn) this.fail(err);
      this.emit('lost', err);
    });
  }

  /** a question is in progress (from start until its reply has been played) */
  get busy(): boolean {
    return this.turn !== null;
  }

  /** audio is still wanted for the current question */
  get accepting(): boolean {
    return !!this.turn && !this.turn.closedForAudio;
  }

  /**
   * A question. `endpoint: false` (push-to-talk with a held button): only our stop ends it. `followUp`: the
   * server is already listening for the answer to its question (after a `done` with follow_up): no start.
   */
  begin(o: { endpoint?: boolean; followUp?: boolean; handsFree?: boolean } = {}): Promise<TurnResult> {
    if (this.turn) throw new Error('a question is already in progress');
    this.state = reduceConversation(this.state, { type: 'local_start' });
    return new Promise<TurnResult>((resolve, reject) => {
      this.turn = {
        followUp: !!o.followUp,
        cancelled: false,
        serverListening: false,
        queued: [],
        closedForAudio: false,
        stopSent: false,
        sink: null,
        sampleRate: 0,
        playback: null,
        playbacks: [],
        audioBytes: 0,
        played: 0,
        playedBefore: 0,
        resolve,
        reject,
        timer: null,
      };
      if (this.followUpListening) {
        // the server's `listening` for the answer came before we began
        this.followUpListening = false;
        this.turn.serverListening = true;
      }
      if (!o.followUp)
        this.link.send({ type: 'start', sample_rate: this.o.sampleRate, format: 's16le', channels: 1, audio: this.o.audio, ...(o.endpoint === false ? { endpoint: false } : {}), ...(o.handsFree ? { hands_free: true } : {}) });
    });
  }

  /** the reply is being answered or played (not listening any more) */
  get replying(): boolean {
    return !!this.turn && this.turn.closedForAudio && !this.turn.cancelled;
  }

  /**
   * Barge-in: stop the reply (or drop the question being asked) now. The server answers `done` (cancelled),
   * which ends the turn; the audio already here is not played further.
   */
  cancel(): void {
    const t = this.turn;
    if (!t || t.cancelled) return;
    t.cancelled = true;
    t.closedForAudio = true;
    t.queued = [];
    this.link.send({ type: 'cancel' });
    if (t.sink && !t.playback) {
      t.sink.abort?.();
      this.endPlayback(t);
    }
    if (!t.timer) t.timer = setTimeout(() => this.fail(new LinkLost(`the server did not answer the cancel within ${ANSWER_TIMEOUT_MS / 1000} s`)), ANSWER_TIMEOUT_MS);
  }

  audio(pcm: Buffer): void {
    const t = this.turn;
    if (!t || t.closedForAudio || !pcm.length) return;
    if (t.serverListening) this.link.sendAudio(pcm);
    else t.queued.push(pcm);
  }

  /** the end of the question's audio */
  end(): void {
    const t = this.turn;
    if (!t || t.stopSent) return;
    t.stopSent = true;
    if (!t.closedForAudio) {
      t.closedForAudio = true;
      // audio held back for `listening` goes first; the server reads the socket in order
      if (!t.serverListening) this.flushQueued(t, true);
    }
    // also after the server ended the utterance itself: the stop tells it our audio has ended too
    this.link.send({ type: 'stop' });
    t.timer = setTimeout(() => this.fail(new LinkLost(`the server did not answer within ${ANSWER_TIMEOUT_MS / 1000} s`)), ANSWER_TIMEOUT_MS);
  }

  private flushQueued(t: Turn, force = false): void {
    if (!t.serverListening && !force) return;
    for (const b of t.queued.splice(0)) this.link.sendAudio(b);
  }

  private onEvent(e: ServerEvent): void {
    this.state = reduceConversation(this.state, e);
    this.o.ui.event(e);
    const t = this.turn;
    if (!t) {
      if (e.type === 'listening' && e.follow_up) this.followUpListening = true;
      else if (e.type === 'error') this.o.log.warn(`the server said: ${e.message} (${e.code})`);
      return;
    }
    switch (e.type) {
      case 'listening':
        if (e.follow_up && t.closedForAudio) {
          // the server listens for the answer while this turn's reply is still being played out here
          this.followUpListening = true;
          return;
        }
        t.serverListening = true;
        if (!t.closedForAudio) this.flushQueued(t);
        return;
      case 'transcript':
        // the utterance is over (stop, or the server's own endpoint / length limit)
        t.closedForAudio = true;
        t.queued = [];
        return;
      case 'audio':
        if (t.cancelled) return;
        // a reply may come in several bursts, each announced by its own `audio` event: one sink stream
        // plays them all, and is ended at `done`
        if (t.sink && e.sample_rate !== t.sampleRate) this.endPlayback(t);
        if (!t.sink || t.playback) {
          if (t.playback) this.o.log.warn('reply audio at a second sample rate: played separately');
          t.sink = this.o.sink.play(e.sample_rate);
          t.playback = null;
          t.sampleRate = e.sample_rate;
        }
        t.audioBytes += e.bytes;
        return;
      case 'done':
        void this.finish(t, null, e);
        return;
      case 'error':
        if (e.code === 'unauthorized') this.fail(new AuthError(`the server refused the device token: ${e.message}`));
        else void this.finish(t, e);
        return;
      default:
    }
  }

  private onAudio(buf: Buffer): void {
    const t = this.turn;
    if (t?.cancelled) {
      // the rest of a reply we cancelled: keep count, do not play
      this.state = reduceConversation(this.state, { type: 'audio_bytes', bytes: buf.length });
      return;
    }
    if (!t || !t.sink || t.playback || this.state.audioRemaining <= 0) {
      this.o.log.debug(`ignoring ${buf.length} bytes of audio nobody announced`);
      return;
    }
    const take = Math.min(buf.length, this.state.audioRemaining);
    if (take < buf.length) this.o.log.debug(`ignoring ${buf.length - take} bytes of audio beyond what was announced`);
    t.sink.write(take === buf.length ? buf : buf.subarray(0, take));
    t.played += take;
    this.state = reduceConversation(this.state, { type: 'audio_bytes', bytes: take });
  }

  private endPlayback(t: Turn): void {
    if (!t.sink || t.playback) return;
    const prev = t.playedBefore;
    const played = t.played - prev;
    t.playedBefore = t.played;
    const rate = t.sampleRate;
    t.playback = t.sink.end().then(() => this.o.ui.played(played, rate, this.o.sink.description));
    t.playbacks.push(t.playback);
  }

  private async finish(t: Turn, error: ErrorEvent | null, done: DoneEvent | null = null): Promise<void> {
    if (this.turn !== t) return;
    if (t.timer) clearTimeout(t.timer);
    t.closedForAudio = true;
    if (error) this.o.log.error(`${error.message} (${error.code})`);
    if (t.played < t.audioBytes && !t.cancelled && done?.reason !== 'cancelled') this.o.log.warn(`the reply audio was cut short: ${t.played} of ${t.audioBytes} bytes`);
    if (t.sink && !t.playback) this.endPlayback(t);
    // what this turn heard and answered (a follow-up `listening` may reset the state while playback ends)
    const transcript = this.state.transcript;
    const reply = this.state.reply;
    try {
      await Promise.all(t.playbacks);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    if (this.turn !== t) return;
    this.turn = null;
    t.resolve({
      transcript,
      reply,
      followUp: !!done?.follow_up && !error,
      ended: done?.reason ?? (t.cancelled ? 'cancelled' : null),
      audioBytes: t.audioBytes,
      played: t.played,
      error,
    });
  }

  private fail(err: Error): void {
    const t = this.turn;
    if (!t) return;
    if (t.timer) clearTimeout(t.timer);
    this.turn = null;
    t.reject(err);
  }
}

// ---- drivers: what opens and closes a question ------------------------------------------------------------

export type ListenMode = 'enter' | 'button' | 'vad' | 'file';

export interface ListenOptions {
  config: PiConfig;
  log: Logger;
  ui: Ui;
  source: AudioSource;
  sink: AudioSink;
  mode: ListenMode;
  /** stop after the first answered question */
  once: boolean;
  /** ask for reply audio */
  audio: boolean;
  /** (tests) resolves the stop signal */
  signal?: AbortSignal;
  /** file mode: more files after `source`, one question each; a file after a reply that asked a question answers it */
  more?: AudioSource[];
}

/** hands-free: speech louder than this over the noise floor during the reply is a barge-in (the reply itself is heard too) */
const BARGE_IN_EXTRA_DB = 12;

/** runs until the input is used up (file, --once, EOF on stdin) or a signal; returns the exit code */
export async function runListen(o: ListenOptions): Promise<number> {
  const { config, log } = o;
  await o.source.check();
  for (const m of o.more ?? []) await m.check();
  await o.sink.check();

  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  o.signal?.addEventListener('abort', onSignal);

  let button: GpioButton | null = null;
  if (o.mode === 'button') {
    if (!config.button) throw new PiError('listen --button needs a button in the settings ("button": {"chip": "gpiochip0", "line": 17})');
    button = new GpioButton(config.button);
    await button.start();
  }
  const input = o.mode === 'enter' ? new LineInput() : null;

  const backoff = new Backoff({ initialMs: config.backoff.initialMs, maxMs: config.backoff.maxMs });
  const sleeper = new Sleeper();
  stop.signal.addEventListener('abort', () => sleeper.wake());
  const oneShot = o.once || o.mode === 'file';
  let lostBefore = false;
  // while there is no connection: a press retries at once; the end of stdin ends the program
  let connected = false;
  const pressWhileDown = () => {
    if (connected) return;
    o.ui.hint('not connected to the server: trying again now');
    sleeper.wake();
  };
  const eofWhileDown = () => {
    if (!connected) stop.abort();
  };
  input?.on('enter', pressWhileDown);
  input?.on('eof', eofWhileDown);
  button?.on('press', pressWhileDown);
  // gpiomon dying ends the program (with its one-line reason), connected or not
  let buttonFailure: Error | null = null;
  button?.on('error', (e: Error) => {
    buttonFailure = e;
    stop.abort();
  });
  let lastWarn = 0;
  /** the first failure of a run of them, then one a minute (the rest at debug level) */
  const warnQuietly = (msg: string) => {
    const now = Date.now();
    if (backoff.attempts <= 1 || now - lastWarn > 60_000) {
      lastWarn = now;
      log.warn(msg);
    } else log.debug(msg);
  };
  try {
    while (!stop.signal.aborted) {
      let link: VoiceLink;
      try {
        link = await VoiceLink.open(config.server, config.token);
      } catch (e) {
        if (e instanceof AuthError || oneShot) throw e;
        const wait = backoff.next();
        warnQuietly(`${(e as Error).message}; trying again in ${(wait / 1000).toFixed(1)} s`);
        await sleeper.sleep(wait);
        continue;
      }
      if (stop.signal.aborted) {
        link.close();
        break;
      }
      if (link.ready && link.ready.protocol !== PROTOCOL_VERSION) log.warn(`the server speaks voice protocol ${link.ready.protocol}, this client ${PROTOCOL_VERSION}`);
      const [lo, hi] = link.ready?.sample_rates ?? [8000, 48000];
      if (o.source.sampleRate < lo || o.source.sampleRate > hi) {
        link.close();
        throw new PiError(`the server accepts ${lo}..${hi} Hz audio, the microphone is set to ${o.source.sampleRate} Hz (mic.sampleRate)`);
      }
      if (lostBefore) log.info('connected again');
      else log.debug(`connected to ${listenUrl(config.server)}`);
      backoff.reset();
      const conv = new Conversation(link, { sink: o.sink, ui: o.ui, log, sampleRate: o.source.sampleRate, audio: o.audio });
      connected = true;
      try {
        const code = await drive(o, conv, stop.signal, button, input);
        link.close();
        if (buttonFailure) throw buttonFailure;
        return code;
      } catch (e) {
        link.close();
        o.source.stop();
        if (!(e instanceof LinkLost) || oneShot) throw e;
        connected = false;
        lostBefore = true;
        const wait = backoff.next();
        warnQuietly(`${e.message}; reconnecting in ${(wait / 1000).toFixed(1)} s`);
        await sleeper.sleep(wait);
      }
    }
    if (buttonFailure) throw buttonFailure;
    return 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    input?.off('enter', pressWhileDown);
    input?.off('eof', eofWhileDown);
    button?.off('press', pressWhileDown);
    button?.stop();
    input?.close();
    o.source.stop();
  }
}

/** Enter presses on stdin (a terminal, or lines written by a test) */
class LineInput extends EventEmitter {
  private rl: readline.Interface;
  ended = false;
  constructor() {
    super();
    this.rl = readline.createInterface({ input: process.stdin });
    this.rl.on('line', () => this.emit('enter'));
    this.rl.on('close', () => {
      this.ended = true;
      this.emit('eof');
    });
  }
  close(): void {
    this.rl.close();
  }
}

/**
 * Runs questions on one connection. Resolves with the exit code when done;  rejects when the
 * connection goes (LinkLost: the caller reconnects), or with a PiError that ends the program.
 */
function drive(o: ListenOptions, conv: Conversation, stop: AbortSignal, button: GpioButton | null, input: LineInput | null): Promise<number> {
  const { log, ui, source } = o;
  return new Promise<number>((resolve, reject) => {
    let finished = false;
    let lastError = false;
    const cleanups: Array<() => void> = [];
    const done = (fn: () => void) => {
      if (finished) return;
      finished = true;
      for (const c of cleanups) c();
      fn();
    };
    const finish = (code: number) => done(() => resolve(code));
    const abort = (e: Error) => done(() => reject(e));

    const onLost = (e: Error) => abort(e);
    conv.on('lost', onLost);
    cleanups.push(() => conv.off('lost', onLost));
    const onStop = () => finish(0);
    stop.addEventListener('abort', onStop);
    cleanups.push(() => stop.removeEventListener('abort', onStop));

    /** questions the server heard (a transcript came) */
    let heard = 0;
    /** hands-free: the detector opened a question at least once */
    let opened = false;
    /**
     * a question has been answered (or failed); with `once`, the program ends unless the reply asked back, or
     * the server heard no voice in what the hands-free detector opened (a door, a clatter): then it listens on
     */
    const turnDone = (r: TurnResult, opts: { followUp?: boolean; handsFree?: boolean }) => {
      lastError = !!r.error;
      if (r.transcript !== null) heard++;
      if (r.ended === 'cancelled') log.debug('reply cancelled (barge-in)');
      if (r.followUp) log.debug('the reply asked a question: listening for the answer');
      // (or voices that asked for nothing: talk in the room)
      const noVoice = (r.ended === 'no_speech' || r.ended === 'not_a_request') && !!opts.handsFree;
      if (noVoice) log.debug(`the server heard ${r.ended === 'no_speech' ? 'no voice' : 'no request'} in it: listening again`);
      if (o.once && !r.followUp && !noVoice) finish(r.error ? 1 : 0);
    };
    const ask = (opts: { endpoint?: boolean; followUp?: boolean; handsFree?: boolean } = {}): Promise<TurnResult> => {
      const p = conv.begin(opts);
      p.then((r) => turnDone(r, opts), (e: Error) => abort(e));
      return p;
    };
    /** the input is over: exit 1 with a clear message when nothing in it was heard as a question */
    const inputOver = () => {
      if (heard === 0) {
        log.error(`no question heard in ${source.description}: ${opened ? 'the server heard no voice in what the detector opened' : 'the hands-free detector heard no speech in it'}`);
        return finish(1);
      }
      finish(lastError ? 1 : 0);
    };
    const startMic = (src: AudioSource, onData: (d: Buffer) => void, onEnd: () => void): Readable => {
      const mic = src.start();
      mic.on('data', onData);
      mic.on('end', onEnd);
      mic.on('error', (e) => abort(e));
      return mic;
    };
    /**
     * After a reply that asked a question: the microphone stays open and streams the answer until the server
     * has heard it (or stops listening); then `then` runs with that turn's result.
     */
    const answerFollowUp = (then: (r: TurnResult) => void) => {
      ui.hint('listening for your answer…');
      const p = ask({ followUp: true });
      const mic = startMic(
        source,
        (d) => {
          conv.audio(d);
          if (!conv.accepting) source.stop();
        },
        () => {},
      );
      void mic;
      p.then((r) => {
        source.stop();
        then(r);
      }, () => {});
    };

    switch (o.mode) {
      case 'file': {
        // each file one question; a file after a reply that asked a question answers it (no start)
        const files = [source, ...(o.more ?? [])];
        let k = 0;
        let followUp = false;
        const next = () => {
          if (finished) return;
          if (k >= files.length) return finish(lastError ? 1 : 0);
          const src = files[k++];
          let current = true;
          const p = conv.begin({ followUp });
          startMic(
            src,
            (d) => {
              if (!current) return;
              conv.audio(d);
              if (!conv.accepting) src.stop(); // the server ended the utterance itself
            },
            () => {
              if (current) conv.end();
            },
          );
          p.then(
            (r) => {
              current = false;
              src.stop();
              lastError = lastError || !!r.error;
              followUp = r.followUp;
              next();
            },
            (e: Error) => abort(e),
          );
        };
        next();
        return;
      }
      case 'enter':
      case 'button': {
        let talking = false;
        const press = () => {
          // a press during the reply (or while the server listens for an answer) stops it: barge-in
          if (conv.busy && !conv.accepting) {
            talking = false;
            source.stop();
            conv.cancel();
            return;
          }
          if (talking || conv.busy) return;
          talking = true;
          // the release (or Enter) ends it; the server may end it first, once it has heard a whole question
          ask().then(afterTurn, () => {});
          ui.hint(o.mode === 'enter' ? 'listening… (Enter when done)' : 'listening…');
          startMic(
            source,
            (d) => conv.audio(d),
            () => {},
          );
        };
        const release = () => {
          if (!talking) return;
          talking = false;
          source.stop();
          conv.end();
        };
        const afterTurn = (r: TurnResult) => {
          if (talking) {
            // the server ended it before the release
            talking = false;
            source.stop();
          }
          if (r.followUp && !finished) answerFollowUp(afterTurn);
        };
        if (button) {
          button.on('press', press);
          button.on('release', release);
          const onErr = (e: Error) => abort(e);
          button.on('error', onErr);
          cleanups.push(() => {
            button.off('press', press);
            button.off('release', release);
            button.off('error', onErr);
          });
          ui.hint(`hold the button (${button.label}) and ask "where is my ...?"`);
        } else if (input) {
          const onEnter = () => (talking && conv.accepting ? release() : press());
          const onEof = () => {
            release();
            const wait = () => (conv.busy ? setTimeout(wait, 50) : finish(lastError ? 1 : 0));
            wait();
          };
          input.on('enter', onEnter);
          input.on('eof', onEof);
          cleanups.push(() => {
            input.off('enter', onEnter);
            input.off('eof', onEof);
          });
          if (input.ended) onEof();
          else ui.hint('press Enter and ask "where is my ...?", then Enter again');
        }
        cleanups.push(() => source.stop());
        return;
      }
      case 'vad': {
        // the energy VAD only opens a question; the server's endpointer ends it (its transcript)
        const vad = new EnergyVad({ sampleRate: source.sampleRate, ...o.config.vad });
        // during the reply: speech well above what the reply itself brings into the room (the level rule only:
        // the reply is a voice too, and its bands would stand out from the room's)
        const bargeIn = new EnergyVad({ sampleRate: source.sampleRate, ...o.config.vad, marginDb: o.config.vad.marginDb + BARGE_IN_EXTRA_DB, bandMarginDb: 0, minSpeechMs: Math.max(300, o.config.vad.minSpeechMs) });
        let ended = false;
        /** audio to send with the next question (the VAD's pre-roll) */
        const open = (preroll: Buffer[], followUp: boolean) => {
          vad.reset();
          bargeIn.reset();
          const p = ask({ followUp, handsFree: !followUp });
          for (const b of preroll) conv.audio(b);
          p.then(
            (r) => {
              vad.reset();
              bargeIn.reset();
              if (r.followUp && !ended && !finished) open([], true);
              else if (ended && !conv.busy) inputOver();
            },
            () => {},
          );
        };
        startMic(
          source,
          (d) => {
            if (conv.accepting) {
              // a question is open: everything goes to the server until it has heard the whole question
              conv.audio(d);
              return;
            }
            if (conv.busy) {
              // answering or speaking: speech now is someone talking over the reply
              for (const ev of bargeIn.push(d))
                if (ev.type === 'start' && conv.replying) {
                  log.debug('speech during the reply: barge-in');
                  conv.cancel();
                }
              return;
            }
            const pre: Buffer[] = [];
            let started = false;
            for (const ev of vad.push(d)) {
              if (ev.type === 'start') {
                log.debug('speech started');
                started = true;
                opened = true;
              } else if (ev.type === 'audio' && started) pre.push(ev.pcm);
            }
            if (started) open(pre, false);
          },
          () => {
            ended = true;
            if (conv.accepting) conv.end();
            if (!conv.busy) inputOver();
          },
        );
        cleanups.push(() => source.stop());
        if (source.description.startsWith('microphone')) ui.hint('listening hands-free: ask "where is my ...?"');
        return;
      }
    }
  });
}
