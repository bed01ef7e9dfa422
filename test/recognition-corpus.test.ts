/**
 * The spoken recognition corpus (audio-fixtures/corpus, made by audio-fixtures/make-corpus.ts): the committed
 * manifest is exactly what the script plans, the split follows its rule, every clip is a 16 kHz mono WAV; and
 * the benchmark's scoring (bench/recognition.ts) counts right outcomes and false accepts as documented.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { plan, splitOf, fnv1a } from '../dist/audio-fixtures/make-corpus.js';
import { loadCorpus, score, figures } from '../dist/bench/recognition.js';
import { speechBounds } from '../dist/bench/speech-bounds.js';

const REPO = path.resolve(import.meta.dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(REPO, 'audio-fixtures', 'corpus', 'manifest.json'), 'utf8'));

describe('the recognition corpus', () => {
  it('the manifest is the script plan: >= 300 spoken questions, every kind, both splits', () => {
    const planned = plan();
    expect(manifest.clips.map((c: any) => c.id)).toEqual(planned.map((c) => c.id));
    for (const [i, c] of planned.entries()) expect({ ...manifest.clips[i], durationSec: undefined, speech: undefined }).toEqual({ ...c, durationSec: undefined });
    const spoken = manifest.clips.filter((c: any) => c.category !== 'noise');
    expect(spoken.length).toBeGreaterThanOrEqual(300);
    const kinds = new Set(manifest.clips.map((c: any) => c.category));
    expect([...kinds].sort()).toEqual(['find', 'noise', 'nonrequest', 'oog', 'personal']);
    expect(new Set(manifest.clips.map((c: any) => c.voice)).size).toBeGreaterThanOrEqual(13);
    expect(manifest.clips.some((c: any) => c.voice.startsWith('piper'))).toBe(true);
    for (const c of spoken) expect(c.split, c.id).toBe(splitOf(c.text, c.voice));
    expect(splitOf('where is my cup', 'flite-slt')).toBe(fnv1a('where is my cup|flite-slt') & 1 ? 'test' : 'tune');
    const test = manifest.clips.filter((c: any) => c.split === 'test').length;
    expect(test).toBeGreaterThan(manifest.clips.length * 0.4);
    expect(test).toBeLessThan(manifest.clips.length * 0.6);
  });

  it('every clip is a 16 kHz mono s16le WAV of the recorded length', () => {
    const { clips, pcm } = loadCorpus(path.join(REPO, 'audio-fixtures'));
    let bytes = 0;
    for (const c of clips) {
      const b = pcm(c);
      bytes += b.length;
      expect(Math.abs(b.length / 32000 - (c as any).durationSec), c.id).toBeLessThan(0.01);
    }
    expect(bytes).toBeLessThan(30 * 1024 * 1024);
  });

  it("every spoken clip says where its voice ends in a quiet room: the clean clips' own bounds; before the echo of the reverb ones; noise-only clips have none", () => {
    const { pcm } = loadCorpus(path.join(REPO, 'audio-fixtures'));
    const echoes: number[] = [];
    for (const c of manifest.clips) {
      if (c.category === 'noise') {
        expect(c.speech, c.id).toBeUndefined();
        continue;
      }
      const b = c.speech as { startMs: number; endMs: number };
      expect(b.startMs, c.id).toBeGreaterThanOrEqual(100);
      expect(b.endMs - b.startMs, c.id).toBeGreaterThan(300);
      expect(b.endMs, c.id).toBeLessThanOrEqual(c.durationSec * 1000);
      const mixed = speechBounds(pcm(c), 16000);
      // the clean condition is the quiet room itself (white noise 40 dB under the speech, the same samples)
      if (c.condition === 'clean') expect([b.startMs, b.endMs], c.id).toEqual([mixed.startMs, mixed.endMs]);
      if (c.condition === 'reverb') echoes.push(mixed.endMs - b.endMs);
    }
    // the echo rings on after the voice: the level rule over the reverberant clip ends later, mostly by 60-400 ms
    echoes.sort((a, b) => a - b);
    expect(echoes[Math.floor(echoes.length / 2)]).toBeGreaterThanOrEqual(60);
    expect(echoes.at(-1)).toBeLessThan(600);
  });
});

describe('the benchmark scoring', () => {
  const clip = (outcome: string, label: string | null, item: string | null = null) => ({ text: 'x', expect: { outcome, label, item } }) as any;
  const reply = (outcome: string, label: string | null, item: string | null = null) => ({ transcript: 'x', outcome, label, item, followUp: false, error: null });
  it('right outcome and false accepts', () => {
    expect(score(clip('label', 'cup', 'cup'), reply('found', 'cup'))).toMatchObject({ right: true, falseAccept: false });
    expect(score(clip('label', 'cup', 'cup'), reply('never_seen', 'bed'))).toMatchObject({ right: false, falseAccept: true });
    expect(score(clip('label', 'cup', 'cup'), reply('clarify', 'bed'))).toMatchObject({ right: false, falseAccept: false });
    expect(score(clip('unknown_item', null, 'thermos'), reply('found', 'bottle'))).toMatchObject({ right: false, falseAccept: true });
    expect(score(clip('unknown_item', null, 'thermos'), reply('unknown_item', null))).toMatchObject({ right: true, falseAccept: false });
    expect(score(clip('not_detectable', null, 'keys'), reply('not_detectable', null, 'key'))).toMatchObject({ right: true });
    expect(score(clip('not_understood', null), reply('not_understood', null))).toMatchObject({ right: true });
    expect(score(clip('not_heard', null), reply('not_understood', null))).toMatchObject({ right: false });
    expect(score(clip('not_heard', null), reply('not_heard', null))).toMatchObject({ right: true });
  });
  it('figures add up', () => {
    const r = (category: string, right: boolean, falseAccept: boolean) => ({ category, right, falseAccept, itemRight: null, sentenceRight: false, followUp: false, voice: 'v', condition: 'c', outcome: 'x', label: null, intent: 'not_a_request' }) as any;
    const f = figures([r('find', true, false), r('find', false, true), r('noise', false, false), r('oog', true, false)]);
    expect(f.right).toMatchObject({ k: 2, n: 4, pct: 50 });
    expect(f.falseAccept).toMatchObject({ k: 1, n: 4 });
  });
});
