/**
 * Is something still sounding above the room's noise? A plain level meter beside the Silero VAD, used as a
 * guard by the endpointer (voice/turn.ts): in loud noise the VAD can call the weak end of a word ("knife",
 * "music" at 5 dB SNR) quiet a little too soon; the level meter does not end an utterance while a frame
 * stands out from the noise floor.
 *
 * The audio is cut into 20 ms frames and each frame's RMS level taken in dBFS. The noise floor is the 20th
 * percentile of the frame levels heard so far in the utterance; a frame is loud when it is `margin` dB above
 * it: 6 dB, or half the distance from the floor to the 90th percentile when that is smaller (noisy audio), but
 * never under 3 dB (frames of stationary noise vary by about +-1 dB). The same rule, over a whole clip, gives
 * the benchmarks' "true end of speech" (bench/speech-bounds.ts).
 */
import { rms, toDbfs } from '../../protocol/pcm.js';

export const LEVEL_FRAME_MS = 20;
export const LOUD_MARGIN_DB = 6;

/** the level a frame must reach to count as loud, given the frame levels (dBFS) sorted ascending */
export function loudThreshold(sortedDb: readonly number[]): { floorDb: number; thresholdDb: number } {
  const floorDb = sortedDb[Math.floor(sortedDb.length * 0.2)] ?? -120;
  const p90 = sortedDb[Math.floor(sortedDb.length * 0.9)] ?? floorDb;
  return { floorDb, thresholdDb: floorDb + Math.max(3, Math.min(LOUD_MARGIN_DB, (p90 - floorDb) / 2)) };
}

/** a frame's level in dBFS (-120 for digital silence) */
export function frameDb(samples: Float32Array, start: number, end: number): number {
  const l = rms(samples, start, end);
  return l > 0 ? toDbfs(l) : -120;
}

export interface SpeechBounds {
  /** start of the first voiced 20 ms frame, ms from the start of the clip */
  startMs: number;
  /** end of the last voiced 20 ms frame, ms */
  endMs: number;
  floorDb: number;
  /** RMS of the noise (frames at or below the floor + 3 dB), full scale 1 */
  noiseRms: number;
}

/**
 * The same rule over a whole clip at once (mono float samples): where its sound begins and ends (the
 * benchmarks' end of speech: bench/speech-bounds.ts; the corpus maker's quiet-room bounds of each clip)
 */
export function soundBounds(x: Float32Array, sampleRate: number): SpeechBounds {
  const n = Math.max(1, Math.round((sampleRate * LEVEL_FRAME_MS) / 1000));
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
    startMs: first < 0 ? 0 : first * LEVEL_FRAME_MS,
    endMs: last < 0 ? 0 : (last + 1) * LEVEL_FRAME_MS,
    floorDb,
    noiseRms,
  };
}

/** one stream's level meter (mono float samples at `rate`) */
export class LoudnessTracker {
  private readonly frame: number;
  private readonly sorted: number[] = [];
  private readonly levels: number[] = [];
  private pending = new Float32Array(0);
  /** samples measured (whole frames) */
  private samples = 0;
  /** where the last loud frame ends, samples */
  private lastLoud = 0;

  constructor(private readonly rate: number) {
    this.frame = Math.max(1, Math.round((rate * LEVEL_FRAME_MS) / 1000));
  }

  push(audio: Float32Array): void {
    let buf = audio;
    if (this.pending.length) {
      buf = new Float32Array(this.pending.length + audio.length);
      buf.set(this.pending);
      buf.set(audio, this.pending.length);
    }
    let o = 0;
    for (; o + this.frame <= buf.length; o += this.frame) {
      const db = frameDb(buf, o, o + this.frame);
      this.levels.push(db);
      // sorted insert (an utterance is at most a few hundred frames)
      let lo = 0;
      let hi = this.sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.sorted[mid] < db) lo = mid + 1;
        else hi = mid;
      }
      this.sorted.splice(lo, 0, db);
      this.samples += this.frame;
      if (db >= loudThreshold(this.sorted).thresholdDb) this.lastLoud = this.samples;
    }
    this.pending = buf.slice(o);
  }

  /** how far the loud frames stand above the floor: the 90th percentile minus the floor, dB (a rough SNR) */
  get rangeDb(): number {
    const n = this.sorted.length;
    if (!n) return 0;
    return this.sorted[Math.floor(n * 0.9)] - this.sorted[Math.floor(n * 0.2)];
  }

  /** ms since the end of the last frame that stood out from the noise floor (measured so far) */
  get quietMs(): number {
    return ((this.samples - this.lastLoud) * 1000) / this.rate;
  }
}
