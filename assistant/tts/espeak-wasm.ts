/**
 * espeak-ng in process: the Emscripten build in npm `@echogarden/espeak-ng-emscripten` (GPL-3.0-or-later,
 * used unmodified as a separate program module: we only call its text-to-phonemes entry point; see
 * docs/architecture.md, "Licences"). No system package is needed at run time.
 *
 *   const g2p = await loadEspeak('en-us');
 *   g2p.phonemize('Your cup is on the table');   // 'jʊɹ kˈʌp ɪz ɔnðə tˈeɪbəl'
 */
import { createRequire } from 'node:module';

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

/** Loads espeak-ng (~0.1-0.3 s: the module and its data file) and selects `voice`. */
export async function loadEspeak(voice: string): Promise<Phonemizer> {
  const spec: string = ESPEAK_PACKAGE; // the package ships no type declarations
  const mod = (await import(spec)) as unknown as { default: (opts?: object) => Promise<EspeakModule> };
  // the module prints its own notices through print/printErr: keep them out of the server's output
  const m = await mod.default({ print: () => {}, printErr: () => {} });
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
