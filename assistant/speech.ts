/**
 * The spoken-reply service the routes use, over whichever TTS engine is configured. With Piper (the default)
 * and no usable voice (missing, damaged, or not loadable), it falls back to flite and says so through `log`.
 */
import type { Config } from './config.js';
import { createTts, synthesizeToWav, voicePath, type Tts, type TtsConfig } from './tts/index.js';
import type { SpeechOptions, SpeechService } from './plugins/context.js';
import { PiperTts } from './tts/piper.js';
import { registerGauge, reportPool, reportTtsCache } from './metrics.js'; // metrics

export interface SpeechLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export type Speech = SpeechService & {
  close(): Promise<void>;
  /** the engine actually speaking ('piper', 'flite', ...) */
  readonly engine: string;
  /** why the configured engine is not the one speaking (null when it is) */
  readonly fallback: string | null;
  readonly tts: Tts;
};

/**
 * Starts the configured synthesiser (null for 'none'). With --no-models the Piper voice is loaded only when
 * --voice names one; otherwise flite speaks (it needs no model file).
 */
export async function createSpeech(config: TtsConfig & Partial<Pick<Config, 'modelsDir' | 'noModels'>>, log?: SpeechLog): Promise<Speech | null> {
  if (config.ttsEngine === 'none') return null;
  let tts: Tts;
  let fallback: string | null = null;
  let engine = String(config.ttsEngine ?? 'piper').trim().toLowerCase();
  if (config.noModels && (engine === 'piper' || engine === '') && !config.voice) {
    engine = 'flite';
    config = { ...config, ttsEngine: 'flite' };
  }
  try {
    tts = await createTts(config);
  } catch (e) {
    if (engine !== 'piper' && engine !== '') throw e;
    fallback = (e as Error).message;
    log?.warn(
      `text-to-speech: the Piper voice is not usable, speaking with flite instead: ${fallback}. ` +
        (config.voice ? 'Check --voice.' : `Run \`whereabouts models\` to install it (${voicePath(config)}).`),
    );
    tts = await createTts({ ...config, ttsEngine: 'flite', voice: '' });
  }
  if (!fallback) log?.info(`text-to-speech: ${tts.engine}${tts.engine === 'piper' ? ` voice ${voicePath(config)}` : ''}`);
  // metrics: the Piper queue, and its cache's hits and misses
  const unreport: Array<() => void> = [];
  if (tts instanceof PiperTts) {
    const p = tts;
    unreport.push(
      reportPool('tts', () => p.queueStats()),
      reportTtsCache(() => ({ hit: p.cache.hits, miss: p.cache.misses, shared: p.cacheShared })),
      registerGauge('whereabouts_tts_cache_bytes', 'bytes held by the cache of synthesised clause audio (Piper)', () => p.cache.bytes),
      registerGauge('whereabouts_tts_openings', 'reply openings prepared ahead (Piper; assistant/openings.ts)', () => p.openingStats().held),
      registerGauge('whereabouts_tts_openings_warming', 'reply openings queued or being synthesised ahead (Piper)', () => p.openingStats().warming),
      registerGauge('whereabouts_tts_opening_hits', 'replies whose first audio was a prepared opening (Piper), since start', () => p.openingStats().hits),
    );
  }
  return {
    engine: tts.engine,
    fallback,
    tts,
    sampleRate: tts.sampleRate,
    stream: (text: string, opts?: SpeechOptions) => tts.synthesize(text, opts),
    wav: (text: string, opts?: SpeechOptions) => synthesizeToWav(tts, text, opts),
    close: () => {
      for (const u of unreport.splice(0)) u();
      return tts.close();
    },
  };
}
