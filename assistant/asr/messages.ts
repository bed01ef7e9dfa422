/** Messages between the main thread (pool.ts) and the recogniser workers (worker.ts). */

export interface WorkerInit {
  libPath: string;
  modelDir: string;
  /** grammar phrase list (already built by buildGrammar without a vocabulary check); null: free dictation */
  grammar: string[] | null;
  /** libvosk log level (-1 silent) */
  logLevel: number;
  /** the smallest word confidence kept in a final result; below it the word becomes [unk] */
  minConfidence: number;
  /** the audio slice one stream decodes before the worker turns to the next (ms of 16 kHz audio) */
  sliceMs: number;
  /** the Silero VAD model file (asr/vad.ts); null: no voice-activity detection */
  vadModel: string | null;
}

export type ToWorker =
  | { op: 'open'; id: number; rate: number }
  | { op: 'audio'; id: number; pcm: Uint8Array }
  | { op: 'finish'; id: number }
  | { op: 'abort'; id: number }
  | { op: 'grammar'; phrases: string[] | null }
  | { op: 'stats'; req: number }
  /** free everything and exit */
  | { op: 'close' };

export interface WordInfo {
  word: string;
  conf: number;
  start: number;
  end: number;
}

export type FromWorker =
  | { type: 'ready'; dropped: { phrase: string; word: string }[]; loadMs: number; vad: boolean; vadProblem: string | null }
  | { type: 'fatal'; message: string }
  | { type: 'grammar'; dropped: { phrase: string; word: string }[]; size: number }
  | { type: 'partial'; id: number; text: string }
  | { type: 'endpoint'; id: number; text: string; raw: string; words: WordInfo[] }
  /**
   * a slice was decoded: `bytes` of input consumed; `text` the words so far (segments + partial);
   * `unk` the words end in an out-of-grammar word; `silenceMs` the VAD's quiet time at the decoded position (null: no VAD); `speech` the VAD heard speech
   */
  | { type: 'progress'; id: number; bytes: number; text: string; unk: boolean; silenceMs: number | null; speech: boolean }
  | {
      type: 'final';
      id: number;
      text: string;
      raw: string;
      words: WordInfo[];
      /** audio decoded, seconds (at the input rate) */
      audioSeconds: number;
      /** worker time spent decoding this stream, ms */
      cpuMs: number;
    }
  | { type: 'error'; id: number; message: string }
  | { type: 'stats'; req: number; recognizers: number; pendingBytes: number };
