/**
 * The active model's label set and the vocabulary built from it. The labels come from the detection
 * model (its manifest entry or its own metadata), never a fixed list. The model, and so the labels, is
 * chosen at start-up and fixed for the life of the process: the speech grammar is built from them once.
 */
import { buildVocabulary } from '../nlp/vocabulary.js';
import type { Vocabulary } from '../nlp/types.js';

export class LabelBook {
  private readonly vocab: Vocabulary;

  constructor(labels: readonly string[]) {
    this.vocab = buildVocabulary(labels);
  }

  get vocabulary(): Vocabulary {
    return this.vocab;
  }

  get labels(): readonly string[] {
    return this.vocab.labels;
  }

  has(label: string): boolean {
    return this.vocab.labels.includes(label);
  }
}
