/**
 * The dependency check between top-level folders: reads every source file's imports (static, dynamic,
 * re-exports, require) with TypeScript's own pre-processor, maps each relative import (and each import of a
 * workspace package by its name) to the top-level folder it lands in, and reports
 *   - cycles in the folder graph (a -> b -> ... -> a), with one file-level import per edge as evidence, and
 *   - edges that go up the declared layer order (docs/architecture.md, "Layers, lowest first").
 * Imports of compiled code (`../dist/assistant/x.js`) count as imports of the folder itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface Edge {
  from: string;
  to: string;
  /** one import that makes the edge: "models/vosk.ts -> ../assistant/asr/probe.js" */
  via: string;
}

const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', 'files', 'data']);
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;

function* sourceFiles(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.') || SKIP_DIRS.has(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* sourceFiles(p);
    else if (SOURCE.test(e.name) && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** workspace package name -> its folder, from the root package.json's workspaces */
function workspacePackages(root: string): Map<string, string> {
  const out = new Map<string, string>();
  let pkg: { workspaces?: string[] | { packages?: string[] } } = {};
  try {
    pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  } catch {
    return out;
  }
  const list = Array.isArray(pkg.workspaces) ? pkg.workspaces : (pkg.workspaces?.packages ?? []);
  for (const w of list) {
    const dirs = w.endsWith('/*') ? fs.readdirSync(path.join(root, w.slice(0, -2))).map((d) => path.join(w.slice(0, -2), d)) : [w];
    for (const d of dirs) {
      try {
        const name = (JSON.parse(fs.readFileSync(path.join(root, d, 'package.json'), 'utf8')) as { name?: string }).name;
        if (name) out.set(name, d.split(/[\\/]/)[0]);
      } catch {
        /* not a package */
      }
    }
  }
  return out;
}

/** the top-level folder an import lands in, or null for node builtins and third-party packages */
function targetFolder(root: string, file: string, spec: string, packages: Map<string, string>): string | null {
  if (spec.startsWith('.')) {
    const rel = path.relative(root, path.resolve(path.dirname(file), spec)).split(path.sep);
    if (rel[0] === '..' || rel.length < 2) return null;
    return rel[0] === 'dist' && rel.length > 2 ? rel[1] : rel[0];
  }
  for (const [name, folder] of packages) if (spec === name || spec.startsWith(name + '/')) return folder;
  return null;
}

/** every import edge between two different top-level folders of the tree at `root` */
export function folderEdges(root: string, folders: readonly string[]): Edge[] {
  const packages = workspacePackages(root);
  const edges = new Map<string, Edge>();
  for (const folder of folders) {
    const dir = path.join(root, folder);
    if (!fs.existsSync(dir)) continue;
    for (const file of sourceFiles(dir)) {
      const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
      for (const imp of info.importedFiles) {
        const to = targetFolder(root, file, imp.fileName, packages);
        if (!to || to === folder) continue;
        const key = `${folder}>${to}`;
        if (!edges.has(key)) edges.set(key, { from: folder, to, via: `${path.relative(root, file)} -> ${imp.fileName}` });
      }
    }
  }
  return [...edges.values()];
}

/** Cycles in the folder graph: each strongly connected component of more than one folder, as a closed path. */
export function findCycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const nodes = [...new Set(edges.flatMap((e) => [e.from, e.to]))].sort();
  // Tarjan's strongly connected components
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const comps: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) comps.push(comp);
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  // the shortest closed path through each component's first folder, for the message
  return comps.map((comp) => {
    const inComp = new Set(comp);
    const start = [...comp].sort()[0];
    const prev = new Map<string, string>();
    const queue = [start];
    while (queue.length) {
      const v = queue.shift()!;
      for (const w of (next.get(v) ?? []).filter((x) => inComp.has(x)).sort()) {
        if (w === start) {
          const cycle = [start];
          for (let u: string | undefined = v; u !== undefined && u !== start; u = prev.get(u)) cycle.splice(1, 0, u);
          return [...cycle, start];
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    return [...comp, comp[0]];
  });
}

/**
 * The layer order from docs/architecture.md: the line starting "Layers, lowest first:" lists folders in
 * backticks, separated by `<`; folders in one layer are separated by commas (they may not import each other).
 */
export function readLayers(architectureMd: string): string[][] {
  const line = architectureMd.split('\n').find((l) => /^Layers, lowest first:/.test(l.trim()));
  if (!line) throw new Error('docs/architecture.md has no "Layers, lowest first:" line');
  return line
    .slice(line.indexOf(':') + 1)
    .split('<')
    .map((layer) => [...layer.matchAll(/`([^`]+)`/g)].map((m) => m[1]))
    .filter((l) => l.length > 0);
}

/** Edges that do not go strictly down the layer order (or that leave the listed folders). */
export function upwardEdges(edges: readonly Edge[], layers: readonly string[][]): Edge[] {
  const rank = new Map<string, number>();
  layers.forEach((l, i) => l.forEach((f) => rank.set(f, i)));
  return edges.filter((e) => {
    const a = rank.get(e.from);
    const b = rank.get(e.to);
    return a === undefined || b === undefined || b >= a;
  });
}

export const describe = (e: Edge) => `${e.from} -> ${e.to} (${e.via})`;
