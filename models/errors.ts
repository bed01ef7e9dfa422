/** The two error kinds of models/: a problem with an installed model (ModelError) or with fetching one (ProviderError). */

/** A start-up problem with a model file or the manifest: the message says which file and what is wrong. */
export class ModelError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelError';
  }
}

/** A model or library could not be fetched, unpacked or installed; the message says from where and why. */
export class ProviderError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'ProviderError';
  }
}
