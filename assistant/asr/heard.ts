/**
 * The words a stream has heard so far, and where in its audio they appeared: the unknown-tail rule (worker.ts)
 * asks whether the VAD heard speech after that point ("where is my [unk]" after speech names an unknown thing;
 * after a pause it is the room's noise in a hesitation).
 *
 * When the recogniser takes words back ("where did i put the car keys" -> "where did i put the [unk]"), the
 * words left were heard where they first appeared, not where the others were dropped: the revision often comes
 * after the speech has ended, and would otherwise make the unknown thing look like a pause.
 */
export class HeardWords {
  /** the words so far */
  text = '';
  /** where (ms of audio) the current words appeared */
  atMs = 0;
  /** word sets as they came, with where each first appeared (the last `max` of them) */
  private log: Array<{ text: string; at: number }> = [];

  constructor(private readonly max = 64) {}

  /** the words are now `text`, at audio position `nowMs` */
  set(text: string, nowMs: number): void {
    if (text === this.text) return;
    let earlier: { text: string; at: number } | undefined;
    // fewer words than before, the same ones: taken back
    if (this.text.startsWith(text + ' ') || (text === '' && this.text !== '')) for (const h of this.log) if (h.text === text) earlier = h;
    if (earlier) this.atMs = earlier.at;
    else {
      this.atMs = nowMs;
      this.log.push({ text, at: nowMs });
      if (this.log.length > this.max) this.log.shift();
    }
    this.text = text;
  }
}
