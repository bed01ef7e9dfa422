/** Helpers shared by the tests of Piper's queue, cache and openings (test/tts-queue, test/tts-openings). */
import type { PiperTts } from '../../dist/assistant/tts/piper.js';

/** waits until `cond` holds (polled every 2 ms), failing after `ms` */
export async function until(cond: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** synthesised piece texts since `from` (stats keeps the last 200; tests stay well under) */
export function doneSince(p: PiperTts, from: number): string[] {
  return p.stats.slice(from - (p.piecesDone - p.stats.length)).map((s) => s.text);
}
