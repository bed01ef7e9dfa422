/** Text preparation shared by the TTS engines. */
import { AppError } from '../errors.js';

/** Longest text accepted by `synthesize`, in characters (after whitespace is collapsed). */
export const MAX_TTS_CHARS = 1000;

/**
 * Normalises text for speaking: Unicode NFKC, control characters removed, whitespace collapsed, trimmed.
 * Throws AppError('validation') when the result is longer than MAX_TTS_CHARS.
 */
export function prepareText(text: string): string {
  const t = String(text ?? '')
    .normalize('NFKC')
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\ufeff]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (t.length > MAX_TTS_CHARS) {
    throw new AppError('validation', `text to speak is ${t.length} characters long; the limit is ${MAX_TTS_CHARS}`);
  }
  return t;
}

/** True when the text holds nothing speakable (no letter or digit). */
export function isSilentText(t: string): boolean {
  return !/[\p{L}\p{N}]/u.test(t);
}

/**
 * Splits prepared text into sentences (after . ! ? followed by a space) so the first one can be spoken
 * while the rest is synthesised. Pieces without letters or digits are merged into their neighbour.
 */
export function splitSentences(t: string): string[] {
  const parts = t.split(/(?<=[.!?])\s+(?=\S)/u);
  const out: string[] = [];
  for (const p of parts) {
    if (out.length && (isSilentText(p) || isSilentText(out[out.length - 1]))) out[out.length - 1] += ' ' + p;
    else out.push(p);
  }
  return out.filter((p) => !isSilentText(p));
}
