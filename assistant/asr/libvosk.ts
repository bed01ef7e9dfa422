/**
 * A small koffi binding over libvosk's C API (vosk_api.h). The official libvosk.so ships inside the `vosk`
 * npm tarball (linux-x86_64) and the `vosk` PyPI wheels (aarch64, armv7l); `whereabouts models` puts it at
 * `<modelsDir>/lib/libvosk.so`.
 *
 * Every call here is synchronous and may take milliseconds (model load: ~0.5 s): use it from a worker thread
 * only (assistant/asr/worker.ts), never from the server's main thread.
 *
 * A model is shared by the recogniser threads: libvosk's model is reference-counted (each recogniser holds a
 * reference) and only read once loaded, so recognisers on several threads may be made from one model (as
 * vosk-server does). Its handle is therefore its address, a bigint (`VoskModelAddress`), which a worker can
 * pass to another in a message: every function that takes a model is declared with a pointer-sized integer
 * parameter (`uintptr_t`), the same bits as the `VoskModel *` in vosk_api.h. Who frees it, and when, is the
 * pool's business (assistant/asr/pool.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

/**
 * A loaded model: its address (a `VoskModel *` as a pointer-sized integer), valid in every thread of the
 * process until vosk_model_free. Never 0 once returned from here.
 */
export type VoskModelAddress = bigint;
/** an opaque native handle (koffi's pointer object; usable only in the thread that made it). Never null once returned from here */
export type VoskRecognizerHandle = { readonly __brand: 'VoskRecognizer' } & object;

export interface VoskLib {
  readonly path: string;
  /** -1: silent, 0: Kaldi LOG lines and up (Vosk's default), 1+: more */
  setLogLevel(level: number): void;
  /** loads a model folder; throws VoskLoadError when libvosk returns NULL */
  modelNew(dir: string): VoskModelAddress;
  /** drops the caller's reference (recognisers still open keep the model alive until they are freed) */
  modelFree(model: VoskModelAddress): void;
  /** the word's symbol id, or -1 when the model does not know it */
  findWord(model: VoskModelAddress, word: string): number;
  recognizerNew(model: VoskModelAddress, sampleRate: number): VoskRecognizerHandle;
  /** grammar: a JSON array of phrases, e.g. `["where is my cup", "[unk]"]` */
  recognizerNewGrm(model: VoskModelAddress, sampleRate: number, grammarJson: string): VoskRecognizerHandle;
  setWords(rec: VoskRecognizerHandle, on: boolean): void;
  /** null when this libvosk lacks the symbol */
  setMaxAlternatives: ((rec: VoskRecognizerHandle, n: number) => void) | null;
  /** s16le mono bytes (even length). 1: endpoint reached (call result()), 0: keep going, -1: error */
  acceptWaveform(rec: VoskRecognizerHandle, pcm: Uint8Array): number;
  partialResult(rec: VoskRecognizerHandle): string;
  result(rec: VoskRecognizerHandle): string;
  finalResult(rec: VoskRecognizerHandle): string;
  reset(rec: VoskRecognizerHandle): void;
  recognizerFree(rec: VoskRecognizerHandle): void;
}

export class VoskLoadError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'VoskLoadError';
  }
}

export interface LibvoskLocation {
  modelsDir: string;
  /** explicit path (a setting); wins over everything */
  libvosk?: string;
}

/** Where we look for libvosk.so, in order. */
export function libvoskCandidates(loc: LibvoskLocation, env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  if (loc.libvosk) out.push(path.resolve(loc.libvosk));
  if (env.WHEREABOUTS_LIBVOSK) out.push(path.resolve(env.WHEREABOUTS_LIBVOSK));
  out.push(path.join(loc.modelsDir, 'lib', libName()));
  return [...new Set(out)];
}

export function libName(): string {
  return process.platform === 'darwin' ? 'libvosk.dylib' : process.platform === 'win32' ? 'libvosk.dll' : 'libvosk.so';
}

/** Returns the first existing candidate, or throws a VoskLoadError that says how to get one. */
export function findLibvosk(loc: LibvoskLocation, env: NodeJS.ProcessEnv = process.env): string {
  const c = libvoskCandidates(loc, env);
  for (const p of c) {
    try {
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  throw new VoskLoadError(
    `libvosk not found (looked in: ${c.join(', ')}). Run \`whereabouts models\` to fetch it, or set WHEREABOUTS_LIBVOSK to its path.`,
  );
}

const isNull = (h: unknown): boolean => h === null || h === undefined || h === 0 || h === 0n;

/** a model address as koffi passes it to a `uintptr_t` parameter; refuses anything that is not one */
function modelArg(m: VoskModelAddress, what: string): bigint {
  if (typeof m !== 'bigint' || m <= 0n) throw new VoskLoadError(`${what}: not a model address`);
  return m;
}

/** Loads libvosk with koffi and declares the functions we use. Throws VoskLoadError on failure. */
export function loadVosk(libPath: string): VoskLib {
  const require = createRequire(import.meta.url);
  // koffi is CommonJS; requiring it keeps this module loadable where koffi is absent until actually used
  const koffi = require('koffi') as typeof import('koffi');
  let lib: ReturnType<typeof koffi.load>;
  try {
    lib = koffi.load(libPath);
  } catch (e) {
    throw new VoskLoadError(`cannot load ${libPath}: ${(e as Error).message}`, { cause: e });
  }
  const fn = (decl: string) => {
    try {
      return lib.func(decl);
    } catch (e) {
      throw new VoskLoadError(`${libPath} lacks ${decl}: ${(e as Error).message}`, { cause: e });
    }
  };
  const optional = (decl: string) => {
    try {
      return lib.func(decl);
    } catch {
      return null;
    }
  };
  const setLogLevel = fn('void vosk_set_log_level(int)');
  const modelNew = fn('void *vosk_model_new(const char *path)');
  // the model as its address (see the top of this file): the same bits as VoskModel *, passable between threads
  const modelFree = fn('void vosk_model_free(uintptr_t model)');
  const findWord = fn('int vosk_model_find_word(uintptr_t model, const char *word)');
  const recNew = fn('void *vosk_recognizer_new(uintptr_t model, float sample_rate)');
  const recNewGrm = fn('void *vosk_recognizer_new_grm(uintptr_t model, float sample_rate, const char *grammar)');
  const setWords = fn('void vosk_recognizer_set_words(void *rec, int words)');
  const setMaxAlt = optional('void vosk_recognizer_set_max_alternatives(void *rec, int max)');
  const accept = fn('int vosk_recognizer_accept_waveform(void *rec, const uint8_t *data, int length)');
  const partial = fn('const char *vosk_recognizer_partial_result(void *rec)');
  const result = fn('const char *vosk_recognizer_result(void *rec)');
  const finalResult = fn('const char *vosk_recognizer_final_result(void *rec)');
  const reset = fn('void vosk_recognizer_reset(void *rec)');
  const recFree = fn('void vosk_recognizer_free(void *rec)');

  const need = <T>(h: T, what: string): T => {
    if (isNull(h)) throw new VoskLoadError(`${what}: null handle`);
    return h;
  };

  return {
    path: libPath,
    setLogLevel: (l) => setLogLevel(l),
    modelNew(dir) {
      const h = modelNew(dir);
      if (isNull(h)) throw new VoskLoadError(`Vosk could not load the speech model in ${dir} (missing or corrupt files)`);
      return BigInt(koffi.address(h));
    },
    modelFree: (m) => modelFree(modelArg(m, 'vosk_model_free')),
    findWord: (m, w) => findWord(modelArg(m, 'vosk_model_find_word'), w) as number,
    recognizerNew(m, rate) {
      const h = recNew(modelArg(m, 'vosk_recognizer_new'), rate);
      if (isNull(h)) throw new VoskLoadError('vosk_recognizer_new returned NULL');
      return h as VoskRecognizerHandle;
    },
    recognizerNewGrm(m, rate, grammar) {
      const h = recNewGrm(modelArg(m, 'vosk_recognizer_new_grm'), rate, grammar);
      if (isNull(h)) throw new VoskLoadError('vosk_recognizer_new_grm returned NULL (does the model support runtime grammars?)');
      return h as VoskRecognizerHandle;
    },
    setWords: (r, on) => setWords(need(r, 'vosk_recognizer_set_words'), on ? 1 : 0),
    setMaxAlternatives: setMaxAlt ? (r, n) => setMaxAlt(need(r, 'vosk_recognizer_set_max_alternatives'), n) : null,
    acceptWaveform(r, pcm) {
      const len = pcm.byteLength & ~1;
      if (len === 0) return 0;
      return accept(need(r, 'vosk_recognizer_accept_waveform'), pcm, len) as number;
    },
    partialResult: (r) => String(partial(need(r, 'vosk_recognizer_partial_result')) ?? ''),
    result: (r) => String(result(need(r, 'vosk_recognizer_result')) ?? ''),
    finalResult: (r) => String(finalResult(need(r, 'vosk_recognizer_final_result')) ?? ''),
    reset: (r) => reset(need(r, 'vosk_recognizer_reset')),
    recognizerFree: (r) => recFree(need(r, 'vosk_recognizer_free')),
  };
}
