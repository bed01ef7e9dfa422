/** Shared services as decorators: configuration, store, label book, answerer. */
import type { Openings } from '../openings.js';
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import type { Store } from '../../store/types.js';
import type { LabelBook } from '../labels.js';
import type { Answerer } from '../answer.js';
import type { QueryLog } from '../query-log.js';
import type { PlaceBook } from '../places.js';

/** spoken replies (registered when a speech synthesiser is loaded) */
export interface SpeechOptions {
  /** the reply audio's sample rate (default: the synthesiser's) */
  sampleRate?: number;
  /** aborting it drops the reply's synthesis (a dropped speculation, barge-in, the client gone) */
  signal?: AbortSignal;
}

export interface SpeechService {
  /** s16le mono chunks of at most 8 KiB, as soon as synthesis yields them */
  stream(text: string, opts?: SpeechOptions): AsyncIterable<Buffer>;
  /** the whole reply as a WAV file (at opts.sampleRate, default sampleRate) */
  wav(text: string, opts?: SpeechOptions): Promise<Buffer>;
  readonly sampleRate: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    store: Store;
    labelBook: LabelBook;
    answerer: Answerer;
    queryLog: QueryLog;
    speech: SpeechService | null;
    /** each user's zones, rooms and place labels, cached (assistant/places.ts) */
    places: PlaceBook;
    /** reply openings prepared ahead (assistant/openings.ts); null without Piper or with --tts-openings-mb 0 */
    openings: Openings | null;
  }
}

export interface ContextOptions {
  config: Config;
  store: Store;
  labelBook: LabelBook;
  answerer: Answerer;
  queryLog: QueryLog;
  speech: SpeechService | null;
  places: PlaceBook;
  openings?: Openings | null;
  /** close the store when the server closes (false when the caller owns it) */
  ownsStore: boolean;
}

export default fp<ContextOptions>(
  async function contextPlugin(app: FastifyInstance, opts: ContextOptions) {
    app.decorate('config', opts.config);
    app.decorate('store', opts.store);
    app.decorate('labelBook', opts.labelBook);
    app.decorate('answerer', opts.answerer);
    app.decorate('queryLog', opts.queryLog);
    app.decorate('speech', opts.speech);
    app.decorate('places', opts.places);
    app.decorate('openings', opts.openings ?? null);
    // one hook, in this order: Fastify runs onClose hooks in reverse order of registration, so two hooks
    // (flush, then close the store) closed the store first and the pending questions were lost
    app.addHook('onClose', async () => {
      await opts.queryLog.close();
      if (opts.ownsStore) await opts.store.close();
    });
  },
  { name: 'context' },
);
