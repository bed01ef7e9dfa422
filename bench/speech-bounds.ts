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
import { LEVEL_FRAME_MS, LOUD_MARGIN_DB, frameDb, loudThreshold } from '../assistant/asr/loudness.js';

export const BOUNDS_FRAME_MS = LEVEL_FRAME_MS;
export const BOUNDS_MARGIN_DB = LOUD_MARGIN_DB;

export interface SpeechBounds {
  /** start of the first voiced 20 ms frame, ms from the start of the clip */
  startMs: number;
  /** end of the last voiced 20 ms frame, ms */
  endMs: number;
  floorDb: number;
  /** RMS of the noise (frames at or below the floor + 3 dB), full scale 1 */
  noiseRms: number;
}

/** the rule of assistant/asr/loudness.ts (the server's level meter) over the whole clip at once */
export function speechBounds(pcm: Uint8Array, sampleRate: number): SpeechBounds {
  const x = s16leToFloat32(pcm);
  const n = Math.max(1, Math.round((sampleRate * BOUNDS_FRAME_MS) / 1000));
  const db: number[] = [];
  for (let o = 0; o + n <= x.length; o += n) db.push(frameDb(x, o, o + n));
  const { floorDb, thresholdDb } = loudThreshold([...db].sort((a, b) => a - b));
  const voiced = (d: number) => d >= thresholdDb;
  const first = db.findIndex(voiced);
  let last = -1;
  for (let i = db.length - 1; i >= 0; i--)
    if (voiced(db[i])) {
      last = i;
      break;
    }
  const quiet = db.filter((d) => d <= floorDb + 3);
  const noiseRms = quiet.length ? Math.sqrt(quiet.reduce((a, d) => a + Math.pow(10, d / 10), 0) / quiet.length) : 0;
  return {
    startMs: first < 0 ? 0 : first * BOUNDS_FRAME_MS,
    endMs: last < 0 ? 0 : (last + 1) * BOUNDS_FRAME_MS,
    floorDb,
    noiseRms,
  };
}
