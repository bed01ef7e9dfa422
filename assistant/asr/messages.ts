/** Messages between the main thread (pool.ts) and the recogniser workers (worker.ts). */

export interface WorkerInit {
  libPath: string;
  modelDir: string;
  /**
   * the pool's model (its address, assistant/asr/libvosk.ts), shared by every worker; null: load it from
   * modelDir and report its address in 'ready' (the pool's first worker)
   */
  model: bigint | null;
  /** grammar phrase list (already built by buildGrammar without a vocabulary check); null: free dictation */
  grammar: string[] | null;
  /** libvosk log level (-1 silent) */
  logLevel: number;
  /** the smallest word confidence kept in a final result; below it the word becomes [unk] */
  minConfidence: number;
  /** the audio slice one stream decodes before the worker turns to the next (ms of 16 kHz audio) */
  sliceMs: number;
  /** N-best list length asked of libvosk (0: one hypothesis with libvosk's own word confidences) */
  maxAlternatives: number;
  /** the Silero VAD model file (asr/vad.ts); null: no voice-activity detection */
  vadModel: string | null;
  /** RNNoise in front of the VAD (asr/denoise.ts): the VAD judges the audio with the room's noise suppressed */
  vadDenoise: boolean;
  /** keep finished utterances' audio for second looks (asr/recognizer.ts AsrOptions.secondLook) */
  secondLook: boolean;
}

export type ToWorker =
  /** `vad`: the stream's progress carries the VAD's view (hands-free); push to talk needs none (nor RNNoise, nor the kept audio for flushes) */
  | { op: 'open'; id: number; rate: number; vad: boolean }
  | { op: 'audio'; id: number; pcm: Uint8Array }
  | { op: 'finish'; id: number }
  /** end the stream's current segment now (libvosk's final result for it, as at its own endpoint); decoding goes on */
  | { op: 'flush'; id: number }
  | { op: 'abort'; id: number }
  /** hand over a finished stream's held audio (for the second look, asr/listener.ts); answered by 'held' */
  | { op: 'check'; id: number }
  /** drop a finished stream's held audio (no second look wanted) */
  | { op: 'release'; id: number }
  | { op: 'grammar'; phrases: string[] | null }
  | { op: 'stats'; req: number }
  /** free everything and exit; `freeModel`: drop the shared model too (the pool's last worker, after the others exited) */
  | { op: 'close'; freeModel: boolean };

export interface WordInfo {
  word: string;
  conf: number;
  start: number;
  end: number;
}

/**
 * One hypothesis of the N-best list. `confidence` is its share of the list's probability mass (0..1, the
 * list's confidences sum to 1): libvosk's per-hypothesis scores (log-likelihoods) through a softmax.
 */
export interface Alternative {
  /** lower case, without [unk] */
  text: string;
  /** with [unk] */
  raw: string;
  confidence: number;
}

export type FromWorker =
  /** `model`: the address of the model this worker uses; `loaded`: this worker loaded it (else it was given one) */
  | { type: 'ready'; dropped: { phrase: string; word: string }[]; loadMs: number; vad: boolean; vadProblem: string | null; denoise: boolean; denoiseProblem: string | null; model: bigint; loaded: boolean }
  | { type: 'fatal'; message: string }
  | { type: 'grammar'; dropped: { phrase: string; word: string }[]; size: number }
  | { type: 'partial'; id: number; text: string }
  | { type: 'endpoint'; id: number; text: string; raw: string; words: WordInfo[]; alternatives: Alternative[] }
  /**
   * a slice was decoded: `bytes` of input consumed; `text` the words so far (segments + partial);
   * `unk` the words end in an out-of-grammar word; `silenceMs` the VAD's quiet time at the decoded position (null: no VAD); `speech` the VAD heard speech; `loudQuietMs` the level meter's quiet time and `levelRangeDb` its loud-to-floor range (asr/loudness.ts)
   */
  | { type: 'progress'; id: number; bytes: number; text: string; unk: boolean; silenceMs: number | null; speech: boolean; loudQuietMs: number; levelRangeDb: number }
  | {
      type: 'final';
      id: number;
      text: string;
      raw: string;
      words: WordInfo[];
      /** the N-best list of the whole utterance, best first (the first one is `text`) */
      alternatives: Alternative[];
      /** audio decoded, seconds (at the input rate) */
      audioSeconds: number;
      /** worker time spent decoding this stream, ms */
      cpuMs: number;
      /** the worker holds the utterance's audio for a second look ('check'), until 'release' or a minute passes */
      checkable: boolean;
    }
  /** a finished stream's held audio, 16 kHz s16le, the whole utterance as decoded (null: no longer held) */
  | { type: 'held'; id: number; pcm: ArrayBuffer | null }
  | { type: 'error'; id: number; message: string }
  /** `model`: the address of the model the worker's recognisers are made from (hex) */
  | { type: 'stats'; req: number; recognizers: number; pendingBytes: number; model: string };
