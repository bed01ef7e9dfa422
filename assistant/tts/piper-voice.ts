/**
 * Piper voices, the pure parts: cutting text into the pieces that are synthesised one at a time (clauses,
 * with a short first piece so speech starts early), and turning espeak-ng IPA into the phoneme ids the voice
 * was trained on (the voice's `.onnx.json` is read by models/voice-config.ts).
 *
 * Piper's conventions (rhasspy/piper, piper-phonemize), which a voice depends on:
 *   - phonemes are espeak-ng IPA for the voice's `espeak.voice`, Unicode-decomposed (NFD), one codepoint each;
 *   - a clause ends with its punctuation: "." "?" "!" at a sentence end, ", " ": " "; " (with a space) inside;
 *   - ids = bos ("^"), pad ("_"), then every phoneme's ids each followed by pad, then eos ("$");
 *   - a phoneme missing from `phoneme_id_map` is dropped;
 *   - inputs `input` int64 [1, n], `input_lengths` int64 [1], `scales` float32 [noise, length, noise_w],
 *     and `sid` int64 [1] for voices with several speakers; the output is float audio at audio.sample_rate.
 */
import { BOS, EOS, PAD, type PiperVoiceConfig } from '../../models/voice-config.js';

export { parseVoiceConfig, readVoiceConfig, voiceConfigPath, VoiceConfigError, type PiperVoiceConfig } from '../../models/voice-config.js';

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

/** A long first clause may be cut before one of these: a phrase starts with a preposition, conjunction or determiner. */
const PHRASE_STARTS = new Set(
  'on in at under behind beside near next by inside outside over above below between against along through with without from to into onto for about around and but or so because which that when where who your my his her their our its the a an this these those'.split(
    ' ',
  ),
);

/** A first clause of this many words or fewer is spoken whole (about a second of audio). */
export const WHOLE_FIRST_WORDS = 4;
/** Without a phrase boundary, a first clause up to this long is spoken whole too; a longer one is cut after maxWords. */
const NO_BOUNDARY_WHOLE_WORDS = 6;

/**
 * Makes the first piece short so that its audio is ready quickly: a first clause of more than
 * WHOLE_FIRST_WORDS words is cut before the earliest phrase-starting word (a preposition, conjunction or
 * determiner) that leaves at least two words on each side and at most `maxWords` (+2 if there is none
 * earlier) before it; without one, a clause longer than six words is cut after `maxWords` words. The rest of the clause becomes the second piece,
 * with the clause's ending.
 */
export function shortenFirst(pieces: TextPiece[], maxWords = 4): TextPiece[] {
  if (!pieces.length || maxWords <= 0) return pieces;
  const first = pieces[0];
  const words = first.text.split(' ');
  if (words.length <= Math.max(WHOLE_FIRST_WORDS, 2)) return pieces;
  let cut = -1;
  // the earliest boundary within maxWords, else one a little later (a longer first piece beats a bad cut)
  for (let i = 2; i <= Math.min(maxWords + 2, words.length - 2); i++) {
    if (PHRASE_STARTS.has(words[i].toLowerCase())) {
      cut = i;
      break;
    }
  }
  if (cut < 0) {
    if (words.length <= NO_BOUNDARY_WHOLE_WORDS) return pieces;
    cut = maxWords;
  }
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
