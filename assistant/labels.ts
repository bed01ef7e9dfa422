/**
 * The active model's label set and the vocabulary built from it. The labels come from the detection
 * model (its manifest entry or its own metadata), never a fixed list; when they change, listeners (the
 * speech grammar) rebuild.
 */
import { buildVocabulary } from '../nlp/vocabulary.js';
import type { Vocabulary } from '../nlp/types.js';

export class LabelBook {
  private vocab: Vocabulary;
  private readonly listeners = new Set<(v: Vocabulary) => void>();

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

  update(labels: readonly string[]): void {
    this.vocab = buildVocabulary(labels);
    for (const fn of this.listeners) fn(this.vocab);
  }

  onChange(fn: (v: Vocabulary) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
}
