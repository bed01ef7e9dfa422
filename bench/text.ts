/** Text queries: POST /v1/query throughput and latency at a fixed concurrency, JSON and spoken (WAV) replies. */
import { runLoad, type LoadResult } from './load.js';
import { stageMeansMs, type BenchServer } from './server.js';
import { log } from './util.js';

export const QUESTIONS = [
  'where is my cup',
  'where is my phone',
  'where did I leave my laptop',
  'have you seen my remote',
  'where is my book',
  'where are my scissors',
  'can you find my backpack',
  'where is the bottle',
  'where is my umbrella',
  'where is my handbag',
  'where is my teddy bear',
  'where is my keyboard',
  'where is my mouse',
  'where is the clock',
  'where is my toothbrush',
  'where are my keys', // not detectable: the "I can't recognise keys" reply
];

export interface TextRow {
  kind: 'json' | 'wav';
  connections: number;
  load: LoadResult;
  /** server-side mean ms per stage (from /metrics) */
  stages: Record<string, number>;
  peakRssMiB: number;
  /** server CPU while loaded, cores */
  serverCores: number | null;
}

export async function textBench(
  server: BenchServer,
  o: { token: string; seconds: number; connections: number; wavConnections: number; loader: 'wrk' | 'autocannon'; wav: boolean; cpu: () => number | null },
): Promise<TextRow[]> {
  const rows: TextRow[] = [];
  const bodies = QUESTIONS.map((text) => JSON.stringify({ text }));
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
    const peakRssMiB = server.rss.reset();
    const after = await server.metrics();
    rows.push({
      kind,
      connections,
      load,
      stages: stageMeansMs(before, after),
      peakRssMiB,
      serverCores: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / load.seconds : null,
    });
  }
  return rows;
}
