/**
 * The voice wire protocol of `GET /v1/listen` (WebSocket): one typed definition shared by the server,
 * the Pi client and the admin page. Documented in docs/protocol.md.
 *
 * Client -> server: JSON text frames (ClientMessage) and binary frames of raw PCM s16le mono audio.
 * Server -> client: JSON text frames (ServerEvent); after an `audio` event, binary frames carrying exactly
 * `bytes` bytes of s16le audio follow, then the next JSON event.
 */

export const PROTOCOL_VERSION = 1;
export const MIN_SAMPLE_RATE = 8000;
export const MAX_SAMPLE_RATE = 48000;
export const MAX_AUDIO_FRAME_BYTES = 64 * 1024;
export const REPLY_AUDIO_CHUNK_BYTES = 8 * 1024;

// ---- client -> server -------------------------------------------------------------------------------

export interface StartMessage {
  type: 'start';
  sample_rate: number;
  format?: 's16le';
  channels?: 1;
  /** ask for spoken reply audio (default true) */
  audio?: boolean;
  /**
   * let the server end the utterance by itself when it hears a whole question followed by quiet (default
   * true: hands-free). false: only `stop` (or the length limit) ends it (push-to-talk).
   */
  endpoint?: boolean;
  /**
   * the client's own voice detector opened this utterance (hands-free, no button): when the server hears no
   * voice in its first `voiceNoSpeechSeconds` of audio it ends it quietly, `done` with reason `no_speech`
   * (default false: a held button or a press waits for the person to speak)
   */
  hands_free?: boolean;
  /** sample rate of the reply audio, 8000..48000 (default: the server's, 16000); kept for the connection */
  reply_sample_rate?: number;
}
export interface StopMessage {
  type: 'stop';
}
/**
 * Stop the current utterance or reply now (barge-in): the server stops the reply audio (or drops the
 * utterance being heard) and answers `done` with reason `cancelled`. A new `start` while the reply plays
 * does the same and starts listening.
 */
export interface CancelMessage {
  type: 'cancel';
}
/** vosk-server compatibility: `{"config":{"sample_rate":16000}}` is a start */
export interface VoskConfigMessage {
  config: { sample_rate: number };
}
/** vosk-server compatibility: `{"eof":1}` is a stop */
export interface VoskEofMessage {
  eof: 1;
}
export type ClientMessage = StartMessage | StopMessage | CancelMessage | VoskConfigMessage | VoskEofMessage;

// ---- server -> client -------------------------------------------------------------------------------

export type ErrorEventCode = 'bad_message' | 'bad_audio' | 'unauthorized' | 'too_long' | 'busy' | 'internal' | 'unavailable' | 'timeout';

export interface ReadyEvent {
  type: 'ready';
  protocol: number;
  /** what the server accepts */
  sample_rates: [number, number];
}
export interface ListeningEvent {
  type: 'listening';
  sample_rate: number;
  /** the server listens again by itself after a reply that asked a question: keep streaming audio */
  follow_up?: boolean;
}
export interface PartialEvent {
  type: 'partial';
  text: string;
}
export interface TranscriptEvent {
  type: 'transcript';
  text: string;
  /** why the utterance ended */
  reason: 'stop' | 'endpoint' | 'max_length';
  /** ms of the utterance's audio the server had received when it ended (what the transcript covers) */
  heard_ms?: number;
  /**
   * the recogniser's N-best list, best first (the first is `text` as heard), each with its share of the
   * list's probability mass (0..1); the question is answered from the list, not from `text` alone
   */
  alternatives?: Array<{ text: string; confidence: number }>;
  /** the best hypothesis' words with their confidence (0..1: the share of hypotheses agreeing on the word) */
  words?: Array<{ word: string; conf: number }>;
}
export interface SightingView {
  label: string;
  score: number;
  box: [number, number, number, number];
  seen_at: string;
  room: string | null;
  /** the camera zone it was in ("kitchen counter"), when the camera has zones */
  zone?: string | null;
  device: string;
  frame_id: number | null;
}
export interface ReplyEvent {
  type: 'reply';
  text: string;
  intent: string;
  outcome: string;
  item: string | null;
  label: string | null;
  sighting: SightingView | null;
  /**
   * server-side stages, ms; `second_look_ms` (part of `nlp_ms`) only when the question was unsure and heard again
   * by the second recogniser
   */
  timings: { asr_ms: number; nlp_ms: number; lookup_ms: number; tts_ms: number; second_look_ms?: number };
  /**
   * the reply asks a question ("Did you mean your cup?", "Sorry, which thing are you looking for?"): the
   * server listens again after `done` without another `start`
   */
  follow_up?: boolean;
}
export interface AudioEvent {
  type: 'audio';
  format: 's16le';
  sample_rate: number;
  bytes: number;
}
export interface DoneEvent {
  type: 'done';
  /**
   * absent: the reply is complete. `cancelled`: the client's cancel (or a new start) stopped it.
   * `no_speech`: the server listened for an answer to its question and nobody spoke; or it heard no voice in
   * what the client's detector opened (`hands_free` start), or no words in it: nothing is answered or spoken.
   * `not_a_request`: what the client's detector opened (`hands_free`) held no request (talk in the room, the
   * television): the transcript came, no reply and nothing spoken.
   */
  reason?: 'cancelled' | 'no_speech' | 'not_a_request';
  /** the reply asked a question: a `listening` event follows and the server waits for the answer */
  follow_up?: boolean;
}
export interface ErrorEvent {
  type: 'error';
  code: ErrorEventCode;
  message: string;
}
export type ServerEvent =
  | ReadyEvent
  | ListeningEvent
  | PartialEvent
  | TranscriptEvent
  | ReplyEvent
  | AudioEvent
  | DoneEvent
  | ErrorEvent;

// ---- a pure reducer over events (shared by the Pi client and the page) -------------------------------

export type Phase = 'idle' | 'listening' | 'thinking' | 'speaking';

export interface ConversationState {
  phase: Phase;
  partial: string;
  transcript: string | null;
  reply: ReplyEvent | null;
  /** audio bytes still expected after an `audio` event */
  audioRemaining: number;
  error: ErrorEvent | null;
}

export const initialConversation: ConversationState = {
  phase: 'idle',
  partial: '',
  transcript: null,
  reply: null,
  audioRemaining: 0,
  error: null,
};

/** Folds one server event (or a count of received audio bytes) into the state. Pure. */
export function reduceConversation(
  s: ConversationState,
  e: ServerEvent | { type: 'audio_bytes'; bytes: number } | { type: 'local_start' },
): ConversationState {
  switch (e.type) {
    case 'local_start':
      return { ...initialConversation, phase: 'listening' };
    case 'ready':
      return s;
    case 'listening':
      return { ...s, phase: 'listening', partial: '', transcript: null, reply: null, error: null };
    case 'partial':
      return { ...s, partial: e.text };
    case 'transcript':
      return { ...s, phase: 'thinking', transcript: e.text, partial: '' };
    case 'reply':
      return { ...s, reply: e };
    case 'audio':
      return { ...s, phase: 'speaking', audioRemaining: e.bytes };
    case 'audio_bytes':
      return { ...s, audioRemaining: Math.max(0, s.audioRemaining - e.bytes) };
    case 'done':
      return { ...s, phase: 'idle', audioRemaining: 0 };
    case 'error':
      return { ...s, phase: 'idle', error: e };
  }
}

/** Parses one JSON text frame from the client; returns null for anything that is not a known message. */
export function parseClientMessage(raw: string): ClientMessage | null {
  let m: unknown;
  try {
    m = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) return null;
  const o = m as Record<string, unknown>;
  if (o.type === 'start' && typeof o.sample_rate === 'number') return o as unknown as StartMessage;
  if (o.type === 'stop') return { type: 'stop' };
  if (o.type === 'cancel') return { type: 'cancel' };
  if (o.config && typeof o.config === 'object' && typeof (o.config as Record<string, unknown>).sample_rate === 'number')
    return o as unknown as VoskConfigMessage;
  if (o.eof === 1 || o.eof === true) return { eof: 1 };
  return null;
}

export function isServerEvent(x: unknown): x is ServerEvent {
  return !!x && typeof x === 'object' && typeof (x as { type?: unknown }).type === 'string';
}
