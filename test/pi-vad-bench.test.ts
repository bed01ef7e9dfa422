/**
 * The Pi client's hands-free detector over the whole spoken corpus (bench/pi-vad.ts, the `pi-vad` bench
 * section): it opens on the questions, with their first word in what it sends, and steady rooms do not open it.
 * Guards pi-client/vad.ts against a change that loses questions in noise.
 */
import { describe, expect, it } from 'vitest';
import { piVadSection, piVadSectionReport } from '../dist/bench/pi-vad.js';

describe('pi-vad bench section: the hands-free detector on the spoken corpus', () => {
  it('opens on (nearly) every TEST question, whole, and never in a steady room; the level rule alone loses the noisy ones', () => {
    const r = piVadSection({ splits: ['test'], roomSeconds: 20 });
    const clips = r.splits[0].clips;
    expect(clips.length).toBeGreaterThanOrEqual(160);
    const opened = clips.filter((c) => c.opened);
    const whole = opened.filter((c) => (c.sentFromMs ?? 1) <= 0);
    // measured 163 / 162 of 165 (2026-12-07)
    expect(opened.length).toBeGreaterThanOrEqual(clips.length - 4);
    expect(whole.length).toBeGreaterThanOrEqual(clips.length - 5);
    const pink = clips.filter((c) => c.condition === 'snr10');
    expect(pink.filter((c) => c.opened).length).toBe(pink.length);
    // rooms of steady noise (white, pink, hum, clicks, silence) open nothing; babble is talk, and may
    const steady = r.rooms.filter((x) => !x.room.includes('babble'));
    expect(steady.length).toBeGreaterThan(10);
    expect(steady.filter((x) => x.opens > 0).map((x) => x.room)).toEqual([]);
    expect(piVadSectionReport(r)).toMatch(/\| test \| \*\*all\*\* \| \d+ \| \d+ \|/);

    const old = piVadSection({ splits: ['test'], roomSeconds: 1, vad: { bandMarginDb: 0, preRollMs: 300 } }).splits[0].clips;
    expect(old.filter((c) => c.condition === 'snr10' && c.opened).length).toBeLessThan(pink.length / 2);
  }, 120_000);
});
