/**
 * The repository's packages (npm workspaces): the server (root), `protocol/` (dependency-free) and `pi-client/`
 * (published as `whereabouts-pi`). Checks what each imports, what the packed Pi client carries, that it installs
 * from its tarball into an empty folder with nothing but `ws`, that every installed dependency accepts the Node
 * versions our `engines` fields claim, and that npm commands in the repository print no warnings.
 * (The packed client on the Pi's own userland, arm64 Node 18: test/pi-arm64.test.ts.)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readJson = (f: string) => JSON.parse(fs.readFileSync(path.join(REPO, f), 'utf8'));

/** every module specifier a TypeScript file imports (static, dynamic with a literal, export ... from) */
function importsOf(file: string): string[] {
  const src = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*'([^']+)'/g)) out.push(m[1]);
  for (const m of src.matchAll(/(?:^|\n)\s*import\s*'([^']+)'/g)) out.push(m[1]);
  for (const m of src.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push(m[1]);
  for (const m of src.matchAll(/\brequire(?:\.resolve)?\(\s*'([^']+)'\s*\)/g)) out.push(m[1]);
  return out;
}

const tsFiles = (dir: string) =>
  fs
    .readdirSync(path.join(REPO, dir))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => path.join(REPO, dir, f));

describe('workspace boundaries', () => {
  it('protocol/ has no dependencies and imports nothing outside itself', () => {
    const pkg = readJson('protocol/package.json');
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.optionalDependencies ?? {}).toEqual({});
    const files = tsFiles('protocol');
    expect(files.map((f) => path.basename(f)).sort()).toEqual(expect.arrayContaining(['pcm.ts', 'protocol.ts', 'wav.ts']));
    for (const f of files)
      for (const spec of importsOf(f)) expect(spec, `${path.basename(f)} imports ${spec}`).toMatch(/^(\.\/[\w-]+\.js|node:[\w/]+)$/);
  });

  it('pi-client/ imports only node builtins, ws, its own files and protocol/', () => {
    const pkg = readJson('pi-client/package.json');
    expect(Object.keys(pkg.dependencies)).toEqual(['ws']);
    expect(Object.keys(pkg.optionalDependencies ?? {})).toEqual(['speaker']);
    expect(pkg.engines.node).toBe('>=18');
    const files = tsFiles('pi-client');
    expect(files.length).toBeGreaterThan(10);
    for (const f of files)
      for (const spec of importsOf(f))
        expect(spec, `${path.basename(f)} imports ${spec}`).toMatch(/^(\.\/[\w-]+\.js|\.\.\/protocol\/[\w-]+\.js|node:[\w/]+|ws|speaker)$/);
  });

  it('the root package is the server, with the two workspaces', () => {
    const pkg = readJson('package.json');
    expect(pkg.workspaces).toEqual(['protocol', 'pi-client']);
    expect(pkg.bin).toEqual({ whereabouts: 'bin/whereabouts.js' });
    expect(pkg.dependencies.speaker).toBeUndefined();
  });
});

describe('the packed Pi client (npm pack -w whereabouts-pi)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'wa-pack-'));

  it('carries the built client and the protocol code it imports, and nothing else', () => {
    expect(fs.existsSync(path.join(REPO, 'pi-client/dist/pi-client/cli.js')), 'run `npm run build` first').toBe(true);
    const out = execFileSync('npm', ['pack', '-w', 'whereabouts-pi', '--ignore-scripts', '--json', '--pack-destination', tmp], { cwd: REPO, encoding: 'utf8' });
    const [info] = JSON.parse(out) as [{ filename: string; files: { path: string }[]; unpackedSize: number }];
    const files = info.files.map((f) => f.path).sort();
    expect(files).toEqual(expect.arrayContaining(['bin/whereabouts-pi.js', 'dist/pi-client/cli.js', 'dist/pi-client/listen.js', 'dist/protocol/protocol.js', 'dist/protocol/pcm.js', 'dist/protocol/wav.js', 'package.json']));
    for (const f of files) expect(f, f).toMatch(/^(bin\/[\w-]+\.js|dist\/(pi-client|protocol)\/[\w-]+\.js|systemd\/[\w-]+\.service|package\.json|README\.md)$/);
    // every relative import in the tarball's JavaScript points at a file that is in the tarball
    const extract = path.join(tmp, 'x');
    fs.mkdirSync(extract);
    execFileSync('tar', ['xzf', path.join(tmp, info.filename), '-C', extract]);
    for (const f of files.filter((x) => x.endsWith('.js'))) {
      const src = fs.readFileSync(path.join(extract, 'package', f), 'utf8');
      for (const m of src.matchAll(/from '(\.[^']+)'|import '(\.[^']+)'/g)) {
        const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1] ?? m[2]));
        expect(files, `${f} imports ${m[1] ?? m[2]}`).toContain(target);
      }
    }
    expect(info.unpackedSize).toBeLessThan(400_000);
  });

  it('installs from the tarball into an empty folder with ws as its only dependency, and runs', () => {
    const tgz = fs.readdirSync(tmp).find((f) => f.endsWith('.tgz'));
    expect(tgz).toBeTruthy();
    const dir = path.join(tmp, 'install');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), '{"name":"empty","private":true}');
    const r = spawnSync('npm', ['install', path.join(tmp, tgz!), '--omit=optional', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/warn/i);
    const installed = fs.readdirSync(path.join(dir, 'node_modules')).filter((f) => !f.startsWith('.')).sort();
    expect(installed).toEqual(['whereabouts-pi', 'ws']);
    const help = spawnSync(path.join(dir, 'node_modules', '.bin', 'whereabouts-pi'), ['help'], { encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/usage: whereabouts-pi <command>/);
    // a command that needs settings fails in one line, from the installed copy
    const check = spawnSync(path.join(dir, 'node_modules', '.bin', 'whereabouts-pi'), ['check', '--config', path.join(dir, 'none.json')], { encoding: 'utf8' });
    expect(check.status).toBe(1);
    expect(check.stderr.trim()).toMatch(/^whereabouts-pi: no settings at .*none\.json/);
  });
});

describe('installs are quiet', () => {
  /** the lowest Node versions a range admits, one per major line it allows */
  const floors = (range: string) => ['18.0.0', '18.19.0', '20.0.0', '20.12.0', '20.19.0', '22.0.0', '22.12.0', '24.0.0'].filter((v) => semver.satisfies(v, range));

  it('every installed package accepts the Node versions `engines` claims (no EBADENGINE)', () => {
    const lock = readJson('package-lock.json');
    const serverFloors = floors(readJson('package.json').engines.node);
    expect(serverFloors).toContain('20.19.0');
    const bad: string[] = [];
    for (const [where, p] of Object.entries<{ engines?: { node?: string } }>(lock.packages)) {
      if (!where || !p.engines?.node || !fs.existsSync(path.join(REPO, where))) continue; // not installed on this platform
      for (const v of serverFloors) if (!semver.satisfies(v, p.engines.node)) bad.push(`${where} wants node ${p.engines.node}, not ${v}`);
    }
    expect(bad).toEqual([]);
  });

  it('the Pi client and everything it installs accept Node 18 (Raspberry Pi OS Bookworm ships 18.19)', () => {
    const lock = readJson('package-lock.json');
    const seen = new Set<string>();
    const bad: string[] = [];
    /** node's lookup: the nearest node_modules/NAME from the parent's folder up */
    const find = (from: string, name: string): string => {
      for (let dir = from; ; dir = dir.includes('/node_modules/') ? dir.slice(0, dir.lastIndexOf('/node_modules/')) : '') {
        const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
        if (lock.packages[key]) return key;
        if (!dir) throw new Error(`${name} (needed by ${from || 'the root'}) is not in package-lock.json`);
      }
    };
    const visit = (key: string) => {
      if (seen.has(key)) return;
      seen.add(key);
      const p = lock.packages[key];
      if (p.engines?.node && !semver.satisfies('18.19.0', p.engines.node)) bad.push(`${key} wants node ${p.engines.node}`);
      for (const d of Object.keys({ ...p.dependencies, ...p.optionalDependencies })) visit(find(key, d));
    };
    const pi = readJson('pi-client/package.json');
    for (const d of Object.keys({ ...pi.dependencies, ...pi.optionalDependencies })) visit(find('', d));
    expect([...seen]).toContain('node_modules/ws');
    expect(bad).toEqual([]);
  });

  it('npm commands in the repository print no warnings, and every install script is reviewed (allowScripts)', () => {
    const r = spawnSync('npm', ['pkg', 'get', 'name'], { cwd: REPO, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(fs.existsSync(path.join(REPO, '.npmrc')) ? fs.readFileSync(path.join(REPO, '.npmrc'), 'utf8') : '').not.toMatch(/onnxruntime/);
    const pending = spawnSync('npm', ['approve-scripts', '--allow-scripts-pending'], { cwd: REPO, encoding: 'utf8' });
    expect(pending.status, pending.stderr).toBe(0);
    expect(pending.stdout.trim()).toBe('No packages with unreviewed install scripts.');
    // onnxruntime-node's postinstall would fetch CUDA libraries from a host a user's machine may not reach
    expect(readJson('package.json').allowScripts['onnxruntime-node']).toBe(false);
  });
});
