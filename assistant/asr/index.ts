/** Speech recognition (Vosk via libvosk + koffi, in worker threads). See recognizer.ts. */
export { createAsr, AsrError } from './recognizer.js';
export type { Asr, AsrProgress, AsrStream, AsrResult, AsrStats, AsrConfig, AsrOptions, AsrErrorCode } from './recognizer.js';
export { buildGrammar, normalizePhrase, cleanTranscript, REQUEST_PHRASES, FILLERS, UNK } from './grammar.js';
export { findLibvosk, libvoskCandidates, loadVosk, VoskLoadError } from './libvosk.js';
export type { AsrLogger, SecondLookResult } from './pool.js';
export type { Alternative, WordInfo } from './messages.js';
export { parseVoskResult, joinSegments } from './nbest.js';
export { SileroVad, VadStream, sileroModelPath, VAD_THRESHOLDS, VAD_WINDOW } from './vad.js';
