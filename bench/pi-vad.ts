/**
 * The Pi client's hands-free opener (pi-client/vad.ts) on the spoken corpus, on the audio clock.
 *
 * Hands-free, the Pi's detector only opens a question; the server's endpointer ends it. Two ways to fail:
 *  - a miss: someone asks and the Pi never opens (or opens so late that its pre-roll no longer holds the
 *    first word). The question is lost.
 *  - a false open: room noise opens a question. The server hears no speech and ends the turn quietly (about
 *    a second of streaming), so it costs bandwidth and a recogniser stream, not a spoken reply.
 *
 * Spoken clips: the clip's room (its noise colour and level, protocol/noise.ts) for `--lead` seconds, the clip,
 * then the room again. Per clip: opened or not, where (from the voice's true start: the corpus' quiet-room
 * bounds), and whether the audio sent begins before the voice does. Opens during the lead are false opens.
 * Rooms alone: each room of the corpus (every colour and level of its clips, plus the noise-only clips looped)
 * for `--room-seconds`; after an open the detector sits out a turn (`--turn-ms`, the server's quiet end) and
 * goes on. Reported as false opens per minute of room.
 *
 *   node dist/bench/pi-vad.js [--split tune|test|all] [--lead 4] [--room-seconds 60] [--show] [--rooms] [--json FILE]
 *                             [--vad '{"bandMarginDb":0}']     (settings over the defaults)
 * or as the bench section `pi-vad` (both splits).
 */
import fs from 'node:fs';
import path from 'node:path';
import { EnergyVad, type VadOptions } from '../pi-client/vad.js';
import { RoomNoise } from '../protocol/noise.js';
import { parseWav } from '../protocol/wav.js';
import { loadFixtures, type Fixture } from './voice.js';
import { REPO } from './util.js';

const RATE = 16000;
const CHUNK = 640; // 20 ms of s16le, as the microphone delivers it

export interface ClipResult {
  file: string;
  condition: string;
  split: string | null;
  opened: boolean;
  /** the open, from the voice's true start, ms (audio clock) */
  openMs: number | null;
  /** the first audio sent (pre-roll), from the voice's true start, ms: <= 0 means the first word is in it */
  sentFromMs: number | null;
  /** opens in the room before the voice began */
  falseOpens: number;
}

export interface RoomResult {
  room: string;
  seconds: number;
  opens: number;
}

function condition(f: Fixture): string {
  const m = /\.([a-z0-9-]+)\.wav$/.exec(f.file);
  return f.split ? (m?.[1] ?? '?') : f.hesitation ? 'hesitation' : 'fixture';
}

/** feeds `pcm` in 20 ms chunks, sitting out a turn after each open; returns the sample index of each `start` and of its first audio */
function run(vad: EnergyVad, pcm: Buffer, turnMs: number): { at: number; sentFrom: number }[] {
  const opens: { at: number; sentFrom: number }[] = [];
  let skipUntil = -1;
  for (let off = 0; off < pcm.length; off += CHUNK) {
    const pos = off / 2; // samples fed before this chunk
    const chunk = pcm.subarray(off, Math.min(pcm.length, off + CHUNK));
    if (pos < skipUntil) continue;
    const evs = vad.push(chunk);
    const endPos = pos + chunk.length / 2;
    const i = evs.findIndex((e) => e.type === 'start');
    if (i < 0) continue;
    const first = evs[i + 1];
    const sent = first && first.type === 'audio' ? first.pcm.length / 2 : 0;
    opens.push({ at: endPos, sentFrom: endPos - sent });
    // the question goes to the server until its turn ends; then the client listens afresh
    skipUntil = endPos + Math.round((turnMs * RATE) / 1000);
    vad.reset();
  }
  return opens;
}

export function clipRun(f: Fixture, vadOpts: Partial<VadOptions>, leadS: number, seed: number): ClipResult {
  const room = new RoomNoise(f.room.colour, f.room.rms, seed, RATE);
  const lead = room.frame(Math.round(leadS * RATE));
  const tail = room.frame(RATE);
  const pcm = Buffer.concat([lead, f.pcm, tail]);
  const speechAt = lead.length / 2 + Math.round((f.bounds.startMs * RATE) / 1000);
  // an open that comes before the voice begins is the room's, not the question's (the server's quiet turn follows)
  const opens = run(new EnergyVad({ sampleRate: RATE, ...vadOpts }), pcm, 1000);
  const falseOpens = opens.filter((o) => o.at < speechAt).length;
  const opened = opens.find((o) => o.at >= speechAt) ?? null;
  const ms = (s: number) => Math.round(((s - speechAt) * 1000) / RATE);
  return {
    file: f.file,
    condition: condition(f),
    split: f.split,
    opened: !!opened,
    openMs: opened ? ms(opened.at) : null,
    sentFromMs: opened ? ms(opened.sentFrom) : null,
    falseOpens,
  };
}

export function roomRuns(fixtures: Fixture[], vadOpts: Partial<VadOptions>, seconds: number, turnMs: number): RoomResult[] {
  const out: RoomResult[] = [];
  // every room of the corpus: colour x level (rounded to 1 dB) of its spoken clips
  const rooms = new Map<string, { colour: Fixture['room']['colour']; rms: number }>();
  for (const f of fixtures) {
    const db = Math.round(20 * Math.log10(f.room.rms));
    rooms.set(`${f.room.colour} ${db} dBFS`, { colour: f.room.colour, rms: 10 ** (db / 20) });
  }
  let seed = 1;
  for (const [name, r] of [...rooms].sort()) {
    const pcm = new RoomNoise(r.colour, r.rms, seed++, RATE).frame(Math.round(seconds * RATE));
    out.push({ room: name, seconds, opens: run(new EnergyVad({ sampleRate: RATE, ...vadOpts }), pcm, turnMs).length });
  }
  // the noise-only clips (hum, clicks, ...) looped
  const corpus = JSON.parse(fs.readFileSync(path.join(REPO, 'audio-fixtures', 'corpus', 'manifest.json'), 'utf8')) as { clips: { id: string; file: string; category: string }[] };
  for (const c of corpus.clips.filter((x) => x.category === 'noise')) {
    const one = Buffer.from(parseWav(fs.readFileSync(path.join(REPO, 'audio-fixtures', c.file))).data);
    const loops = Math.max(1, Math.round((seconds * RATE * 2) / one.length));
    out.push({ room: c.id, seconds: (loops * one.length) / 2 / RATE, opens: run(new EnergyVad({ sampleRate: RATE, ...vadOpts }), Buffer.concat(Array(loops).fill(one)), turnMs).length });
  }
  return out;
}

function pct(v: number[], p: number): number {
  if (!v.length) return NaN;
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
}

export interface PiVadSection {
  vad: Partial<VadOptions>;
  leadS: number;
  splits: { split: string; clips: ClipResult[] }[];
  rooms: RoomResult[];
}

/** the corpus' tune clips with the committed fixtures and the hesitation clips (looked at while tuning), or its TEST clips */
const inSplit = (f: Fixture, split: string) => split === 'all' || (split === 'test' ? f.split === 'test' : f.split !== 'test');

export function piVadSection(o: { vad?: Partial<VadOptions>; leadS?: number; roomSeconds?: number; turnMs?: number; splits?: string[] } = {}): PiVadSection {
  const vad = o.vad ?? {};
  const leadS = o.leadS ?? 4;
  const all = loadFixtures(undefined, { hesitations: true });
  return {
    vad,
    leadS,
    splits: (o.splits ?? ['tune', 'test']).map((split) => ({ split, clips: all.filter((f) => inSplit(f, split)).map((f, i) => clipRun(f, vad, leadS, 1000 + i)) })),
    rooms: roomRuns(all.filter((f) => f.split !== null), vad, o.roomSeconds ?? 60, o.turnMs ?? 1000),
  };
}

export function piVadSectionReport(r: PiVadSection | { skipped: string }, o: { byCondition?: boolean; byRoom?: boolean } = {}): string {
  if ('skipped' in r) return `\n### The Pi's hands-free detector (audio clock)\n\nskipped: ${r.skipped}\n`;
  const lines: string[] = ['\n### The Pi\'s hands-free detector (audio clock)\n'];
  lines.push(
    `pi-client/vad.ts over every spoken clip after ${r.leadS} s of the clip's own room (its noise colour and level), settings ${JSON.stringify(r.vad)} ` +
      'over the defaults. "opened": it opened on the voice; "whole": the audio it sends begins before the voice does (the quiet-room bounds); ' +
      '"open at": from the voice\'s start; "false opens": opens in the room before the voice.\n',
  );
  lines.push('| split | condition | clips | opened | whole | open at p50 / p95 ms | false opens |');
  lines.push('| --- | --- | --- | --- | --- | --- | --- |');
  const row = (split: string, name: string, cs: ClipResult[]) => {
    const op = cs.filter((c) => c.opened);
    const at = op.map((c) => c.openMs!);
    lines.push(`| ${split} | ${name} | ${cs.length} | ${op.length} | ${op.filter((c) => (c.sentFromMs ?? 1) <= 0).length} | ${pct(at, 50)} / ${pct(at, 95)} | ${cs.reduce((n, c) => n + c.falseOpens, 0)} |`);
  };
  for (const { split, clips } of r.splits) {
    if (o.byCondition !== false) {
      const by = new Map<string, ClipResult[]>();
      for (const c of clips) by.set(c.condition, [...(by.get(c.condition) ?? []), c]);
      for (const [k, cs] of [...by].sort()) row(split, k, cs);
    }
    row(split, '**all**', clips);
  }
  lines.push('');
  lines.push('Rooms alone (each room of the corpus, every colour and level, and the noise-only clips looped; after an open the detector sits out a turn):\n');
  lines.push('| room | seconds | false opens | per minute |');
  lines.push('| --- | --- | --- | --- |');
  const kinds = new Map<string, RoomResult[]>();
  for (const x of r.rooms) {
    const k = x.room.startsWith('noise-') ? x.room : x.room.split(' ')[0];
    kinds.set(k, [...(kinds.get(k) ?? []), x]);
  }
  const groups: [string, RoomResult[]][] = o.byRoom ? r.rooms.map((x) => [x.room, [x]]) : [...kinds];
  for (const [k, rs] of groups) {
    const sec = rs.reduce((a, x) => a + x.seconds, 0);
    const n = rs.reduce((a, x) => a + x.opens, 0);
    lines.push(`| ${k}${rs.length > 1 ? ` (${rs.length} levels)` : ''} | ${Math.round(sec)} | ${n} | ${((n * 60) / sec).toFixed(2)} |`);
  }
  const sec = r.rooms.reduce((a, x) => a + x.seconds, 0);
  const n = r.rooms.reduce((a, x) => a + x.opens, 0);
  lines.push(`| **all rooms** | ${Math.round(sec)} | ${n} | ${((n * 60) / sec).toFixed(2)} |`);
  lines.push('');
  return lines.join('\n');
}

async function main() {
  const args = process.argv.slice(2);
  const opt = (f: string) => (args.includes(f) ? args[args.indexOf(f) + 1] : undefined);
  const split = opt('--split') ?? 'tune';
  const r = piVadSection({
    vad: JSON.parse(opt('--vad') ?? '{}') as Partial<VadOptions>,
    leadS: Number(opt('--lead') ?? 4),
    roomSeconds: Number(opt('--room-seconds') ?? 60),
    turnMs: Number(opt('--turn-ms') ?? 1000),
    splits: [split],
  });
  console.log(piVadSectionReport(r, { byRoom: args.includes('--rooms') }));
  if (args.includes('--show'))
    for (const c of r.splits[0].clips) if (!c.opened || (c.sentFromMs ?? 1) > 0 || c.falseOpens) console.log(`  ${c.opened ? 'late' : 'MISS'} ${c.file} open ${c.openMs} sent ${c.sentFromMs} false ${c.falseOpens}`);
  const json = opt('--json');
  if (json) fs.writeFileSync(json, JSON.stringify(r, null, 2));
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.dirname, 'pi-vad.js')) await main();
