/**
 * The server's voice turn as a pure reducer: `reduceTurn(state, event) -> { state, effects }`.
 *
 * One voice connection (routes/listen.ts) owns one TurnState. Everything that happens to it is an event:
 * client messages (start, audio, stop, cancel), what the recogniser reports (progress with the voice-activity
 * detector's view, its own endpoint, the final transcript, failures), what the answering side reports
 * (answered, spoken), timers, the socket closing, and the guard ending the connection. The reducer decides;
 * the plumbing in routes/listen.ts carries out the effects (send an event, open/write/finish the recogniser
 * stream, answer, speak, stop speaking, set timers, close) and feeds their outcomes back in as events.
 *
 * Utterances are numbered (`seq`). Every asynchronous outcome carries the seq it belongs to; an outcome
 * of an utterance that is no longer current (cancelled, superseded, timed out) is ignored.
 *
 * Hands-free (`hands_free` start: the client's own detector opened it): no voice in the first `noSpeechMs` of
 * audio ends it quietly; words with no request in them (talk in the room) are not answered aloud.
 *
 * Phases: idle -> listening -> finishing (waiting for the final transcript) -> answering (lookup + first
 * speech) -> speaking (reply audio streaming) -> idle, or -> listening again when the reply asked a
 * question (`follow_up`) and the connection keeps listening without a new `start`.
 *
 * Endpointing (deciding the utterance is over while the client keeps streaming) is semantic: the words so
 * far are classified (voice/complete.ts) and the voice-activity detector says how long the audio has been
 * non-speech. A complete request ends after `endSilenceMs`; one that could still grow ("my phone" ...
 * "charger") after `prefixSilenceMs`; one whose item is unsure (misheard) after `unsureSilenceMs`; a
 * sentence that is not a request after `statementSilenceMs`; an incomplete one ("where is my ... um") only
 * after `hesitationMs` (a hesitation before the item must still give the item). A level meter beside the VAD
 * (asr/loudness.ts) guards the end in noise (nothing ends while a frame stood out from the noise floor less
 * than `levelQuietMs` ago) and, in a quiet room, measures the quiet sooner than the VAD, whose view of a
 * word's end lags the sound. The defaults were chosen on the spoken corpus' tune split with
 * bench/endpoint.ts (audio clock). Without a VAD the recogniser's own endpoint decides, as before.
 */
import {
  MAX_SAMPLE_RATE,
  MIN_SAMPLE_RATE,
  MAX_AUDIO_FRAME_BYTES,
  PROTOCOL_VERSION,
  type ErrorEventCode,
  type ReplyEvent,
  type ServerEvent,
  type TranscriptEvent,
} from '../../protocol/protocol.js';

/** how complete the words heard so far are (voice/complete.ts) */
export type Completeness =
  /** a whole request for a known item ("where is my cup"), or a whole answer to a pending question ("yes") */
  | 'complete'
  /** a whole request whose item could still grow into a longer one ("where is my phone" ... "charger") */
  | 'prefix'
  /** a request whose words are over but whose item is unsure: misheard ("where is my course"), stray words after it */
  | 'unsure'
  /** a whole sentence that is not a request ("turn on the lights") */
  | 'statement'
  /**
   * words that may go on but do not begin a request: a sentence that is not a request ending on a word
   * sentences go on after ("tell me a", "what time is it"), or speech in which the recogniser has no word yet
   */
  | 'trailing'
  /** not finished ("where is my", "where is my um", "") */
  | 'incomplete';

export interface TurnSettings {
  /** longest utterance, seconds (audio at the declared rate) */
  maxUtteranceSeconds: number;
  /** non-speech after a complete request before the utterance ends, ms */
  endSilenceMs: number;
  /** non-speech after a request that could still grow, ms */
  prefixSilenceMs: number;
  /** non-speech after a request whose item is unsure (misheard, unknown, stray words after it), ms */
  unsureSilenceMs: number;
  /** non-speech after a whole sentence that is not a request ("turn on the lights"), ms */
  statementSilenceMs: number;
  /** non-speech after words that may go on but do not begin a request ("tell me a", no word yet), ms */
  trailingSilenceMs: number;
  /** non-speech after anything else (incomplete, a hesitation) before the utterance ends anyway, ms */
  hesitationMs: number;
  /**
   * the level meter's guard: the utterance does not end while a frame stood out from the noise floor less
   * than this long ago (ms), unless the VAD has been quiet `levelGraceMs` longer than needed (in babble the
   * level meter is never quiet: the VAD, hearing the audio through RNNoise, decides after the grace; 1000 ms
   * before RNNoise, 200 since: tune p95 835 -> 760 ms with the same margin against cutting, bench/endpoint.ts)
   */
  levelQuietMs: number;
  levelGraceMs: number;
  /** the level meter's quiet counts once the VAD has heard no speech for at least this long, ms ... */
  vadQuietMinMs: number;
  /** ... and when its loud frames stand at least this far above the noise floor (a quiet room), dB */
  levelTrustRangeDb: number;
  /** start answering speculatively once words that are over (any class but incomplete) have been followed by this much non-speech, ms */
  speculateSilenceMs: number;
  /**
   * hands-free: when words that wait long (unfinished, trailing) have been followed by this much non-speech,
   * ask the recogniser for its final words so far (a partial result can differ from the final one: "where
   * are my" until the final says "where remote"); 0: never
   */
  flushSilenceMs: number;
  /** after a follow-up reply: stop listening politely when no speech starts within this long, ms */
  followUpMs: number;
  /**
   * hands-free (a `hands_free` start): an utterance in which the VAD has heard no speech after this much audio
   * ends quietly (`done`, no_speech; nothing is answered or spoken), ms of audio (0: never). The client's
   * detector opened it on a sound that was not a voice: a door, a clatter, a fan starting. (A held button
   * waits for the person to speak.)
   */
  noSpeechMs: number;
  /** every utterance ends with done or an error within this long after its audio ends, ms */
  watchdogMs: number;
  /** a started utterance whose audio stops arriving ends after this long, ms (0: never; a `harden` hook) */
  noAudioMs: number;
}

export const TURN_DEFAULTS: TurnSettings = {
  maxUtteranceSeconds: 15,
  endSilenceMs: 150,
  prefixSilenceMs: 300,
  unsureSilenceMs: 250,
  statementSilenceMs: 250,
  trailingSilenceMs: 800,
  hesitationMs: 2000,
  levelQuietMs: 150,
  levelGraceMs: 200,
  vadQuietMinMs: 32,
  levelTrustRangeDb: 25,
  speculateSilenceMs: 60,
  flushSilenceMs: 250,
  followUpMs: 6000,
  noSpeechMs: 3000,
  watchdogMs: 20_000,
  noAudioMs: 0,
};

export type Phase = 'idle' | 'listening' | 'finishing' | 'answering' | 'speaking';

export interface TurnState {
  phase: Phase;
  /** the current utterance's number (0 before the first) */
  seq: number;
  rate: number;
  wantAudio: boolean;
  bytes: number;
  maxBytes: number;
  /** the server ended the utterance itself: audio still in flight is dropped until the next start/stop */
  draining: boolean;
  /** this listening was opened by the server after a reply that asked a question */
  followUp: boolean;
  /** the recogniser's VAD has heard speech in this utterance */
  heardSpeech: boolean;
  /** the words so far (the latest partial) */
  text: string;
  /** the text a speculative answer runs for (null: none) */
  speculating: string | null;
  /** the words when the recogniser was last asked to make them final (null: not in this utterance) */
  flushed: string | null;
  /** why the current utterance ended */
  reason: TranscriptEvent['reason'] | null;
  /** the reply being answered asks a question: listen again after it */
  replyFollowUp: boolean;
  /** the server may end the utterance itself (hands-free); false: only stop does (push-to-talk) */
  endpointing: boolean;
  /** the client's voice detector opened it (no button): no voice in `noSpeechMs` of audio ends it quietly */
  handsFree: boolean;
  /** audio bytes when the utterance ended */
  endBytes: number;
  /** the recogniser's VAD reports quiet for this utterance (then the recogniser's own endpoint is not used) */
  vad: boolean;
  closed: boolean;
}

export const initialTurn = (): TurnState => ({
  phase: 'idle',
  seq: 0,
  rate: 16000,
  wantAudio: true,
  bytes: 0,
  maxBytes: 0,
  draining: false,
  followUp: false,
  heardSpeech: false,
  text: '',
  speculating: null,
  flushed: null,
  reason: null,
  replyFollowUp: false,
  endpointing: true,
  handsFree: false,
  endBytes: 0,
  vad: false,
  closed: false,
});

export type TimerKind = 'watchdog' | 'follow_up' | 'no_audio';

export type TurnEvent =
  | { type: 'connected' }
  | { type: 'start'; sample_rate: unknown; format?: unknown; channels?: unknown; audio?: unknown; endpoint?: unknown; hands_free?: unknown }
  | { type: 'audio'; pcm: Uint8Array }
  | { type: 'stop' }
  | { type: 'cancel' }
  /** a text frame the plumbing could not read: the message says why */
  | { type: 'bad_message'; message: string }
  /** the recogniser stream for `seq` is open (or could not be opened) */
  | { type: 'asr_opened'; seq: number }
  | { type: 'asr_refused'; seq: number; code: ErrorEventCode; message: string }
  /**
   * decoding progressed: `text` is the words so far; `silenceMs` how long the audio has been non-speech at the
   * decoded position (null: no VAD); `speech` whether the VAD has heard speech at all; `complete` the class
   * of `text`; `loudQuietMs` how long no 20 ms frame has stood out from the noise floor, `levelRangeDb` how far
   * the loud frames stand above it (asr/loudness.ts)
   */
  | { type: 'asr_progress'; seq: number; text: string; silenceMs: number | null; speech: boolean; complete: Completeness; loudQuietMs?: number; levelRangeDb?: number; audioMs?: number }
  /** the recogniser's own endpoint (trailing silence by its rules) */
  | { type: 'asr_endpoint'; seq: number; text: string; complete: Completeness }
  /** `alternatives` / `words`: the recogniser's N-best list and word confidences, passed on to the transcript */
  | { type: 'asr_final'; seq: number; text: string; ms: number; alternatives?: TranscriptEvent['alternatives']; words?: TranscriptEvent['words'] }
  | { type: 'asr_error'; seq: number; message: string }
  /** the answer for `seq` is ready (reply event built, first speech ready when any) */
  | { type: 'answered'; seq: number; reply: ReplyEvent; followUp: boolean; speech: boolean }
  | { type: 'answer_failed'; seq: number; message: string }
  /** all reply audio for `seq` has been handed to the socket (or speaking failed / was stopped) */
  | { type: 'spoken'; seq: number }
  | { type: 'timer'; kind: TimerKind; seq: number }
  | { type: 'closed' }
  /** the guard ends the connection (credentials revoked, limits): a typed error, then close */
  | { type: 'terminate'; code: ErrorEventCode; message: string; closeCode: number };

export type TurnEffect =
  | { type: 'send'; event: ServerEvent }
  /** `endpointing`: the server ends the utterance (hands-free; the stream needs the VAD), else the client's stop does */
  | { type: 'open_asr'; seq: number; rate: number; endpointing: boolean }
  | { type: 'write_asr'; seq: number; pcm: Uint8Array }
  /** the utterance is over (why; for the server's own endpoint, the class of the words it ended on): ask for the final transcript */
  | { type: 'finish_asr'; seq: number; reason: TranscriptEvent['reason']; words: Completeness | null }
  /** the recogniser's words so far become final now (its next progress carries them); decoding goes on */
  | { type: 'flush_asr'; seq: number }
  | { type: 'abort_asr'; seq: number }
  /** start the lookup and speech for `text` ahead of the final transcript */
  | { type: 'speculate'; seq: number; text: string }
  | { type: 'drop_speculation'; seq: number }
  /** answer `text` (using the speculation when it was for the same text); reply with `answered` */
  | { type: 'answer'; seq: number; text: string; asrMs: number; audio: boolean }
  /** stream the reply audio of `seq`; reply with `spoken` */
  | { type: 'speak'; seq: number }
  /** barge-in / cancel: stop the reply audio now */
  | { type: 'stop_speech'; seq: number }
  | { type: 'set_timer'; kind: TimerKind; seq: number; ms: number }
  | { type: 'clear_timer'; kind: TimerKind }
  | { type: 'close'; code: number; reason: string }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; data?: Record<string, unknown> };

export interface TurnResult {
  state: TurnState;
  effects: TurnEffect[];
}

const send = (event: ServerEvent): TurnEffect => ({ type: 'send', event });
const error = (code: ErrorEventCode, message: string): TurnEffect => send({ type: 'error', code, message });

/** the silence after which an utterance with words of this class ends (VAD time, ms) */
export function silenceNeeded(s: TurnSettings, c: Completeness): number {
  switch (c) {
    case 'complete':
      return s.endSilenceMs;
    case 'prefix':
      // could still grow into another thing ("my phone" ... "charger")
      return Math.max(s.endSilenceMs, s.prefixSilenceMs);
    case 'unsure':
      // the words are over, what they name is unsure: the answer will most likely ask back
      return Math.max(s.endSilenceMs, s.unsureSilenceMs);
    case 'statement':
      // not our kind of question
      return Math.max(s.endSilenceMs, s.statementSilenceMs);
    case 'trailing':
      // may go on, but not into a request's item: longer than a whole sentence, shorter than a hesitation
      return Math.max(s.endSilenceMs, s.trailingSilenceMs);
    case 'incomplete':
      return Math.max(s.endSilenceMs, s.hesitationMs);
  }
}

/** Folds one event into the turn. Pure: no I/O, no clock; the effects say what to do. */
export function reduceTurn(st: TurnState, e: TurnEvent, cfg: TurnSettings = TURN_DEFAULTS): TurnResult {
  const fx: TurnEffect[] = [];
  const out = (state: TurnState): TurnResult => ({ state, effects: fx });
  if (st.closed) return out(st);
  const current = (seq: number) => seq === st.seq;

  /** drops whatever the current utterance holds (recogniser stream, speculation, speech, timers) */
  const teardown = (s: TurnState): TurnState => {
    if (s.phase === 'listening' || s.phase === 'finishing') fx.push({ type: 'abort_asr', seq: s.seq });
    if (s.speculating !== null) fx.push({ type: 'drop_speculation', seq: s.seq });
    if (s.phase === 'answering' || s.phase === 'speaking') fx.push({ type: 'stop_speech', seq: s.seq });
    fx.push({ type: 'clear_timer', kind: 'watchdog' }, { type: 'clear_timer', kind: 'follow_up' }, { type: 'clear_timer', kind: 'no_audio' });
    return { ...s, phase: 'idle', speculating: null, followUp: false, replyFollowUp: false };
  };

  /** ends the current utterance with a typed error; the connection stays open */
  const fail = (s: TurnState, code: ErrorEventCode, message: string): TurnResult => {
    const t = teardown(s);
    fx.push(error(code, message));
    // audio the client still has in flight for a failed utterance is dropped quietly
    return out({ ...t, draining: s.phase === 'listening' || s.phase === 'finishing' || s.draining });
  };

  /** opens a new utterance (a client's start, or the server's own after a follow-up reply) */
  const open = (s: TurnState, rate: number, wantAudio: boolean, followUp: boolean, endpointing: boolean, handsFree = false): TurnResult => {
    const seq = s.seq + 1;
    fx.push({ type: 'open_asr', seq, rate, endpointing });
    return out({
      ...s,
      phase: 'listening',
      seq,
      rate,
      wantAudio,
      bytes: 0,
      maxBytes: Math.round(Math.max(1, cfg.maxUtteranceSeconds) * rate) * 2,
      draining: false,
      followUp,
      heardSpeech: false,
      text: '',
      speculating: null,
      flushed: null,
      reason: null,
      replyFollowUp: false,
      endpointing,
      handsFree: handsFree && endpointing,
      endBytes: 0,
      vad: false,
    });
  };

  /** the utterance's audio is over: ask the recogniser for the final transcript */
  const end = (s: TurnState, reason: TranscriptEvent['reason'], words: Completeness | null = null): TurnResult => {
    fx.push({ type: 'finish_asr', seq: s.seq, reason, words }, { type: 'clear_timer', kind: 'no_audio' }, { type: 'clear_timer', kind: 'follow_up' });
    fx.push({ type: 'set_timer', kind: 'watchdog', seq: s.seq, ms: cfg.watchdogMs });
    return out({ ...s, phase: 'finishing', reason, draining: reason !== 'stop', endBytes: s.bytes });
  };

  switch (e.type) {
    case 'connected':
      fx.push(send({ type: 'ready', protocol: PROTOCOL_VERSION, sample_rates: [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE] }));
      return out(st);

    case 'start': {
      // barge-in: a new start while the reply is being answered or spoken stops it and listens again
      let s = st;
      if (st.phase !== 'idle') {
        if (st.phase === 'answering' || st.phase === 'speaking') fx.push({ type: 'log', level: 'info', msg: 'barge-in: reply stopped by a new start' });
        s = teardown(st);
      }
      s = { ...s, draining: false };
      const { sample_rate: rate, format, channels, audio, endpoint, hands_free: handsFree } = e;
      if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE)
        return fail(s, 'bad_audio', `sample_rate must be a whole number from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE}, got ${JSON.stringify(rate)}`);
      if (format !== undefined && format !== 's16le') return fail(s, 'bad_audio', `format must be "s16le", got ${JSON.stringify(format)}`);
      if (channels !== undefined && channels !== 1) return fail(s, 'bad_audio', `channels must be 1 (mono), got ${JSON.stringify(channels)}`);
      if (audio !== undefined && typeof audio !== 'boolean') return fail(s, 'bad_message', '"audio" must be true or false');
      if (endpoint !== undefined && typeof endpoint !== 'boolean') return fail(s, 'bad_message', '"endpoint" must be true or false');
      if (handsFree !== undefined && typeof handsFree !== 'boolean') return fail(s, 'bad_message', '"hands_free" must be true or false');
      return open(s, rate, audio !== false, false, endpoint !== false, handsFree === true);
    }

    case 'asr_refused':
      if (!current(e.seq) || st.phase !== 'listening') return out(st);
      fx.push(error(e.code, e.message));
      return out({ ...st, phase: 'idle', followUp: false });

    case 'asr_opened': {
      if (!current(e.seq) || st.phase !== 'listening') return out(st);
      fx.push({ type: 'log', level: 'info', msg: 'utterance started', data: { sample_rate: st.rate, follow_up: st.followUp } });
      fx.push(send(st.followUp ? { type: 'listening', sample_rate: st.rate, follow_up: true } : { type: 'listening', sample_rate: st.rate }));
      if (st.followUp) fx.push({ type: 'set_timer', kind: 'follow_up', seq: st.seq, ms: cfg.followUpMs });
      if (cfg.noAudioMs > 0) fx.push({ type: 'set_timer', kind: 'no_audio', seq: st.seq, ms: cfg.noAudioMs });
      return out(st);
    }

    case 'audio': {
      if (st.phase !== 'listening') {
        // audio still in flight after the utterance ended, or while answering: dropped
        if (st.phase !== 'idle' || st.draining) return out(st);
        fx.push(error('bad_audio', 'send {"type":"start","sample_rate":N} before audio'));
        return out(st);
      }
      const n = e.pcm.byteLength;
      if (n === 0) return out(st);
      if (n > MAX_AUDIO_FRAME_BYTES) return fail(st, 'bad_audio', `audio frames are at most ${MAX_AUDIO_FRAME_BYTES} bytes`);
      if (n % 2 !== 0) return fail(st, 'bad_audio', `audio frames must hold whole 16-bit samples (got ${n} bytes)`);
      fx.push({ type: 'write_asr', seq: st.seq, pcm: e.pcm });
      if (cfg.noAudioMs > 0) fx.push({ type: 'set_timer', kind: 'no_audio', seq: st.seq, ms: cfg.noAudioMs });
      const s = { ...st, bytes: st.bytes + n };
      if (s.bytes >= s.maxBytes) return end(s, 'max_length');
      return out(s);
    }

    case 'stop':
      if (st.phase === 'listening') return end(st, 'stop');
      // the stop that follows a server-ended utterance, or a stray one: nothing to do
      return out({ ...st, draining: false });

    case 'cancel': {
      if (st.phase === 'idle') return out({ ...st, draining: false });
      const was = st.phase;
      const t = teardown(st);
      fx.push({ type: 'log', level: 'info', msg: was === 'speaking' || was === 'answering' ? 'barge-in: reply cancelled' : 'utterance cancelled', data: { phase: was } });
      fx.push(send({ type: 'done', reason: 'cancelled' }));
      return out({ ...t, draining: was === 'listening' });
    }

    case 'bad_message':
      if (st.phase === 'listening') return fail(st, 'bad_message', e.message + ' (audio goes in binary frames)');
      fx.push(error('bad_message', e.message));
      return out(st);

    case 'asr_progress': {
      if (!current(e.seq)) return out(st);
      if (st.phase === 'finishing') {
        // audio sent just before the end is still being decoded: its words still go out as partials
        if (e.text && e.text !== st.text) fx.push(send({ type: 'partial', text: e.text }));
        return out({ ...st, text: e.text || st.text });
      }
      if (st.phase !== 'listening') return out(st);
      if (e.text && e.text !== st.text) fx.push(send({ type: 'partial', text: e.text }));
      let s: TurnState = { ...st, text: e.text || st.text, heardSpeech: st.heardSpeech || e.speech, vad: st.vad || e.silenceMs !== null };
      if (s.heardSpeech && st.followUp && !st.heardSpeech) fx.push({ type: 'clear_timer', kind: 'follow_up' });
      // (the audio the recogniser has decoded, not what has arrived: a client may send faster than real time)
      const decodedMs = e.audioMs ?? (s.bytes / 2 / s.rate) * 1000;
      if (e.silenceMs !== null && !s.heardSpeech && s.handsFree && cfg.noSpeechMs > 0 && decodedMs >= cfg.noSpeechMs) {
        // hands-free, and no voice in all this audio: whatever opened it was not someone asking
        fx.push({ type: 'log', level: 'info', msg: 'no speech: utterance ended quietly', data: { audio_ms: Math.round(decodedMs) } });
        const t = teardown(s);
        fx.push(send({ type: 'done', reason: 'no_speech' }));
        return out({ ...t, draining: true });
      }
      if (e.silenceMs === null || !s.heardSpeech) return out(s);
      // how long it has been quiet: by the VAD; in a quiet room (the level meter's range wide) by the level
      // meter too, once the VAD has stopped hearing speech (Silero's view of a word's end lags the sound by a
      // window or three; in noise the level meter misses weak sounds, so it only guards there)
      const levelTrusted = e.loudQuietMs !== undefined && (e.levelRangeDb ?? 0) >= cfg.levelTrustRangeDb && e.silenceMs >= cfg.vadQuietMinMs;
      const quiet = levelTrusted ? Math.max(e.silenceMs, e.loudQuietMs!) : e.silenceMs;
      // a speculative answer for words that are over, as soon as the audio goes quiet
      const words = e.text || st.text;
      if (s.speculating !== null && s.speculating !== words) {
        fx.push({ type: 'drop_speculation', seq: s.seq });
        s = { ...s, speculating: null };
      }
      if (e.complete !== 'incomplete' && words && quiet >= cfg.speculateSilenceMs && s.speculating === null) {
        fx.push({ type: 'speculate', seq: s.seq, text: words });
        s = { ...s, speculating: words };
      }
      const need = silenceNeeded(cfg, e.complete);
      // words that wait long, then quiet: the recogniser's final words may say more than its partial did
      if (s.endpointing && cfg.flushSilenceMs > 0 && (e.complete === 'incomplete' || e.complete === 'trailing') && quiet >= cfg.flushSilenceMs && quiet < need && s.flushed !== words) {
        fx.push({ type: 'flush_asr', seq: s.seq });
        s = { ...s, flushed: words };
      }
      const levelQuiet = e.loudQuietMs === undefined || e.loudQuietMs >= cfg.levelQuietMs || e.silenceMs >= need + cfg.levelGraceMs;
      if (s.endpointing && quiet >= need && levelQuiet) return end(s, 'endpoint', e.complete);
      return out(s);
    }

    case 'asr_endpoint': {
      if (!current(e.seq) || st.phase !== 'listening' || !e.text || !st.endpointing) return out(st);
      // with a VAD the semantic endpointing above decides (the recogniser's endpoint text is only its last
      // segment: "hey" of "hey, could you tell me where my mug is"); without one, its endpoint is trusted
      // for complete words, and an unfinished request waits (a pause before the item must not end it)
      if (st.vad) return out(st);
      if (e.complete === 'incomplete' && st.heardSpeech) return out(st);
      return end(st, 'endpoint');
    }

    case 'asr_final': {
      if (!current(e.seq) || st.phase !== 'finishing') return out(st);
      const reason = st.reason ?? 'stop';
      if (reason === 'max_length' && !e.text) {
        const t = teardown({ ...st, phase: 'idle' });
        fx.push(error('too_long', `stopped listening after ${cfg.maxUtteranceSeconds} s without hearing a question`));
        return out(t);
      }
      if (st.followUp && !e.text && !st.heardSpeech) {
        // nobody answered the follow-up question: stop listening quietly
        const t = teardown({ ...st, phase: 'idle' });
        fx.push(send({ type: 'done', reason: 'no_speech' }));
        return out(t);
      }
      fx.push({ type: 'log', level: 'info', msg: 'heard', data: { stage: 'asr', ms: e.ms, reason } });
      fx.push(send({ type: 'transcript', text: e.text, reason, heard_ms: Math.round((st.endBytes / 2 / st.rate) * 1000), ...(e.alternatives ? { alternatives: e.alternatives, words: e.words } : {}) }));
      let s: TurnState = st;
      if (st.speculating !== null && st.speculating !== e.text) {
        fx.push({ type: 'drop_speculation', seq: st.seq });
        s = { ...s, speculating: null };
      }
      fx.push({ type: 'answer', seq: st.seq, text: e.text, asrMs: e.ms, audio: st.wantAudio });
      return out({ ...s, phase: 'answering', text: e.text });
    }

    case 'asr_error':
      if (!current(e.seq) || (st.phase !== 'listening' && st.phase !== 'finishing')) return out(st);
      fx.push({ type: 'log', level: 'error', msg: 'voice socket: recogniser failed', data: { message: e.message } });
      return fail({ ...st, phase: 'idle' }, 'internal', 'the speech recogniser failed; try again');

    case 'answered': {
      if (!current(e.seq) || st.phase !== 'answering') return out(st);
      if (st.handsFree && (e.reply.outcome === 'not_understood' || e.reply.outcome === 'not_heard')) {
        // opened by the client's detector, and no request in it (talk in the room, the television): not
        // addressed to us, so nothing is said (a press, or an answer to our own question, is answered)
        fx.push({ type: 'log', level: 'info', msg: 'hands-free: no request heard, not answered aloud', data: { outcome: e.reply.outcome } });
        const t = teardown(st);
        fx.push(send({ type: 'done', reason: e.reply.outcome === 'not_heard' ? 'no_speech' : 'not_a_request' }));
        return out(t);
      }
      fx.push(send(e.reply));
      const s = { ...st, speculating: null, replyFollowUp: e.followUp };
      if (e.speech) {
        fx.push({ type: 'speak', seq: st.seq });
        return out({ ...s, phase: 'speaking' });
      }
      return afterReply(s, fx, cfg);
    }

    case 'answer_failed':
      if (!current(e.seq) || st.phase !== 'answering') return out(st);
      fx.push({ type: 'log', level: 'error', msg: 'voice socket: answering failed', data: { message: e.message } });
      return fail({ ...st, phase: 'idle', speculating: null }, 'internal', 'something went wrong while answering');

    case 'spoken':
      if (!current(e.seq) || st.phase !== 'speaking') return out(st);
      return afterReply(st, fx, cfg);

    case 'timer': {
      if (!current(e.seq)) return out(st);
      if (e.kind === 'watchdog' && (st.phase === 'finishing' || st.phase === 'answering' || st.phase === 'speaking')) {
        fx.push({ type: 'log', level: 'error', msg: 'voice socket: utterance did not finish in time', data: { phase: st.phase, ms: cfg.watchdogMs } });
        return fail(st, 'timeout', `the answer took longer than ${Math.round(cfg.watchdogMs / 1000)} s; ask again`);
      }
      if (e.kind === 'follow_up' && st.phase === 'listening' && st.followUp && !st.heardSpeech) {
        const t = teardown(st);
        fx.push(send({ type: 'done', reason: 'no_speech' }));
        return out({ ...t, draining: true });
      }
      if (e.kind === 'no_audio' && st.phase === 'listening') return fail(st, 'timeout', `no audio for ${Math.round(cfg.noAudioMs / 1000)} s; stopped listening`);
      return out(st);
    }

    case 'closed': {
      const t = st.phase === 'idle' ? st : teardown(st);
      fx.push({ type: 'clear_timer', kind: 'watchdog' }, { type: 'clear_timer', kind: 'follow_up' }, { type: 'clear_timer', kind: 'no_audio' });
      return out({ ...t, closed: true });
    }

    case 'terminate': {
      const t = st.phase === 'idle' ? st : teardown(st);
      fx.push(error(e.code, e.message), { type: 'close', code: e.closeCode, reason: e.code });
      return out({ ...t, closed: true });
    }
  }
}

/** the reply is out: `done`, then listen again right away if it asked a question */
function afterReply(st: TurnState, fx: TurnEffect[], cfg: TurnSettings): TurnResult {
  fx.push({ type: 'clear_timer', kind: 'watchdog' });
  fx.push({ type: 'log', level: 'info', msg: 'spoken', data: { stage: 'tts' } });
  if (st.replyFollowUp) {
    fx.push(send({ type: 'done', follow_up: true }));
    const seq = st.seq + 1;
    fx.push({ type: 'open_asr', seq, rate: st.rate, endpointing: true });
    return {
      state: {
        ...st,
        phase: 'listening',
        seq,
        bytes: 0,
        maxBytes: Math.round(Math.max(1, cfg.maxUtteranceSeconds) * st.rate) * 2,
        draining: false,
        followUp: true,
        heardSpeech: false,
        text: '',
        speculating: null,
        reason: null,
        replyFollowUp: false,
        // nobody presses a button for the answer: the server ends it (its own follow-up timer, not the no-voice bound)
        endpointing: true,
        handsFree: false,
        endBytes: 0,
        vad: false,
      },
      effects: fx,
    };
  }
  fx.push(send({ type: 'done' }));
  return { state: { ...st, phase: 'idle', replyFollowUp: false, followUp: false }, effects: fx };
}
