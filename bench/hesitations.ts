/**
 * Questions with a hesitation before the item ("where is my ... um ... cup"), for the voice bench's
 * cut-early count: made at bench time with espeak-ng (SSML breaks give pauses of an exact length), resampled
 * to 16 kHz, with 250 ms of lead-in, 350 ms of tail and Gaussian noise at 30 dB SNR from a PRNG seeded by the
 * text (the same bytes every run for one espeak-ng version). Needs the espeak-ng Debian package (CI has it).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseWav } from '../protocol/wav.js';
import { resampleS16le } from '../protocol/pcm.js';
import { mulberry32 } from './seed.js';

export interface HesitationSpec {
  /** espeak-ng SSML */
  ssml: string;
  /** the words, as the manifest would have them */
  text: string;
  item: string;
  voice: string;
}

const B = (ms: number) => `<break time="${ms}ms"/>`;

export const HESITATIONS: HesitationSpec[] = [
  { ssml: `where is my ${B(900)} um ${B(500)} cup`, text: 'where is my um cup', item: 'cup', voice: 'en-us' },
  { ssml: `where are my ${B(1000)} keys`, text: 'where are my keys', item: 'keys', voice: 'en-gb' },
  { ssml: `have you seen my ${B(700)} uh ${B(400)} laptop`, text: 'have you seen my uh laptop', item: 'laptop', voice: 'en+f3' },
  { ssml: `where did I leave my ${B(1200)} umbrella`, text: 'where did I leave my umbrella', item: 'umbrella', voice: 'en-us' },
  { ssml: `can you find my ${B(600)} er ${B(600)} backpack`, text: 'can you find my er backpack', item: 'backpack', voice: 'en-gb' },
  { ssml: `where is the ${B(900)} remote`, text: 'where is the remote', item: 'remote', voice: 'en-us+m3' },
  { ssml: `when did you last see my ${B(800)} bottle`, text: 'when did you last see my bottle', item: 'bottle', voice: 'en-us' },
  { ssml: `where is my ${B(400)} um ${B(300)} cell phone`, text: 'where is my um cell phone', item: 'cell phone', voice: 'en-gb' },
  { ssml: `I can't find my ${B(1000)} scissors`, text: "I can't find my scissors", item: 'scissors', voice: 'en+f3' },
  { ssml: `where ${B(500)} is my ${B(700)} toothbrush`, text: 'where is my toothbrush', item: 'toothbrush', voice: 'en-us' },
];

function seedOf(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** one clip as 16 kHz s16le PCM; null (with the reason) when espeak-ng is missing */
export function makeHesitation(spec: HesitationSpec): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-hes-'));
  try {
    const wavFile = path.join(dir, 'h.wav');
    execFileSync('espeak-ng', ['-m', '-v', spec.voice, '-s', '150', '-w', wavFile, spec.ssml], { stdio: ['ignore', 'ignore', 'pipe'] });
    const w = parseWav(fs.readFileSync(wavFile));
    const speech = resampleS16le(Buffer.from(w.data), w.sampleRate, 16000);
    const lead = 0.25 * 16000;
    const tail = 0.35 * 16000;
    const n = lead + speech.length / 2 + tail;
    const out = Buffer.alloc(n * 2);
    // speech level (RMS of the louder half of the samples) -> noise at 30 dB below it
    let sum = 0;
    let cnt = 0;
    for (let i = 0; i < speech.length / 2; i++) {
      const v = speech.readInt16LE(i * 2) / 32768;
      if (Math.abs(v) > 0.01) {
        sum += v * v;
        cnt++;
      }
    }
    const noiseRms = Math.sqrt(sum / Math.max(1, cnt)) * Math.pow(10, -30 / 20);
    const rnd = mulberry32(seedOf(spec.text));
    for (let i = 0; i < n; i++) {
      // Box-Muller
      const g = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
      const s = i >= lead && i < lead + speech.length / 2 ? speech.readInt16LE((i - lead) * 2) / 32768 : 0;
      out.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round((s + g * noiseRms) * 32767))), i * 2);
    }
    return out;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function haveEspeak(): boolean {
  try {
    execFileSync('espeak-ng', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
