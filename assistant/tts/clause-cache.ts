/**
 * A bounded cache of synthesised clause audio. Replies repeat their clauses ("Sorry, I didn't catch that.",
 * "Did you mean your cup?", "Your cup was on the dining table in the kitchen,"), so a clause heard before is
 * handed out without running the voice again.
 *
 * Keyed by everything that shapes the audio: the voice file, the voice settings (length scale, volume), the
 * output sample rate, the clause's text and punctuation, and whether its edges were trimmed for a seam inside
 * a clause (`clauseKey`). Least recently used entries go first once the entries' bytes (PCM plus key) pass
 * the bound; an entry larger than an eighth of the bound is not kept. A bound of 0 keeps nothing.
 */

export interface ClauseAudio {
  /** s16le mono PCM at the key's sample rate */
  pcm: Buffer;
  /** the gain the clause was normalised with (its own loudest sample to full scale, before volume) */
  gain: number;
}

/** bytes an entry is charged beyond its PCM and key (the Map slot, the object, the Buffer header) */
const ENTRY_OVERHEAD = 160;

export interface ClauseKeyParts {
  voice: string;
  lengthScale: number;
  volume: number;
  sampleRate: number;
  text: string;
  end: string;
  joinBefore: boolean;
  joinAfter: boolean;
}

export function clauseKey(k: ClauseKeyParts): string {
  return `${k.voice}\u0000${k.lengthScale}\u0000${k.volume}\u0000${k.sampleRate}\u0000${k.joinBefore ? 1 : 0}${k.joinAfter ? 1 : 0}\u0000${k.end}\u0000${k.text}`;
}

export class ClauseCache {
  private readonly map = new Map<string, ClauseAudio>();
  private used = 0;
  hits = 0;
  misses = 0;
  /** entries pushed out by the bound */
  evictions = 0;

  constructor(private limit: number) {
    if (!(limit >= 0)) throw new RangeError(`cache bound must be >= 0 bytes, got ${limit}`);
  }

  get limitBytes(): number {
    return this.limit;
  }

  /** A new bound (0 empties the cache and turns it off). */
  set limitBytes(n: number) {
    if (!(n >= 0)) throw new RangeError(`cache bound must be >= 0 bytes, got ${n}`);
    this.limit = n;
    this.shrink();
  }

  get enabled(): boolean {
    return this.limit > 0;
  }

  /** bytes held (PCM + keys + overhead) */
  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.map.size;
  }

  /** The clause's audio, counted as a hit or a miss (nothing is counted when the cache is off). */
  get(key: string): ClauseAudio | undefined {
    if (!this.enabled) return undefined;
    const v = this.map.get(key);
    if (!v) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key); // most recently used goes last
    this.map.set(key, v);
    return v;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  set(key: string, v: ClauseAudio): void {
    const cost = entryCost(key, v);
    if (!this.enabled || cost > this.limit / 8) return;
    const old = this.map.get(key);
    if (old) {
      this.used -= entryCost(key, old);
      this.map.delete(key);
    }
    this.map.set(key, v);
    this.used += cost;
    this.shrink();
  }

  clear(): void {
    this.map.clear();
    this.used = 0;
  }

  private shrink(): void {
    for (const [k, v] of this.map) {
      if (this.used <= this.limit) break;
      this.map.delete(k);
      this.used -= entryCost(k, v);
      this.evictions++;
    }
  }
}

function entryCost(key: string, v: ClauseAudio): number {
  return v.pcm.length + key.length * 2 + ENTRY_OVERHEAD;
}
