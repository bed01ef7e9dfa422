/**
 * Voice: WebSocket clients replay the audio fixtures (audio-fixtures/manifest.json) at real-time pace in
 * 20 ms frames, then send stop; the latency is from the last audio frame to the first byte of reply audio.
 * Run at 1, 4, 8 and 16 concurrent streams. The ASR real-time factor is measured apart: the fixtures decoded
 * as fast as one recogniser worker can (worker CPU ms / audio ms).
 */
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { parseWav } from '../protocol/wav.js';
import { mulberry32 } from './seed.js';
import { sampleValue, stageMeansMs, type BenchServer } from './server.js';
import { REPO, log, sleep, summarize, type Summary } from './util.js';

export interface Fixture {
  file: string;
  text: string;
  pcm: Buffer;
  sampleRate: number;
  seconds: number;
}

export function loadFixtures(dir = path.join(REPO, 'audio-fixtures')): Fixture[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Array<{ file: string; text: string; expect?: { intent?: string } }>;
  return manifest
    .filter((m) => m.expect?.intent === 'find_item')
    .map((m) => {
      const w = parseWav(fs.readFileSync(path.join(dir, m.file)));
      if (w.channels !== 1) throw new Error(`${m.file}: not mono`);
      return { file: m.file, text: m.text, pcm: Buffer.from(w.data), sampleRate: w.sampleRate, seconds: w.data.length / 2 / w.sampleRate };
    });
}

interface Utterance {
  /** last audio frame sent -> first reply audio byte (or `done` when no audio comes), ms */
  latencyMs: number;
  /** last audio frame -> reply event, ms */
  replyMs: number;
  timings: Record<string, number> | null;
  reason: string | null;
  transcript: string | null;
  error: string | null;
}

type Ev = { type: string; [k: string]: unknown };
/** an event and when it arrived (performance.now()) */
type Got = { e: Ev | 'audio' | 'closed'; at: number };

/** one connection that answers utterances one after another */
class VoiceClient {
  private waiters: Array<(g: Got) => void> = [];
  private backlog: Got[] = [];
  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const e: Ev | 'audio' = isBinary ? 'audio' : (JSON.parse(data.toString()) as Ev);
      this.push(e);
    });
    ws.on('close', () => this.push('closed'));
    ws.on('error', () => this.push('closed'));
  }
  private push(e: Ev | 'audio' | 'closed') {
    const g = { e, at: performance.now() };
    const w = this.waiters.shift();
    if (w) w(g);
    else this.backlog.push(g);
  }
  /** the next event with its arrival time */
  nextAt(timeoutMs = 30_000): Promise<Got | { e: 'timeout'; at: number }> {
    const b = this.backlog.shift();
    if (b) return Promise.resolve(b);
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        const i = this.waiters.indexOf(fn);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve({ e: 'timeout', at: performance.now() });
      }, timeoutMs);
      const fn = (g: Got) => {
        clearTimeout(t);
        resolve(g);
      };
      this.waiters.push(fn);
    });
  }
  async next(timeoutMs = 30_000): Promise<Ev | 'audio' | 'closed' | 'timeout'> {
    return (await this.nextAt(timeoutMs)).e;
  }
  static async open(url: string, token: string): Promise<VoiceClient> {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    const c = new VoiceClient(ws);
    const first = await c.next(15_000);
    if (typeof first !== 'object' || first.type !== 'ready') {
      ws.terminate();
      throw new Error(`voice: expected "ready", got ${JSON.stringify(first)}`);
    }
    return c;
  }
  close() {
    this.ws.close();
  }
  /** null when the server starts listening; else why not */
  async probe(): Promise<string | null> {
    this.ws.send(JSON.stringify({ type: 'start', sample_rate: 16000 }));
    const e = await this.next(10_000);
    if (typeof e === 'object' && e.type === 'listening') return null;
    return typeof e === 'object' ? `${String(e.code ?? e.type)}: ${String(e.message ?? '')}` : e;
  }

  async utterance(f: Fixture, frameMs = 20): Promise<Utterance> {
    const out: Utterance = { latencyMs: NaN, replyMs: NaN, timings: null, reason: null, transcript: null, error: null };
    this.ws.send(JSON.stringify({ type: 'start', sample_rate: f.sampleRate }));
    const l = await this.next(10_000);
    if (typeof l !== 'object' || l.type !== 'listening') {
      out.error = typeof l === 'object' ? String(l.code ?? l.type) : l;
      return out;
    }
    const frameBytes = Math.round((f.sampleRate * frameMs) / 1000) * 2;
    const t0 = performance.now();
    let i = 0;
    for (let o = 0; o < f.pcm.length; o += frameBytes, i++) {
      const due = t0 + i * frameMs;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      this.ws.send(f.pcm.subarray(o, o + frameBytes), { binary: true });
    }
    const tLast = performance.now();
    this.ws.send(JSON.stringify({ type: 'stop' }));
    for (;;) {
      // arrival times: with server-side endpointing the reply can arrive while audio is still being sent
      const { e, at: now } = await this.nextAt(30_000);
      if (e === 'audio') {
        if (Number.isNaN(out.latencyMs)) out.latencyMs = Math.max(0, now - tLast);
        continue;
      }
      if (e === 'closed' || e === 'timeout') {
        out.error = e;
        return out;
      }
      if (e.type === 'partial' || e.type === 'audio') continue;
      if (e.type === 'transcript') {
        out.transcript = String(e.text);
        out.reason = String(e.reason);
      } else if (e.type === 'reply') {
        out.replyMs = Math.max(0, now - tLast);
        out.timings = e.timings as Record<string, number>;
      } else if (e.type === 'done') {
        if (Number.isNaN(out.latencyMs)) out.latencyMs = Math.max(0, now - tLast);
        return out;
      } else if (e.type === 'error') {
        out.error = String(e.code);
        return out;
      }
    }
  }
}

export interface VoiceRow {
  streams: number;
  utterances: number;
  errors: Record<string, number>;
  latencyMs: Summary;
  /** the same, only utterances that the client's stop ended (the server's endpointer had not fired) */
  latencyStopMs: Summary;
  replyMs: Summary;
  /** reply timings (server side), mean ms */
  serverMs: Record<string, number>;
  metricStagesMs: Record<string, number>;
  /** recogniser worker CPU / audio decoded while loaded (from /metrics; NaN when the route does not count it) */
  serverRtf: number;
  /** utterances the server ended itself (endpoint) before the client's stop */
  endpointed: number;
  /** transcripts that missed the fixture's item word */
  misheard: number;
  peakRssMiB: number;
  serverCores: number | null;
}

export async function voiceAvailable(server: BenchServer, token: string): Promise<string | null> {
  try {
    const c = await VoiceClient.open(server.url.replace(/^http/, 'ws') + '/v1/listen', token);
    const probe = await c.probe();
    c.close();
    return probe;
  } catch (e) {
    const r = await fetch(server.url + '/v1/listen').catch(() => null);
    if (r && r.status === 404) return 'the /v1/listen route is not registered in this build';
    return (e as Error).message;
  }
}

export async function voiceBench(
  server: BenchServer,
  o: { tokens: string[]; fixtures: Fixture[]; levels: number[]; secondsPerLevel: number; cpu: () => number | null },
): Promise<VoiceRow[]> {
  const url = server.url.replace(/^http/, 'ws') + '/v1/listen';
  const rows: VoiceRow[] = [];
  const rnd = mulberry32(3);
  // warm-up: one utterance
  {
    const c = await VoiceClient.open(url, o.tokens[0]);
    await c.utterance(o.fixtures[0]);
    c.close();
  }
  for (const streams of o.levels) {
    log(`voice: ${streams} concurrent streams, ${o.secondsPerLevel} s`);
    const clients = await Promise.all(Array.from({ length: streams }, (_, i) => VoiceClient.open(url, o.tokens[i % o.tokens.length])));
    const before = await server.metrics();
    server.rss.reset();
    const cpu0 = o.cpu();
    const t0 = performance.now();
    const until = t0 + o.secondsPerLevel * 1000;
    const results: Utterance[] = [];
    const fixtureOf: Fixture[] = [];
    await Promise.all(
      clients.map(async (c, ci) => {
        await sleep(rnd() * 2000 * Math.min(1, (streams - 1) / 3)); // stagger, so streams do not run in lockstep
        let k = ci * 5;
        do {
          const f = o.fixtures[k++ % o.fixtures.length];
          results.push(await c.utterance(f));
          fixtureOf.push(f);
          await sleep(100 + rnd() * 200);
        } while (performance.now() < until);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = o.cpu();
    const peakRssMiB = server.rss.reset();
    const after = await server.metrics();
    for (const c of clients) c.close();
    const good = results.filter((r) => !r.error);
    const errors: Record<string, number> = {};
    for (const r of results) if (r.error) errors[r.error] = (errors[r.error] ?? 0) + 1;
    const serverMs: Record<string, number> = {};
    for (const r of good) for (const [k, v] of Object.entries(r.timings ?? {})) serverMs[k.replace(/_ms$/, '')] = (serverMs[k.replace(/_ms$/, '')] ?? 0) + v / good.length;
    let misheard = 0;
    results.forEach((r, i) => {
      if (r.error) return;
      const item = fixtureOf[i].text.split(' ').pop()!.replace(/s$/, '');
      if (!(r.transcript ?? '').includes(item)) misheard++;
    });
    rows.push({
      streams,
      utterances: results.length,
      errors,
      latencyMs: summarize(good.map((r) => r.latencyMs)),
      latencyStopMs: summarize(good.filter((r) => r.reason === 'stop').map((r) => r.latencyMs)),
      replyMs: summarize(good.map((r) => r.replyMs).filter((x) => Number.isFinite(x))),
      serverMs,
      metricStagesMs: stageMeansMs(before, after),
      serverRtf:
        (sampleValue(after, 'whereabouts_asr_cpu_seconds_total') - sampleValue(before, 'whereabouts_asr_cpu_seconds_total')) /
        (sampleValue(after, 'whereabouts_asr_audio_seconds_total') - sampleValue(before, 'whereabouts_asr_audio_seconds_total')),
      endpointed: good.filter((r) => r.reason === 'endpoint').length,
      misheard,
      peakRssMiB,
      serverCores: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / seconds : null,
    });
  }
  return rows;
}

/** the ASR real-time factor: every fixture decoded as fast as one worker can, worker CPU / audio duration */
export async function asrRealTimeFactor(o: { modelsDir: string; asrModel: string; labels: readonly string[]; fixtures: Fixture[] }): Promise<{ rtf: number; audioSeconds: number; cpuSeconds: number; wallRtf: number }> {
  const { createAsr } = await import('../assistant/asr/index.js');
  const { LabelBook } = await import('../assistant/labels.js');
  const v = new LabelBook(o.labels).vocabulary;
  const asr = await createAsr({ modelsDir: o.modelsDir, asrModel: o.asrModel, asrEngine: 'vosk', asrWorkers: 1, maxStreams: 1, logLevel: 'warn' }, v.phrases(), { preferred: v.labels });
  try {
    let audio = 0;
    let cpu = 0;
    let wall = 0;
    for (const f of o.fixtures) {
      const s = asr.open(f.sampleRate);
      const t = performance.now();
      s.write(f.pcm);
      const r = await s.finish();
      wall += performance.now() - t;
      audio += r.audioSeconds;
      cpu += r.cpuMs / 1000;
    }
    return { rtf: cpu / audio, audioSeconds: audio, cpuSeconds: cpu, wallRtf: wall / 1000 / audio };
  } finally {
    await asr.close();
  }
}
