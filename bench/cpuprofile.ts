/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time and inclusive time per function, the
 * top entries, with file:line, so the biggest cost is one glance away.
 *   node dist/bench/cpuprofile.js FILE.cpuprofile [N]
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface ProfileLine {
  fn: string;
  where: string;
  selfMs: number;
  selfPct: number;
  totalMs: number;
  totalPct: number;
}

function where(url: string, line: number): string {
  if (!url) return '(native)';
  let p = url.startsWith('file://') ? fileURLToPath(url) : url;
  const i = p.indexOf('node_modules/');
  if (i >= 0) p = p.slice(i);
  else if (p.includes('/dist/')) p = p.slice(p.indexOf('/dist/') + 1);
  return `${p}:${line + 1}`;
}

export function summarizeProfile(file: string, top = 25): { totalMs: number; idlePct: number; lines: ProfileLine[] } {
  const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };
  const totalMs = (prof.endTime - prof.startTime) / 1000;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const hits = new Map<number, number>();
  prof.samples.forEach((id, i) => hits.set(id, (hits.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0) / 1000));
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const keyOf = (n: Node) => `${n.callFrame.functionName || '(anonymous)'}\t${where(n.callFrame.url, n.callFrame.lineNumber)}`;
  let idle = 0;
  for (const [id, ms] of hits) {
    const n = byId.get(id)!;
    const k = keyOf(n);
    if (n.callFrame.functionName === '(idle)') idle += ms;
    self.set(k, (self.get(k) ?? 0) + ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const kk = keyOf(byId.get(cur)!);
      if (seen.has(kk)) continue;
      seen.add(kk);
      total.set(kk, (total.get(kk) ?? 0) + ms);
    }
  }
  const busy = Math.max(1e-9, totalMs - idle);
  const lines = [...self.entries()]
    .filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(root)') && !k.startsWith('(program)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([k, ms]) => {
      const [fn, w] = k.split('\t');
      const t = total.get(k) ?? ms;
      return { fn, where: w, selfMs: ms, selfPct: (100 * ms) / busy, totalMs: t, totalPct: (100 * t) / busy };
    });
  return { totalMs, idlePct: (100 * idle) / totalMs, lines };
}

export function formatProfile(s: ReturnType<typeof summarizeProfile>): string {
  const head = `profile: ${(s.totalMs / 1000).toFixed(1)} s, main thread idle ${s.idlePct.toFixed(0)}%; self / inclusive % of busy time`;
  return [head, ...s.lines.map((l) => `${l.selfPct.toFixed(1).padStart(5)}% ${l.totalPct.toFixed(1).padStart(5)}%  ${l.fn}  ${l.where}`)].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const f = process.argv[2];
  if (!f) {
    console.error('usage: node dist/bench/cpuprofile.js FILE.cpuprofile [N]');
    process.exit(2);
  }
  console.log(formatProfile(summarizeProfile(f, Number(process.argv[3] ?? 25))));
}
