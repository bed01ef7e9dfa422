/**
 * Load probe: loads libvosk + a model in a CHILD PROCESS and decodes a little silence through a grammar
 * recogniser. libvosk crashes the whole process (SIGSEGV) on some corrupt models (e.g. a truncated
 * HCLr.fst), so the server tries a model here first and turns a crash into a clear start-up error.
 *
 * Run as a script: `node probe.js <libvosk> <modelDir>`; prints one JSON line {ok, words?, message?}.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { fingerprint, MODEL_RATE } from './vosk-files.js';

export interface ProbeResult {
  ok: boolean;
  message: string;
  ms: number;
}

const verified = new Map<string, true>();
const MARKER = '.whereabouts-verified';

/** Probes (once per process and per model fingerprint; a marker file in the model folder remembers it). */
export async function probeModel(libPath: string, modelDir: string, timeoutMs = 120_000): Promise<ProbeResult> {
  const fp = fingerprint(modelDir, libPath);
  if (verified.has(fp)) return { ok: true, message: 'cached', ms: 0 };
  const marker = path.join(modelDir, MARKER);
  try {
    if (fs.readFileSync(marker, 'utf8') === fp) {
      verified.set(fp, true);
      return { ok: true, message: 'cached', ms: 0 };
    }
  } catch {
    /* no marker */
  }
  const t0 = Date.now();
  const script = fileURLToPath(import.meta.url);
  const r = await new Promise<ProbeResult>((resolve) => {
    const child = spawn(process.execPath, [script, libPath, modelDir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 20_000) err += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, message: `cannot run the model probe: ${e.message}`, ms: Date.now() - t0 });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Date.now() - t0;
      const line = out.trim().split('\n').pop() ?? '';
      let parsed: { ok?: boolean; message?: string } = {};
      try {
        parsed = JSON.parse(line);
      } catch {
        /* crashed before printing */
      }
      if (code === 0 && parsed.ok) return resolve({ ok: true, message: 'ok', ms });
      const why =
        parsed.message ??
        (signal ? `libvosk crashed (${signal}) while loading it` : `the probe exited with code ${code}`) +
          (lastError(err) ? `: ${lastError(err)}` : '');
      resolve({ ok: false, message: why, ms });
    });
  });
  if (r.ok) {
    verified.set(fp, true);
    try {
      fs.writeFileSync(marker, fp);
    } catch {
      /* read-only models folder: probe again next start */
    }
  }
  return r;
}

function lastError(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => /ERROR|error/.test(l));
  return (lines.pop() ?? '').trim().slice(0, 300);
}

/**
 * The child's side: its own few libvosk declarations (the server's binding lives with the recogniser in
 * assistant/asr/, which models/ does not import), every handle checked before use.
 */
function main(libPath: string, modelDir: string) {
  try {
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const lib = koffi.load(libPath);
    lib.func('void vosk_set_log_level(int)')(-1);
    const model = lib.func('void *vosk_model_new(const char *path)')(modelDir);
    if (!model) throw new Error(`Vosk could not load the speech model in ${modelDir} (missing or corrupt files)`);
    const findWord = lib.func('int vosk_model_find_word(void *model, const char *word)');
    const words = ['where', 'is', 'my', 'cup'].filter((w) => (findWord(model, w) as number) >= 0).length;
    const rec = lib.func('void *vosk_recognizer_new_grm(void *model, float sample_rate, const char *grammar)')(model, MODEL_RATE, '["where is my cup", "where is my phone", "[unk]"]');
    if (!rec) throw new Error('vosk_recognizer_new_grm returned NULL (does the model support runtime grammars?)');
    const silence = new Uint8Array(MODEL_RATE);
    lib.func('int vosk_recognizer_accept_waveform(void *rec, const uint8_t *data, int length)')(rec, silence, silence.length);
    lib.func('const char *vosk_recognizer_final_result(void *rec)')(rec);
    lib.func('void vosk_recognizer_free(void *rec)')(rec);
    lib.func('void vosk_model_free(void *model)')(model);
    if (words < 4) throw new Error('the model does not know basic English words (not an English model?)');
    process.stdout.write(JSON.stringify({ ok: true }) + '\n');
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, message: (e as Error).message }) + '\n');
    process.exitCode = 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv[2] ?? '', process.argv[3] ?? '');
}
