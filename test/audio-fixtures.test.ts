import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyzeSpeech, s16leToFloat32, toDbfs } from '../dist/protocol/pcm.js';
import { parseWav } from '../dist/protocol/wav.js';

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'audio-fixtures');

interface Entry {
  file: string;
  text: string;
  engine: string;
  voice: string;
  speed: number;
  sampleRate: number;
  durationSec: number;
  snrDb: number;
  expect: { intent: string; item: string | null; label: string | null; outcome?: string };
}

const manifest: Entry[] = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));

describe('audio fixtures manifest', () => {
  it('lists 24-30 distinct files, all on disk, and nothing else on disk', () => {
    expect(manifest.length).toBeGreaterThanOrEqual(24);
    expect(manifest.length).toBeLessThanOrEqual(30);
    const files = manifest.map((m) => m.file);
    expect(new Set(files).size).toBe(files.length);
    const onDisk = fs.readdirSync(path.join(dir, 'wav')).filter((f) => f.endsWith('.wav'));
    expect(onDisk.sort()).toEqual(files.map((f) => path.basename(f)).sort());
    const total = files.reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0);
    expect(total).toBeLessThan(3 * 1024 * 1024);
  });

  it('covers requests for detectable items, undetectable items and non-requests, with several voices', () => {
    const intents = new Set(manifest.map((m) => m.expect.intent));
    expect(intents).toContain('find_item');
    expect(intents).toContain('not_a_request');
    expect(manifest.filter((m) => m.expect.outcome === 'not_detectable').length).toBeGreaterThanOrEqual(3);
    const labels = new Set(manifest.map((m) => m.expect.label).filter(Boolean));
    for (const l of ['cup', 'cell phone', 'laptop', 'remote', 'book', 'bottle', 'backpack', 'umbrella', 'handbag', 'teddy bear', 'scissors']) {
      expect(labels).toContain(l);
    }
    expect(new Set(manifest.map((m) => `${m.engine}:${m.voice}`)).size).toBeGreaterThanOrEqual(6);
    for (const m of manifest) {
      expect(typeof m.text).toBe('string');
      expect(m.text.length).toBeGreaterThan(5);
      if (m.expect.intent === 'not_a_request') expect(m.expect).toMatchObject({ item: null, label: null });
      else {
        expect(m.expect.item).toBeTruthy();
        expect(m.text.toLowerCase()).toContain(m.expect.item!);
      }
    }
  });

  for (const m of manifest) {
    it(`${m.file} is 16 kHz mono 16-bit, well under 5 s and non-silent speech`, () => {
      const w = parseWav(fs.readFileSync(path.join(dir, m.file)));
      expect(w).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16 });
      expect(m.sampleRate).toBe(16000);
      expect(w.durationSec).toBeCloseTo(m.durationSec, 2);
      expect(w.durationSec).toBeGreaterThan(1);
      expect(w.durationSec).toBeLessThan(4.5);
      const s = analyzeSpeech(s16leToFloat32(w.data), 16000);
      expect(toDbfs(s.rms)).toBeGreaterThan(-35);
      expect(s.activeSec).toBeGreaterThan(0.5);
      expect(s.activeFraction).toBeGreaterThan(0.3);
      expect(s.activeFraction).toBeLessThan(0.95); // lead-in and tail are quiet
    });
  }
});

describe('room noise (protocol/noise.ts): the corpus mixes it, the hands-free benches keep the room going', () => {
  const rms = (x: ArrayLike<number>) => Math.sqrt(Array.from(x).reduce((a, v) => a + v * v, 0) / x.length);
  /** the RMS of the first difference over the RMS: about 1.41 for white noise, far less for low-heavy pink */
  const roughness = (x: Float32Array) => rms(x.subarray(1).map((v, i) => v - x[i])) / rms(x);
  const frames = (b: Buffer) => Array.from({ length: Math.floor(b.length / 640) }, (_, k) => rms(s16leToFloat32(b.subarray(k * 640, k * 640 + 640))));
  it('is one continuous noise however it is taken: two frames are the samples of one take', async () => {
    const { NoiseSource } = await import('../dist/protocol/noise.js');
    for (const colour of ['white', 'pink', 'babble'] as const) {
      const a = new NoiseSource(colour, 42);
      const joined = [...a.take(320), ...a.take(1700), ...a.take(3)];
      expect(joined).toEqual([...new NoiseSource(colour, 42).take(2023)]);
      expect([...new NoiseSource(colour, 43).take(64)]).not.toEqual(joined.slice(0, 64));
    }
  });
  it('has its colour: pink is smooth next to white, babble swells at syllable rate', async () => {
    const { NoiseSource } = await import('../dist/protocol/noise.js');
    expect(roughness(new NoiseSource('white', 1).take(16000))).toBeGreaterThan(1.3);
    expect(roughness(new NoiseSource('pink', 1).take(16000))).toBeLessThan(0.8);
    expect(roughness(new NoiseSource('babble', 1).take(16000))).toBeLessThan(0.8);
  });
  it('RoomNoise gives s16le frames at the asked level, babble with its swell', async () => {
    const { RoomNoise } = await import('../dist/protocol/noise.js');
    for (const colour of ['white', 'pink', 'babble'] as const) {
      const room = new RoomNoise(colour, 0.01, 7);
      const b = Buffer.concat(Array.from({ length: 150 }, () => room.frame(320)));
      expect(b.length).toBe(150 * 640);
      expect(rms(s16leToFloat32(b))).toBeGreaterThan(0.0085);
      expect(rms(s16leToFloat32(b))).toBeLessThan(0.0115);
      const f = frames(b);
      const mean = f.reduce((a, v) => a + v, 0) / f.length;
      const cv = Math.sqrt(f.reduce((a, v) => a + (v - mean) ** 2, 0) / f.length) / mean;
      if (colour === 'babble') expect(cv).toBeGreaterThan(0.2);
      if (colour === 'white') expect(cv).toBeLessThan(0.1);
    }
  });
});
