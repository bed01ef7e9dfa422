/**
 * The `tts` bench section (`npm run bench -- --only tts`): Piper against flite, in the same run.
 *
 * - first audio: from handing the reply text to `synthesize()` to its first PCM chunk (the clock a listener
 *   feels after the answer is known), p50/p95 over 50 reply sentences (bench/tts-replies.ts), warm engine;
 * - real-time factor: synthesis wall time / audio length, whole replies; for Piper also onnxruntime time alone;
 * - worker memory: each engine runs alone in a child process (bench/tts-probe.ts) with glibc arenas capped as
 *   the server caps them; the TTS worker's cost is that process's VmRSS 1 s after the 50 replies minus its VmRSS
 *   just before the engine started (Node and the modules already loaded), and the same for the peak (VmHWM);
 * - intelligibility: each reply's audio through the project's own Vosk model in free dictation (no grammar),
 *   word error rate against the text (numbers and "a m"/"p m" normalised on both sides).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createAsr } from '../assistant/asr/index.js';
import { TTS_REPLIES } from './tts-replies.js';
import type { ProbeResult } from './tts-probe.js';
import { REPO, fmt, log, table } from './util.js';

export interface TtsEngineRow {
  engine: string;
  /** what was asked for; 'piper' may have fallen back */
  asked: string;
  startMs: number;
  coldFirstMs: number;
  firstMs: { p50: number; p95: number; max: number };
  rtf: number;
  /** CPU seconds (all threads) per second of audio: what the synthesis costs, whatever else runs */
  cpuRtf: number;
  /** Piper: onnxruntime time / audio time of each piece */
  inferRtf: number | null;
  /** Piper: first piece's inference, p50 ms, and its audio length, p50 ms */
  firstPieceInferMs: number | null;
  firstPieceAudioMs: number | null;
  audioSec: number;
  memory: ProbeResult['memory'] & { workerMiB: number; workerPeakMiB: number };
  wer: number;
  words: number;
  errors: number;
  /** worst sentences: reference -> heard */
  worst: Array<{ ref: string; hyp: string; wer: number }>;
}

export interface TtsResult {
  rows: TtsEngineRow[];
  sentences: number;
  voice: string;
  threads: number;
  skipped?: string;
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
};

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
function numberWords(n: number): string {
  if (n < 20) return ONES[n];
  if (n < 100) return TENS[Math.floor(n / 10)] + (n % 10 ? ` ${ONES[n % 10]}` : '');
  return String(n);
}

/** Lower-case words without punctuation; digits as words; "p m" -> "pm". */
export function normalizeWords(s: string): string[] {
  return s
    .toLowerCase()
    .replace(/\b(\d{1,2})\b/g, (_, d: string) => ` ${numberWords(Number(d))} `)
    .replace(/[^a-z' ]+/g, ' ')
    .replace(/\b([ap]) m\b/g, '$1m')
    .replace(/\s+/g, ' ')
    .trim()
    .split(' ')
    .filter(Boolean);
}

/** Word-level edit distance (substitutions + insertions + deletions). */
export function wordErrors(ref: string[], hyp: string[]): number {
  let prev = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i++) {
    const cur = [i];
    for (let j = 1; j <= hyp.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ref[i - 1] === hyp[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[hyp.length];
}

function probe(engine: string, opts: { voice: string; threads: number; out: string; sentencesFile: string }): Promise<ProbeResult> {
  return new Promise((resolve, reject) => {
    const args = [path.join(REPO, 'dist', 'bench', 'tts-probe.js'), '--engine', engine, '--out', opts.out, '--sentences', opts.sentencesFile, '--threads', String(opts.threads)];
    if (opts.voice) args.push('--voice', opts.voice);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as ProbeResult);
      else reject(new Error(`tts probe ${engine} exited with ${code}: ${err.trim().slice(-500)}`));
    });
  });
}

export async function ttsBench(opts: { modelsDir: string; asrModel: string; work: string; voice?: string; threads?: number; quick?: boolean }): Promise<TtsResult> {
  const sentences = opts.quick ? TTS_REPLIES.slice(0, 20) : [...TTS_REPLIES];
  const voice = opts.voice || path.join(opts.modelsDir, 'en_US-joe-medium.onnx');
  const threads = opts.threads ?? 2;
  const res: TtsResult = { rows: [], sentences: sentences.length, voice, threads };
  if (!fs.existsSync(voice)) {
    res.skipped = `no Piper voice at ${voice}: run \`whereabouts models\``;
    return res;
  }
  const sentencesFile = path.join(opts.work, 'tts-sentences.json');
  fs.mkdirSync(opts.work, { recursive: true });
  fs.writeFileSync(sentencesFile, JSON.stringify(sentences));
  const probes: Array<{ asked: string; r: ProbeResult; dir: string }> = [];
  for (const engine of ['piper', 'flite']) {
    const dir = path.join(opts.work, `tts-${engine}`);
    log(`tts: ${engine}, ${sentences.length} replies, alone in a child process`);
    probes.push({ asked: engine, r: await probe(engine, { voice: engine === 'piper' ? voice : '', threads, out: dir, sentencesFile }), dir });
  }
  // the recogniser runs after the synthesisers are gone: it never competes with them for CPU
  log('tts: intelligibility, Vosk free dictation over every reply');
  const asr = await createAsr({ modelsDir: opts.modelsDir, asrModel: opts.asrModel, asrEngine: 'vosk', asrWorkers: 1, maxStreams: 2 }, [], { dictation: true });
  try {
    for (const { asked, r, dir } of probes) {
      let errors = 0;
      let words = 0;
      const per: TtsEngineRow['worst'] = [];
      for (let i = 0; i < sentences.length; i++) {
        const pcm = fs.readFileSync(path.join(dir, `${i}.raw`));
        const st = asr.open(16000);
        st.write(pcm);
        st.write(Buffer.alloc(16000)); // half a second of quiet after the reply
        const heard = (await st.finish()).raw.replace(/\[unk\]/g, ' ');
        const ref = normalizeWords(sentences[i]);
        const e = wordErrors(ref, normalizeWords(heard));
        errors += e;
        words += ref.length;
        per.push({ ref: sentences[i], hyp: heard, wer: e / ref.length });
      }
      const first = r.sentences.map((s) => s.firstChunkMs);
      const audioSec = r.sentences.reduce((a, s) => a + s.audioSec, 0);
      const synthMs = r.sentences.reduce((a, s) => a + s.totalMs, 0);
      const pieces = r.sentences.flatMap((s) => s.pieces);
      const inferMs = pieces.reduce((a, p) => a + p.inferMs, 0);
      const pieceAudioMs = pieces.reduce((a, p) => a + p.audioMs, 0);
      res.rows.push({
        engine: r.engine,
        asked,
        startMs: r.startMs,
        coldFirstMs: r.coldFirstChunkMs,
        firstMs: { p50: quantile(first, 0.5), p95: quantile(first, 0.95), max: Math.max(...first) },
        rtf: synthMs / 1000 / audioSec,
        cpuRtf: r.cpuSec / audioSec,
        inferRtf: pieces.length ? inferMs / pieceAudioMs : null,
        firstPieceInferMs: pieces.length ? quantile(r.sentences.map((s) => s.pieces[0].inferMs), 0.5) : null,
        firstPieceAudioMs: pieces.length ? quantile(r.sentences.map((s) => s.pieces[0].audioMs), 0.5) : null,
        audioSec,
        memory: { ...r.memory, workerMiB: r.memory.afterMiB - r.memory.beforeMiB, workerPeakMiB: r.memory.hwmMiB - r.memory.beforeMiB },
        wer: errors / words,
        words,
        errors,
        worst: per.sort((a, b) => b.wer - a.wer).slice(0, 3),
      });
    }
  } finally {
    await asr.close();
  }
  return res;
}

export function ttsReport(t: TtsResult | null): string[] {
  const out: string[] = ['\n### Speech synthesis: Piper and flite, each alone in a process (tts)\n'];
  if (!t) return [...out, 'not run'];
  if (t.skipped) return [...out, `not available: ${t.skipped}`];
  out.push(
    table(
      ['engine', 'first audio p50 ms', 'p95 ms', 'max ms', 'cold first ms', 'RTF (whole reply)', 'CPU s / audio s', 'RTF (inference)', 'start s', 'worker RSS MiB', 'worker peak MiB', 'process RSS MiB', 'WER (Vosk dictation)'],
      t.rows.map((r) => [
        r.engine === r.asked ? r.engine : `${r.engine} (asked ${r.asked})`,
        fmt(r.firstMs.p50, 1),
        fmt(r.firstMs.p95, 1),
        fmt(r.firstMs.max, 0),
        fmt(r.coldFirstMs, 0),
        fmt(r.rtf, 3),
        fmt(r.cpuRtf, 3),
        r.inferRtf === null ? '–' : fmt(r.inferRtf, 3),
        fmt(r.startMs / 1000, 1),
        fmt(r.memory.workerMiB, 0),
        fmt(r.memory.workerPeakMiB, 0),
        fmt(r.memory.afterMiB, 0),
        `${fmt(r.wer * 100, 1)} % (${r.errors}/${r.words})`,
      ]),
    ),
  );
  out.push(
    `\n${t.sentences} reply sentences (bench/tts-replies.ts), 16 kHz output, Piper voice ${path.basename(t.voice)} with ${t.threads} onnxruntime threads. ` +
      '"first audio": synthesize() called with the reply text -> first PCM chunk, warm engine, Piper\'s cache of first pieces off. ' +
      '"CPU s / audio s": CPU time of the whole process (every thread) per second of speech, which contention does not inflate. "worker RSS": VmRSS of a process running only that engine, after the replies, ' +
      'minus its VmRSS just before the engine started (Node and modules loaded); "peak" uses VmHWM. WER: the Vosk model in free dictation (no grammar) on each reply.',
  );
  const p = t.rows.find((r) => r.engine === 'piper');
  if (p && p.firstPieceInferMs !== null && p.firstPieceAudioMs !== null)
    out.push(
      `\nPiper's first piece of a reply (a clause, cut short before a preposition when long): p50 ${fmt(p.firstPieceInferMs, 1)} ms of onnxruntime for ${fmt(p.firstPieceAudioMs, 0)} ms of audio; ` +
        `at ${fmt(p.cpuRtf, 3)} CPU s per audio s that piece costs ~${fmt((p.firstPieceAudioMs * p.cpuRtf), 0)} ms of CPU (its wall time on an idle machine is at most that, less with 2 threads).`,
    );
  for (const r of t.rows) out.push(`\n${r.engine}, hardest replies: ${r.worst.map((w) => `"${w.ref}" -> "${w.hyp.trim()}" (${fmt(w.wer * 100, 0)} %)`).join('; ')}`);
  return out;
}
