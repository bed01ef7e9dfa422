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
 *   word error rate against the text (numbers and "a m"/"p m" normalised on both sides);
 * - Piper under concurrency (bench/tts-load.ts): first audio at 1, 4, 8, 16 concurrent replies for each worker
 *   layout with the cache of clause audio off, then with it on and its hit rate beside every figure.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createAsr } from '../assistant/asr/index.js';
import { TTS_REPLIES } from './tts-replies.js';
import type { ProbeResult } from './tts-probe.js';
import type { LoadResult } from './tts-load.js';
import { REPO, fmt, log, table } from './util.js';

export interface TtsEngineRow {
  engine: string;
  /** what was asked for; 'piper' may have fallen back */
  asked: string;
  startMs: number;
  coldFirstMs: number;
  firstMs: { p50: number; p95: number; max: number };
  /** Piper: first audio once the replies' openings were prepared (warm()), and what preparing them cost */
  preparedFirstMs: { p50: number; p95: number; max: number; warmMs: number; openings: number } | null;
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
  /** Piper under concurrency: one row set per worker layout (cache off), then the default layout with the cache */
  load?: LoadResult[];
  loadError?: string;
}

/** worker layouts compared under concurrency on this machine: one worker with every core, or one worker per core */
export const TTS_LAYOUTS = [
  { workers: 1, threads: 2 },
  { workers: 2, threads: 1 },
] as const;

function loadProbe(opts: { voice: string; workers: number; threads: number; cacheMb: number; seconds: number; levels: number[]; pace: string; sentencesFile: string }): Promise<LoadResult> {
  const args = [
    path.join(REPO, 'dist', 'bench', 'tts-load.js'),
    '--voice', opts.voice,
    '--workers', String(opts.workers),
    '--threads', String(opts.threads),
    '--cache-mb', String(opts.cacheMb),
    '--seconds', String(opts.seconds),
    '--levels', opts.levels.join(','),
    '--pace', opts.pace,
    '--sentences', opts.sentencesFile,
  ];
  return jsonChild<LoadResult>(args, 'tts load probe');
}

/** runs a bench child process; its last stdout line is its JSON result */
function jsonChild<T>(args: string[], what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as T);
      else reject(new Error(`${what} exited with ${code}: ${err.trim().slice(-500)}`));
    });
  });
}

/**
 * Piper under 1, 4, 8, 16 concurrent replies: each worker layout with the cache off (what synthesis costs),
 * then the first layout again with the cache on (how much the cache saves on these 50 recurring replies; its
 * hit rate is printed beside every figure). WHEREABOUTS_BENCH_TTS_LEVELS, _SECONDS, _PACE (play|none) and
 * _LAYOUTS ("1x2,2x1": workers x threads) narrow or change the run.
 */
export async function ttsLoadBench(opts: { voice: string; work: string; sentences: readonly string[]; quick?: boolean; cacheMb?: number }): Promise<LoadResult[]> {
  const env = process.env;
  const levels = (env.WHEREABOUTS_BENCH_TTS_LEVELS ?? '1,4,8,16').split(',').map(Number).filter((n) => n > 0);
  const seconds = Number(env.WHEREABOUTS_BENCH_TTS_SECONDS ?? (opts.quick ? 5 : 10));
  const pace = env.WHEREABOUTS_BENCH_TTS_PACE ?? 'play';
  const layouts = env.WHEREABOUTS_BENCH_TTS_LAYOUTS
    ? env.WHEREABOUTS_BENCH_TTS_LAYOUTS.split(',').map((l) => {
        const [w, t] = l.split('x').map(Number);
        return { workers: w, threads: t };
      })
    : [...TTS_LAYOUTS];
  const sentencesFile = path.join(opts.work, 'tts-load-sentences.json');
  fs.mkdirSync(opts.work, { recursive: true });
  fs.writeFileSync(sentencesFile, JSON.stringify(opts.sentences));
  const out: LoadResult[] = [];
  const runs = [...layouts.map((l) => ({ ...l, cacheMb: 0 })), ...(opts.cacheMb === 0 ? [] : [{ ...layouts[0], cacheMb: opts.cacheMb ?? 8 }])];
  for (const r of runs) {
    log(`tts: Piper under load, ${r.workers} worker(s) x ${r.threads} thread(s), cache ${r.cacheMb ? `${r.cacheMb} MiB` : 'off'}, ${levels.join('/')} concurrent replies, ${seconds} s each`);
    out.push(await loadProbe({ voice: opts.voice, workers: r.workers, threads: r.threads, cacheMb: r.cacheMb, seconds, levels, pace, sentencesFile }));
  }
  return out;
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
  const args = [path.join(REPO, 'dist', 'bench', 'tts-probe.js'), '--engine', engine, '--out', opts.out, '--sentences', opts.sentencesFile, '--threads', String(opts.threads)];
  if (opts.voice) args.push('--voice', opts.voice);
  return jsonChild<ProbeResult>(args, `tts probe ${engine}`);
}

export async function ttsBench(opts: { modelsDir: string; asrModel: string; work: string; voice?: string; threads?: number; quick?: boolean; cacheMb?: number }): Promise<TtsResult> {
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
        preparedFirstMs: r.prepared
          ? { p50: quantile(r.prepared.firstChunkMs, 0.5), p95: quantile(r.prepared.firstChunkMs, 0.95), max: Math.max(...r.prepared.firstChunkMs), warmMs: r.prepared.warmMs, openings: r.prepared.openings }
          : null,
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
  try {
    res.load = await ttsLoadBench({ voice, work: opts.work, sentences, quick: opts.quick, cacheMb: opts.cacheMb });
  } catch (e) {
    res.loadError = (e as Error).message;
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
      '"first audio": synthesize() called with the reply text -> first PCM chunk, warm engine, Piper\'s cache of clause audio off. ' +
      '"CPU s / audio s": CPU time of the whole process (every thread) per second of speech, which contention does not inflate. "worker RSS": VmRSS of a process running only that engine, after the replies, ' +
      'minus its VmRSS just before the engine started (Node and modules loaded); "peak" uses VmHWM. WER: the Vosk model in free dictation (no grammar) on each reply.',
  );
  const p = t.rows.find((r) => r.engine === 'piper');
  if (p && p.firstPieceInferMs !== null && p.firstPieceAudioMs !== null)
    out.push(
      `\nPiper's first piece of a reply (a clause, cut short before a preposition when long): p50 ${fmt(p.firstPieceInferMs, 1)} ms of onnxruntime for ${fmt(p.firstPieceAudioMs, 0)} ms of audio; ` +
        `at ${fmt(p.cpuRtf, 3)} CPU s per audio s that piece costs ~${fmt((p.firstPieceAudioMs * p.cpuRtf), 0)} ms of CPU (its wall time on an idle machine is at most that, less with 2 threads).`,
    );
  const pp = p?.preparedFirstMs;
  if (pp)
    out.push(
      `\nPiper with the openings prepared (warm(), as the server prepares "Your cup was", "I last saw", ... for every item seen: assistant/openings.ts): ` +
        `first audio p50 ${fmt(pp.p50, 1)} ms, p95 ${fmt(pp.p95, 1)} ms, max ${fmt(pp.max, 0)} ms; preparing the ${pp.openings} openings of these replies took ${fmt(pp.warmMs / 1000, 1)} s on an idle engine.`,
    );
  for (const r of t.rows) out.push(`\n${r.engine}, hardest replies: ${r.worst.map((w) => `"${w.ref}" -> "${w.hyp.trim()}" (${fmt(w.wer * 100, 0)} %)`).join('; ')}`);
  out.push(...ttsLoadReport(t));
  return out;
}

export function ttsLoadReport(t: TtsResult): string[] {
  const out: string[] = ['\n#### Piper under concurrency (first audio while other replies are being spoken)\n'];
  if (t.loadError) return [...out, `failed: ${t.loadError}`];
  if (!t.load?.length) return [...out, 'not run'];
  const rows: string[][] = [];
  for (const r of t.load) {
    const workerMiB = (r.memory.afterMiB - r.memory.beforeMiB) / r.workers;
    for (const l of r.levels) {
      const looked = l.cache.hits + l.cache.misses;
      rows.push([
        `${r.workers} x ${r.threads}`,
        r.cacheMb ? `${r.cacheMb} MiB, hits ${fmt((100 * l.cache.hits) / Math.max(1, looked), 0)} %${l.cache.shared ? ` (+${l.cache.shared} shared)` : ''}` : 'off',
        String(l.clients),
        String(l.replies),
        fmt(l.firstMs.p50, 0),
        fmt(l.firstMs.p95, 0),
        fmt(l.firstMs.max, 0),
        `${l.gapped} (p95 ${fmt(l.gapP95Ms, 0)} ms)`,
        fmt(l.totalP50Ms, 0),
        fmt(l.audioPerSec, 1),
        fmt(l.cpu, 2),
        fmt(workerMiB, 0),
      ]);
    }
  }
  out.push(
    table(['workers x threads', 'cache', 'concurrent replies', 'replies', 'first audio p50 ms', 'p95 ms', 'max ms', 'replies with a gap', 'whole reply p50 ms', 'audio s / s', 'CPU cores', 'RSS per worker MiB'], rows),
  );
  const pace = t.load[0].pace;
  out.push(
    `\nEach client asks for the ${t.sentences} bench replies in turn (its own starting point), for ${t.load[0].seconds} s and at least 20 replies per level, and ${pace === 'play' ? 'waits for its reply to play out before asking again (a lone client asks back to back)' : 'asks again as soon as its reply is whole (back to back)'}. ` +
      'First audio: synthesize() called -> first PCM chunk (16 kHz). A gap: with playback from the first chunk in real time, a later piece arrived after the audio before it had played out (> 20 ms). ' +
      'Cache off unless the cache column says otherwise; with it on, the hit rate is over these 50 recurring replies, an upper bound for real traffic. RSS per worker: (VmRSS 1 s after the run - VmRSS before the engine) / workers.',
  );
  return out;
}
