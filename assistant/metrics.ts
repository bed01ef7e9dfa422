/**
 * Prometheus metrics: one registry for the process, the metric objects, and small recording functions so
 * any module (routes, pools, the voice socket) can record without importing prom-client itself.
 * `GET /metrics` (plugins/metrics.ts) serves `registry` in the Prometheus text format.
 *
 * What is recorded:
 * - `whereabouts_stage_seconds{stage}`: one histogram for every pipeline stage (asr, nlp, lookup, tts,
 *   decode, letterbox, inference, store, ...), buckets from 0.1 ms to 5 s: `observeStage(stage, ms)`, or
 *   `observeTimings({asr_ms, nlp_ms, ...})` for the timings objects the routes already build.
 * - `whereabouts_http_requests_total{method,route,status}` and `whereabouts_http_request_duration_seconds`
 *   (plugins/metrics.ts), `whereabouts_errors_total{code,transport}`: `countError(code, 'ws')` for the socket.
 * - `whereabouts_queries_total{source,outcome}`: `recordQuery(source, outcome, timings)`.
 * - `whereabouts_frames_total`, `whereabouts_sightings_total`: `countFrame()`, `countSightings(n)`, or
 *   `recordFrame(detectTimings, storeMs, totalMs, sightings)` for all of a frame (stages `frame` = whole request).
 * - `whereabouts_voice_streams_active`: `const done = voiceStreamOpened(); ... done()` (idempotent).
 * - `whereabouts_voice_utterance_ends_total{reason,words}`: why utterances ended (stop, max_length, or the
 *   server's endpoint with the class of the words it ended on: complete ... incomplete): `countUtteranceEnd`;
 *   `whereabouts_voice_flushes_total`: the recogniser asked for its final words early (`countFlush`).
 * - `whereabouts_asr_audio_seconds_total`, `whereabouts_asr_cpu_seconds_total`: `countAsr(audioSeconds, cpuMs)`.
 * - `whereabouts_worker_queue_depth{pool}`, `whereabouts_worker_busy{pool}`: `setQueueDepth(pool, n)`, or
 *   pull-style `reportPool(pool, () => ({ queued, busy }))` read at scrape time (returns an unregister fn).
 * - `whereabouts_tts_cache_lookups_total{result}` (hit, miss, shared) and `whereabouts_tts_cache_bytes`: the
 *   Piper cache of clause audio, read at scrape time (`reportTtsCache(() => ({ hit, miss, shared }))`, speech.ts).
 * - `registerGauge(name, help, () => number)`: any other gauge read at scrape time.
 * - Node's default process metrics (RSS, heap, event-loop lag, GC, handles), unprefixed as usual.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** seconds: 0.1 ms .. 5 s, roughly 1-2.5-5 per decade */
export const STAGE_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

export type Stage =
  | 'asr'
  | 'nlp'
  | 'lookup'
  | 'tts'
  | 'decode'
  | 'letterbox'
  | 'preprocess'
  | 'inference'
  | 'postprocess'
  | 'store'
  | 'total'
  | (string & {});

export const stageSeconds = new Histogram({
  name: 'whereabouts_stage_seconds',
  help: 'time spent in each pipeline stage (asr, nlp, lookup, tts, decode, inference, store, ...)',
  labelNames: ['stage'] as const,
  buckets: STAGE_BUCKETS,
  registers: [registry],
});

export const httpRequests = new Counter({
  name: 'whereabouts_http_requests_total',
  help: 'HTTP requests answered, by route pattern and status',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [registry],
});

export const httpDuration = new Histogram({
  name: 'whereabouts_http_request_duration_seconds',
  help: 'HTTP request duration, by route pattern',
  labelNames: ['method', 'route'] as const,
  buckets: STAGE_BUCKETS,
  registers: [registry],
});

export const errors = new Counter({
  name: 'whereabouts_errors_total',
  help: 'errors returned to clients, by error code and transport (http or ws)',
  labelNames: ['code', 'transport'] as const,
  registers: [registry],
});

export const queries = new Counter({
  name: 'whereabouts_queries_total',
  help: 'questions answered, by source (text or voice) and outcome',
  labelNames: ['source', 'outcome'] as const,
  registers: [registry],
});

export const frames = new Counter({
  name: 'whereabouts_frames_total',
  help: 'camera frames analysed',
  registers: [registry],
});

export const sightings = new Counter({
  name: 'whereabouts_sightings_total',
  help: 'sightings recorded (new rows and refreshed ones)',
  registers: [registry],
});

export const asrAudioSeconds = new Counter({
  name: 'whereabouts_asr_audio_seconds_total',
  help: 'seconds of speech decoded by the recogniser',
  registers: [registry],
});

export const asrCpuSeconds = new Counter({
  name: 'whereabouts_asr_cpu_seconds_total',
  help: 'recogniser worker time spent decoding (divide by whereabouts_asr_audio_seconds_total: the real-time factor)',
  registers: [registry],
});

export const voiceStreams = new Gauge({
  name: 'whereabouts_voice_streams_active',
  help: 'voice WebSocket streams currently open',
  registers: [registry],
});

export const utteranceEnds = new Counter({
  name: 'whereabouts_voice_utterance_ends_total',
  help: "voice utterances ended: reason stop (push-to-talk), max_length, or endpoint (the server's endpointer; words: the class of the words it ended on, complete / prefix / unsure / statement / trailing / incomplete)",
  labelNames: ['reason', 'words'],
  registers: [registry],
});

export const voiceFlushes = new Counter({
  name: 'whereabouts_voice_flushes_total',
  help: 'hands-free: the recogniser asked for its final words early (unfinished or trailing words gone quiet)',
  registers: [registry],
});

/** an utterance ended (`words`: the class of the words the server's endpointer ended on; null otherwise) */
export function countUtteranceEnd(reason: string, words: string | null): void {
  utteranceEnds.inc({ reason, words: words ?? 'none' });
}

export function countFlush(): void {
  voiceFlushes.inc();
}

// ---- worker pools: pushed values, or pulled at scrape time ----------------------------------------------

interface PoolReading {
  queued: number;
  busy?: number;
}
const pushedDepth = new Map<string, number>();
const pulledPools = new Map<string, () => PoolReading>();

export const queueDepth = new Gauge({
  name: 'whereabouts_worker_queue_depth',
  help: 'jobs waiting for a worker, by pool (vision, asr, tts)',
  labelNames: ['pool'] as const,
  registers: [registry],
  collect() {
    for (const [pool, n] of pushedDepth) if (!pulledPools.has(pool)) this.set({ pool }, n);
    for (const [pool, read] of pulledPools) {
      try {
        this.set({ pool }, read().queued);
      } catch {
        /* a pool that cannot report is left out of this scrape */
      }
    }
  },
});

export const workersBusy = new Gauge({
  name: 'whereabouts_worker_busy',
  help: 'workers running a job, by pool',
  labelNames: ['pool'] as const,
  registers: [registry],
  collect() {
    for (const [pool, read] of pulledPools) {
      try {
        const b = read().busy;
        if (b !== undefined) this.set({ pool }, b);
      } catch {
        /* ignored */
      }
    }
  },
});

// ---- the speech synthesiser's cache of clause audio: read at scrape time ----------------------------------

interface TtsCacheReading {
  hit: number;
  miss: number;
  shared: number;
}
let ttsCacheRead: (() => TtsCacheReading) | null = null;

export const ttsCacheLookups = new Counter({
  name: 'whereabouts_tts_cache_lookups_total',
  help: 'clauses of spoken replies looked up in the cache of synthesised audio: hit (no synthesis), miss (synthesised), shared (a miss that waited for the same clause already being synthesised for another reply)',
  labelNames: ['result'] as const,
  registers: [registry],
  collect() {
    if (!ttsCacheRead) return;
    try {
      const r = ttsCacheRead();
      this.reset();
      this.inc({ result: 'hit' }, r.hit);
      this.inc({ result: 'miss' }, r.miss);
      this.inc({ result: 'shared' }, r.shared);
    } catch {
      /* ignored */
    }
  },
});

/** pull-style: the synthesiser's cache counters, read at every scrape. Returns the unregister function. */
export function reportTtsCache(read: () => TtsCacheReading): () => void {
  ttsCacheRead = read;
  return () => {
    if (ttsCacheRead === read) {
      ttsCacheRead = null;
      ttsCacheLookups.reset();
    }
  };
}

// ---- recording functions ---------------------------------------------------------------------------------

/** records one stage duration, in milliseconds */
export function observeStage(stage: Stage, ms: number): void {
  if (Number.isFinite(ms) && ms >= 0) stageSeconds.observe({ stage }, ms / 1000);
}

/** records every `<stage>_ms` entry of a timings object ({asr_ms, nlp_ms, lookup_ms, tts_ms, ...}) */
export function observeTimings(timings: object): void {
  for (const [k, v] of Object.entries(timings)) if (typeof v === 'number' && k.endsWith('_ms')) observeStage(k.slice(0, -3), v);
}

/** one answered question: counts it by source and outcome and records its stage timings */
export function recordQuery(source: 'text' | 'voice', outcome: string, timings?: object): void {
  queries.inc({ source, outcome });
  if (timings) observeTimings(timings);
}

/**
 * one analysed camera frame: the detector's stage timings ({decode_ms, letterbox_ms, inference_ms,
 * postprocess_ms}), the time to store it, the whole request, and the sightings it produced
 */
export function recordFrame(detect: object, storeMs: number, totalMs: number, sightingCount: number): void {
  observeTimings(detect);
  observeStage('store', storeMs);
  observeStage('frame', totalMs);
  frames.inc();
  countSightings(sightingCount);
}

export function countError(code: string, transport: 'http' | 'ws' = 'http'): void {
  errors.inc({ code, transport });
}

export function countFrame(n = 1): void {
  frames.inc(n);
}

export function countSightings(n: number): void {
  if (n > 0) sightings.inc(n);
}

/** one recognised utterance: its audio length and the worker CPU it took (AsrResult.audioSeconds, .cpuMs) */
export function countAsr(audioSeconds: number, cpuMs: number): void {
  if (audioSeconds > 0) asrAudioSeconds.inc(audioSeconds);
  if (cpuMs > 0) asrCpuSeconds.inc(cpuMs / 1000);
}

/** call when a voice stream opens; call the returned function (any number of times) when it ends */
export function voiceStreamOpened(): () => void {
  voiceStreams.inc();
  let open = true;
  return () => {
    if (open) {
      open = false;
      voiceStreams.dec();
    }
  };
}

/** push-style: the pool sets its queue depth whenever it changes */
export function setQueueDepth(pool: string, n: number): void {
  pushedDepth.set(pool, n);
  queueDepth.set({ pool }, n);
}

/** pull-style: read at every scrape. Returns a function that unregisters the pool (call it on close). */
export function reportPool(pool: string, read: () => PoolReading): () => void {
  pulledPools.set(pool, read);
  return () => {
    if (pulledPools.get(pool) === read) {
      pulledPools.delete(pool);
      queueDepth.remove({ pool });
      workersBusy.remove({ pool });
    }
  };
}

const extraGauges = new Map<string, { gauge: Gauge; read: () => number }>();

/**
 * A gauge read at scrape time (`name` is used as given; prefix it with `whereabouts_`). Registering the
 * same name again replaces the reader. Returns a function that unregisters it.
 */
export function registerGauge(name: string, help: string, read: () => number): () => void {
  let e = extraGauges.get(name);
  if (e) e.read = read;
  else {
    const entry = { read, gauge: undefined as unknown as Gauge };
    entry.gauge = new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        try {
          this.set(entry.read());
        } catch {
          /* ignored */
        }
      },
    });
    extraGauges.set(name, entry);
    e = entry;
  }
  const mine = read;
  return () => {
    const cur = extraGauges.get(name);
    if (cur && cur.read === mine) {
      registry.removeSingleMetric(name);
      extraGauges.delete(name);
    }
  };
}
