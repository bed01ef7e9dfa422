/**
 * The package-registry clients a model source may call (npm, pip, mvn): each call is synchronous, bounded in
 * time, and reports the last lines of the client's output when it fails, so the user's own registry settings
 * (mirrors, proxies, credentials) apply.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface ClientResult {
  ok: boolean;
  /** the last three lines of its output, joined by " | " (or why it could not run) */
  out: string;
}

export function runClient(cmd: string, args: string[], cwd: string, timeoutMs = 10 * 60_000): ClientResult {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { ok: false, out: r.error.message };
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ') };
}

/** `npm pack SPEC` into `dir` (from `registry` when given, else npm's own setting); the tarball's path, or the failure */
export function npmPack(spec: string, dir: string, registry?: string): { file: string | null; out: string } {
  const r = runClient('npm', ['pack', spec, '--silent', '--pack-destination', dir, ...(registry ? ['--registry', registry] : [])], dir);
  const tgz = fs.readdirSync(dir).find((n) => /\.tgz$/.test(n));
  return { file: r.ok && tgz ? path.join(dir, tgz) : null, out: r.out || 'failed' };
}

/** `pip download SPEC` of a binary wheel for `platform` into `dir`, with pip3 then pip; the errors of each try */
export function pipDownload(spec: string, platform: string, dir: string, log: (l: string) => void): string[] {
  const errors: string[] = [];
  for (const pip of ['pip3', 'pip']) {
    log(`${pip} download ${spec} (${platform})`);
    const r = runClient(pip, ['download', spec, '--no-deps', '--only-binary=:all:', '--platform', platform, '-d', dir, '-q'], dir);
    if (r.ok) return [];
    errors.push(`${pip} download: ${r.out}`);
  }
  return errors;
}

export interface MavenCoords {
  group: string;
  artifact: string;
  version: string;
  packaging: string;
}

/** `mvn dependency:get` of one artifact; its file in the local Maven repository, or the failure */
export function mvnGet(c: MavenCoords, scratch: string): { file: string | null; out: string } {
  const coords = `${c.group}:${c.artifact}:${c.version}:${c.packaging}`;
  const r = runClient('mvn', ['-q', 'dependency:get', `-Dartifact=${coords}`, '-Dtransitive=false'], scratch);
  if (!r.ok) return { file: null, out: `mvn dependency:get ${coords}: ${r.out}` };
  const file = mavenLocalFile(c, scratch);
  return fs.existsSync(file) ? { file, out: r.out } : { file: null, out: `mvn fetched ${coords} but ${file} is missing` };
}

/** The artifact in the local Maven repository: ~/.m2/repository, else wherever `mvn` says its local repository is. */
function mavenLocalFile(c: MavenCoords, scratch: string): string {
  const rel = [...c.group.split('.'), c.artifact, c.version, `${c.artifact}-${c.version}.${c.packaging}`];
  const home = path.join(os.homedir(), '.m2', 'repository', ...rel);
  if (fs.existsSync(home)) return home;
  const r = runClient('mvn', ['-q', 'help:evaluate', '-Dexpression=settings.localRepository', '-DforceStdout'], scratch, 5 * 60_000);
  const repo = r.ok ? (r.out.trim().split(' | ').pop() ?? '') : '';
  return repo ? path.join(repo, ...rel) : home;
}
