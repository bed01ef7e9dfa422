/**
 * A Piper voice's settings file (`<voice>.onnx.json`): read, checked and converted. models/ owns it (the
 * `whereabouts models` check uses it); the Piper engine (assistant/tts/piper*.ts) reads voices through it.
 */
import fs from 'node:fs';

export const PAD = '_';
export const BOS = '^';
export const EOS = '$';

export interface PiperVoiceConfig {
  sampleRate: number;
  /** espeak-ng voice name, e.g. 'en-us' */
  espeakVoice: string;
  noiseScale: number;
  lengthScale: number;
  noiseW: number;
  numSpeakers: number;
  /** one codepoint -> ids */
  phonemeIdMap: Map<string, number[]>;
  /** optional phoneme -> phonemes rewrite (one codepoint -> codepoints) */
  phonemeMap: Map<string, string[]>;
  /** language code, e.g. 'en_US' (for messages) */
  language: string;
  /** dataset name, e.g. 'joe' */
  dataset: string;
}

export class VoiceConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VoiceConfigError';
  }
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Checks and converts a parsed `.onnx.json`; throws VoiceConfigError naming what is wrong. */
export function parseVoiceConfig(raw: unknown, where = 'voice config'): PiperVoiceConfig {
  const j = raw as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  const bad = (what: string): never => {
    throw new VoiceConfigError(`${where}: ${what}`);
  };
  if (!j || typeof j !== "object" || Array.isArray(raw)) bad("not a JSON object");
  const type = j.phoneme_type ?? 'espeak';
  if (type !== 'espeak') bad(`phoneme_type "${type}" is not supported (only espeak voices)`);
  const sampleRate = j.audio?.sample_rate;
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000) bad('audio.sample_rate must be 8000..48000');
  const espeakVoice = j.espeak?.voice;
  if (typeof espeakVoice !== 'string' || !/^[a-z0-9][a-z0-9+_\-/]{0,40}$/i.test(espeakVoice)) bad('espeak.voice missing');
  const inf = j.inference ?? {};
  const noiseScale = inf.noise_scale ?? 0.667;
  const lengthScale = inf.length_scale ?? 1;
  const noiseW = inf.noise_w ?? 0.8;
  if (![noiseScale, lengthScale, noiseW].every(isNum) || !(lengthScale > 0)) bad('inference scales must be numbers (length_scale > 0)');
  const map = j.phoneme_id_map;
  if (!map || typeof map !== 'object' || Array.isArray(map)) bad('phoneme_id_map missing');
  const numSymbols = Number.isInteger(j.num_symbols) ? (j.num_symbols as number) : 1 << 16;
  const phonemeIdMap = new Map<string, number[]>();
  for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
    if ([...k].length !== 1) bad(`phoneme_id_map key ${JSON.stringify(k)} is not one codepoint`);
    if (!Array.isArray(v) || v.length === 0 || !v.every((n) => Number.isInteger(n) && n >= 0 && n < numSymbols)) bad(`phoneme_id_map[${JSON.stringify(k)}] must be a list of ids below num_symbols`);
    phonemeIdMap.set(k, v as number[]);
  }
  for (const s of [PAD, BOS, EOS]) if (!phonemeIdMap.has(s)) bad(`phoneme_id_map has no "${s}"`);
  const phonemeMap = new Map<string, string[]>();
  for (const [k, v] of Object.entries((j.phoneme_map ?? {}) as Record<string, unknown>)) {
    if ([...k].length === 1 && Array.isArray(v) && v.every((x) => typeof x === 'string')) phonemeMap.set(k, v as string[]);
  }
  const numSpeakers = Number.isInteger(j.num_speakers) && j.num_speakers > 0 ? (j.num_speakers as number) : 1;
  return {
    sampleRate,
    espeakVoice,
    noiseScale,
    lengthScale,
    noiseW,
    numSpeakers,
    phonemeIdMap,
    phonemeMap,
    language: typeof j.language?.code === 'string' ? j.language.code : espeakVoice,
    dataset: typeof j.dataset === 'string' ? j.dataset : '',
  };
}

/** The `.onnx.json` beside a voice file: `<voice>.onnx.json`, else `<voice>.json`. */
export function voiceConfigPath(onnxPath: string): string {
  const a = `${onnxPath}.json`;
  if (fs.existsSync(a)) return a;
  const b = onnxPath.replace(/\.onnx$/i, '') + '.json';
  return fs.existsSync(b) ? b : a;
}

/** Reads and checks a voice's `.onnx.json`. */
export function readVoiceConfig(file: string): PiperVoiceConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new VoiceConfigError(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `not readable JSON (${(e as Error).message})`}`);
  }
  return parseVoiceConfig(raw, file);
}
