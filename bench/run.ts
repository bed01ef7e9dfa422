/**
 * `npm run bench`: starts a server on a temporary data folder, loads it, prints a markdown table and writes
 * the figures as JSON under bench/results/ (git-ignored). See docs/benchmarks.md.
 *
 *   node dist/bench/run.js [--quick] [--only voice,text,frames,lookup] [--loader wrk|autocannon] ...
 *   node dist/bench/run.js --help      (every option: BENCH_SETTINGS below, in the server's settings form)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { manifestLabels } from '../assistant/app.js';
import { SQLITE_FILE } from '../store/index.js';
import { loadConfig, SETTINGS } from '../assistant/config.js';
import { bool, choice, ConfigError, int, list, num, parseSettings, settingsHelp, str } from '../assistant/settings.js';
import { haveWrk } from './load.js';
import { lookupBench, lookupPostgres, type LookupRow } from './lookup.js';
import { seedPostgres, seedSqlite, type SeedResult } from './seed.js';
import { sampleValue, startServer, type BenchServer } from './server.js';
import { textBench, type TextRow } from './text.js';
import { framesBench, makeImages, type FramesRow } from './frames.js';
import { asrRealTimeFactor, loadFixtures, voiceAvailable, voiceBench, type VoiceRow } from './voice.js';
import { ttsBench, ttsReport, type TtsResult } from './tts.js';
import { inferenceAlone, modelFlops, peakGflops } from './onnx.js';
import { recognitionBench, recognitionReport, type RecognitionResult } from './recognition.js';
import { endpointSection, endpointSectionReport, type EndpointSection } from './endpoint.js';
import { piVadSection, piVadSectionReport, type PiVadSection } from './pi-vad.js';
import { formatProfile, summarizeProfile } from './cpuprofile.js';
import { REPO, fmt, log, machine, procCpuSeconds, procMemory, sleep, table, type Machine, type Summary } from './util.js';

const SECTIONS = ['voice', 'text', 'frames', 'lookup', 'recognition', 'endpoint', 'pi-vad', 'tts'] as const;
type Section = (typeof SECTIONS)[number];

interface Args {
  quick: boolean;
  only: Set<Section>;
  modelsDir: string;
  database: string;
  images: string | null;
  loader: 'wrk' | 'autocannon';
  sightings: number;
  /** connections for the JSON text-query load */
  connections: number;
  seconds: number;
  out: string;
  keep: boolean;
  note: string;
  /** folder for the server's V8 CPU profile (node --cpu-prof), summarised at the end */
  cpuProf: string;
  /** extra environment for the server (--env K=V, repeatable), e.g. MALLOC_ARENA_MAX=2 */
  env: Record<string, string>;
  /** extra server flags (--server-arg=--asr-workers=1, repeatable) */
  serverArgs: string[];
}

const dir = { placeholder: 'DIR', env: false as const, map: (v: string) => (v ? path.resolve(v) : v) };

/** the bench's flags, in the server's settings form (models-dir and database are the server's own settings) */
const BENCH_SETTINGS = {
  quick: bool(false, 'a short run: smaller store, fewer seconds', { env: false }),
  only: str(SECTIONS.join(','), 'sections to run, comma-separated', {
    placeholder: SECTIONS.join(','),
    env: false,
    check: (v) => {
      const bad = v.split(',').map((x) => x.trim()).filter((x) => x && !(SECTIONS as readonly string[]).includes(x));
      return bad.length ? `must list sections from ${SECTIONS.join(', ')}` : null;
    },
  }),
  modelsDir: { ...SETTINGS.modelsDir, def: () => path.join(REPO, 'models', 'files') },
  database: SETTINGS.database,
  images: str('', 'photos for the frames section (default: ../shared/images when present, else generated images)', dir),
  loader: choice(haveWrk() ? 'wrk' : 'autocannon', ['wrk', 'autocannon'], 'HTTP load generator for the text section', { env: false }),
  sightings: int(0, 'sightings to seed (0: 100,000 quick, 1,000,000 full)', { min: 0, env: false }),
  connections: int(16, 'connections for the text-query load', { min: 1, max: 1024, env: false }),
  seconds: num(0, 'seconds per load step (0: 3 quick, 10 full)', { min: 0, env: false }),
  out: str('', 'write the JSON results to FILE (default bench/results/<time>.json)', { ...dir, placeholder: 'FILE' }),
  keep: bool(false, 'keep the temporary data folder', { env: false }),
  note: str('', 'a note printed with the results', { env: false }),
  cpuProf: str('', 'profile the server with node --cpu-prof into DIR and print the top functions', dir),
  env: list('server environment for A/B runs, NAME=VALUE', { placeholder: 'NAME=VALUE', check: (v) => (v.every((kv) => kv.indexOf('=') > 0) ? null : 'takes NAME=VALUE') }),
  serverArg: list('an extra server flag for A/B runs, e.g. --server-arg=--asr-workers=1', { placeholder: 'ARG' }),
  help: bool(false, 'show this help', { short: 'h', env: false }),
};

const USAGE = `usage: node dist/bench/run.js [options]   (npm run bench -- [options])

${settingsHelp(BENCH_SETTINGS)}`;

/** the bench's options; null after printing --help */
function parseArgs(argv: string[]): Args | null {
  const { values: v } = parseSettings(BENCH_SETTINGS, argv, process.env);
  if (v.help) {
    console.log(USAGE);
    return null;
  }
  const a: Args = {
    quick: v.quick,
    only: new Set(v.only.split(',').map((x) => x.trim()).filter(Boolean) as Section[]),
    modelsDir: v.modelsDir,
    database: v.database,
    images: v.images || null,
    loader: v.loader as Args['loader'],
    sightings: v.sightings,
    connections: v.connections,
    seconds: v.seconds,
    out: v.out,
    keep: v.keep,
    note: v.note,
    cpuProf: v.cpuProf,
    env: Object.fromEntries(v.env.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    serverArgs: v.serverArg,
  };
  if (!a.images) {
    // development convenience only: the bench falls back to generated images
    const shared = path.resolve(REPO, '..', 'shared', 'images');
    if (fs.existsSync(shared)) a.images = shared;
  }
  return a;
}

interface Results {
  version: 1;
  startedAt: string;
  seconds: number;
  args: { quick: boolean; only: string[]; database: string; loader: string; note: string; env: Record<string, string>; serverArgs: string[] };
  machine: Machine;
  loadavgAtEnd: number[];
  store: { kind: string; sightings: number; seedSeconds: number } | null;
  server: { startSeconds: number; idleRssMiB: number | null; models: string; health: Record<string, unknown> } | null;
  voice: { rows: VoiceRow[]; maxStreamsUnder1s: number | null; asr: Awaited<ReturnType<typeof asrRealTimeFactor>> | null; clips?: number; hesitations?: number; skipped?: string } | null;
  text: { rows: TextRow[]; sightings: number; skipped?: string } | null;
  frames: {
    row: FramesRow | null;
    images: string;
    inference: Summary | null;
    modelGflops: number | null;
    peakGflopsPerThread: number | null;
    idealInferenceMs: number | null;
    skipped?: string;
  } | null;
  lookup: { rows: LookupRow[]; skipped?: string } | null;
  recognition: RecognitionResult | { skipped: string } | null;
  endpoint: EndpointSection | { skipped: string } | null;
  piVad?: PiVadSection | { skipped: string } | null;
  tts: TtsResult | null;
  memory: Array<{ state: string; rssMiB: number }>;
  hwmMiB: number | null;
  profile: string | null;
  problems: string[];
}

function modelFile(modelsDir: string, visionModel: string): { file: string; dims: number[] } | null {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(REPO, 'models', 'manifest.json'), 'utf8')) as {
      models: Array<{ name: string; file?: string; input?: number[] }>;
    };
    const e = m.models.find((x) => x.name === visionModel);
    if (!e?.file) return null;
    const file = path.join(modelsDir, e.file);
    return fs.existsSync(file) ? { file, dims: [1, 3, e.input?.[0] ?? 416, e.input?.[1] ?? 416] } : null;
  } catch {
    return null;
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (!args) return 0;
  const t0 = performance.now();
  const { visionModel, asrModel } = loadConfig([], {});
  const labels = manifestLabels(visionModel);
  if (!labels) throw new Error(`no labels for ${visionModel} in models/manifest.json`);
  const quick = args.quick;
  const res: Results = {
    version: 1,
    startedAt: new Date().toISOString(),
    seconds: 0,
    args: { quick, only: [...args.only], database: args.database ? args.database.replace(/\/\/[^@/]*@/, '//***@') : 'sqlite', loader: args.loader, note: args.note, env: args.env, serverArgs: args.serverArgs },
    machine: machine(),
    loadavgAtEnd: [],
    store: null,
    server: null,
    voice: null,
    text: null,
    frames: null,
    lookup: null,
    recognition: null,
    endpoint: null,
    tts: null,
    memory: [],
    hwmMiB: null,
    profile: null,
    problems: [],
  };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-bench-'));
  log(`work folder ${work}; models ${args.modelsDir}; ${quick ? 'quick' : 'full'} run of ${[...args.only].join(', ')}`);
  let server: BenchServer | null = null;
  try {
    // ---- lookup: in-process, before any server runs
    if (args.only.has('lookup')) {
      const sizes = quick ? [10_000, 1_000_000] : [10_000, 1_000_000, 10_000_000];
      res.lookup = { rows: await lookupBench({ dir: work, sizes, lookups: quick ? 5_000 : 20_000, labels }) };
    }

    // ---- tts: the synthesisers alone, each in its own process, before any server runs
    if (args.only.has('tts')) {
      try {
        res.tts = await ttsBench({ modelsDir: args.modelsDir, asrModel, work: path.join(work, 'tts'), quick });
      } catch (e) {
        res.tts = { rows: [], sentences: 0, voice: '', threads: 0, skipped: (e as Error).message };
      }
    }

    // ---- the server, on a store holding many sightings
    const needServer = args.only.has('text') || args.only.has('frames') || args.only.has('voice') || (!!args.database && args.only.has('lookup'));
    let seed: SeedResult | null = null;
    if (needServer) {
      const n = args.sightings || (quick ? 100_000 : 1_000_000);
      const dataDir = path.join(work, 'data');
      fs.mkdirSync(dataDir, { recursive: true });
      log(`seeding ${n.toLocaleString('en-US')} sightings into ${args.database ? 'PostgreSQL' : 'SQLite'}`);
      seed = args.database
        ? await seedPostgres({ url: args.database, sightings: n, labels, devices: 8 })
        : await seedSqlite({ file: path.join(dataDir, SQLITE_FILE), sightings: n, labels, devices: 8 });
      log(`seeded in ${seed.seconds.toFixed(1)} s`);
      res.store = { kind: args.database ? 'postgres' : 'sqlite', sightings: n, seedSeconds: seed.seconds };
      if (args.database && args.only.has('lookup')) {
        log('lookup: PostgreSQL, on the seeded store');
        const row = await lookupPostgres({ url: args.database, seed, lookups: quick ? 2_000 : 10_000 });
        (res.lookup ??= { rows: [] }).rows.push(row);
      }
      let models = 'loaded';
      const nodeArgs = args.cpuProf ? ['--cpu-prof', '--cpu-prof-dir', args.cpuProf] : [];
      if (args.cpuProf) fs.mkdirSync(args.cpuProf, { recursive: true });
      try {
        // the bench's one household drives every stream: its share limits are lifted so capacity is what is measured
        const shares = ['--max-streams-per-device', '64', '--max-streams-per-user', '64', '--max-voice-connections-per-device', '64'];
        server = await startServer({ dataDir, modelsDir: args.modelsDir, database: args.database, nodeArgs, env: args.env, extraArgs: [...shares, ...args.serverArgs] });
      } catch (e) {
        const onlyText = !args.only.has('frames') && !args.only.has('voice');
        if (!onlyText) throw e;
        res.problems.push(`the server did not start with models (${(e as Error).message.trim().split('\n').slice(-1)[0]}); text ran with --no-models`);
        server = await startServer({ dataDir, modelsDir: args.modelsDir, database: args.database, extraArgs: [...args.serverArgs, '--no-models'], nodeArgs, env: args.env });
        models = 'not loaded (--no-models)';
      }
      log(`server up in ${server.startSeconds.toFixed(1)} s (pid ${server.pid})`);
      await sleep(quick ? 1000 : 3000);
      const idle = procMemory(server.pid);
      res.server = { startSeconds: server.startSeconds, idleRssMiB: idle?.rssMiB ?? null, models, health: server.health };
      if (idle) res.memory.push({ state: `idle (models ${models})`, rssMiB: idle.rssMiB });
      const s = server;
      const cpu = () => procCpuSeconds(s.pid);
      const tokens = seed.deviceTokens;

      if (args.only.has('text')) {
        const seconds = args.seconds || (quick ? 3 : 10);
        try {
          const rows = await textBench(server, {
            token: tokens[0],
            labels,
            seconds,
            connections: args.connections,
            wavConnections: 8,
            loader: args.loader,
            wav: server.health.speech === true,
            cpu,
          });
          res.text = { rows, sightings: seed.sightings };
          if (server.health.speech !== true) res.problems.push('spoken replies not measured: the server has no speech synthesiser');
          for (const r of rows) res.memory.push({ state: `peak: text queries (${r.kind})`, rssMiB: r.peakRssMiB });
        } catch (e) {
          res.text = { rows: [], sightings: seed.sightings, skipped: (e as Error).message };
        }
      }

      if (args.only.has('frames')) {
        const { images, source } = await makeImages(quick ? 8 : 24, args.images);
        try {
          const row = await framesBench(server, { tokens: tokens.slice(0, 4), images, seconds: args.seconds || (quick ? 5 : 20), inFlightPerDevice: 2, cpu });
          res.frames = { row, images: source, inference: null, modelGflops: null, peakGflopsPerThread: null, idealInferenceMs: null };
          res.memory.push({ state: 'peak: frames', rssMiB: row.peakRssMiB });
        } catch (e) {
          res.frames = { row: null, images: source, inference: null, modelGflops: null, peakGflopsPerThread: null, idealInferenceMs: null, skipped: (e as Error).message };
        }
      }

      if (args.only.has('voice')) {
        // a server that has been up a while has its reply openings prepared (assistant/openings.ts): wait for them
        const w0 = Date.now();
        for (;;) {
          const m = await server.metrics().catch(() => '');
          const held = sampleValue(m, 'whereabouts_tts_openings');
          const warming = sampleValue(m, 'whereabouts_tts_openings_warming');
          const started = held > 0 || warming > 0 || Date.now() - w0 > 30_000;
          if (Number.isNaN(held) || (started && !(warming > 0)) || Date.now() - w0 > 300_000) {
            if (held > 0) log(`voice: ${held} reply openings prepared (waited ${((Date.now() - w0) / 1000).toFixed(0)} s${warming ? `, ${warming} still warming` : ''})`);
            break;
          }
          await sleep(1000);
        }
        const why = await voiceAvailable(server, tokens[0]);
        if (why) res.voice = { rows: [], maxStreamsUnder1s: null, asr: null, skipped: why };
        else {
          // WHEREABOUTS_BENCH_VOICE_SPLIT=tune|test: only the spoken corpus' clips of that split (tune on one, report the other)
          const split = process.env.WHEREABOUTS_BENCH_VOICE_SPLIT;
          const fixtures = loadFixtures().filter((f) => !split || f.split === split);
          // knobs for a focused run: WHEREABOUTS_BENCH_VOICE_LEVELS=1,8  WHEREABOUTS_BENCH_VOICE_MODES=hands-free
          // WHEREABOUTS_BENCH_VOICE_ONE_STREAM_CLIPS=all (every clip at one stream, not a sample of 60)
          const envList = (k: string) => (process.env[k] ?? '').split(',').map((x) => x.trim()).filter(Boolean);
          const levels = envList('WHEREABOUTS_BENCH_VOICE_LEVELS').map(Number).filter((n) => n >= 1);
          const modes = envList('WHEREABOUTS_BENCH_VOICE_MODES').filter((m): m is 'hands-free' | 'push-to-talk' => m === 'hands-free' || m === 'push-to-talk');
          const rows = await voiceBench(server, {
            tokens,
            fixtures: quick ? fixtures.filter((_, i) => i % 3 === 0) : fixtures,
            levels: levels.length ? levels : quick ? [1, 8] : [1, 8, 16],
            modes: modes.length ? modes : ['hands-free', 'push-to-talk'],
            oneStreamClips: process.env.WHEREABOUTS_BENCH_VOICE_ONE_STREAM_CLIPS === 'all' ? Infinity : 60,
            secondsPerLevel: args.seconds || (quick ? 6 : 20),
            cpu,
            log,
          });
          const okLevels = rows.filter((r) => r.mode === 'hands-free' && r.latencyMs.n > 0 && r.latencyMs.p95 < 1000 && Object.keys(r.errors).length === 0).map((r) => r.streams);
          res.voice = { rows, maxStreamsUnder1s: okLevels.length ? Math.max(...okLevels) : 0, asr: null, clips: fixtures.length, hesitations: fixtures.filter((f) => f.hesitation).length };
          for (const r of rows) res.memory.push({ state: `peak: voice ${r.mode}, ${r.streams} streams`, rssMiB: r.peakRssMiB });
        }
      }
      res.hwmMiB = procMemory(server.pid)?.hwmMiB ?? null;
      await server.stop();
      server = null;
      if (args.cpuProf) {
        const profs = fs.readdirSync(args.cpuProf).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(args.cpuProf, f));
        // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (workers write their own)
        const main = profs.filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
        const newest = (main.length ? main : profs).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
        if (newest) {
          res.profile = `${newest}\n${formatProfile(summarizeProfile(newest, 30))}`;
          log(res.profile);
        }
      }
    }

    // ---- recognition: the spoken corpus through its own server (a small store: the outcome, not the lookup)
    if (args.only.has('recognition')) {
      try {
        res.recognition = await recognitionBench({ modelsDir: args.modelsDir, streams: 16, split: 'all', serverArgs: args.serverArgs, env: args.env });
      } catch (e) {
        res.recognition = { skipped: (e as Error).message };
      }
    }

    // ---- endpointing on the audio clock: every clip through the recogniser and the turn reducer (no server)
    if (args.only.has('endpoint')) {
      try {
        res.endpoint = await endpointSection({ modelsDir: args.modelsDir, log });
      } catch (e) {
        res.endpoint = { skipped: (e as Error).message };
      }
    }

    // ---- the Pi client's hands-free detector on the corpus (pure code, audio clock)
    if (args.only.has('pi-vad')) {
      try {
        log('pi-vad: the Pi client\'s hands-free detector over the spoken corpus and its rooms');
        res.piVad = piVadSection();
      } catch (e) {
        res.piVad = { skipped: (e as Error).message };
      }
    }

    // ---- in-process yardsticks, with the server stopped
    if (args.only.has('frames')) {
      const mf = modelFile(args.modelsDir, visionModel);
      res.frames ??= { row: null, images: '', inference: null, modelGflops: null, peakGflopsPerThread: null, idealInferenceMs: null };
      if (!mf) res.problems.push(`inference alone not measured: ${visionModel} is not in ${args.modelsDir}`);
      else {
        log('frames: peak GFLOPS (onnxruntime MatMul, 1 thread), model FLOPs, inference alone');
        const peak = await peakGflops({ seconds: quick ? 1 : 3 });
        const flops = await modelFlops(mf.file, { dims: mf.dims });
        const inf = await inferenceAlone(mf.file, mf.dims, quick ? 20 : 100);
        res.frames.inference = inf;
        res.frames.modelGflops = flops.gflops;
        res.frames.peakGflopsPerThread = peak.gflops;
        res.frames.idealInferenceMs = (flops.gflops / peak.gflops) * 1000;
      }
    }
    if (res.voice && !res.voice.skipped) {
      try {
        log('voice: ASR real-time factor (1 worker, fixtures as fast as possible)');
        res.voice.asr = await asrRealTimeFactor({ modelsDir: args.modelsDir, asrModel, labels, fixtures: loadFixtures() });
      } catch (e) {
        res.problems.push(`ASR real-time factor not measured: ${(e as Error).message}`);
      }
    }
  } finally {
    if (server) await server.stop();
    if (!args.keep) fs.rmSync(work, { recursive: true, force: true });
    else log(`kept ${work}`);
  }
  res.seconds = (performance.now() - t0) / 1000;
  res.loadavgAtEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);

  const md = report(res);
  console.log(md);
  const out = args.out || path.join(REPO, 'bench', 'results', `${res.startedAt.replace(/[:.]/g, '-')}.json`);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify({ ...res, markdown: md }, null, 2));
  log(`results written to ${path.relative(process.cwd(), out) || out}`);
  return 0;
}

const ms = (n: number | null | undefined) => fmt(n, 2);
const stage = (m: Record<string, number> | undefined, k: string) => (m && m[k] !== undefined ? ms(m[k]) : '–');
const mark = (ok: boolean | null) => (ok === null ? '–' : ok ? 'met' : '**missed**');

export function report(r: Results): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`## whereabouts bench, ${r.startedAt.slice(0, 16).replace('T', ' ')} UTC${r.args.quick ? ' (quick)' : ''}`);
  out.push('');
  out.push(
    `Machine: ${m.cpu}, ${m.cores} cores${m.flags.length ? ` (${m.flags.join(' ')})` : ''}, ${m.memGiB} GiB, Node ${m.node}, ${m.platform}. ` +
      `Load average at start ${m.loadavg.join(' / ')}, at end ${r.loadavgAtEnd.join(' / ')}` +
      (m.loadavg[0] > m.cores * 0.5 ? ' (**the machine was busy: figures are polluted**)' : '') +
      `. Run took ${fmt(r.seconds, 0)} s.`,
  );
  if (r.args.note) out.push(`\nNote: ${r.args.note}`);
  const tweaks = [...Object.entries(r.args.env).map(([k, v]) => `${k}=${v}`), ...r.args.serverArgs];
  if (tweaks.length) out.push(`\nServer run with: ${tweaks.join(' ')}`);
  if (r.store) out.push(`\nStore: ${r.store.kind}, ${r.store.sightings.toLocaleString('en-US')} sightings seeded in ${fmt(r.store.seedSeconds, 1)} s.`);
  if (r.server) out.push(`Server: started in ${fmt(r.server.startSeconds, 1)} s, models ${r.server.models}.`);

  out.push('\n### Voice: to the first reply audio byte (real-time replay, 20 ms frames)\n');
  if (!r.voice) out.push('not run');
  else if (r.voice.skipped) out.push(table(['streams', 'result'], [['–', `not available: ${r.voice.skipped}`]]));
  else {
    out.push(
      'Clocks: **hands-free** from the true end of speech (the client sent the clip\'s last voiced 20 ms frame; it keeps streaming ' +
        'room noise and never sends stop, so the server decides); **push-to-talk** from the client\'s `stop` (sent right after the ' +
        `clip, which ends 350 ms after its speech). Clips: ${r.voice.clips ?? '?'} (${r.voice.hesitations ?? 0} with a hesitation before the item). ` +
        '"cut early": the server ended the utterance before the last voiced frame arrived (excluded from the latency figures).\n',
    );
    out.push(
      table(
        ['mode', 'streams', 'utterances', 'p50 ms', 'p95 ms', 'max ms', 'second looks (p95 ms without)', 'transcript p50 / p95 ms', 'cut early', 'misheard', 'errors', 'asr ms', 'nlp ms', 'lookup ms', 'tts ms (1st chunk)', 'tts cache hits', 'ASR RTF', 'server CPU', 'peak RSS MiB'],
        r.voice.rows.map((v) => [
          v.mode,
          v.streams,
          v.utterances,
          ms(v.latencyMs.p50),
          ms(v.latencyMs.p95),
          ms(v.latencyMs.max),
          v.looked === undefined ? '–' : `${v.looked} (${ms(v.latencyNoLookMs.p95)})`,
          `${ms(v.transcriptMs.p50)} / ${ms(v.transcriptMs.p95)}`,
          v.cutEarly,
          v.misheard,
          Object.entries(v.errors).map(([k, n]) => `${k} ${n}`).join(', ') || '0',
          stage(v.serverMs, 'asr'),
          stage(v.serverMs, 'nlp'),
          stage(v.serverMs, 'lookup'),
          stage(v.serverMs, 'tts'),
          v.ttsCacheHitRate == null ? '–' : `${Math.round(v.ttsCacheHitRate * 100)} %`,
          fmt(v.serverRtf, 3),
          v.serverCores === null ? '–' : fmt(v.serverCores, 2),
          fmt(v.peakRssMiB, 0),
        ]),
      ),
    );
    const cut = [...new Set(r.voice.rows.flatMap((v) => v.cutEarlyClips))];
    const mis = [...new Set(r.voice.rows.flatMap((v) => v.misheardClips))];
    if (cut.length) out.push(`\nCut early: ${cut.join('; ')}`);
    if (mis.length) out.push(`\nMisheard: ${mis.join('; ')}`);
    const a = r.voice.asr;
    out.push(
      `\nASR real-time factor: ${a ? `${fmt(a.rtf, 3)} CPU (wall ${fmt(a.wallRtf, 3)}) over ${fmt(a.audioSeconds, 1)} s of audio, one worker, nothing else running` : 'not measured'}` +
        ` ("ASR RTF" column: recogniser + VAD CPU / audio while loaded, from /metrics). ` +
        `Highest hands-free concurrency with p95 < 1 s and no errors: ${r.voice.maxStreamsUnder1s ?? '–'}.`,
    );
  }

  out.push(`\n### Text queries: POST /v1/query${r.text ? `, ${r.text.sightings.toLocaleString('en-US')} sightings` : ''}\n`);
  if (!r.text) out.push('not run');
  else if (r.text.skipped) out.push(`not available: ${r.text.skipped}`);
  else
    out.push(
      table(
        ['reply', 'connections', 'questions (distinct sent)', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'nlp ms', 'lookup ms', 'tts ms', 'server CPU', 'peak RSS MiB', 'loader'],
        r.text.rows.map((t) => [
          t.kind === 'wav'
            ? `spoken (WAV)${t.ttsCache ? `, clause cache hits ${t.ttsCache.hit}/${t.ttsCache.hit + t.ttsCache.miss}${t.ttsCache.hit + t.ttsCache.miss ? ` (${fmt((100 * t.ttsCache.hit) / (t.ttsCache.hit + t.ttsCache.miss), 0)} %)` : ''}` : ''}`
            : 'JSON',
          t.connections,
          `${t.questions.toLocaleString('en-US')} (${(t.load.distinct ?? 0).toLocaleString('en-US')})`,
          fmt(t.load.rps, 0),
          ms(t.load.p50),
          ms(t.load.p99),
          ms(t.load.max),
          t.load.errors,
          stage(t.stages, 'nlp'),
          stage(t.stages, 'lookup'),
          stage(t.stages, 'tts'),
          t.serverCores === null ? '–' : fmt(t.serverCores, 2),
          fmt(t.peakRssMiB, 0),
          t.load.loader,
        ]),
      ),
    );

  out.push('\n### Frames: 640x480 JPEG, POST /v1/frames\n');
  const f = r.frames;
  if (!f) out.push('not run');
  else {
    if (f.row) {
      const st = Object.keys(f.row.metricStagesMs).length ? f.row.metricStagesMs : f.row.replyStagesMs;
      out.push(
        table(
          ['devices x in flight', 'frames', 'fps', 'p50 ms', 'p95 ms', 'decode ms', 'letterbox ms', 'inference ms', 'postprocess ms', 'store ms', 'errors', 'detections/frame', 'server CPU', 'peak RSS MiB'],
          [
            [
              `${f.row.devices} x ${f.row.inFlightPerDevice}`,
              f.row.frames,
              fmt(f.row.fps, 1),
              ms(f.row.latencyMs.p50),
              ms(f.row.latencyMs.p95),
              stage(st, 'decode'),
              st.letterbox !== undefined ? ms(st.letterbox) : 'in decode',
              stage(st, 'inference'),
              stage(st, 'postprocess'),
              stage(st, 'store'),
              Object.entries(f.row.errors).map(([k, n]) => `${k} ${n}`).join(', ') || '0',
              fmt(f.row.detectionsPerFrame, 1),
              f.row.serverCores === null ? '–' : fmt(f.row.serverCores, 2),
              fmt(f.row.peakRssMiB, 0),
            ],
          ],
        ),
      );
      out.push(`\nImages: ${f.images}, ${fmt(f.row.imageKiB, 0)} KiB on average.`);
    } else if (f.skipped) out.push(table(['frames', 'result'], [['–', `not available: ${f.skipped}`]]));
    if (f.inference && f.modelGflops && f.peakGflopsPerThread && f.idealInferenceMs) {
      out.push(
        `\nInference alone (onnxruntime, 1 intra-op thread): best ${ms(f.inference.min)} ms, p50 ${ms(f.inference.p50)} ms, p95 ${ms(f.inference.p95)} ms. ` +
          `Model ${fmt(f.modelGflops, 3)} GFLOPs (2 x conv multiply-adds, from an onnxruntime profile); ` +
          `measured peak ${fmt(f.peakGflopsPerThread, 1)} GFLOPS per thread (best MatMul 512^3); ideal ${ms(f.idealInferenceMs)} ms; ` +
          `p50 / ideal = ${fmt(f.inference.p50 / f.idealInferenceMs, 2)}x, best / ideal = ${fmt(f.inference.min / f.idealInferenceMs, 2)}x.`,
      );
    }
  }

  out.push('\n### Lookup: latest sighting of a label (Store.latestSighting: SQLite in-process; PostgreSQL over loopback with --database)\n');
  if (!r.lookup) out.push('not run');
  else
    out.push(
      table(
        ['store', 'sightings', 'seeded in s', 'lookups', 'p50 ms', 'p99 ms', 'max ms', 'file MiB'],
        r.lookup.rows.map((l) => [l.store, l.sightings.toLocaleString('en-US'), fmt(l.seedSeconds, 1), l.lookups, fmt(l.ms.p50, 4), fmt(l.ms.p99, 4), fmt(l.ms.max, 3), l.store === 'sqlite' ? fmt(l.fileMiB, 0) : '–']),
      ),
    );

  if (r.recognition) {
    // the per-clip lines stay in the JSON; the report shows the figures
    out.push(recognitionReport(r.recognition));
  }
  if (r.endpoint) out.push(endpointSectionReport(r.endpoint));
  if (r.piVad) out.push(piVadSectionReport(r.piVad, { byCondition: false }));
  if (r.args.only.includes('tts')) out.push(...ttsReport(r.tts));

  out.push('\n### Memory: server VmRSS\n');
  if (!r.memory.length) out.push('not run');
  else {
    out.push(table(['state', 'RSS MiB'], r.memory.map((x) => [x.state, fmt(x.rssMiB, 0)])));
    if (r.hwmMiB) out.push(`\nHigh-water mark (VmHWM) over the run: ${fmt(r.hwmMiB, 0)} MiB.`);
  }

  // targets
  const rows: Array<[string, string, string]> = [];
  const hf1 = r.voice?.rows.find((x) => x.mode === 'hands-free' && x.streams === 1);
  const hf16 = r.voice?.rows.find((x) => x.mode === 'hands-free' && x.streams === 16);
  const ptt16 = r.voice?.rows.find((x) => x.mode === 'push-to-talk' && x.streams === 16);
  const hfAll = r.voice?.rows.filter((x) => x.mode === 'hands-free') ?? [];
  if (hf1) rows.push(['voice hands-free, end of speech -> first audio, 1 stream: p50 <= 300, p95 <= 450 ms', `${ms(hf1.latencyMs.p50)} / ${ms(hf1.latencyMs.p95)} ms`, mark(hf1.latencyMs.p50 <= 300 && hf1.latencyMs.p95 <= 450)]);
  if (hf16) rows.push(['voice hands-free, 16 streams: p95 <= 700 ms', `${ms(hf16.latencyMs.p95)} ms`, mark(hf16.latencyMs.p95 <= 700 && !Object.keys(hf16.errors).length)]);
  if (hfAll.length) {
    const cut = hfAll.reduce((n, x) => n + x.cutEarly, 0);
    rows.push(['voice hands-free: no utterance cut early (hesitations included)', `${cut} of ${hfAll.reduce((n, x) => n + x.utterances, 0)}`, mark(cut === 0)]);
  }
  if (ptt16) rows.push(['voice push-to-talk, stop -> first audio, 16 streams: p95 <= 60 ms', `${ms(ptt16.latencyMs.p95)} ms`, mark(ptt16.latencyMs.p95 <= 60 && !Object.keys(ptt16.errors).length)]);
  const tj = r.text?.rows.find((x) => x.kind === 'json');
  if (tj)
    rows.push([
      `text, ${r.text!.sightings.toLocaleString('en-US')} sightings: >= 5,000 req/s, p99 <= 10 ms`,
      `${fmt(tj.load.rps, 0)} req/s, p99 ${ms(tj.load.p99)} ms`,
      r.text!.sightings >= 1_000_000 ? mark(tj.load.rps >= 5000 && tj.load.p99 <= 10 && tj.load.errors === 0) : `${mark(tj.load.rps >= 5000 && tj.load.p99 <= 10)} (smaller store)`,
    ]);
  if (f?.row) rows.push(['frames: >= 50 fps', `${fmt(f.row.fps, 1)} fps`, mark(f.row.fps >= 50)]);
  if (f?.inference && f.idealInferenceMs)
    rows.push([
      'inference within 2x of FLOPs / peak',
      `${fmt(f.inference.p50 / f.idealInferenceMs, 2)}x at p50 (${fmt(f.inference.min / f.idealInferenceMs, 2)}x best)`,
      mark(f.inference.p50 <= 2 * f.idealInferenceMs),
    ]);
  const sqliteRows = r.lookup?.rows.filter((x) => x.store === 'sqlite');
  const l10 = sqliteRows?.find((x) => x.sightings >= 10_000_000);
  const lMax = sqliteRows?.at(-1);
  if (l10) rows.push(['lookup at 10M: p99 <= 1 ms', `${fmt(l10.ms.p99, 4)} ms`, mark(l10.ms.p99 <= 1)]);
  else if (lMax) rows.push([`lookup p99 <= 1 ms (largest run: ${lMax.sightings.toLocaleString('en-US')})`, `${fmt(lMax.ms.p99, 4)} ms`, mark(lMax.ms.p99 <= 1)]);
  const tp = r.tts?.rows.find((x) => x.asked === 'piper');
  const tf = r.tts?.rows.find((x) => x.asked === 'flite');
  if (tp) {
    rows.push(['tts: Piper first audio <= 120 ms p50 after the reply text (nothing prepared)', `${ms(tp.firstMs.p50)} ms (p95 ${ms(tp.firstMs.p95)})`, mark(tp.engine === 'piper' && tp.firstMs.p50 <= 120)]);
    if (tp.preparedFirstMs)
      rows.push(['tts: the same, openings prepared (assistant/openings.ts)', `${ms(tp.preparedFirstMs.p50)} ms (p95 ${ms(tp.preparedFirstMs.p95)})`, mark(tp.engine === 'piper' && tp.preparedFirstMs.p50 <= 120)]);
    rows.push(['tts: Piper worker RSS <= 150 MB', `${fmt(tp.memory.workerMiB * 1.048576, 0)} MB (peak ${fmt(tp.memory.workerPeakMiB * 1.048576, 0)} MB)`, mark(tp.memory.workerMiB * 1.048576 <= 150)]);
    if (tf) rows.push(['tts: Piper WER not worse than flite (same run)', `${fmt(tp.wer * 100, 1)} % vs ${fmt(tf.wer * 100, 1)} %`, mark(tp.wer <= tf.wer)]);
  }
  if (r.server?.idleRssMiB && r.server.models === 'loaded') rows.push(['memory: <= 400 MB RSS, both models loaded (idle)', `${fmt(r.server.idleRssMiB, 0)} MiB`, mark(r.server.idleRssMiB * 1.048576 <= 400)]);
  const peak = r.memory.length ? Math.max(...r.memory.map((x) => x.rssMiB)) : null;
  if (peak && r.server?.models === 'loaded') rows.push(['memory: peak under load (for reference)', `${fmt(peak, 0)} MiB`, mark(peak * 1.048576 <= 400)]);
  if (rows.length) {
    out.push('\n### Targets\n');
    out.push(table(['target', 'measured', ''], rows));
  }
  if (r.problems.length) out.push('\nProblems:\n' + r.problems.map((p) => `- ${p}`).join('\n'));
  return out.join('\n');
}

main().then(
  (code) => process.exit(code),
  (e) => {
    // a bad option is one line and exit code 2, like the whereabouts command
    if (e instanceof ConfigError) process.stderr.write(`bench: ${e.message}\n`);
    else process.stderr.write(`bench failed: ${(e as Error).stack ?? e}\n`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  },
);
