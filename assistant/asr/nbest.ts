/**
 * libvosk result JSON -> transcript, word confidences and the N-best list. Pure; used by the worker.
 *
 * With `vosk_recognizer_set_max_alternatives(n > 0)` libvosk returns
 *   {"alternatives":[{"confidence":185.4,"result":[{"word","start","end"}...],"text":"..."}, ...]}
 * where `confidence` is the hypothesis' total score (a log-likelihood: only differences mean anything) and the
 * words carry no confidence of their own. We turn the scores into a distribution over the list (softmax) and a
 * word's confidence into the mass of the hypotheses that have the same word at the same time (an N-best
 * word posterior). Without alternatives libvosk gives `{"text","result":[{"word","conf","start","end"}]}` (its
 * own MBR word confidences, and words below minConfidence are dropped from `text`); both shapes are handled.
 */
import { UNK, cleanTranscript } from './grammar.js';
import type { Alternative, WordInfo } from './messages.js';

export interface Parsed {
  text: string;
  raw: string;
  words: WordInfo[];
  alternatives: Alternative[];
}

interface VoskWord {
  word?: unknown;
  conf?: unknown;
  start?: unknown;
  end?: unknown;
}
interface VoskAlt {
  confidence?: unknown;
  result?: VoskWord[];
  text?: unknown;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

function words(list: VoskWord[] | undefined): WordInfo[] {
  if (!Array.isArray(list)) return [];
  return list.map((w) => ({ word: String(w.word ?? ''), conf: Number(w.conf ?? 1), start: Number(w.start ?? 0), end: Number(w.end ?? 0) }));
}

/** text with words below minConfidence turned into [unk] (then dropped) */
function keepConfident(ws: WordInfo[], raw: string, minConfidence: number): string {
  if (!ws.length) return cleanTranscript(raw);
  return cleanTranscript(ws.map((w) => (w.conf >= minConfidence ? w.word : UNK)).join(' '));
}

/**
 * Parses one libvosk result. `scale` multiplies the score differences before the softmax (1: libvosk's
 * scores as they are). Alternatives with the same cleaned text are merged (their mass added).
 */
export function parseVoskResult(json: string, minConfidence: number, scale = 1): Parsed {
  let o: { text?: unknown; result?: VoskWord[]; alternatives?: VoskAlt[] } = {};
  try {
    o = JSON.parse(json);
  } catch {
    /* empty result */
  }
  if (Array.isArray(o.alternatives)) {
    const alts = o.alternatives
      .map((a) => ({ raw: typeof a.text === 'string' ? a.text : '', score: Number(a.confidence ?? 0), words: words(a.result) }))
      .filter((a) => Number.isFinite(a.score));
    if (!alts.length) return { text: '', raw: '', words: [], alternatives: [] };
    const best = Math.max(...alts.map((a) => a.score));
    const w = alts.map((a) => Math.exp((a.score - best) * scale));
    const sum = w.reduce((x, y) => x + y, 0) || 1;
    const p = w.map((x) => x / sum);
    // word posteriors of the best hypothesis: the mass of hypotheses holding the same word at an overlapping time
    const top = alts[0];
    const topWords = top.words.map((tw) => {
      let conf = 0;
      alts.forEach((a, i) => {
        if (a.words.some((x) => x.word === tw.word && Math.min(x.end, tw.end) - Math.max(x.start, tw.start) > -0.02)) conf += p[i];
      });
      return { ...tw, conf: r3(Math.min(1, conf)) };
    });
    const merged = new Map<string, Alternative>();
    alts.forEach((a, i) => {
      const text = cleanTranscript(a.raw);
      const m = merged.get(text);
      if (m) m.confidence += p[i];
      else merged.set(text, { text, raw: a.raw, confidence: p[i] });
    });
    const alternatives = [...merged.values()].map((a) => ({ ...a, confidence: r3(a.confidence) }));
    // the text is the best hypothesis as heard: N-best word posteriors also split on words that do not matter
    // ("where is" / "where's"), so they are not used to drop words; the answerer weighs the whole list
    return { text: cleanTranscript(top.raw), raw: top.raw, words: topWords, alternatives };
  }
  const raw = typeof o.text === 'string' ? o.text : '';
  const ws = words(o.result);
  const text = keepConfident(ws, raw, minConfidence);
  return { text, raw, words: ws, alternatives: raw ? [{ text: cleanTranscript(raw), raw, confidence: 1 }] : [] };
}

/**
 * The N-best list of a whole utterance decoded in segments (libvosk ends a segment at each endpoint): the
 * earlier segments' best texts, then each alternative of the last segment that heard anything.
 */
export function joinSegments(segments: Parsed[]): Parsed {
  const heard = segments.filter((s) => s.raw);
  if (!heard.length) return { text: '', raw: '', words: [], alternatives: [] };
  const last = heard[heard.length - 1];
  const before = heard.slice(0, -1);
  const pre = (f: (s: Parsed) => string) => before.map(f).filter(Boolean).join(' ');
  const join = (a: string, b: string) => [a, b].filter(Boolean).join(' ');
  return {
    text: join(pre((s) => s.text), last.text),
    raw: join(pre((s) => s.raw), last.raw),
    words: heard.flatMap((s) => s.words),
    alternatives: last.alternatives.map((a) => ({ text: join(pre((s) => s.text), a.text), raw: join(pre((s) => s.raw), a.raw), confidence: a.confidence })),
  };
}
