/**
 * Hook points of the voice socket for connection policy (revocation, idle audio, per-device / per-user stream
 * limits). routes/listen.ts calls these; the policy itself lives in its own module, which registers an
 * implementation with `app.decorate('voiceGuard', guard)` (or passes `guard` to the listen plugin).
 * Without one, every connection and stream is allowed and nothing is watched.
 */
import type { ErrorEventCode } from '../../protocol/protocol.js';
import type { Principal } from '../plugins/auth.js';

export interface GuardRefusal {
  code: ErrorEventCode;
  message: string;
}

export interface VoiceGuard {
  /** a voice connection opened (after authentication): a refusal closes it with that typed error (1008) */
  admit?(principal: Principal): GuardRefusal | null;
  /** the connection closed (called once for every admitted connection) */
  release?(principal: Principal): void;
  /**
   * an utterance wants a recogniser stream: a refusal ends it with that typed error (the connection stays
   * open); otherwise the returned function is called once when the stream is done.
   */
  openStream?(principal: Principal): GuardRefusal | (() => void);
  /**
   * watches the connection's credentials: call `end` to close it with a typed error (e.g. the device token
   * was revoked). Returns an unsubscribe function, called when the connection closes.
   */
  watch?(principal: Principal, end: (code: ErrorEventCode, message: string) => void): () => void;
  /** a started utterance whose audio stops arriving ends with `timeout` after this long, ms (0: never) */
  noAudioMs?: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    voiceGuard?: VoiceGuard;
  }
}
