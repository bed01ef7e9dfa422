/**
 * One-way dependencies between top-level folders (docs/architecture.md, "Layers, lowest first"): no import
 * cycle between folders, and no import up the layer order. The checker itself is shown to fail on a cycle.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { describe as show, findCycles, folderEdges, readLayers, upwardEdges, type Edge } from './helpers/layers.js';
import { REPO, tempDir } from './helpers/tmp.js';

const layers = readLayers(fs.readFileSync(path.join(REPO, 'docs', 'architecture.md'), 'utf8'));

/** top-level folders that hold source files (outside node_modules, dist, models/files) */
function sourceFolders(root: string): string[] {
  const holds = (dir: string): boolean =>
    fs.readdirSync(dir, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? !['node_modules', 'dist', 'files', 'data'].includes(e.name) && !e.name.startsWith('.') && holds(path.join(dir, e.name)) : /\.(ts|js|mjs)$/.test(e.name),
    );
  return fs
    .readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.') && !['node_modules', 'dist'].includes(e.name) && holds(path.join(root, e.name)))
    .map((e) => e.name);
}

function write(root: string, files: Record<string, string>) {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
}

describe('folder dependencies of this repository', () => {
  const folders = sourceFolders(REPO);
  const edges = folderEdges(REPO, folders);

  it('places every top-level source folder in a layer', () => {
    const listed = new Set(layers.flat());
    expect(folders.filter((f) => !listed.has(f))).toEqual([]);
    expect(folders).toEqual(expect.arrayContaining(['assistant', 'store', 'nlp', 'models', 'bench', 'test']));
  });

  it('finds the imports it checks (the scan is not empty)', () => {
    const pairs = edges.map((e) => `${e.from}>${e.to}`);
    expect(pairs).toEqual(expect.arrayContaining(['assistant>store', 'assistant>models', 'test>assistant', 'bench>assistant']));
  });

  it('has no import cycle between top-level folders', () => {
    expect(findCycles(edges).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('imports only down the layer order', () => {
    expect(upwardEdges(edges, layers).map(show)).toEqual([]);
  });
});

describe('the checker', () => {
  it('fails on a cycle between two folders, naming it and the import that closes it', () => {
    const root = tempDir('wa-layers-');
    write(root, {
      'package.json': '{}',
      'models/a.ts': "import { b } from '../assistant/b.js';\nexport const a = b;\n",
      'assistant/b.ts': "export const b = 1;\nexport async function later() { return import('../models/a.js'); }\n",
    });
    const edges = folderEdges(root, ['models', 'assistant']);
    expect(findCycles(edges)).toEqual([['assistant', 'models', 'assistant']]);
    const up = upwardEdges(edges, [['models'], ['assistant']]);
    expect(up.map(show)).toEqual(['models -> assistant (models/a.ts -> ../assistant/b.js)']);
  });

  it('finds a longer cycle through re-exports, requires and compiled-code imports', () => {
    const root = tempDir('wa-layers-');
    write(root, {
      'package.json': '{}',
      'store/s.ts': "export * from '../nlp/n.js';\n",
      'nlp/n.ts': "const m = require('../models/m.js');\nexport default m;\n",
      'models/m.ts': "export { s } from '../dist/store/s.js';\n",
    });
    const edges = folderEdges(root, ['store', 'nlp', 'models']);
    expect(findCycles(edges)).toEqual([['models', 'store', 'nlp', 'models']]);
  });

  it('maps a workspace package import to its folder', () => {
    const root = tempDir('wa-layers-');
    write(root, {
      'package.json': JSON.stringify({ workspaces: ['protocol'] }),
      'protocol/package.json': JSON.stringify({ name: '@wa/protocol' }),
      'protocol/index.ts': "import '../store/x.js';\n",
      'store/x.ts': "import { y } from '@wa/protocol/sub.js';\nimport fs from 'node:fs';\nimport ts from 'typescript';\n",
    });
    const edges: Edge[] = folderEdges(root, ['protocol', 'store']);
    expect(edges.map((e) => `${e.from}>${e.to}`).sort()).toEqual(['protocol>store', 'store>protocol']);
    expect(findCycles(edges)).toHaveLength(1);
    expect(upwardEdges(edges, [['protocol'], ['store']]).map((e) => e.from)).toEqual(['protocol']);
  });

  it('keeps a layer\'s peers apart and rejects folders the order does not list', () => {
    const edges: Edge[] = [
      { from: 'bench', to: 'audio-fixtures', via: 'x' },
      { from: 'newthing', to: 'store', via: 'y' },
    ];
    expect(upwardEdges(edges, [['store'], ['audio-fixtures', 'bench']]).map((e) => e.from)).toEqual(['bench', 'newthing']);
    expect(readLayers('x\nLayers, lowest first: `a` < `b`, `c` < `d`\n')).toEqual([['a'], ['b', 'c'], ['d']]);
  });
});
