/**
 * Text queries: POST /v1/query throughput and latency at a fixed concurrency, JSON and spoken (WAV) replies.
 * The questions (bench/questions.ts: every label and its household words in 14 phrasings, > 1,000 distinct)
 * rotate round-robin across all connections under either load generator; a run in which the generator sent
 * fewer than MIN_DISTINCT_QUESTIONS distinct questions (or fewer than it had, in a short run) is an error.
 */
import { runLoad, type LoadResult } from './load.js';
import { stageMeansMs, type BenchServer } from './server.js';
import { benchQuestions } from './questions.js';
import { log } from './util.js';

/** at least this many distinct questions rotate through a run (more than the parse cache holds) */
export const MIN_DISTINCT_QUESTIONS = 1000;

export interface TextRow {
  kind: 'json' | 'wav';
  connections: number;
  /** distinct questions available to the run */
  questions: number;
  load: LoadResult;
  /** server-side mean ms per stage (from /metrics) */
  stages: Record<string, number>;
  peakRssMiB: number;
  /** server CPU while loaded, cores */
  serverCores: number | null;
  /** spoken replies: clause lookups in the synthesiser's cache during the run (hit: not synthesised) */
  ttsCache?: { hit: number; miss: number; shared: number };
}

/** the Piper clause cache's counters in Prometheus text (zeros when absent: another engine, or none) */
export function ttsCacheCounts(text: string): { hit: number; miss: number; shared: number } {
  const v = (r: string) => Number(new RegExp(`^whereabouts_tts_cache_lookups_total\\{result="${r}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { hit: v('hit'), miss: v('miss'), shared: v('shared') };
}

export async function textBench(
  server: BenchServer,
  o: { token: string; labels: readonly string[]; seconds: number; connections: number; wavConnections: number; loader: 'wrk' | 'autocannon'; wav: boolean; cpu: () => number | null },
): Promise<TextRow[]> {
  const rows: TextRow[] = [];
  const bodies = benchQuestions(o.labels, MIN_DISTINCT_QUESTIONS).map((text) => JSON.stringify({ text }));
  const kinds: Array<'json' | 'wav'> = o.wav ? ['json', 'wav'] : ['json'];
  for (const kind of kinds) {
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${o.token}` };
    if (kind === 'wav') headers.accept = 'audio/wav';
    else headers.accept = 'application/json';
    const connections = kind === 'wav' ? o.wavConnections : o.connections;
    const spec = { url: `${server.url}/v1/query`, method: 'POST' as const, headers, bodies, connections, loader: o.loader };
    // sanity check and warm-up
    const probe = await fetch(spec.url, { method: 'POST', headers, body: bodies[0] });
    if (!probe.ok) throw new Error(`text: POST /v1/query answered ${probe.status}: ${await probe.text()}`);
    await probe.arrayBuffer().catch(() => {});
    log(`text: warm-up (${kind})`);
    await runLoad({ ...spec, seconds: 1 });
    const before = await server.metrics();
    server.rss.reset();
    const cpu0 = o.cpu();
    log(`text: ${kind} replies, ${connections} connections, ${o.seconds} s (${o.loader})`);
    const load = await runLoad({ ...spec, seconds: o.seconds });
    const cpu1 = o.cpu();
    // the questions really rotated: every one of them, or (a short or slow run) one per request sent
    const want = Math.min(bodies.length, MIN_DISTINCT_QUESTIONS, load.requests);
    if (load.distinct < want) throw new Error(`text: ${o.loader} sent only ${load.distinct} distinct questions in ${load.requests} requests (wanted ${want})`);
    const peakRssMiB = server.rss.reset();
    const after = await server.metrics();
    rows.push({
      kind,
      connections,
      questions: bodies.length,
      load,
      stages: stageMeansMs(before, after),
      peakRssMiB,
      serverCores: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / load.seconds : null,
      ...(kind === 'wav'
        ? (() => {
            const a = ttsCacheCounts(after);
            const b = ttsCacheCounts(before);
            return { ttsCache: { hit: a.hit - b.hit, miss: a.miss - b.miss, shared: a.shared - b.shared } };
          })()
        : {}),
    });
  }
  return rows;
}
