/**
 * Piper under concurrency, alone in its own process (bench/tts.ts runs it once per configuration):
 *
 *   node dist/bench/tts-load.js --voice FILE --workers N --threads T [--cache-mb M] [--levels 1,4,8,16]
 *       [--seconds S] [--pace play|none] --sentences FILE
 *
 * At each level, C clients each ask for one reply after another (the 50 bench replies, each client starting
 * at its own offset; the first requests spread over the first 500 ms) for S seconds and at least
 * `--min-replies` (default 20) replies. `--pace play` (default): after its reply's last chunk, a client waits
 * until the reply's audio has played out (the listener hears it) and then asks again, as a voice stream does;
 * a lone client (C = 1) asks back to back, since waiting would change nothing but the wall time; `none`:
 * back to back at every level, the synthesiser never idle (the worst case).
 *
 * Clocks: first audio = synthesize() called with the reply text -> its first PCM chunk. A gap: playback
 * starts at the first chunk and plays in real time; a piece that arrives after the audio before it has
 * played out leaves a gap (counted per reply, and the total per reply). Prints one JSON line.
 */
import fs from 'node:fs';
import { createTts } from '../assistant/tts/index.js';
import { capMallocArenas, fixMmapThreshold } from '../assistant/malloc.js';
import type { PiperTts } from '../assistant/tts/piper.js';

export interface LoadLevel {
  clients: number;
  replies: number;
  firstMs: { p50: number; p95: number; max: number };
  /** replies whose playback would have stopped for a later piece, and the p95 of the total gap per reply */
  gapped: number;
  gapP95Ms: number;
  /** whole reply: call -> last chunk */
  totalP50Ms: number;
  /** audio seconds synthesised per wall second */
  audioPerSec: number;
  cache: { hits: number; misses: number; shared: number };
  /** CPU seconds of the process per wall second (cores busy) */
  cpu: number;
}

export interface LoadResult {
  workers: number;
  threads: number;
  cacheMb: number;
  pace: string;
  seconds: number;
  levels: LoadLevel[];
  memory: { beforeMiB: number; readyMiB: number; afterMiB: number; hwmMiB: number };
  startMs: number;
}

function status(): { rssMiB: number; hwmMiB: number } {
  const s = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const arg = (k: string, d = '') => {
    const i = argv.indexOf(`--${k}`);
    return i >= 0 ? argv[i + 1] : d;
  };
  const workers = Number(arg('workers', '1'));
  const threads = Number(arg('threads', '2'));
  const cacheMb = Number(arg('cache-mb', '0'));
  const seconds = Number(arg('seconds', '10'));
  const pace = arg('pace', 'play');
  const minReplies = Number(arg('min-replies', '20'));
  const levels = arg('levels', '1,4,8,16').split(',').map(Number);
  const sentences = JSON.parse(fs.readFileSync(arg('sentences'), 'utf8')) as string[];
  capMallocArenas(2);
  fixMmapThreshold();
  await new Promise((r) => setTimeout(r, 300));
  const before = status();
  const t0 = performance.now();
  const tts = (await createTts({ ttsEngine: 'piper', voice: arg('voice'), ttsThreads: threads, ttsWorkers: workers, ttsCacheMb: cacheMb })) as PiperTts;
  const startMs = performance.now() - t0;
  const ready = status();
  const rate = tts.sampleRate;
  // warm-up, uncounted
  for (const s of sentences.slice(0, 2)) for await (const _ of tts.synthesize(s)) void _;

  const out: LoadLevel[] = [];
  let offset = 0;
  for (const clients of levels) {
    const first: number[] = [];
    const total: number[] = [];
    const gaps: number[] = [];
    let audioSec = 0;
    const c0 = { hits: tts.cache.hits, misses: tts.cache.misses, shared: tts.cacheShared };
    const cpu0 = process.cpuUsage();
    const start = performance.now();
    const end = start + seconds * 1000;
    const more = () => performance.now() < end || first.length < minReplies;
    const client = async (k: number) => {
      await new Promise((r) => setTimeout(r, (500 * k) / clients));
      let n = offset + k * 7;
      while (more()) {
        const text = sentences[n++ % sentences.length];
        const t = performance.now();
        let tFirst = -1;
        let played = 0; // audio ms before the chunk that just arrived
        let gap = 0;
        for await (const c of tts.synthesize(text)) {
          const now = performance.now();
          if (tFirst < 0) tFirst = now;
          else {
            const due = tFirst + played + gap; // when the audio before this chunk has played out
            if (now > due) gap += now - due;
          }
          played += (c.length / 2 / rate) * 1000;
        }
        const done = performance.now();
        if (tFirst < 0) continue;
        // replies that began before the end count whole
        first.push(tFirst - t);
        total.push(done - t);
        gaps.push(gap);
        audioSec += played / 1000;
        if (pace === 'play' && clients > 1) await new Promise((r) => setTimeout(r, Math.max(0, tFirst + played + gap - performance.now())));
      }
    };
    await Promise.all(Array.from({ length: clients }, (_, k) => client(k)));
    const wall = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpu0);
    offset += 13;
    out.push({
      clients,
      replies: first.length,
      firstMs: { p50: quantile(first, 0.5), p95: quantile(first, 0.95), max: Math.max(...first) },
      gapped: gaps.filter((g) => g > 20).length,
      gapP95Ms: quantile(gaps, 0.95),
      totalP50Ms: quantile(total, 0.5),
      audioPerSec: audioSec / wall,
      cache: { hits: tts.cache.hits - c0.hits, misses: tts.cache.misses - c0.misses, shared: tts.cacheShared - c0.shared },
      cpu: (cpu.user + cpu.system) / 1e6 / wall,
    });
  }
  await new Promise((r) => setTimeout(r, 1000));
  const after = status();
  const result: LoadResult = { workers, threads, cacheMb, pace, seconds, levels: out, startMs, memory: { beforeMiB: before.rssMiB, readyMiB: ready.rssMiB, afterMiB: after.rssMiB, hwmMiB: after.hwmMiB } };
  await tts.close();
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`tts-load: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
