/**
 * The Pi client end to end: the real server (`whereabouts serve` as a child process, with the real YOLOX-Nano
 * detector, Vosk recogniser and speech synthesiser) and the real `whereabouts-pi` program as child processes.
 *
 *  - voice: a fixture WAV streamed from a file source (real-time pace, and --fast) over /v1/listen; the reply
 *    lands in a file sink as exactly the bytes the server announced, and they are speech
 *  - camera: an image dropped into a watched folder is uploaded; "where is my cup" then names the room
 *  - camera: the server is killed and comes back while images keep arriving; every frame is stored once
 *  - camera messages: one line per upload with what was found, a --once summary, skipped files named,
 *    --command over a configured folder, --quiet
 *  - setup, and one-line errors for a bad token, a server that is down, a missing camera command
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, freePort } from './helpers/proc.js';
import { analyzeSpeech, s16leToFloat32 } from '../dist/protocol/pcm.js';
import { voskProvider } from '../dist/models/vosk.js';
import { ASR_MODEL, FIXTURES, REPO_MODELS, SHARED, account, dropImage, fixtures, modelsDir, piConfig, runPi, startPi, tempDir, until } from './fixtures/pi/harness.js';

type Server = Awaited<ReturnType<typeof serve>>;

const dataDir = tempDir('wa-pi-e2e-');
let models: string;
let port: number;
let srv: Server;
const tokens: Record<string, string> = {};

function serverArgs(): string[] {
  return ['--data-dir', dataDir, '--models-dir', models, '--port', String(port), '--log-level', 'warn', '--asr-workers', '1', '--vision-workers', '1', '--time-zone', 'UTC'];
}

async function query(token: string, text: string) {
  const r = await fetch(`${srv.url}/v1/query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ text }),
  });
  return { status: r.status, body: (await r.json()) as any };
}

/** the JSON events a `listen --json` run printed */
function events(stdout: string): any[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

beforeAll(async () => {
  await voskProvider.ensure({ modelsDir: REPO_MODELS, model: ASR_MODEL });
  models = modelsDir(true);
  tokens.ann = await account(dataDir, 'ann', 'kitchen pi', 'kitchen');
  tokens.bob = await account(dataDir, 'bob', 'hall cam', 'hallway');
  tokens.cara = await account(dataDir, 'cara', 'porch cam', 'porch');
  port = await freePort();
  srv = await serve(serverArgs());
}, 600_000);

afterAll(async () => {
  await srv?.stop();
});

describe('whereabouts-pi listen (voice) against the real server', () => {
  const cases = fixtures().filter((f) => ['where-is-my-cup', 'where-is-my-phone'].some((n) => f.file.includes(n)));

  beforeAll(async () => {
    // ann's things were seen in the kitchen
    const r = await fetch(`${srv.url}/v1/sightings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.ann}`, 'content-type': 'application/json' },
      body: JSON.stringify({ detections: [{ label: 'cup', score: 0.9, box: [0.4, 0.4, 0.1, 0.1] }, { label: 'cell phone', score: 0.8, box: [0.1, 0.6, 0.1, 0.1] }] }),
    });
    expect(r.status).toBe(201);
  });

  for (const [i, fx] of cases.entries()) {
    const fast = i % 2 === 1;
    it(`"${fx.text}" from a file source${fast ? ' (--fast)' : ' at real-time pace'}: the spoken reply lands in the file sink`, async () => {
      const dir = tempDir('wa-pi-voice-');
      const cfg = piConfig(dir, { server: srv.url, token: tokens.ann });
      const out = path.join(dir, 'reply.raw');
      const t0 = Date.now();
      const r = await runPi(['listen', '--config', cfg, '--input', path.join(FIXTURES, fx.file), '--output', out, '--json', ...(fast ? ['--fast'] : [])]);
      const elapsed = (Date.now() - t0) / 1000;
      expect(r.stderr).toBe('');
      expect(r.code, r.stdout).toBe(0);
      const ev = events(r.stdout);
      const types = ev.map((e) => e.type);
      expect(types[0]).toBe('listening');
      expect(types.slice(-2)).toEqual(['done', 'played']);
      expect(types).toContain('partial');

      const transcript = ev.find((e) => e.type === 'transcript');
      // the end of the file sends stop; the server's endpointer may end it first, in the
      // file's trailing quiet
      expect(['stop', 'endpoint']).toContain(transcript.reason);
      const reply = ev.find((e) => e.type === 'reply');
      expect(reply.intent).toBe(fx.expect.intent);
      expect(reply.label).toBe(fx.expect.label);
      expect(reply.outcome).toBe('found');
      expect(reply.text).toMatch(/kitchen/);
      expect(reply.sighting.room).toBe('kitchen');

      // exactly the announced bytes, all of them in the sink
      const announced = ev.filter((e) => e.type === 'audio').reduce((n, e) => n + e.bytes, 0);
      const rate = ev.find((e) => e.type === 'audio').sample_rate;
      const pcm = fs.readFileSync(out);
      expect(announced).toBeGreaterThan(0);
      expect(pcm.length).toBe(announced);
      expect(ev.filter((e) => e.type === 'played').reduce((n, e) => n + e.bytes, 0)).toBe(announced);
      // ...and they are speech, a sentence long
      const stats = analyzeSpeech(s16leToFloat32(pcm), rate);
      expect(stats.durationSec).toBeGreaterThan(1.5);
      expect(stats.durationSec).toBeLessThan(15);
      expect(stats.activeSec).toBeGreaterThan(0.8);
      expect(stats.peak).toBeGreaterThan(0.05);

      // real-time pace streams the file for (about) its duration; --fast does not wait
      if (fast) expect(elapsed).toBeLessThan(fx.durationSec + 10);
      // (the server's endpointer may end the question in the file's trailing quiet, before its last frame)
      else expect(elapsed).toBeGreaterThan(fx.durationSec * (transcript.reason === 'endpoint' ? 0.6 : 0.9));
    });
  }

  it('a hands-free (--vad) run over a file finds the question in it', async () => {
    const dir = tempDir('wa-pi-voice-');
    const cfg = piConfig(dir, { server: srv.url, token: tokens.ann });
    const fx = cases[0];
    const r = await runPi(['listen', '--config', cfg, '--input', path.join(FIXTURES, fx.file), '--vad', '--fast', '--no-audio']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`you: .*${fx.expect.item}`));
    expect(r.stdout).toMatch(/whereabouts: Your cup .*kitchen/);
  });
});

describe('whereabouts-pi camera against the real server', () => {
  it('uploads an image from the watched folder; the question then names the room', async () => {
    const dir = tempDir('wa-pi-cam-');
    const watch = path.join(dir, 'watch');
    fs.mkdirSync(watch);
    const cfg = piConfig(dir, { server: srv.url, token: tokens.bob, camera: { spoolDir: path.join(dir, 'spool') } });
    const cam = startPi(['camera', '--config', cfg, '--watch', watch, '--verbose'], { WHEREABOUTS_PI_SETTLE_MS: '300', WHEREABOUTS_PI_POLL_MS: '200' });
    try {
      await cam.waitFor(/watching .* for images/);
      expect((await query(tokens.bob, 'where is my cup')).body.outcome).not.toBe('found');
      const takenAt = Date.now() - 60_000;
      dropImage(watch, 'coffee.png', fs.readFileSync(path.join(SHARED, 'images', 'coffee.png')), takenAt);
      await until(() => fs.existsSync(path.join(watch, 'sent', 'coffee.png')), 60_000, 'the image to be uploaded and moved to sent/');
      expect(fs.existsSync(path.join(watch, 'coffee.png'))).toBe(false);
      // the client moves the file before it prints the line
      const sent = /\nsent coffee\.png \(captured [\dT:.Z-]+\), frame \d+: .*cup 0\.\d\d/;
      await until(() => sent.test(cam.logs()), 10_000, 'the client to log the upload');
      expect(cam.logs()).toMatch(sent);

      const q = await query(tokens.bob, 'where is my cup');
      expect(q.status).toBe(200);
      expect(q.body.outcome).toBe('found');
      expect(q.body.reply).toMatch(/hallway/);
      expect(q.body.sighting.room).toBe('hallway');
      expect(q.body.sighting.frame_id).toEqual(expect.any(Number));
      // captured_at is the file's time, not the upload's
      expect(Math.abs(Date.parse(q.body.sighting.seen_at) - takenAt)).toBeLessThan(1000);
    } finally {
      expect(await cam.stop()).toBe(0);
    }
  });

  it('takes stills with the camera command, every interval', async () => {
    const dir = tempDir('wa-pi-still-');
    const still = `cp ${path.join(SHARED, 'images', 'fruits.jpg')} {file}`;
    const cfg = piConfig(dir, { server: srv.url, token: tokens.bob, camera: { command: still, spoolDir: path.join(dir, 'spool') } });
    // --once: one picture, delivered, then exit 0
    const once = await runPi(['camera', '--config', cfg, '--once', '--verbose']);
    expect(once.code, once.stderr).toBe(0);
    expect(once.stderr).toMatch(/taking a picture every 10 s with: cp .*fruits\.jpg \{file\}/);
    expect(once.stderr).toMatch(/\nsent the picture taken at [\dT:.Z-]+, frame \d+: .*orange 0\.\d\d/);
    expect(once.stderr).toMatch(/\ndone: 1 frame\(s\) sent; found .*orange/);

    const cam = startPi(['camera', '--config', cfg, '--interval', '0.5', '--verbose']);
    try {
      await until(() => (cam.logs().match(/sent the picture taken at/g) ?? []).length >= 3, 30_000, 'three stills to be sent');
    } finally {
      expect(await cam.stop()).toBe(0);
    }
    const q = await query(tokens.bob, 'where are my oranges');
    expect(q.body.reply).toMatch(/hallway/);

    // a camera that fails says why, and keeps trying
    const bad = startPi(['camera', '--config', cfg, '--command', 'sh -c "echo no camera connected >&2; exit 1" {file}', '--interval', '0.2']);
    try {
      await bad.waitFor(/could not take a picture: sh failed \(exit 1\): no camera connected/);
      await bad.waitFor(/\(10 times in a row\)/, 20_000);
    } finally {
      expect(await bad.stop()).toBe(0);
    }
  });

  it('messages: each upload says what was found, --once sums up, skipped files are named, --command wins over a configured folder, --quiet is quiet', async () => {
    const dir = tempDir('wa-pi-msg-');
    const watch = path.join(dir, 'watch');
    fs.mkdirSync(watch);
    const cfg = piConfig(dir, { server: srv.url, token: tokens.bob, camera: { watchDir: watch, spoolDir: path.join(dir, 'spool') } });
    const env = { WHEREABOUTS_PI_SETTLE_MS: '0' };
    fs.copyFileSync(path.join(SHARED, 'images', 'coffee.png'), path.join(watch, 'coffee.png'));
    fs.copyFileSync(path.join(SHARED, 'images', 'rocket.jpg'), path.join(watch, 'rocket.jpg'));
    fs.writeFileSync(path.join(watch, 'notes.txt'), 'not an image');
    fs.writeFileSync(path.join(watch, '.hidden.jpg.part'), 'being written');

    // the configured folder, --once: one line per upload with what was found, then a summary
    const once = await runPi(['camera', '--config', cfg, '--once'], { env });
    expect(once.code, once.stderr).toBe(0);
    const lines = once.stderr.trim().split('\n');
    expect(lines[0]).toBe(`watching ${watch} for images; uploading to ${srv.url}`);
    expect(once.stderr).toMatch(/\nsent coffee\.png \(captured [\dT:.Z-]+\), frame \d+: (.*, )?cup 0\.\d\d/);
    expect(once.stderr).toMatch(/\nsent rocket\.jpg \(captured [\dT:.Z-]+\), frame \d+: nothing recognised\n/);
    expect(once.stderr).toMatch(/\nskipping notes\.txt in .*watch: only \.jpg, \.jpeg, \.png and \.webp images are uploaded\n/);
    expect(once.stderr).not.toMatch(/hidden/);
    expect(lines[lines.length - 1]).toMatch(/^done: 2 frame\(s\) sent; found (.+, )?cup(, .+)?$/);
    expect(fs.readdirSync(path.join(watch, 'sent')).sort()).toEqual(['coffee.png', 'rocket.jpg']);

    // --command wins over the configured watch folder
    fs.copyFileSync(path.join(SHARED, 'images', 'coffee.png'), path.join(watch, 'again.png'));
    const cmd = await runPi(['camera', '--config', cfg, '--once', '--command', `cp ${path.join(SHARED, 'images', 'fruits.jpg')} {file}`], { env });
    expect(cmd.code, cmd.stderr).toBe(0);
    expect(cmd.stderr).toMatch(/^taking a picture every 10 s with: cp .*fruits\.jpg \{file\}\n/);
    expect(cmd.stderr).toMatch(/\nsent the picture taken at [\dT:.Z-]+, frame \d+: .*orange/);
    expect(cmd.stderr).not.toMatch(/watching|again\.png/);
    expect(fs.existsSync(path.join(watch, 'again.png'))).toBe(true);
    const both = await runPi(['camera', '--config', cfg, '--once', '--watch', watch, '--command', 'cp a {file}']);
    expect(both.code).toBe(2);
    expect(both.stderr.trim()).toBe('whereabouts-pi: give --watch DIR or --command CMD, not both');

    // --quiet: a run that goes well prints nothing at all
    const quiet = await runPi(['camera', '--config', cfg, '--once', '--quiet'], { env });
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout + quiet.stderr).toBe('');
    expect(fs.existsSync(path.join(watch, 'sent', 'again.png'))).toBe(true);
    // ...and `check --quiet` keeps only the lines that report a problem
    const loud = await runPi(['check', '--config', cfg]);
    const hushed = await runPi(['check', '--config', cfg, '--quiet']);
    expect(hushed.code).toBe(loud.code);
    expect(loud.stdout).toMatch(/^server: .* answers/m);
    expect(loud.stdout).toMatch(/^device: the token is good/m);
    expect(hushed.stdout).not.toMatch(/^(server|device|settings|camera):/m);
    for (const l of hushed.stdout.trim().split('\n').filter(Boolean)) expect(loud.stdout).toContain(l);
    expect(hushed.stdout.length).toBeLessThan(loud.stdout.length);
  });

  it('keeps frames while the server is down and delivers each exactly once when it is back', async () => {
    const dir = tempDir('wa-pi-outage-');
    const watch = path.join(dir, 'watch');
    const spool = path.join(dir, 'spool');
    fs.mkdirSync(watch);
    const cfg = piConfig(dir, { server: srv.url, token: tokens.cara, camera: { spoolDir: spool }, backoff: { initialMs: 200, maxMs: 1000 } });
    const cam = startPi(['camera', '--config', cfg, '--watch', watch, '--verbose'], { WHEREABOUTS_PI_SETTLE_MS: '300', WHEREABOUTS_PI_POLL_MS: '200' });
    const images = ['coffee.png', 'fruits.jpg'].map((n) => ({ ext: path.extname(n), data: fs.readFileSync(path.join(SHARED, 'images', n)) }));
    const base = Date.UTC(2025, 0, 1, 8, 0, 0);
    const taken: number[] = [];
    const produce = () => {
      const i = taken.length;
      const img = images[i % images.length];
      const at = base + i * 1000;
      dropImage(watch, `frame-${String(i).padStart(4, '0')}${img.ext}`, img.data, at);
      taken.push(at);
    };
    const sent = () => (fs.existsSync(path.join(watch, 'sent')) ? fs.readdirSync(path.join(watch, 'sent')).length : 0);
    const spooled = () => fs.readdirSync(spool).filter((f) => f.endsWith('.json')).length;
    let producer: NodeJS.Timeout | null = null;
    try {
      await cam.waitFor(/watching .* for images/);
      // the camera keeps producing, every 250 ms, through all that follows
      producer = setInterval(produce, 250);
      await until(() => sent() >= 4, 30_000, 'the first frames to be delivered');

      // the server is killed (SIGKILL: no goodbye). Killed in the middle of an upload, a frame the server had
      // already stored would be sent again (its acknowledgement lost), which only the server can recognise
      // (Idempotency-Key); so the kill comes at a moment with no upload in flight: the producer pauses for it.
      clearInterval(producer);
      await until(() => sent() === taken.length && spooled() === 0, 30_000, 'a quiet moment');
      srv.proc.kill('SIGKILL');
      await new Promise((r) => (srv.proc.exitCode !== null || srv.proc.signalCode !== null ? r(null) : srv.proc.once('exit', r)));
      producer = setInterval(produce, 250);
      const downAt = taken.length;
      await cam.waitFor(/cannot deliver frames to /, 15_000);
      await until(() => taken.length >= downAt + 10 && spooled() >= 5, 30_000, 'frames to pile up in the spool while the server is down');
      const whileDown = taken.length - downAt;

      srv = await serve(serverArgs()); // ...and comes back on the same address
      await until(() => taken.length >= downAt + whileDown + 6, 30_000, 'more frames after the restart');
      clearInterval(producer);
      producer = null;

      await until(() => sent() === taken.length && spooled() === 0, 90_000, `all ${taken.length} frames to be delivered`);
      expect(cam.logs()).toMatch(/server is back after [\d.]+ s: delivering \d+ waiting frame\(s\)/);
      expect(cam.logs()).not.toMatch(/dropped|refused the frame/);
      expect(whileDown).toBeGreaterThanOrEqual(10);

      // every frame taken is in the store exactly once
      const db = new Database(path.join(dataDir, 'whereabouts.db'), { readonly: true, fileMustExist: true });
      try {
        const dev = db.prepare('SELECT id FROM devices WHERE name = ?').get('porch cam') as { id: number };
        const rows = db.prepare('SELECT captured_at AS at, COUNT(*) AS n FROM frames WHERE device_id = ? GROUP BY captured_at ORDER BY captured_at').all(dev.id) as Array<{ at: number; n: number }>;
        expect(rows.map((r) => r.at)).toEqual(taken);
        expect(rows.filter((r) => r.n !== 1)).toEqual([]);
        // and they arrived in the order they were taken
        const ids = db.prepare('SELECT captured_at AS at FROM frames WHERE device_id = ? ORDER BY id').all(dev.id) as Array<{ at: number }>;
        expect(ids.map((r) => r.at)).toEqual(taken);
      } finally {
        db.close();
      }
    } finally {
      if (producer) clearInterval(producer);
      expect(await cam.stop()).toBe(0);
    }
    // each stage above has its own bound (up to 90 s for the backlog); a server restart loads every model again,
    // so the whole test gets room for its stages rather than the suite's 60 s default
  }, 240_000);
});

describe('whereabouts-pi setup and one-line errors', () => {
  it('setup writes the settings (0600) and says who the device is', async () => {
    const dir = tempDir('wa-pi-setup-');
    const file = path.join(dir, 'conf', 'pi.json');
    const r = await runPi(['setup', '--server', srv.url + '/', '--token', tokens.ann, '--config', file, '--watch', path.join(dir, 'w')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^server: http:\/\/127\.0\.0\.1:\d+ answers \(store sqlite, speech on\)$/m);
    expect(r.stdout).toMatch(/^device: the token is good; this is "kitchen pi" in the kitchen, belonging to ann$/m);
    expect(r.stdout).toMatch(/microphone/);
    expect(r.stdout).toMatch(/speaker/);
    expect(r.stdout).toMatch(/^camera: uploads the images that appear in /m);
    expect(r.stdout).toMatch(/^button: /m);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(saved).toMatchObject({ server: srv.url, token: tokens.ann, device: { name: 'kitchen pi', room: 'kitchen', user: 'ann' } });

    const bad = await runPi(['setup', '--server', srv.url, '--token', 'wad_not-a-real-token-0000000000', '--config', path.join(dir, 'bad.json')]);
    expect(bad.code).toBe(3);
    expect(bad.stdout).toMatch(/refused the device token \(401/);
    expect(bad.stdout).toMatch(/settings NOT written/);
    expect(fs.existsSync(path.join(dir, 'bad.json'))).toBe(false);
  });

  it('prints one clear line and exits non-zero', async () => {
    const dir = tempDir('wa-pi-errors-');
    const wav = path.join(FIXTURES, fixtures()[0].file);
    const down = `http://127.0.0.1:${await freePort()}`;
    const emptyPath = tempDir('wa-pi-path-');
    const watchCopy = tempDir('wa-pi-watch-');
    fs.copyFileSync(path.join(SHARED, 'images', 'coffee.png'), path.join(watchCopy, 'coffee.png'));
    fs.utimesSync(path.join(watchCopy, 'coffee.png'), 1e9, 1e9);
    const cases: Array<{ name: string; cfg: Record<string, unknown>; args: string[]; env?: Record<string, string>; code: number; re: RegExp }> = [
      {
        name: 'bad token (voice)',
        cfg: { server: srv.url, token: 'wad_revoked-or-never-issued-0000000' },
        args: ['listen', '--input', wav, '--output', path.join(dir, 'x.raw')],
        code: 3,
        re: /refused the device token \(401: unknown or revoked device token\)/,
      },
      {
        name: 'server down (voice)',
        cfg: { server: down, token: tokens.ann },
        args: ['listen', '--input', wav, '--output', path.join(dir, 'x.raw')],
        code: 1,
        re: /cannot reach the server at http:\/\/127\.0\.0\.1:\d+: connection refused \(is the server running\?\)/,
      },
      {
        name: 'bad token (camera)',
        cfg: { server: srv.url, token: 'wad_revoked-or-never-issued-0000000', camera: { spoolDir: path.join(dir, 'spool') } },
        args: ['camera', '--watch', watchCopy, '--once', '--quiet'],
        env: { WHEREABOUTS_PI_SETTLE_MS: '0' },
        code: 3,
        re: /refused the device token \(401/,
      },
      {
        name: 'camera command missing',
        cfg: { server: srv.url, token: tokens.ann, camera: { command: 'rpicam-still-not-here -o {file}' } },
        args: ['camera'],
        code: 1,
        re: /camera command "rpicam-still-not-here" not found/,
      },
      {
        name: 'no camera command at all',
        cfg: { server: srv.url, token: tokens.ann },
        args: ['camera'],
        env: { PATH: emptyPath },
        code: 1,
        re: /no camera command: none of rpicam-still, libcamera-still or fswebcam is installed/,
      },
      { name: 'no settings', cfg: {}, args: ['listen', '--config', path.join(dir, 'nope.json')], code: 1, re: /no settings at .*nope\.json: run whereabouts-pi setup/ },
      { name: 'bad flag', cfg: { server: srv.url, token: 'x' }, args: ['camera', '--interval', 'soon'], code: 2, re: /--interval wants a number of seconds/ },
    ];
    for (const c of cases) {
      const cfg = piConfig(tempDir('wa-pi-err-'), c.cfg);
      const args = c.args.includes('--config') ? c.args : [...c.args, '--config', cfg];
      const r = await runPi(args, { env: c.env, timeoutMs: 30_000 });
      const lines = r.stderr.trim().split('\n');
      expect({ name: c.name, code: r.code, lines: lines.length }).toEqual({ name: c.name, code: c.code, lines: 1 });
      expect(lines[lines.length - 1]).toMatch(/^whereabouts-pi: /);
      expect(r.stderr).toMatch(c.re);
    }
  });
});
