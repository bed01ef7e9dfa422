/**
 * Voice: WebSocket clients replay spoken questions at real-time pace in 20 ms frames, two ways.
 *
 *  - hands-free: `start`, the clip, then the clip's room goes on (noise of the clip's own colour and level,
 *    protocol/noise.ts: a microphone keeps hearing the same room) until the transcript arrives; no `stop` is ever sent, the server's endpointer decides. Clock: from the moment the
 *    client sent the frame holding the clip's TRUE end of speech (the last voiced 20 ms frame, see
 *    speech-bounds.ts; for the spoken corpus, of the voice in a quiet room, before the condition's noise and
 *    echo: the corpus manifest's `speech`) to the first byte of reply audio.
 *  - push-to-talk: `start` with `endpoint: false`, the whole clip (its own 350 ms tail included, as a
 *    person lets go of the button), `stop`. Clock: from `stop` to the first byte of reply audio.
 *
 * At 1 stream the clips are asked once in order (a deterministic sample of at most 60 when there are more);
 * at more streams each client works through its share of all the clips (every clip at least once per level)
 * and keeps asking until the level's time is up. Clips: the
 * committed fixtures (audio-fixtures/manifest.json; requests and non-requests) and questions with a
 * hesitation before the item (hesitations.ts). An utterance is "cut early" when the server ended it before
 * the clip's last voiced frame had arrived (transcript.heard_ms < end of speech); "misheard" when the
 * transcript lacks the item word (requests) or the reply took a non-request for a request.
 */
import fs from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { parseWav } from '../protocol/wav.js';
import { RoomNoise, type NoiseColour } from '../protocol/noise.js';
import { HESITATIONS, haveEspeak, makeHesitation } from './hesitations.js';
import { mulberry32 } from './seed.js';
import { sampleValue, stageMeansMs, type BenchServer } from './server.js';
import { speechBounds, type SpeechBounds } from './speech-bounds.js';
import { REPO, log, sleep, summarize, type Summary } from './util.js';

export interface Fixture {
  file: string;
  text: string;
  pcm: Buffer;
  sampleRate: number;
  seconds: number;
  /** the item asked for (null: not a request) */
  item: string | null;
  /** the detector label a right answer is about (the spoken corpus says it: "hair dryer" is "hair drier") */
  label?: string | null;
  intent: string | null;
  bounds: SpeechBounds;
  /** made by hesitations.ts */
  hesitation: boolean;
  /** the corpus split ('tune' / 'test'); null for the committed fixtures and the hesitation clips */
  split: string | null;
  /** the clip's room: its noise colour (the corpus condition's; Gaussian for the others) and level */
  room: { colour: NoiseColour; rms: number };
}

type ManifestEntry = { file: string; text: string; category?: string; split?: string; room?: { noise?: string }; speech?: { startMs: number; endMs: number }; expect?: { intent?: string; item?: string | null; label?: string | null } };

/**
 * The committed clips with their speech bounds: audio-fixtures/manifest.json (requests and non-requests) and,
 * when present, the spoken corpus audio-fixtures/corpus/manifest.json (its noise-only clips left out: there
 * is no end of speech to measure from), plus the hesitation clips.
 */
export function loadFixtures(dir = path.join(REPO, 'audio-fixtures'), o: { hesitations?: boolean } = {}): Fixture[] {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as ManifestEntry[];
  const corpusFile = path.join(dir, 'corpus', 'manifest.json');
  if (fs.existsSync(corpusFile)) {
    const corpus = JSON.parse(fs.readFileSync(corpusFile, 'utf8')) as { clips: ManifestEntry[] };
    for (const c of corpus.clips)
      if (c.category !== 'noise')
        manifest.push({ ...c, expect: { item: c.expect?.item ?? null, label: c.expect?.label ?? null, intent: c.category === 'nonrequest' ? 'not_a_request' : 'find_item' } });
  }
  const out: Fixture[] = manifest.map((m) => {
    const w = parseWav(fs.readFileSync(path.join(dir, m.file)));
    if (w.channels !== 1) throw new Error(`${m.file}: not mono`);
    const pcm = Buffer.from(w.data);
    // the corpus says where its speech ends (its quiet-room bounds, made with the clip); the level rule over
    // the mixed clip would take babble bursts after the last word for speech, or lose a weak last consonant
    const bounds = m.speech ? { ...speechBounds(pcm, w.sampleRate), startMs: m.speech.startMs, endMs: m.speech.endMs } : speechBounds(pcm, w.sampleRate);
    return {
      file: m.file,
      text: m.text,
      pcm,
      sampleRate: w.sampleRate,
      seconds: pcm.length / 2 / w.sampleRate,
      item: m.expect?.item ?? null,
      label: m.expect?.label ?? null,
      intent: m.expect?.intent ?? null,
      bounds,
      hesitation: false,
      split: m.split ?? null,
      room: { colour: colourOf(m.room?.noise), rms: roomRms(pcm, w.sampleRate, bounds) },
    };
  });
  if (o.hesitations !== false && haveEspeak())
    for (const h of HESITATIONS) {
      const pcm = makeHesitation(h);
      const bounds = speechBounds(pcm, 16000);
      out.push({ file: `hesitation: ${h.text}`, text: h.text, pcm, sampleRate: 16000, seconds: pcm.length / 32000, item: h.item, intent: 'find_item', bounds, hesitation: true, split: null, room: { colour: 'white', rms: roomRms(pcm, 16000, bounds) } });
    }
  return out;
}

export type VoiceMode = 'hands-free' | 'push-to-talk';

interface Utterance {
  fixture: Fixture;
  /** the mode's clock (see the top of the file) -> first reply audio byte, ms; NaN when no audio came */
  latencyMs: number;
  /** the same clock -> the transcript event, ms */
  transcriptMs: number;
  timings: Record<string, number> | null;
  reason: string | null;
  transcript: string | null;
  /** the reply's words */
  reply: string | null;
  heardMs: number | null;
  cutEarly: boolean;
  misheard: boolean;
  error: string | null;
}

type Ev = { type: string; [k: string]: unknown };
type Got = { e: Ev | 'audio' | 'closed'; at: number };

/** the colour of a clip's room noise (the corpus manifest says it; the committed fixtures' is Gaussian) */
const colourOf = (noise: string | undefined): NoiseColour => (noise === 'pink' || noise === 'babble' ? noise : 'white');

/**
 * The level of a clip's room: the RMS of its samples before the speech (to 40 ms before its start) and after
 * it (from 40 ms after its end), where only the noise is; the level meter's noise floor when that is under
 * 100 ms (babble's quiet frames alone would understate it).
 */
export function roomRms(pcm: Buffer, rate: number, b: SpeechBounds): number {
  const n = pcm.length >> 1;
  const head = Math.max(0, Math.round(((b.startMs - 40) * rate) / 1000));
  const tail = Math.min(n, Math.round(((b.endMs + 40) * rate) / 1000));
  let s = 0;
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (i >= head && i < tail) continue;
    const x = pcm.readInt16LE(i * 2) / 32768;
    s += x * x;
    k++;
  }
  return Math.max(k >= rate / 10 ? Math.sqrt(s / k) : b.noiseRms, 1e-4);
}

/** the room after a clip: the same colour and level, continuous from frame to frame */
export const roomAfter = (f: Fixture, rnd: () => number): RoomNoise => new RoomNoise(f.room.colour, f.room.rms, Math.floor(rnd() * 2 ** 32), f.sampleRate);

/** one connection that asks questions one after another */
class VoiceClient {
  readonly got: Got[] = [];
  private wake: (() => void) | null = null;
  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => this.push(isBinary ? 'audio' : (JSON.parse(data.toString()) as Ev)));
    ws.on('close', () => this.push('closed'));
    ws.on('error', () => this.push('closed'));
  }
  private push(e: Ev | 'audio' | 'closed') {
    this.got.push({ e, at: performance.now() });
    const w = this.wake;
    this.wake = null;
    w?.();
  }
  /** the first event at or after index `from` matching `pred`, waiting up to `ms` */
  async find(from: number, pred: (g: Got) => boolean, ms = 30_000): Promise<{ g: Got; i: number } | null> {
    const deadline = performance.now() + ms;
    for (let i = from; ; ) {
      for (; i < this.got.length; i++) if (pred(this.got[i])) return { g: this.got[i], i };
      const left = deadline - performance.now();
      if (left <= 0) return null;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => (clearTimeout(t), r());
      });
    }
  }
  static async open(url: string, token: string): Promise<VoiceClient> {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    const c = new VoiceClient(ws);
    const r = await c.find(0, () => true, 15_000);
    const e = r?.g.e;
    if (!e || typeof e !== 'object' || e.type !== 'ready') {
      ws.terminate();
      throw new Error(`voice: expected "ready", got ${JSON.stringify(e ?? 'nothing')}`);
    }
    return c;
  }
  close() {
    this.ws.close();
  }
  json(m: unknown) {
    this.ws.send(JSON.stringify(m));
  }
  /** null when the server starts listening; else why not */
  async probe(): Promise<string | null> {
    const from = this.got.length;
    this.json({ type: 'start', sample_rate: 16000 });
    const r = await this.find(from, () => true, 10_000);
    this.json({ type: 'cancel' });
    const e = r?.g.e;
    if (e && typeof e === 'object' && e.type === 'listening') return null;
    return e && typeof e === 'object' ? `${String(e.code ?? e.type)}: ${String(e.message ?? '')}` : String(e ?? 'timeout');
  }

  async ask(f: Fixture, mode: VoiceMode, rnd: () => number): Promise<Utterance> {
    const out: Utterance = { fixture: f, latencyMs: NaN, transcriptMs: NaN, timings: null, reason: null, transcript: null, reply: null, heardMs: null, cutEarly: false, misheard: false, error: null };
    const from = this.got.length;
    this.json({ type: 'start', sample_rate: f.sampleRate, endpoint: mode === 'hands-free' });
    const l = await this.find(from, (g) => g.e !== 'audio', 10_000);
    const le = l?.g.e;
    if (!le || typeof le !== 'object' || le.type !== 'listening') {
      out.error = le && typeof le === 'object' ? String(le.code ?? le.type) : String(le ?? 'timeout');
      return out;
    }
    const frameMs = 20;
    const frameBytes = Math.round((f.sampleRate * frameMs) / 1000) * 2;
    const endFrame = Math.max(0, Math.ceil(f.bounds.endMs / frameMs) - 1);
    const ended = () => this.got.slice(from).some((g) => typeof g.e === 'object' && (g.e.type === 'transcript' || g.e.type === 'error'));
    const t0 = performance.now();
    let tClock = NaN;
    let i = 0;
    const send = async (chunk: Buffer) => {
      const due = t0 + i * frameMs;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      this.ws.send(chunk, { binary: true });
      if (i === endFrame && mode === 'hands-free') tClock = performance.now();
      i++;
    };
    for (let o = 0; o < f.pcm.length; o += frameBytes) {
      if (mode === 'hands-free' && ended()) break;
      await send(f.pcm.subarray(o, o + frameBytes));
    }
    if (mode === 'push-to-talk') {
      this.json({ type: 'stop' });
      tClock = performance.now();
    } else {
      // the microphone keeps going: room noise until the server says it heard the question (at most 8 s)
      const room = roomAfter(f, rnd);
      for (let k = 0; k < 400 && !ended(); k++) await send(room.frame(frameBytes / 2));
      if (!ended()) this.json({ type: 'stop' });
    }
    for (let k = from; ; k++) {
      const r = await this.find(k, () => true, 30_000);
      if (!r) {
        out.error = 'timeout';
        return out;
      }
      k = r.i;
      const { e, at } = r.g;
      if (e === 'audio') {
        if (Number.isNaN(out.latencyMs)) out.latencyMs = at - tClock;
        continue;
      }
      if (e === 'closed') {
        out.error = 'closed';
        return out;
      }
      if (e.type === 'transcript') {
        out.transcript = String(e.text);
        out.reason = String(e.reason);
        out.transcriptMs = at - tClock;
        out.heardMs = typeof e.heard_ms === 'number' ? e.heard_ms : null;
        // ended before the last voiced frame had arrived: by the server's own count, else by the clock
        out.cutEarly = out.heardMs !== null ? out.heardMs < f.bounds.endMs : Number.isNaN(tClock) || at < tClock;
      } else if (e.type === 'reply') {
        out.timings = e.timings as Record<string, number>;
        out.reply = typeof e.text === 'string' ? e.text : null;
        // misheard: the answer is about another thing (by its label where the clip says which), or the words lack the item
        if (f.label) out.misheard = e.label !== f.label;
        else if (f.item) {
          const word = f.item.split(' ').pop()!.replace(/s$/, '');
          out.misheard = !(out.transcript ?? '').includes(word);
        } else if (f.intent === 'not_a_request') out.misheard = e.intent !== 'not_a_request';
      } else if (e.type === 'done') {
        return out;
      } else if (e.type === 'error') {
        out.error = String(e.code);
        return out;
      }
    }
  }
}

export interface VoiceRow {
  mode: VoiceMode;
  streams: number;
  utterances: number;
  errors: Record<string, number>;
  /** the mode's clock to the first reply audio byte (utterances not cut early, with audio) */
  latencyMs: Summary;
  /** the mode's clock to the transcript */
  transcriptMs: Summary;
  /** utterances the server heard again with its second recogniser (unsure ones; the reply waited for it) */
  looked: number;
  /** latencyMs over the utterances without a second look */
  latencyNoLookMs: Summary;
  /** reply timings (server side), mean ms */
  serverMs: Record<string, number>;
  metricStagesMs: Record<string, number>;
  serverRtf: number;
  /** utterances the server ended itself */
  endpointed: number;
  cutEarly: number;
  /** which clips were cut early */
  cutEarlyClips: string[];
  misheard: number;
  misheardClips: string[];
  /** the five slowest answers (first reply audio), to see where their time went */
  slowest: Array<{ clip: string; latencyMs: number; transcriptMs: number; timings: Record<string, number> | null; transcript: string | null; reply: string | null }>;
  /** utterances of hesitation clips */
  hesitations: number;
  peakRssMiB: number;
  serverCores: number | null;
  /** the speech synthesiser's clause cache during the level: hits (and shared) / lookups; null when not counted */
  ttsCacheHitRate: number | null;
}

/** the TTS clause cache's hit rate between two /metrics texts (hits and shared syntheses count as hits) */
function cacheHitRate(before: string, after: string): number | null {
  const n = (t: string, r: string) => sampleValue(t, `whereabouts_tts_cache_lookups_total\\{result="${r}"\\}`);
  const d = (r: string) => n(after, r) - n(before, r);
  const hits = d('hit') + d('shared');
  const all = hits + d('miss');
  return Number.isFinite(all) && all > 0 ? hits / all : null;
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
  o: {
    tokens: string[];
    fixtures: Fixture[];
    levels: number[];
    modes: VoiceMode[];
    secondsPerLevel: number;
    cpu: () => number | null;
    log?: (m: string) => void;
    /** clips asked at one stream (a deterministic sample; default 60) */
    oneStreamClips?: number;
  },
): Promise<VoiceRow[]> {
  const url = server.url.replace(/^http/, 'ws') + '/v1/listen';
  const rows: VoiceRow[] = [];
  const rnd = mulberry32(3);
  {
    // warm-up: one question each way
    const c = await VoiceClient.open(url, o.tokens[0]);
    for (const m of o.modes) await c.ask(o.fixtures[0], m, rnd);
    c.close();
  }
  for (const mode of o.modes)
    for (const streams of o.levels) {
      log(`voice: ${mode}, ${streams} concurrent streams`);
      const clients = await Promise.all(Array.from({ length: streams }, (_, i) => VoiceClient.open(url, o.tokens[i % o.tokens.length])));
      const before = await server.metrics();
      server.rss.reset();
      const cpu0 = o.cpu();
      const t0 = performance.now();
      const until = t0 + o.secondsPerLevel * 1000;
      const results: Utterance[] = [];
      await Promise.all(
        clients.map(async (c, ci) => {
          const crnd = mulberry32(100 + ci);
          await sleep(crnd() * 2000 * Math.min(1, (streams - 1) / 3)); // stagger, so streams do not run in lockstep
          // one stream: a deterministic sample of at most 60 clips in order; more: every clip, shared out
          const step = streams === 1 ? Math.max(1, Math.ceil(o.fixtures.length / (o.oneStreamClips ?? 60))) : 1;
          const share = o.fixtures.filter((_, k) => k % step === 0).filter((_, k) => k % streams === ci);
          let k = 0;
          // every clip of the share once, then more until the time is up
          while (k < share.length || (streams > 1 && performance.now() < until)) {
            const f = share.length ? share[k++ % share.length] : o.fixtures[k++ % o.fixtures.length];
            results.push(await c.ask(f, mode, crnd));
            await sleep(100 + crnd() * 200);
          }
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
      const cut = good.filter((r) => r.cutEarly);
      const mis = good.filter((r) => r.misheard);
      rows.push({
        mode,
        streams,
        utterances: results.length,
        errors,
        latencyMs: summarize(good.filter((r) => !r.cutEarly && Number.isFinite(r.latencyMs)).map((r) => r.latencyMs)),
        transcriptMs: summarize(good.filter((r) => !r.cutEarly && Number.isFinite(r.transcriptMs)).map((r) => r.transcriptMs)),
        looked: good.filter((r) => r.timings?.second_look_ms !== undefined).length,
        latencyNoLookMs: summarize(good.filter((r) => !r.cutEarly && Number.isFinite(r.latencyMs) && r.timings?.second_look_ms === undefined).map((r) => r.latencyMs)),
        serverMs,
        metricStagesMs: stageMeansMs(before, after),
        serverRtf:
          (sampleValue(after, 'whereabouts_asr_cpu_seconds_total') - sampleValue(before, 'whereabouts_asr_cpu_seconds_total')) /
          (sampleValue(after, 'whereabouts_asr_audio_seconds_total') - sampleValue(before, 'whereabouts_asr_audio_seconds_total')),
        endpointed: good.filter((r) => r.reason === 'endpoint').length,
        cutEarly: cut.length,
        cutEarlyClips: [...new Set(cut.map((r) => `${r.fixture.file} (heard ${r.heardMs} of ${r.fixture.bounds.endMs} ms: "${r.transcript}")`))],
        misheard: mis.length,
        misheardClips: [...new Set(mis.map((r) => `${r.fixture.file}: "${r.transcript}"`))],
        slowest: good
          .filter((r) => !r.cutEarly && Number.isFinite(r.latencyMs))
          .sort((a, b) => b.latencyMs - a.latencyMs)
          .slice(0, 5)
          .map((r) => ({ clip: r.fixture.file, latencyMs: Math.round(r.latencyMs), transcriptMs: Math.round(r.transcriptMs), timings: r.timings, transcript: r.transcript, reply: r.reply })),
        hesitations: good.filter((r) => r.fixture.hesitation).length,
        peakRssMiB,
        serverCores: cpu0 !== null && cpu1 !== null ? (cpu1 - cpu0) / seconds : null,
        ttsCacheHitRate: cacheHitRate(before, after),
      });
      const row = rows.at(-1)!;
      o.log?.(`  ${row.utterances} utterances, p50 ${row.latencyMs.p50.toFixed(0)} ms, p95 ${row.latencyMs.p95.toFixed(0)} ms (${row.looked} second looks; without: p95 ${row.latencyNoLookMs.p95.toFixed(0)} ms), cut early ${row.cutEarly}, misheard ${row.misheard}, errors ${JSON.stringify(errors)}, tts cache hits ${row.ttsCacheHitRate === null ? '-' : (row.ttsCacheHitRate * 100).toFixed(0) + ' %'}`);
      for (const w of row.slowest) o.log?.(`    slow: ${w.latencyMs} ms (transcript ${w.transcriptMs} ms, ${JSON.stringify(w.timings)}) ${w.clip}: "${w.transcript}" -> "${w.reply}"`);
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
