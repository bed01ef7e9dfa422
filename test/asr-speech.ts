/**
 * Helpers for the speech suites (test/asr-*.test.ts): real synthetic speech from espeak-ng / flite, converted
 * with sox, and the real Vosk model installed by the real provider (models/vosk.ts).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const REPO = path.resolve(import.meta.dirname, '..');
export const MODELS_DIR = process.env.WHEREABOUTS_MODELS_DIR ? path.resolve(process.env.WHEREABOUTS_MODELS_DIR) : path.join(REPO, 'models', 'files');
export const ASR_MODEL = 'vosk-model-small-en-us-0.15';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-asr-'));

export interface SayOptions {
  engine?: 'espeak-ng' | 'flite';
  /** espeak-ng voice (en-us, en-gb, en+f3) or flite voice (slt, rms, awb, kal16) */
  voice?: string;
  /** output sample rate */
  rate?: number;
  /** seconds of silence appended */
  tail?: number;
  /** seconds of silence before */
  lead?: number;
}

let n = 0;
/** Speaks `text` and returns s16le mono PCM at opts.rate (default 16000). */
export function say(text: string, opts: SayOptions = {}): Buffer {
  const engine = opts.engine ?? 'espeak-ng';
  const rate = opts.rate ?? 16000;
  const wav = path.join(scratch, `s${++n}.wav`);
  const raw = path.join(scratch, `s${n}.raw`);
  if (engine === 'espeak-ng') execFileSync('espeak-ng', ['-v', opts.voice ?? 'en-us', '-s', '150', '-w', wav, text]);
  else execFileSync('flite', ['-voice', opts.voice ?? 'slt', '-t', text, '-o', wav]);
  execFileSync('sox', [wav, '-r', String(rate), '-c', '1', '-b', '16', '-e', 'signed-integer', '-t', 'raw', raw]);
  const pcm = fs.readFileSync(raw);
  const lead = Buffer.alloc(Math.round((opts.lead ?? 0.2) * rate) * 2);
  const tail = Buffer.alloc(Math.round((opts.tail ?? 0.5) * rate) * 2);
  return Buffer.concat([lead, pcm, tail]);
}

/** Deterministic white noise (s16le), amplitude 0..1 of full scale. */
export function noise(seconds: number, rate = 16000, amplitude = 0.3, seed = 1): Buffer {
  const n = Math.round(seconds * rate);
  const b = Buffer.alloc(n * 2);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    b.writeInt16LE(Math.round(((s / 0xffffffff) * 2 - 1) * amplitude * 32767), i * 2);
  }
  return b;
}

/** Cuts a buffer into frames of `bytes` bytes. */
export function frames(pcm: Buffer, bytes = 3200): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < pcm.length; i += bytes) out.push(pcm.subarray(i, i + bytes));
  return out;
}

export function tempDir(prefix = 'wa-asr-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}
