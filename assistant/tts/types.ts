/** The text-to-speech contract shared by the engines (see index.ts for createTts). */

export interface Tts {
  /** 'piper', 'flite' or 'espeak-ng' */
  readonly engine: string;
  /** sample rate of the PCM handed out unless a call asks for another (default 16000) */
  readonly sampleRate: number;
  /**
   * Speaks `text` as s16le mono PCM chunks of at most REPLY_AUDIO_CHUNK_BYTES (8 KiB, always an even
   * number of bytes), yielded as soon as they exist (per clause for piper, per sentence for flite, per pipe
   * read for espeak-ng). Empty or whitespace-only text yields nothing. Text over MAX_TTS_CHARS (1000) throws
   * AppError('validation'). Stopping the iteration early (`return()`, `break`) or aborting `opts.signal`
   * cancels the remaining work at once: pieces not yet started are dropped (a pending `next()` ends with
   * done); a piece already being synthesised finishes, and nothing after it is started.
   */
  synthesize(text: string, opts?: SynthesizeOptions): AsyncIterable<Buffer>;
  /**
   * Prepares the first piece of each reply ahead of time (engines with slow first audio: piper), behind any
   * real reply; later replies that start the same way get their first audio at once. Absent when an engine
   * has nothing to gain (flite, espeak-ng).
   */
  warm?(replies: readonly string[], opts?: { sampleRate?: number }): Promise<{ warmed: number; held: number; skipped: number }>;
  /** Stops the worker thread / child processes. Further synthesize() calls throw. */
  close(): Promise<void>;
}

export interface SynthesizeOptions {
  /** sample rate of this reply's PCM (8000..48000; default: the engine's sampleRate) */
  sampleRate?: number;
  /** aborting it cancels the reply as `return()` does (dropped speculation, barge-in, a client gone) */
  signal?: AbortSignal;
}

export interface TtsOptions {
  /** engine voice: piper a path to a .onnx voice; flite 'kal16' (default), 'slt', 'rms', 'awb', 'kal'; espeak-ng 'en-us' (default), 'en-gb', 'en+f3', ... */
  voice?: string;
  /** speaking-rate factor, 0.5..2 (1 = the voice's normal speed; piper: length scale / rate) */
  rate?: number;
  /** loudness factor 0..2 (1 = normal; piper and flite) */
  volume?: number;
  /** output sample rate, default 16000 */
  sampleRate?: number;
}
