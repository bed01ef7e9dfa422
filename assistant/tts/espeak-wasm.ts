/**
 * espeak-ng in process: the Emscripten build in npm `@echogarden/espeak-ng-emscripten` (GPL-3.0-or-later,
 * used unmodified as a separate program module: we only call its text-to-phonemes entry point; see
 * docs/architecture.md, "Licences"). No system package is needed at run time.
 *
 *   const g2p = await loadEspeak('en-us');
 *   g2p.phonemize('Your cup is on the table');   // 'jʊɹ kˈʌp ɪz ɔnðə tˈeɪbəl'
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

interface EspeakModule {
  eSpeakNGWorker: new () => EspeakWorker;
  HEAPU8: Uint8Array;
}
interface EspeakWorker {
  set_voice(name: string): number;
  text_to_phonemes(text: string, useIpa: number): { ptr: number };
}

export interface Phonemizer {
  /** espeak-ng IPA for one piece of text; clause marks " | " and phoneme separators "_" are left in */
  phonemize(text: string): string;
  readonly voice: string;
}

/** Version of the espeak-ng package in use (for logs and the bench). */
export function espeakWasmVersion(): string {
  const req = createRequire(import.meta.url);
  try {
    return (req('@echogarden/espeak-ng-emscripten/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const decoder = new TextDecoder();
const ESPEAK_PACKAGE = '@echogarden/espeak-ng-emscripten';

/**
 * The package's data file (24 MB) holds the dictionaries of every language; a voice needs one of them
 * (en_dict, 167 kB) and the shared phoneme tables (0.7 MB). This hands the module a zero-filled buffer of
 * the file's size with only those ranges read in: the untouched pages of a large zeroed allocation are never
 * resident, so the worker holds ~1 MB instead of 24 MB. Other languages' dictionaries read as empty, which
 * espeak-ng refuses as bad data (a foreign-word language switch then stays in the voice's language; Piper
 * drops those switch marks anyway). Returns null, and the module loads the file itself, if the package's
 * file list cannot be read.
 */
function trimmedData(voice: string): ((name: string, size: number) => ArrayBuffer | null) | null {
  try {
    const req = createRequire(import.meta.url);
    const js = req.resolve(ESPEAK_PACKAGE);
    const src = fs.readFileSync(js, 'utf8');
    const list = /loadPackage\(\{files:(\[[^\]]*\])/.exec(src)?.[1];
    if (!list) return null;
    const files = JSON.parse(list.replace(/(\w+):/g, '"$1":')) as Array<{ filename: string; start: number; end: number }>;
    const lang = voice.toLowerCase().split(/[-_+/]/)[0];
    const want = files.filter((f) => !/_dict$/.test(f.filename) || path.basename(f.filename) === `${lang}_dict`);
    if (!want.some((f) => path.basename(f.filename) === `${lang}_dict`)) return null; // unknown language: load everything
    const dataFile = path.join(path.dirname(js), 'espeak-ng.data');
    return (_name: string, size: number) => {
      const buf = new ArrayBuffer(size);
      const fd = fs.openSync(dataFile, 'r');
      try {
        for (const f of want) fs.readSync(fd, new Uint8Array(buf, f.start, f.end - f.start), 0, f.end - f.start, f.start);
      } finally {
        fs.closeSync(fd);
      }
      return buf;
    };
  } catch {
    return null;
  }
}

/** Loads espeak-ng (~0.1-0.3 s: the module and its data) and selects `voice`. */
export async function loadEspeak(voice: string): Promise<Phonemizer> {
  const spec: string = ESPEAK_PACKAGE; // the package ships no type declarations
  const mod = (await import(spec)) as unknown as { default: (opts?: object) => Promise<EspeakModule> };
  const data = trimmedData(voice);
  // the module prints its own notices through print/printErr: keep them out of the server's output
  const m = await mod.default({ print: () => {}, printErr: () => {}, ...(data ? { getPreloadedPackage: data } : {}) });
  const w = new m.eSpeakNGWorker();
  const rc = w.set_voice(voice);
  if (rc !== 0) throw new Error(`espeak-ng has no voice "${voice}" (error ${rc})`);
  return {
    voice,
    phonemize(text: string): string {
      const ptr = w.text_to_phonemes(text, 1).ptr;
      const heap = m.HEAPU8;
      let end = ptr;
      while (heap[end] !== 0) end++;
      return decoder.decode(heap.subarray(ptr, end));
    },
  };
}
