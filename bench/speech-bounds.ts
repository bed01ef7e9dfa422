/**
 * Where the speech in a clip begins and ends, derived deterministically from the audio (no model): the
 * "true end of speech" the voice bench measures from.
 *
 * The clip is cut into 20 ms frames and each frame's RMS level taken in dBFS. The noise floor is the 20th
 * percentile of the frame levels (every fixture has >= 600 ms of lead-in and tail of noise only, about a
 * quarter of its frames or more). A frame is voiced when it is at least `margin` dB above the floor: 6 dB, or
 * half the distance from the floor to the 90th percentile when that is smaller (noisy clips), but never
 * under 3 dB (stationary-noise frames of 320 samples vary by about +-1 dB, so no noise frame reaches it; the
 * weak last consonant of a word usually does). The end of speech is the end of the last voiced frame; the
 * start, the start of the first.
 */
import { s16leToFloat32 } from '../protocol/pcm.js';
import { soundBounds, type SpeechBounds } from '../assistant/asr/loudness.js';

export type { SpeechBounds };

/** the rule of assistant/asr/loudness.ts (the server's level meter) over the whole clip at once (s16le mono) */
export function speechBounds(pcm: Uint8Array, sampleRate: number): SpeechBounds {
  return soundBounds(s16leToFloat32(pcm), sampleRate);
}
