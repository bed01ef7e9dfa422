/**
 * A simple energy voice-activity detector for hands-free listening. Pure: feed s16le mono chunks, get events.
 *
 * The audio is cut into frames (20 ms). A frame is "loud" when its RMS level is above both `thresholdDb`
 * (absolute, dBFS) and the tracked noise floor plus `marginDb`. The floor follows quiet frames quickly and
 * creeps towards loud ones slowly (so a steady new noise, a fan, stops counting as speech after a while).
 *
 *  - An utterance opens once `minSpeechMs` of loud frames have been seen with no silent gap longer than
 *    `gapMs` between them (shorter bursts - a click, a cough - are ignored). The `start` event is followed by
 *    an `audio` event carrying the `preRollMs` before the first loud frame and everything since, so the first
 *    syllable is not cut.
 *  - While open, every frame is passed on as `audio`.
 *  - It closes (`end`, reason `silence`) after `hangoverMs` of continuous quiet, the hangover included in the
 *    audio; or (reason `max_length`) after `maxUtteranceMs`.
 */
import { s16leToFloat32, rms, toDbfs } from '../protocol/pcm.js';

export interface VadOptions {
  sampleRate: number;
  frameMs?: number;
  /** absolute floor for speech, dBFS */
  thresholdDb?: number;
  /** speech must be this far above the noise floor, dB */
  marginDb?: number;
  minSpeechMs?: number;
  /** longest quiet gap inside a starting utterance, ms */
  gapMs?: number;
  hangoverMs?: number;
  preRollMs?: number;
  maxUtteranceMs?: number;
}

export type VadEvent = { type: 'start' } | { type: 'audio'; pcm: Buffer } | { type: 'end'; reason: 'silence' | 'max_length'; speechMs: number };

export const VAD_DEFAULTS = {
  frameMs: 20,
  thresholdDb: -50,
  marginDb: 10,
  minSpeechMs: 200,
  gapMs: 200,
  hangoverMs: 700,
  preRollMs: 300,
  maxUtteranceMs: 12_000,
};

export class EnergyVad {
  readonly o: Required<VadOptions>;
  private readonly frameBytes: number;
  private pending = Buffer.alloc(0);
  /** recent frames (pre-roll ring + a candidate utterance's frames) */
  private held: Buffer[] = [];
  private state: 'quiet' | 'candidate' | 'speech' = 'quiet';
  private floorDb: number | null = null;
  private loudMs = 0;
  private quietMs = 0;
  private openMs = 0;
  private readonly preRollFrames: number;

  constructor(opts: VadOptions) {
    this.o = { ...VAD_DEFAULTS, ...opts } as Required<VadOptions>;
    if (!(this.o.sampleRate > 0)) throw new RangeError('VAD needs a sample rate');
    this.frameBytes = Math.max(2, Math.round((this.o.sampleRate * this.o.frameMs) / 1000)) * 2;
    this.preRollFrames = Math.ceil(this.o.preRollMs / this.o.frameMs);
  }

  /** true while an utterance is open */
  get speaking(): boolean {
    return this.state === 'speech';
  }

  /** the current noise floor estimate, dBFS (null before the first frame) */
  get noiseFloorDb(): number | null {
    return this.floorDb;
  }

  /** forgets everything but the noise floor (e.g. after the reply has been played) */
  reset(): void {
    this.pending = Buffer.alloc(0);
    this.held = [];
    this.state = 'quiet';
    this.loudMs = this.quietMs = this.openMs = 0;
  }

  push(chunk: Buffer): VadEvent[] {
    const events: VadEvent[] = [];
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    while (buf.length - off >= this.frameBytes) {
      this.frame(Buffer.from(buf.subarray(off, off + this.frameBytes)), events);
      off += this.frameBytes;
    }
    this.pending = Buffer.from(buf.subarray(off));
    buf = Buffer.alloc(0);
    return events;
  }

  /** ends an open utterance at the end of the input (the remaining partial frame is included) */
  flush(): VadEvent[] {
    const events: VadEvent[] = [];
    if (this.state === 'speech') {
      if (this.pending.length) events.push({ type: 'audio', pcm: this.pending });
      events.push({ type: 'end', reason: 'silence', speechMs: this.openMs });
    }
    this.reset();
    return events;
  }

  private level(frame: Buffer): number {
    const l = rms(s16leToFloat32(frame));
    return l > 0 ? toDbfs(l) : -120;
  }

  private frame(frame: Buffer, events: VadEvent[]): void {
    const o = this.o;
    const db = this.level(frame);
    if (this.floorDb === null) this.floorDb = db;
    const loud = db > o.thresholdDb && db > this.floorDb + o.marginDb;
    // noise floor: quickly down, slowly up; very slowly while loud
    if (db < this.floorDb) this.floorDb += 0.3 * (db - this.floorDb);
    else this.floorDb += (loud ? 0.002 : 0.05) * (db - this.floorDb);

    switch (this.state) {
      case 'quiet':
        this.held.push(frame);
        if (this.held.length > this.preRollFrames + 1) this.held.shift();
        if (loud) {
          this.state = 'candidate';
          this.loudMs = o.frameMs;
          this.quietMs = 0;
          this.maybeOpen(events);
        }
        return;
      case 'candidate':
        this.held.push(frame);
        if (loud) {
          this.loudMs += o.frameMs;
          this.quietMs = 0;
          this.maybeOpen(events);
        } else {
          this.quietMs += o.frameMs;
          if (this.quietMs > o.gapMs) {
            // too short: noise. Keep only the pre-roll window.
            this.state = 'quiet';
            this.held = this.held.slice(-(this.preRollFrames + 1));
            this.loudMs = this.quietMs = 0;
          }
        }
        return;
      case 'speech':
        events.push({ type: 'audio', pcm: frame });
        this.openMs += o.frameMs;
        if (loud) this.quietMs = 0;
        else this.quietMs += o.frameMs;
        if (this.quietMs >= o.hangoverMs) this.close(events, 'silence');
        else if (this.openMs >= o.maxUtteranceMs) this.close(events, 'max_length');
        return;
    }
  }

  private maybeOpen(events: VadEvent[]): void {
    if (this.loudMs < this.o.minSpeechMs) return;
    this.state = 'speech';
    // pre-roll frames before the candidate began, then the candidate itself
    const candidateFrames = this.held.length;
    const audio = Buffer.concat(this.held);
    this.openMs = candidateFrames * this.o.frameMs;
    this.held = [];
    this.quietMs = 0;
    events.push({ type: 'start' }, { type: 'audio', pcm: audio });
  }

  private close(events: VadEvent[], reason: 'silence' | 'max_length'): void {
    events.push({ type: 'end', reason, speechMs: this.openMs - (reason === 'silence' ? this.quietMs : 0) });
    this.state = 'quiet';
    this.held = [];
    this.loudMs = this.quietMs = this.openMs = 0;
  }
}
