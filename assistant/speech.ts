/** The spoken-reply service the routes use, over whichever TTS engine is configured. */
import type { Config } from './config.js';
import { createTts, synthesizeToWav, type Tts } from './tts/index.js';
import type { SpeechService } from './plugins/context.js';

export async function createSpeech(config: Pick<Config, 'ttsEngine'>): Promise<(SpeechService & { close(): Promise<void> }) | null> {
  if (config.ttsEngine === 'none') return null;
  const tts: Tts = await createTts(config);
  return {
    sampleRate: tts.sampleRate,
    stream: (text: string) => tts.synthesize(text),
    wav: (text: string) => synthesizeToWav(tts, text),
    close: () => tts.close(),
  };
}
