/** The text-to-speech contract shared by the engines (see index.ts for createTts). */

export interface Tts {
  /** 'flite' or 'espeak-ng' */
  readonly engine: string;
  /** sample rate of the PCM handed out (16000) */
  readonly sampleRate: number;
  /**
   * Speaks `text` as s16le mono PCM chunks of at most REPLY_AUDIO_CHUNK_BYTES (8 KiB, always an even
   * number of bytes), yielded as soon as they exist (per sentence for flite, per pipe read for espeak-ng).
   * Empty or whitespace-only text yields nothing. Text over MAX_TTS_CHARS (1000) throws
   * AppError('validation'). Stopping the iteration early cancels the remaining work.
   */
  synthesize(text: string): AsyncIterable<Buffer>;
  /** Stops the worker thread / child processes. Further synthesize() calls throw. */
  close(): Promise<void>;
}

export interface TtsOptions {
  /** engine voice: flite 'kal16' (default), 'slt', 'rms', 'awb', 'kal'; espeak-ng 'en-us' (default), 'en-gb', 'en+f3', ... */
  voice?: string;
  /** speaking-rate factor, 0.5..2 (1 = the engine's normal speed) */
  rate?: number;
  /** output sample rate, default 16000 */
  sampleRate?: number;
}
