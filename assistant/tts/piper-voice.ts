/**
 * Piper voices, the pure parts: reading a voice's `.onnx.json`, cutting text into the pieces that are
 * synthesised one at a time (clauses, with a short first piece so speech starts early), and turning
 * espeak-ng IPA into the phoneme ids the voice was trained on.
 *
 * Piper's conventions (rhasspy/piper, piper-phonemize), which a voice depends on:
 *   - phonemes are espeak-ng IPA for the voice's `espeak.voice`, Unicode-decomposed (NFD), one codepoint each;
 *   - a clause ends with its punctuation: "." "?" "!" at a sentence end, ", " ": " "; " (with a space) inside;
 *   - ids = bos ("^"), pad ("_"), then every phoneme's ids each followed by pad, then eos ("$");
 *   - a phoneme missing from `phoneme_id_map` is dropped;
 *   - inputs `input` int64 [1, n], `input_lengths` int64 [1], `scales` float32 [noise, length, noise_w],
 *     and `sid` int64 [1] for voices with several speakers; the output is float audio at audio.sample_rate.
 */
import fs from 'node:fs';

export const PAD = '_';
export const BOS = '^';
export const EOS = '$';

export interface PiperVoiceConfig {
  sampleRate: number;
  /** espeak-ng voice name, e.g. 'en-us' */
  espeakVoice: string;
  noiseScale: number;
  lengthScale: number;
  noiseW: number;
  numSpeakers: number;
  /** one codepoint -> ids */
  phonemeIdMap: Map<string, number[]>;
  /** optional phoneme -> phonemes rewrite (one codepoint -> codepoints) */
  phonemeMap: Map<string, string[]>;
  /** language code, e.g. 'en_US' (for messages) */
  language: string;
  /** dataset name, e.g. 'joe' */
  dataset: string;
}

export class VoiceConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VoiceConfigError';
  }
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Checks and converts a parsed `.onnx.json`; throws VoiceConfigError naming what is wrong. */
export function parseVoiceConfig(raw: unknown, where = 'voice config'): PiperVoiceConfig {
  const j = raw as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  const bad = (what: string): never => {
    throw new VoiceConfigError(`${where}: ${what}`);
  };
  if (!j || typeof j !== "object" || Array.isArray(raw)) bad("not a JSON object");
  const type = j.phoneme_type ?? 'espeak';
  if (type !== 'espeak') bad(`phoneme_type "${type}" is not supported (only espeak voices)`);
  const sampleRate = j.audio?.sample_rate;
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000) bad('audio.sample_rate must be 8000..48000');
  const espeakVoice = j.espeak?.voice;
  if (typeof espeakVoice !== 'string' || !/^[a-z0-9][a-z0-9+_\-/]{0,40}$/i.test(espeakVoice)) bad('espeak.voice missing');
  const inf = j.inference ?? {};
  const noiseScale = inf.noise_scale ?? 0.667;
  const lengthScale = inf.length_scale ?? 1;
  const noiseW = inf.noise_w ?? 0.8;
  if (![noiseScale, lengthScale, noiseW].every(isNum) || !(lengthScale > 0)) bad('inference scales must be numbers (length_scale > 0)');
  const map = j.phoneme_id_map;
  if (!map || typeof map !== 'object' || Array.isArray(map)) bad('phoneme_id_map missing');
  const numSymbols = Number.isInteger(j.num_symbols) ? (j.num_symbols as number) : 1 << 16;
  const phonemeIdMap = new Map<string, number[]>();
  for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
    if ([...k].length !== 1) bad(`phoneme_id_map key ${JSON.stringify(k)} is not one codepoint`);
    if (!Array.isArray(v) || v.length === 0 || !v.every((n) => Number.isInteger(n) && n >= 0 && n < numSymbols)) bad(`phoneme_id_map[${JSON.stringify(k)}] must be a list of ids below num_symbols`);
    phonemeIdMap.set(k, v as number[]);
  }
  for (const s of [PAD, BOS, EOS]) if (!phonemeIdMap.has(s)) bad(`phoneme_id_map has no "${s}"`);
  const phonemeMap = new Map<string, string[]>();
  for (const [k, v] of Object.entries((j.phoneme_map ?? {}) as Record<string, unknown>)) {
    if ([...k].length === 1 && Array.isArray(v) && v.every((x) => typeof x === 'string')) phonemeMap.set(k, v as string[]);
  }
  const numSpeakers = Number.isInteger(j.num_speakers) && j.num_speakers > 0 ? (j.num_speakers as number) : 1;
  return {
    sampleRate,
    espeakVoice,
    noiseScale,
    lengthScale,
    noiseW,
    numSpeakers,
    phonemeIdMap,
    phonemeMap,
    language: typeof j.language?.code === 'string' ? j.language.code : espeakVoice,
    dataset: typeof j.dataset === 'string' ? j.dataset : '',
  };
}

/** The `.onnx.json` beside a voice file: `<voice>.onnx.json`, else `<voice>.json`. */
export function voiceConfigPath(onnxPath: string): string {
  const a = `${onnxPath}.json`;
  if (fs.existsSync(a)) return a;
  const b = onnxPath.replace(/\.onnx$/i, '') + '.json';
  return fs.existsSync(b) ? b : a;
}

/** Reads and checks a voice's `.onnx.json`. */
export function readVoiceConfig(file: string): PiperVoiceConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new VoiceConfigError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `not readable JSON (${(e as Error).message})`}`);
  }
  return parseVoiceConfig(raw, file);
}

/** What ends a piece of text: sentence punctuation, clause punctuation, or nothing (a cut inside a clause). */
export type Terminator = '.' | '?' | '!' | ',' | ':' | ';' | '';

export interface TextPiece {
  text: string;
  end: Terminator;
}

/** Phonemes that close a piece, as piper-phonemize appends them after each espeak-ng clause. */
export function terminatorPhonemes(end: Terminator): string {
  return end === ',' || end === ':' || end === ';' ? `${end} ` : end;
}

/**
 * Cuts prepared text into clauses at , ; : (followed by a space) and . ! ? (followed by a space or the
 * end). Text that ends without punctuation ends with ''. Dots inside numbers ("2.5") and initials do not cut.
 */
export function splitClauses(text: string): TextPiece[] {
  const out: TextPiece[] = [];
  const re = /([.!?]+|[,;:])(?=\s|$)/g;
  let start = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text))) {
    const body = text.slice(start, m.index).trim();
    const p = m[1];
    const end: Terminator = p.includes('?') ? '?' : p.includes('!') ? '!' : p[0] === '.' ? '.' : (p as Terminator);
    const next = m.index + m[0].length;
    // "Dr. Who", "e.g. this", a lone initial: a short word before a single dot is no sentence end
    if (p === '.' && next < text.length && /(?:^|\s)(?:[A-Z]|Dr|Mr|Mrs|Ms|St|e\.g|i\.e|etc|vs)$/.test(body)) continue;
    start = next;
    if (/[\p{L}\p{N}]/u.test(body)) out.push({ text: body, end });
  }
  const tail = text.slice(start).trim();
  if (/[\p{L}\p{N}]/u.test(tail)) out.push({ text: tail, end: '' });
  return out;
}

/** Words after which a long first clause may be cut: a phrase starts with one of these. */
const PHRASE_STARTS = new Set(
  'on in at under behind beside near next by inside outside over above below between against along through with without from to into onto for about around and but or so because which that when where who'.split(' '),
);

/** A first clause of at most this many words is spoken whole (about 1.5 s of audio). */
export const WHOLE_FIRST_WORDS = 6;

/**
 * Makes the first piece short so that its audio is ready quickly: a first clause of more than
 * WHOLE_FIRST_WORDS words is cut before the first phrase-starting word (a preposition or conjunction) after at
 * least two words and at most `maxWords` + 1 words, else after `maxWords` words. The rest of the clause becomes
 * the second piece, with the clause's ending.
 */
export function shortenFirst(pieces: TextPiece[], maxWords = 4): TextPiece[] {
  if (!pieces.length || maxWords <= 0) return pieces;
  const first = pieces[0];
  const words = first.text.split(' ');
  if (words.length <= Math.max(WHOLE_FIRST_WORDS, maxWords + 1)) return pieces;
  let cut = -1;
  for (let i = 2; i <= Math.min(maxWords + 1, words.length - 2); i++) {
    if (PHRASE_STARTS.has(words[i].toLowerCase())) {
      cut = i;
      break;
    }
  }
  if (cut < 0) cut = maxWords;
  return [{ text: words.slice(0, cut).join(' '), end: '' }, { text: words.slice(cut).join(' '), end: first.end }, ...pieces.slice(1)];
}

/** Pieces to synthesise for a prepared text, in order. */
export function planPieces(text: string, firstMaxWords = 4): TextPiece[] {
  return shortenFirst(splitClauses(text), firstMaxWords);
}

/**
 * Cleans espeak-ng's IPA for one piece (phoneme separators and clause marks removed) and appends the
 * piece's punctuation, NFD-decomposed as Piper does.
 */
export function piecePhonemes(ipa: string, end: Terminator): string {
  const body = ipa
    .replace(/_/g, '')
    .replace(/\s*\|\s*/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return (body + terminatorPhonemes(end)).normalize('NFD');
}

/**
 * Phonemes -> ids with Piper's conventions: ^ _ (ids _)* $. Codepoints the voice does not know are dropped
 * (returned in `missing`); language-switch marks "(en)" are removed first.
 */
export function phonemesToIds(phonemes: string, voice: Pick<PiperVoiceConfig, 'phonemeIdMap' | 'phonemeMap'>): { ids: number[]; missing: string[] } {
  const map = voice.phonemeIdMap;
  const pad = map.get(PAD)!;
  const ids: number[] = [...map.get(BOS)!, ...pad];
  const missing: string[] = [];
  const text = phonemes.replace(/\([a-z-]+\)/gi, '');
  for (const c0 of text) {
    const cs = voice.phonemeMap.get(c0) ?? [c0];
    for (const c of cs) {
      const v = map.get(c);
      if (!v) {
        missing.push(c);
        continue;
      }
      ids.push(...v, ...pad);
    }
  }
  ids.push(...map.get(EOS)!);
  return { ids, missing };
}
