/**
 * Recognition: how often a spoken question gets the right outcome (in the manner of Home Assistant
 * speech-to-phrase's benchmark reports). Every clip of the spoken corpus (audio-fixtures/corpus, made by
 * audio-fixtures/make-corpus.ts) goes through a real server's voice socket: `streams` WebSocket clients
 * replay clips at real-time pace in 20 ms frames and press stop (push to talk); each clip's `transcript`
 * and `reply` events are scored against what the corpus says should happen.
 *
 *   npm run bench -- --only recognition            (part of the bench report)
 *   node dist/bench/recognition.js [--split tune|test|all] [--streams N] [--fast] [--only SUBSTRING] [--show]
 *                                                  (alone: per-clip lines with --show; for tuning use --split tune)
 *
 * Figures, per split (the TEST split is the one that counts: nothing is tuned on it):
 * - right outcome: the reply did what the clip expects (the item's label; "can't recognise keys" for things
 *   the detector cannot see; no item answer for unknown things; "not a request"; "didn't catch that" for noise);
 * - sentence accuracy: the chosen transcript equals the spoken text (normalised, fillers dropped);
 * - item accuracy: of the item requests, the reply's label (or undetectable item) is the one asked about;
 * - false accepts: replies about a label other than the one asked for (any clip: noise, non-requests,
 *   unknown things included) / all clips;
 * - out-of-grammar rejection, non-request rejection, noise-only rejection;
 * - clarifications: the reply asked back ("did you mean ...?", "which thing?"): not right, not wrong;
 * - latency: stop -> transcript event (push to talk), per stream count.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { manifestLabels } from '../assistant/app.js';
import { loadConfig } from '../assistant/config.js';
import { SQLITE_FILE } from '../store/index.js';
import { seedSqlite } from './seed.js';
import { startServer, type BenchServer } from './server.js';
import { REPO, fmt, log, sleep, summarize, table, type Summary } from './util.js';

interface Clip {
  id: string;
  file: string;
  text: string;
  category: 'find' | 'personal' | 'oog' | 'nonrequest' | 'noise';
  phrasing: string;
  voice: string;
  condition: string;
  split: 'tune' | 'test';
  expect: { outcome: 'label' | 'not_detectable' | 'unknown_item' | 'not_understood' | 'not_heard'; item: string | null; label: string | null };
}

export function loadCorpus(dir = path.join(REPO, 'audio-fixtures')): { clips: Clip[]; pcm: (c: Clip) => Buffer } {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'corpus', 'manifest.json'), 'utf8')) as { clips: Clip[] };
  return {
    clips: m.clips,
    pcm: (c) => {
      const b = fs.readFileSync(path.join(dir, c.file));
      // our own WAVs: a 44-byte header, 16 kHz mono s16le
      if (b.toString('ascii', 0, 4) !== 'RIFF' || b.readUInt32LE(24) !== 16000 || b.readUInt16LE(22) !== 1) throw new Error(`${c.file}: not 16 kHz mono`);
      return b.subarray(44);
    },
  };
}

export interface ClipResult {
  id: string;
  split: 'tune' | 'test';
  category: Clip['category'];
  voice: string;
  condition: string;
  text: string;
  transcript: string | null;
  alternatives: string[];
  /** each alternative's share of mass */
  confidences: number[];
  outcome: string | null;
  intent: string | null;
  item: string | null;
  label: string | null;
  followUp: boolean;
  reply: string | null;
  /** stop -> transcript event, ms (NaN when the server ended the utterance itself) */
  stopToTranscriptMs: number;
  reason: string | null;
  error: string | null;
  right: boolean;
  falseAccept: boolean;
  sentenceRight: boolean;
  itemRight: boolean | null;
}

/** lower case words, apostrophes and fillers dropped, contractions expanded the simple way */
export function normaliseSentence(s: string): string {
  return s
    .toLowerCase()
    .replace(/\[unk\]/g, ' ')
    .replace(/[^a-z' ]+/g, ' ')
    .replace(/\bwhere's\b/g, 'where is')
    .replace(/\bcan't\b/g, 'can not')
    .replace(/\bcannot\b/g, 'can not')
    .replace(/\bwhat's\b/g, 'what is')
    .replace(/'/g, '')
    .split(/\s+/)
    .filter((w) => w && !['um', 'uh', 'er', 'hmm'].includes(w))
    .join(' ');
}

const sing = (s: string) => s.replace(/(?<!s)s$/, '');

/** scores one clip's reply against what the corpus expects */
export function score(c: Clip, r: Pick<ClipResult, 'transcript' | 'outcome' | 'item' | 'label' | 'followUp' | 'error'>): Pick<ClipResult, 'right' | 'falseAccept' | 'sentenceRight' | 'itemRight'> {
  const e = c.expect;
  const answeredLabel = r.label && (r.outcome === 'found' || r.outcome === 'never_seen') ? r.label : null;
  const falseAccept = answeredLabel !== null && answeredLabel !== e.label;
  let right = false;
  if (!r.error) {
    switch (e.outcome) {
      case 'label':
        right = answeredLabel === e.label;
        break;
      case 'not_detectable':
        right = r.outcome === 'not_detectable' && !!r.item && sing(r.item) === sing(e.item ?? '');
        break;
      case 'unknown_item':
        right = answeredLabel === null && (r.outcome === 'unknown_item' || r.outcome === 'not_detectable');
        break;
      case 'not_understood':
        right = answeredLabel === null && (r.outcome === 'not_understood' || r.outcome === 'not_heard');
        break;
      case 'not_heard':
        right = r.outcome === 'not_heard';
        break;
    }
  }
  const sentenceRight = c.text ? normaliseSentence(r.transcript ?? '') === normaliseSentence(c.text) : !(r.transcript ?? '').trim();
  const itemRight = e.outcome === 'label' ? answeredLabel === e.label : e.outcome === 'not_detectable' ? right : null;
  return { right, falseAccept, sentenceRight, itemRight };
}

type Ev = Record<string, unknown> & { type: string };

/** one voice connection; answers clips one after another */
class Client {
  private queue: Array<{ e: Ev | 'audio' | 'closed'; at: number }> = [];
  private waiter: (() => void) | null = null;
  constructor(private readonly ws: WebSocket) {
    ws.on('message', (d, bin) => this.push(bin ? 'audio' : (JSON.parse(d.toString()) as Ev)));
    ws.on('close', () => this.push('closed'));
    ws.on('error', () => this.push('closed'));
  }
  private push(e: Ev | 'audio' | 'closed') {
    this.queue.push({ e, at: performance.now() });
    this.waiter?.();
  }
  async next(ms = 30_000): Promise<{ e: Ev | 'audio' | 'closed' | 'timeout'; at: number }> {
    const deadline = performance.now() + ms;
    while (!this.queue.length) {
      const left = deadline - performance.now();
      if (left <= 0) return { e: 'timeout', at: performance.now() };
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = null;
    }
    return this.queue.shift()!;
  }
  static async open(url: string, token: string): Promise<Client> {
    const c = new Client(new WebSocket(url, { headers: { authorization: `Bearer ${token}` } }));
    const r = await c.next(15_000);
    if (typeof r.e !== 'object' || r.e.type !== 'ready') throw new Error(`voice: expected ready, got ${JSON.stringify(r.e)}`);
    return c;
  }
  close() {
    this.ws.close();
  }

  async ask(pcm: Buffer, paced: boolean): Promise<Omit<ClipResult, 'id' | 'split' | 'category' | 'voice' | 'condition' | 'text' | 'right' | 'falseAccept' | 'sentenceRight' | 'itemRight'>> {
    const out = {
      transcript: null as string | null,
      alternatives: [] as string[],
      confidences: [] as number[],
      outcome: null as string | null,
      intent: null as string | null,
      item: null as string | null,
      label: null as string | null,
      followUp: false,
      reply: null as string | null,
      stopToTranscriptMs: NaN,
      reason: null as string | null,
      error: null as string | null,
    };
    this.ws.send(JSON.stringify({ type: 'start', sample_rate: 16000, audio: false }));
    const l = await this.next(10_000);
    if (typeof l.e !== 'object' || l.e.type !== 'listening') {
      out.error = typeof l.e === 'object' ? String(l.e.code ?? l.e.type) : l.e;
      return out;
    }
    const frame = 640;
    const t0 = performance.now();
    for (let o = 0, i = 0; o < pcm.length; o += frame, i++) {
      if (paced) {
        const wait = t0 + i * 20 - performance.now();
        if (wait > 1) await sleep(wait);
      }
      this.ws.send(pcm.subarray(o, o + frame), { binary: true });
    }
    const tStop = performance.now();
    this.ws.send(JSON.stringify({ type: 'stop' }));
    for (;;) {
      const { e, at } = await this.next(30_000);
      if (e === 'audio') continue;
      if (e === 'closed' || e === 'timeout') {
        out.error = e;
        return out;
      }
      if (e.type === 'transcript') {
        out.transcript = String(e.text ?? '');
        out.reason = String(e.reason ?? '');
        const alts = e.alternatives as Array<{ text: string; confidence: number }> | undefined;
        out.alternatives = Array.isArray(alts) ? alts.map((a) => String(a.text)) : [];
        out.confidences = Array.isArray(alts) ? alts.map((a) => Number(a.confidence)) : [];
        if (out.reason === 'stop') out.stopToTranscriptMs = Math.max(0, at - tStop);
      } else if (e.type === 'reply') {
        out.outcome = String(e.outcome);
        out.intent = String(e.intent);
        out.item = (e.item as string | null) ?? null;
        out.label = (e.label as string | null) ?? null;
        out.followUp = e.follow_up === true;
        out.reply = String(e.text);
      } else if (e.type === 'done') {
        // a follow-up question leaves the conversation waiting for an answer: say nothing, start afresh
        return out;
      } else if (e.type === 'error') {
        out.error = String(e.code);
        return out;
      }
    }
  }
}

export interface Rate {
  n: number;
  k: number;
  pct: number;
}
const rate = (k: number, n: number): Rate => ({ n, k, pct: n ? (100 * k) / n : NaN });

export interface SplitFigures {
  clips: number;
  right: Rate;
  sentence: Rate;
  item: Rate;
  falseAccept: Rate;
  oogRejected: Rate;
  nonRequestRejected: Rate;
  noiseRejected: Rate;
  clarified: Rate;
  errors: number;
  byVoice: Record<string, Rate>;
  byCondition: Record<string, Rate>;
  byCategory: Record<string, Rate>;
}

export function figures(rs: ClipResult[]): SplitFigures {
  const group = (key: (r: ClipResult) => string) => {
    const o: Record<string, Rate> = {};
    const by = new Map<string, ClipResult[]>();
    for (const r of rs) by.set(key(r), [...(by.get(key(r)) ?? []), r]);
    for (const [k, v] of [...by].sort()) o[k] = rate(v.filter((r) => r.right).length, v.length);
    return o;
  };
  const cat = (c: string) => rs.filter((r) => r.category === c);
  const items = rs.filter((r) => r.itemRight !== null);
  const noAnswer = (r: ClipResult) => !r.falseAccept && !(r.label && (r.outcome === 'found' || r.outcome === 'never_seen'));
  return {
    clips: rs.length,
    right: rate(rs.filter((r) => r.right).length, rs.length),
    sentence: rate(rs.filter((r) => r.sentenceRight).length, rs.length),
    item: rate(items.filter((r) => r.itemRight).length, items.length),
    falseAccept: rate(rs.filter((r) => r.falseAccept).length, rs.length),
    oogRejected: rate(cat('oog').filter(noAnswer).length, cat('oog').length),
    nonRequestRejected: rate(cat('nonrequest').filter((r) => noAnswer(r) && r.outcome !== 'not_detectable' && r.intent === 'not_a_request').length, cat('nonrequest').length),
    noiseRejected: rate(cat('noise').filter((r) => r.outcome === 'not_heard').length, cat('noise').length),
    clarified: rate(rs.filter((r) => r.followUp).length, rs.length),
    errors: rs.filter((r) => r.error).length,
    byVoice: group((r) => r.voice),
    byCondition: group((r) => r.condition),
    byCategory: group((r) => r.category),
  };
}

export interface RecognitionResult {
  clips: number;
  streams: number;
  paced: boolean;
  rule: string;
  splits: Record<string, SplitFigures>;
  /** push to talk: stop -> transcript event, ms, all clips the client's stop ended */
  latencyMs: Summary;
  results: ClipResult[];
}

export interface RecognitionOptions {
  modelsDir: string;
  streams?: number;
  /** real-time replay (default true); false sends each clip as fast as the socket takes it */
  paced?: boolean;
  split?: 'tune' | 'test' | 'all';
  only?: string;
  /** extra server flags / environment (A/B runs) */
  serverArgs?: string[];
  env?: Record<string, string>;
  /** a running server and a device token (else one is started on a small seeded store) */
  server?: { server: BenchServer; token: string };
}

export async function recognitionBench(o: RecognitionOptions): Promise<RecognitionResult> {
  const corpus = loadCorpus();
  const clips = corpus.clips.filter((c) => (o.split && o.split !== 'all' ? c.split === o.split : true) && (!o.only || c.id.includes(o.only)));
  const streams = Math.max(1, o.streams ?? 16);
  const paced = o.paced !== false;
  let work: string | null = null;
  let own: BenchServer | null = null;
  let server: BenchServer;
  let tokens: string[];
  if (o.server) tokens = [o.server.token], ({ server } = o.server);
  else {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-recog-'));
    const { visionModel } = loadConfig([], {});
    const labels = manifestLabels(visionModel) ?? [];
    // one device per stream (a device may hold few streams at once); a fresh connection per clip may briefly
    // overlap the last one's, so the limits leave room
    const seed = await seedSqlite({ file: path.join(work, SQLITE_FILE), sightings: 5000, labels, devices: streams });
    const limits = ['--max-streams', String(2 * streams), '--max-streams-per-user', String(2 * streams), '--max-streams-per-device', '2'];
    own = server = await startServer({ dataDir: work, modelsDir: o.modelsDir, extraArgs: [...limits, ...(o.serverArgs ?? [])], env: o.env });
    tokens = seed.deviceTokens;
  }
  try {
    const url = server.url.replace(/^http/, 'ws') + '/v1/listen';
    const results: ClipResult[] = [];
    let next = 0;
    log(`recognition: ${clips.length} clips, ${streams} streams${paced ? ', real-time replay' : ', unpaced'}`);
    await Promise.all(
      Array.from({ length: streams }, async (_, ci) => {
        await sleep(ci * 40);
        for (;;) {
          const c = clips[next++];
          if (!c) return;
          // a fresh conversation per clip: a clarifying question must not steer the next clip
          let r: Awaited<ReturnType<Client['ask']>>;
          for (let attempt = 0; ; attempt++) {
            const cl = await Client.open(url, tokens[ci % tokens.length]);
            r = await cl.ask(corpus.pcm(c), paced);
            cl.close();
            // the previous connection's stream may not be released yet: try again shortly
            if (r.error !== 'busy' || attempt >= 5) break;
            await sleep(200);
          }
          const s = score(c, r);
          results.push({ id: c.id, split: c.split, category: c.category, voice: c.voice, condition: c.condition, text: c.text, ...r, ...s });
        }
      }),
    );
    results.sort((a, b) => a.id.localeCompare(b.id));
    const splits: Record<string, SplitFigures> = {};
    for (const sp of ['tune', 'test'] as const) {
      const rs = results.filter((r) => r.split === sp);
      if (rs.length) splits[sp] = figures(rs);
    }
    return {
      clips: results.length,
      streams,
      paced,
      rule: 'test when fnv1a(text|voice) is odd',
      splits,
      latencyMs: summarize(results.filter((r) => Number.isFinite(r.stopToTranscriptMs)).map((r) => r.stopToTranscriptMs)),
      results,
    };
  } finally {
    if (own) await own.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  }
}

const pct = (r: Rate) => (r.n ? `${fmt(r.pct, 1)} % (${r.k}/${r.n})` : '–');

export function recognitionReport(r: RecognitionResult | null | { skipped: string }): string {
  const out: string[] = [];
  out.push('\n### Recognition: the spoken corpus through /v1/listen (audio-fixtures/corpus; push to talk)\n');
  if (!r) return out.concat('not run').join('\n');
  if ('skipped' in r) return out.concat(`not available: ${r.skipped}`).join('\n');
  const sp = Object.entries(r.splits);
  const row = (name: string, f: (s: SplitFigures) => string) => [name, ...sp.map(([, s]) => f(s))];
  out.push(
    table(
      ['figure', ...sp.map(([k]) => (k === 'test' ? 'TEST split (reported)' : 'tune split'))],
      [
        row('clips', (s) => String(s.clips)),
        row('right outcome', (s) => pct(s.right)),
        row('sentence accuracy', (s) => pct(s.sentence)),
        row('item accuracy (item requests)', (s) => pct(s.item)),
        row('false accepts (answered about another item)', (s) => pct(s.falseAccept)),
        row('out-of-grammar items not answered as an item', (s) => pct(s.oogRejected)),
        row('non-requests not answered as a find', (s) => pct(s.nonRequestRejected)),
        row('noise only: "I didn\'t catch that"', (s) => pct(s.noiseRejected)),
        row('asked back (clarifying turn)', (s) => pct(s.clarified)),
        row('errors', (s) => String(s.errors)),
      ],
    ),
  );
  // breakdowns: one row per voice / condition / kind of clip, a column per split
  const breakdown = (title: string, pick: (f: SplitFigures) => Record<string, Rate>) => {
    const keys = [...new Set(sp.flatMap(([, f]) => Object.keys(pick(f))))].sort();
    out.push(`\nRight outcome by ${title}:\n`);
    out.push(table([title, ...sp.map(([k]) => k)], keys.map((k) => [k, ...sp.map(([, f]) => (pick(f)[k] ? pct(pick(f)[k]) : '–'))])));
  };
  breakdown('voice', (f) => f.byVoice);
  breakdown('condition', (f) => f.byCondition);
  breakdown('kind of clip', (f) => f.byCategory);
  const l = r.latencyMs;
  out.push(
    `\nLatency, stop -> transcript event (push to talk, ${r.streams} concurrent streams, ${r.paced ? 'real-time replay' : 'unpaced'}): ` +
      `p50 ${fmt(l.p50, 1)} ms, p95 ${fmt(l.p95, 1)} ms, max ${fmt(l.max, 1)} ms over ${l.n} clips.`,
  );
  const wrong = r.results.filter((x) => x.split === 'test' && (!x.right || x.falseAccept)).slice(0, 40);
  if (wrong.length) {
    out.push('\nTEST clips with a wrong outcome (first 40):\n');
    out.push(table(['clip', 'heard', 'outcome', 'label'], wrong.map((x) => [x.id, x.transcript ?? '', `${x.outcome ?? x.error}${x.followUp ? ' (asked back)' : ''}`, x.label ?? ''])));
  }
  return out.join('\n');
}

// ---- alone: node dist/bench/recognition.js
async function main() {
  const a = process.argv.slice(2);
  const opt = (f: string) => (a.includes(f) ? a[a.indexOf(f) + 1] : undefined);
  const modelsDir = opt('--models-dir') ?? process.env.WHEREABOUTS_MODELS_DIR ?? path.join(REPO, 'models', 'files');
  const split = (opt('--split') ?? 'tune') as 'tune' | 'test' | 'all';
  const serverArgs: string[] = [];
  a.forEach((x, i) => x === '--server-arg' && serverArgs.push(a[i + 1]));
  const env: Record<string, string> = {};
  a.forEach((x, i) => {
    if (x === '--env') {
      const [k, ...v] = a[i + 1].split('=');
      env[k] = v.join('=');
    }
  });
  const r = await recognitionBench({ modelsDir, split, streams: Number(opt('--streams') ?? 4), paced: !a.includes('--fast'), only: opt('--only'), serverArgs, env });
  if (a.includes('--show'))
    for (const x of r.results)
      console.log(`${x.right ? 'ok  ' : x.falseAccept ? 'FA  ' : 'miss'} ${x.id.padEnd(64)} heard "${x.transcript}" -> ${x.outcome}${x.followUp ? '?' : ''} ${x.label ?? ''} ${x.alternatives.length ? `alts: ${x.alternatives.join(' | ')}` : ''}`);
  console.log(recognitionReport(r));
  const out = opt('--out');
  if (out) fs.writeFileSync(out, JSON.stringify(r, null, 1));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
