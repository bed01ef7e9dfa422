/**
 * A small koffi binding over libvosk's C API (vosk_api.h). The official libvosk.so ships inside the `vosk`
 * npm tarball (linux-x86_64) and the `vosk` PyPI wheels (aarch64, armv7l); `whereabouts models` puts it at
 * `<modelsDir>/lib/libvosk.so`.
 *
 * Every call here is synchronous and may take milliseconds (model load: ~0.5 s): use it from a worker thread
 * only (assistant/asr/worker.ts), never from the server's main thread.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

/** Opaque native handles (koffi returns pointers as numbers/bigints). Never null once returned from here. */
export type VoskModelHandle = { readonly __brand: 'VoskModel' } & object;
export type VoskRecognizerHandle = { readonly __brand: 'VoskRecognizer' } & object;

export interface VoskLib {
  readonly path: string;
  /** -1: silent, 0: Kaldi LOG lines and up (Vosk's default), 1+: more */
  setLogLevel(level: number): void;
  /** loads a model folder; throws VoskLoadError when libvosk returns NULL */
  modelNew(dir: string): VoskModelHandle;
  modelFree(model: VoskModelHandle): void;
  /** the word's symbol id, or -1 when the model does not know it */
  findWord(model: VoskModelHandle, word: string): number;
  recognizerNew(model: VoskModelHandle, sampleRate: number): VoskRecognizerHandle;
  /** grammar: a JSON array of phrases, e.g. `["where is my cup", "[unk]"]` */
  recognizerNewGrm(model: VoskModelHandle, sampleRate: number, grammarJson: string): VoskRecognizerHandle;
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
  const modelFree = fn('void vosk_model_free(void *model)');
  const findWord = fn('int vosk_model_find_word(void *model, const char *word)');
  const recNew = fn('void *vosk_recognizer_new(void *model, float sample_rate)');
  const recNewGrm = fn('void *vosk_recognizer_new_grm(void *model, float sample_rate, const char *grammar)');
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
      return h as VoskModelHandle;
    },
    modelFree: (m) => modelFree(need(m, 'vosk_model_free')),
    findWord: (m, w) => findWord(need(m, 'vosk_model_find_word'), w) as number,
    recognizerNew(m, rate) {
      const h = recNew(need(m, 'vosk_recognizer_new: model'), rate);
      if (isNull(h)) throw new VoskLoadError('vosk_recognizer_new returned NULL');
      return h as VoskRecognizerHandle;
    },
    recognizerNewGrm(m, rate, grammar) {
      const h = recNewGrm(need(m, 'vosk_recognizer_new_grm: model'), rate, grammar);
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
