/**
 * The packed Pi client on the Pi's own userland: a Debian 12 arm64 root (Raspberry Pi OS Bookworm's userland,
 * its Node.js 18, no compiler), run through qemu-user-static. `.ci/arm64-root` builds or reuses the root;
 * this file (run by `npm run test:arm64`, called by .ci/run) then, all under the arm64 Node 18:
 *
 *  - installs the tarball `npm pack -w whereabouts-pi` makes with an npm that runs on Node 18 (npm 10, from the
 *    registry): only `ws` is installed, `speaker` cannot be built (no compiler) and is skipped; size and time
 *    are printed
 *  - `setup` and `check` against the real server on the host (127.0.0.1)
 *  - `listen --input` (a spoken question from a WAV file): the reply audio is written, byte for byte what the
 *    server announced; and played through `aplay` (the player without `speaker`) into an ALSA file device
 *  - `camera --watch`: an image is uploaded and found; while the server is stopped images queue on disk, and
 *    are delivered when it is back
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, freePort } from './helpers/proc.js';
import { voskProvider } from '../dist/models/vosk.js';
import { ASR_MODEL, FIXTURES, REPO, REPO_MODELS, SHARED, account, fixtures, modelsDir } from './fixtures/pi/harness.js';

const ROOT = process.env.WHEREABOUTS_ARM64_ROOT ?? '/var/cache/whereabouts-arm64/bookworm';
/** a folder inside the root: `host` is its path here, `pi` its path inside the root */
const WORK = `/tmp/wa-arm64-${process.pid}`;
const host = (p: string) => path.join(ROOT, p);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** the environment of every command in the root: the host's extra CA certificates (a TLS-inspecting proxy) */
const rootEnv: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: `${WORK}/home`, LANG: 'C.UTF-8' };

function inRoot(argv: string[], env: Record<string, string> = {}, timeoutMs = 300_000): Promise<Run> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const envArgs = Object.entries({ ...rootEnv, ...env }).map(([k, v]) => `${k}=${v}`);
    const p = spawn('chroot', [ROOT, '/usr/bin/env', '-i', ...envArgs, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

function startInRoot(argv: string[], env: Record<string, string> = {}) {
  const envArgs = Object.entries({ ...rootEnv, ...env }).map(([k, v]) => `${k}=${v}`);
  const proc: ChildProcess = spawn('chroot', [ROOT, '/usr/bin/env', '-i', ...envArgs, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  proc.stdout!.on('data', (d) => (logs += d));
  proc.stderr!.on('data', (d) => (logs += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return {
    logs: () => logs,
    async waitFor(re: RegExp, timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      while (!re.test(logs)) {
        if (proc.exitCode !== null) throw new Error(`exited (${proc.exitCode}) before ${re}: ${logs}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}: ${logs}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const k = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(k);
      return code;
    },
  };
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function duBytes(dir: string): { bytes: number; files: number } {
  let bytes = 0;
  let files = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    files++;
    bytes += fs.statSync(path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).size;
  }
  return { bytes, files };
}

const dataDir = fs.mkdtempSync('/tmp/wa-arm64-data-');
let models: string;
let port: number;
let srv: Awaited<ReturnType<typeof serve>>;
let token: string;
const serverArgs = () => ['--data-dir', dataDir, '--models-dir', models, '--port', String(port), '--log-level', 'warn', '--asr-workers', '1', '--vision-workers', '1'];

beforeAll(async () => {
  if (!fs.existsSync(host('usr/bin/node')))
    throw new Error(`no arm64 root at ${ROOT}: run \`bash .ci/arm64-root\` (as root) first, or set WHEREABOUTS_ARM64_ROOT`);
  const node = await inRoot(['/usr/bin/node', '-p', 'process.version + " " + process.arch']);
  expect(node.stdout.trim()).toMatch(/^v18\.\d+\.\d+ arm64$/);
  // the host's server, with the real models
  await voskProvider.ensure({ modelsDir: REPO_MODELS, model: ASR_MODEL });
  models = modelsDir(true);
  token = await account(dataDir, 'pia', 'arm64 pi', 'study');
  port = await freePort();
  srv = await serve(serverArgs());
  fs.rmSync(host(WORK), { recursive: true, force: true });
  fs.mkdirSync(host(`${WORK}/home`), { recursive: true });
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra && fs.existsSync(extra)) {
    fs.copyFileSync(extra, host(`${WORK}/extra-ca.pem`));
    rootEnv.NODE_EXTRA_CA_CERTS = `${WORK}/extra-ca.pem`;
  }
}, 600_000);

afterAll(async () => {
  await srv?.stop();
  fs.rmSync(host(WORK), { recursive: true, force: true });
});

describe('whereabouts-pi on Debian 12 arm64 (Raspberry Pi OS userland), Node 18', () => {
  it('installs from the packed tarball with only ws, no compiler', async () => {
    // an npm that runs on Node 18 (the root has none): npm 10 from the registry, kept beside the root
    const npmDir = host('opt/npm10');
    if (!fs.existsSync(path.join(npmDir, 'bin', 'npm-cli.js'))) {
      const tmp = fs.mkdtempSync('/tmp/wa-npm10-');
      const out = execFileSync('npm', ['pack', 'npm@10', '--silent', '--pack-destination', tmp], { encoding: 'utf8' }).trim().split('\n').pop()!;
      fs.mkdirSync(npmDir, { recursive: true });
      execFileSync('tar', ['xzf', path.join(tmp, out), '-C', npmDir, '--strip-components=1']);
    }
    // the tarball, made the way a release is (prepack builds it)
    const packed = JSON.parse(execFileSync('npm', ['pack', '-w', 'whereabouts-pi', '--json', '--pack-destination', host(WORK)], { cwd: REPO, encoding: 'utf8' }));
    const tgz = `${WORK}/${packed[0].filename}`;
    expect(fs.existsSync(host(tgz))).toBe(true);
    // no compiler in this root, as on a fresh Raspberry Pi OS Lite
    for (const cc of ['cc', 'gcc', 'g++', 'make', 'python3']) expect(fs.existsSync(host(`usr/bin/${cc}`)), cc).toBe(false);

    fs.rmSync(host('usr/lib/node_modules/whereabouts-pi'), { recursive: true, force: true });
    fs.rmSync(host('usr/bin/whereabouts-pi'), { force: true });
    const r = await inRoot(['/usr/bin/node', '/opt/npm10/bin/npm-cli.js', 'install', '-g', tgz, '--no-audit', '--no-fund', '--cache', `${WORK}/npm-cache`], {}, 600_000);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const dir = host('usr/lib/node_modules/whereabouts-pi');
    expect(fs.readdirSync(path.join(dir, 'node_modules')).filter((n) => !n.startsWith('.'))).toEqual(['ws']);
    expect(fs.existsSync(host('usr/bin/whereabouts-pi'))).toBe(true);
    const size = duBytes(dir);
    console.log(`arm64: whereabouts-pi installed in ${(r.ms / 1000).toFixed(1)} s (npm 10 on Node 18 under qemu); ${(size.bytes / 1024).toFixed(0)} KB in ${size.files} files (ws included); packed ${(fs.statSync(host(tgz)).size / 1024).toFixed(1)} KB`);
    const help = await inRoot(['whereabouts-pi', 'help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: whereabouts-pi <command>/);
  });

  it('setup and check against the server on the host', async () => {
    const setup = await inRoot(['whereabouts-pi', 'setup', '--server', srv.url, '--token', token, '--config', `${WORK}/pi.json`, '--watch', `${WORK}/watch`]);
    expect(setup.code, setup.stdout + setup.stderr).toBe(0);
    expect(setup.stdout).toMatch(new RegExp(`^server: ${srv.url.replace(/[.]/g, '\\.')} answers`, 'm'));
    expect(setup.stdout).toMatch(/^device: the token is good; this is "arm64 pi" in the study, belonging to pia$/m);
    expect(setup.stdout).toMatch(/^playback: through aplay \(the optional speaker package is not installed; nothing is missing\)$/m);
    expect(setup.stdout).toMatch(/^settings written to .*pi\.json/m);
    const check = await inRoot(['whereabouts-pi', 'check', '--config', `${WORK}/pi.json`]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect(check.stdout).toMatch(/^device: the token is good/m);
  });

  it('listen --input: asks a spoken question and writes the reply audio; aplay plays it', async () => {
    const r0 = await fetch(`${srv.url}/v1/sightings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ detections: [{ label: 'cup', score: 0.9, box: [0.4, 0.4, 0.1, 0.1] }] }),
    });
    expect(r0.status).toBe(201);
    const fx = fixtures().find((f) => f.file.includes('where-is-my-cup'))!;
    fs.copyFileSync(path.join(FIXTURES, fx.file), host(`${WORK}/question.wav`));
    const events = (out: string) =>
      out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l));

    const r = await inRoot(['whereabouts-pi', 'listen', '--config', `${WORK}/pi.json`, '--input', `${WORK}/question.wav`, '--fast', '--output', `${WORK}/reply.raw`, '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const ev = events(r.stdout);
    const reply = ev.find((e) => e.type === 'reply');
    expect(reply.label).toBe('cup');
    expect(reply.text).toMatch(/study/);
    const announced = ev.filter((e) => e.type === 'audio').reduce((n, e) => n + e.bytes, 0);
    expect(announced).toBeGreaterThan(10_000);
    expect(fs.statSync(host(`${WORK}/reply.raw`)).size).toBe(announced);

    // the default player there is aplay (speaker could not be built): into an ALSA file device
    fs.writeFileSync(
      host(`${WORK}/home/.asoundrc`),
      fs.readFileSync(path.join(REPO, 'test', 'fixtures', 'pi', 'asoundrc.template'), 'utf8').replaceAll('@IN@', '/dev/null').replaceAll('@OUT@', `${WORK}/played.raw`),
    );
    const a = await inRoot(['whereabouts-pi', 'listen', '--config', `${WORK}/pi.json`, '--input', `${WORK}/question.wav`, '--fast', '--json']);
    expect(a.code, a.stderr + a.stdout).toBe(0);
    const aev = events(a.stdout);
    expect(aev.filter((e) => e.type === 'played').map((e) => e.sink)).toEqual(['speaker (aplay, ALSA default)']);
    const aplayed = aev.filter((e) => e.type === 'audio').reduce((n, e) => n + e.bytes, 0);
    const played = fs.readFileSync(host(`${WORK}/played.raw`));
    expect(played.length).toBeGreaterThanOrEqual(aplayed);
    expect(played.length - aplayed).toBeLessThan(16384); // aplay completes its last period with silence
  });

  it('camera --watch: uploads, queues while the server is stopped, delivers when it is back', async () => {
    const watch = host(`${WORK}/watch`);
    fs.mkdirSync(watch, { recursive: true });
    const cam = startInRoot(['whereabouts-pi', 'camera', '--config', `${WORK}/pi.json`], { WHEREABOUTS_PI_SETTLE_MS: '300', WHEREABOUTS_PI_POLL_MS: '300' });
    const drop = (name: string, from: string) => {
      fs.copyFileSync(from, path.join(watch, `.${name}.part`));
      fs.renameSync(path.join(watch, `.${name}.part`), path.join(watch, name));
    };
    const sent = () => (fs.existsSync(path.join(watch, 'sent')) ? fs.readdirSync(path.join(watch, 'sent')).sort() : []);
    try {
      await cam.waitFor(/watching .* for images/, 120_000);
      drop('coffee.png', path.join(SHARED, 'images', 'coffee.png'));
      await until(() => sent().includes('coffee.png'), 120_000, 'coffee.png to be uploaded');
      expect(cam.logs()).toMatch(/\nsent coffee\.png \(captured [\dT:.Z-]+\), frame \d+: (.*, )?cup 0\.\d\d/);

      await srv.stop();
      drop('fruits.jpg', path.join(SHARED, 'images', 'fruits.jpg'));
      drop('kitchen.jpg', path.join(REPO, 'docs', 'kitchen.jpg'));
      await cam.waitFor(/cannot deliver frames to .*keeping them in the spool/, 120_000);
      // both wait in the on-disk spool (in the state folder under HOME), not delivered
      const spool = host(`${WORK}/home/.local/state/whereabouts/spool`);
      await until(() => fs.existsSync(spool) && fs.readdirSync(spool).filter((f) => f.endsWith('.json')).length === 2, 120_000, 'two frames in the spool');
      expect(sent()).toEqual(['coffee.png']);

      srv = await serve(serverArgs()); // back on the same address
      await until(() => sent().length === 3, 180_000, 'the queued frames to be delivered');
      expect(sent()).toEqual(['coffee.png', 'fruits.jpg', 'kitchen.jpg']);
      expect(cam.logs()).toMatch(/server is back after [\d.]+ s: delivering \d+ waiting frame\(s\)/);
      const items = (await (await fetch(`${srv.url}/v1/items`, { headers: { authorization: `Bearer ${token}` } })).json()) as { items: Array<{ label: string }> };
      expect(items.items.map((i) => i.label)).toEqual(expect.arrayContaining(['cup', 'orange']));
    } finally {
      expect(await cam.stop()).toBe(0);
    }
  });
});

