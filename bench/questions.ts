/**
 * The text bench's questions: every label of the model and the household words for them, in many phrasings,
 * shuffled (seeded), so that a load run rotates through well over 1,000 distinct questions instead of a few
 * that the parse cache answers from memory. A few things the detector cannot see are mixed in (the "I can't
 * recognise keys" reply).
 */
import { DEFAULT_SYNONYMS, NOT_DETECTABLE_WORDS } from '../nlp/synonyms.js';
import { mulberry32 } from './seed.js';

const PHRASINGS = [
  (x: string) => `where is my ${x}`,
  (x: string) => `where's the ${x}`,
  (x: string) => `where did I leave my ${x}`,
  (x: string) => `where did I put the ${x}`,
  (x: string) => `have you seen my ${x}`,
  (x: string) => `can you find my ${x}`,
  (x: string) => `do you know where my ${x} is`,
  (x: string) => `when did you last see the ${x}`,
  (x: string) => `I can't find my ${x}`,
  (x: string) => `any idea where the ${x} is`,
  (x: string) => `where was my ${x} last seen`,
  (x: string) => `help me find my ${x}`,
  (x: string) => `where could my ${x} be`,
  (x: string) => `tell me where my ${x} is`,
];

/** At least `min` distinct questions (all of them when there are more), in a seeded random order. */
export function benchQuestions(labels: readonly string[], min = 1000, seed = 42): string[] {
  const have = new Set(labels);
  const words = new Set<string>(labels);
  for (const [label, ws] of DEFAULT_SYNONYMS) if (have.has(label)) for (const w of ws) words.add(w);
  for (const w of NOT_DETECTABLE_WORDS.slice(0, 6)) words.add(w);
  const all = [...new Set([...words].flatMap((w) => PHRASINGS.map((p) => p(w))))];
  if (all.length < min) throw new Error(`only ${all.length} distinct questions from ${labels.length} labels (wanted ${min})`);
  const rnd = mulberry32(seed);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all;
}
