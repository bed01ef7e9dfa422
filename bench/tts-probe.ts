/**
 * One TTS engine alone in its own process, for the tts bench (bench/tts.ts runs it once per engine):
 *
 *   node dist/bench/tts-probe.js --engine piper|flite [--voice FILE] [--threads N] --out DIR --sentences FILE
 *
 * Prints one JSON line: start time, per-sentence first-chunk and whole-reply times, audio seconds, Piper's
 * per-piece inference times, and memory: VmRSS of this process before the engine starts (Node + modules), after
 * it is ready, and one second after the last sentence, plus VmHWM (glibc arenas capped as the server caps them). The engine's worker thread lives in this process, so
 * "RSS after - RSS before" is what the TTS worker costs. Each sentence's 16 kHz PCM goes to DIR/<i>.raw.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createTts } from '../assistant/tts/index.js';
import { capMallocArenas, fixMmapThreshold } from '../assistant/malloc.js';
import type { PiperTts } from '../assistant/tts/piper.js';

function status(): { rssMiB: number; hwmMiB: number } {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

export interface ProbeResult {
  engine: string;
  startMs: number;
  coldFirstChunkMs: number;
  /** per reply; `pieces`: Piper's pieces of that reply in order (words, phonemizing and inference time, audio) */
  sentences: Array<{ firstChunkMs: number; totalMs: number; audioSec: number; pieces: Array<{ words: number; phonemizeMs: number; inferMs: number; audioMs: number }> }>;
  memory: { beforeMiB: number; readyMiB: number; afterMiB: number; hwmMiB: number };
  /** CPU seconds (all threads of the process) spent on the replies: contention does not inflate it */
  cpuSec: number;
  /**
   * Piper: each reply's first chunk again after warm() prepared the replies' openings (what the server does
   * for the openings of its own replies, assistant/openings.ts), and how long preparing them took
   */
  prepared?: { firstChunkMs: number[]; warmMs: number; openings: number };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const arg = (k: string, d = '') => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? argv[i + 1] : d;
  };
  const engine = arg('engine', 'piper');
  const out = arg('out');
  const sentences = JSON.parse(fs.readFileSync(arg('sentences'), 'utf8')) as string[];
  fs.mkdirSync(out, { recursive: true });
  // as `whereabouts serve` does before its worker threads start
  capMallocArenas(Number(arg('malloc-arenas', '2')));
  fixMmapThreshold();
  await new Promise((r) => setTimeout(r, 300));
  const before = status();
  const t0 = performance.now();
  const tts = await createTts({ ttsEngine: engine, voice: arg('voice') || undefined, ttsThreads: Number(arg('threads', '2')) });
  const startMs = performance.now() - t0;
  const ready = status();
  const time = async (text: string) => {
    const t = performance.now();
    let first = -1;
    const parts: Buffer[] = [];
    for await (const c of tts.synthesize(text)) {
      if (first < 0) first = performance.now() - t;
      parts.push(c);
    }
    return { first, total: performance.now() - t, pcm: Buffer.concat(parts) };
  };
  const cold = await time('Your cup is on the kitchen counter, four minutes ago.');
  const rows: ProbeResult['sentences'] = [];
  const piper = tts.engine === 'piper' ? (tts as PiperTts) : null;
  if (piper) piper.cache.limitBytes = 0; // measure synthesis, not the cache of clause audio
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < sentences.length; i++) {
    const done = piper?.piecesDone ?? 0;
    const r = await time(sentences[i]);
    fs.writeFileSync(path.join(out, `${i}.raw`), r.pcm);
    const n = (piper?.piecesDone ?? 0) - done;
    rows.push({ firstChunkMs: r.first, totalMs: r.total, audioSec: r.pcm.length / 2 / tts.sampleRate, pieces: piper && n ? piper.stats.slice(-n) : [] });
  }
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 1000)); // settled: one second after the last reply
  const after = status();
  let prepared: ProbeResult['prepared'];
  if (piper) {
    const w0 = performance.now();
    const w = await piper.warm(sentences);
    const warmMs = performance.now() - w0;
    const firstChunkMs: number[] = [];
    for (const text of sentences) firstChunkMs.push((await time(text)).first);
    prepared = { firstChunkMs, warmMs, openings: w.warmed + w.held };
  }
  const result: ProbeResult = {
    engine: tts.engine,
    startMs,
    coldFirstChunkMs: cold.first,
    sentences: rows,
    cpuSec: (cpu.user + cpu.system) / 1e6,
    prepared,
    memory: { beforeMiB: before.rssMiB, readyMiB: ready.rssMiB, afterMiB: after.rssMiB, hwmMiB: after.hwmMiB },
  };
  await tts.close();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`tts-probe: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
