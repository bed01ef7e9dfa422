/**
 * The Pi client's hardware code paths, on a machine without a sound card or GPIO:
 *
 *  - the real `arecord` (through node-record-lpcm16) and the real `speaker` addon, against a real server,
 *    through a test-only .asoundrc (ALSA `file` plugin over `null`: capture reads a prepared raw file,
 *    playback writes what was played to a file) set as $HOME/.asoundrc of the client process only.
 *    Byte-exact, not paced in real time. Skipped (saying so) when the optional `speaker` package is missing.
 *  - the `aplay` player (what a Pi uses when `speaker` was not built): the same bytes reach ALSA
 *  - no microphone / no speaker: one clear line, and never the abort `speaker` causes when it is loaded
 *    without an ALSA default device (ALSA_CONFIG_PATH points at an empty configuration)
 *  - the GPIO button through a stand-in gpiomon (test/fixtures/pi/bin/gpiomon)
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, freePort } from './helpers/proc.js';
import { analyzeSpeech, s16leToFloat32 } from '../dist/protocol/pcm.js';
import { readAudioFile } from '../dist/pi-client/audio.js';
import { GpioButton } from '../dist/pi-client/button.js';
import { which } from '../dist/pi-client/system.js';
import { voskProvider } from '../dist/models/vosk.js';
import { ASR_MODEL, FIXTURES, REPO, REPO_MODELS, account, fixtures, modelsDir, piConfig, runPi, tempDir } from './fixtures/pi/harness.js';

const HERE = path.join(REPO, 'test', 'fixtures', 'pi');

const speakerInstalled = (() => {
  try {
    createRequire(path.join(REPO, 'package.json')).resolve('speaker');
    return true;
  } catch {
    return false;
  }
})();
const alsaTools = !!which('arecord') && !!which('aplay');
if (!speakerInstalled) console.warn('pi-hardware: the optional "speaker" package is not installed: the speaker/arecord integration test is skipped');
if (!alsaTools) console.warn('pi-hardware: arecord/aplay (alsa-utils) are not installed: the ALSA tests are skipped');

/** a HOME whose .asoundrc sends playback to `out` and takes capture from `input` */
function alsaHome(input: string, out: string): string {
  const home = tempDir('wa-pi-alsa-home-');
  const rc = fs.readFileSync(path.join(HERE, 'asoundrc.template'), 'utf8').replaceAll('@IN@', input).replaceAll('@OUT@', out);
  fs.writeFileSync(path.join(home, '.asoundrc'), rc);
  return home;
}

describe.skipIf(!speakerInstalled || !alsaTools)('microphone (arecord) and speaker (the speaker addon) through ALSA', () => {
  const dataDir = tempDir('wa-pi-hw-');
  let srv: Awaited<ReturnType<typeof serve>>;
  let token: string;

  beforeAll(async () => {
    await voskProvider.ensure({ modelsDir: REPO_MODELS, model: ASR_MODEL });
    token = await account(dataDir, 'dee', 'living room pi', 'living room');
    srv = await serve(['--data-dir', dataDir, '--models-dir', modelsDir(true), '--port', String(await freePort()), '--log-level', 'warn', '--asr-workers', '1', '--vision-workers', '1']);
    const r = await fetch(`${srv.url}/v1/sightings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ detections: [{ label: 'cup', score: 0.9, box: [0.4, 0.4, 0.1, 0.1] }] }),
    });
    expect(r.status).toBe(201);
  }, 600_000);
  afterAll(async () => srv?.stop());

  it('hands-free: arecord hears the question, the speaker plays exactly the announced reply bytes', async () => {
    const dir = tempDir('wa-pi-hw-run-');
    const fx = fixtures().find((f) => f.file.includes('where-is-my-cup'))!;
    const speech = readAudioFile(path.join(FIXTURES, fx.file), 16000);
    const input = path.join(dir, 'mic.raw');
    // what the microphone "hears": a little quiet, the question, then quiet long enough to end it
    fs.writeFileSync(input, Buffer.concat([Buffer.alloc(16000), speech, Buffer.alloc(32000 * 2)]));
    const out = path.join(dir, 'played.raw');
    const cfg = piConfig(dir, { server: srv.url, token });

    const r = await runPi(['listen', '--config', cfg, '--vad', '--once', '--json', '--verbose'], { env: { HOME: alsaHome(input, out) } });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toMatch(/debug: recording: arecord -r 16000/);
    expect(r.stderr).toMatch(/debug: speech started/);
    expect(r.stderr).not.toMatch(/warning|error/);
    const ev = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    const reply = ev.find((e) => e.type === 'reply');
    expect(reply.label).toBe('cup');
    expect(reply.text).toMatch(/living room/);
    const announced = ev.filter((e) => e.type === 'audio').reduce((n, e) => n + e.bytes, 0);
    const played = ev.filter((e) => e.type === 'played');
    expect(played.map((p) => p.sink)).toEqual(['speaker (ALSA default)']);

    // byte-exact: what ALSA was given is what the server sent
    const pcm = fs.readFileSync(out);
    expect(announced).toBeGreaterThan(0);
    expect(pcm.length).toBe(announced);
    const stats = analyzeSpeech(s16leToFloat32(pcm), ev.find((e) => e.type === 'audio').sample_rate);
    expect(stats.activeSec).toBeGreaterThan(0.8);
  });

  it('without the speaker package (speaker.player "aplay"), replies play through aplay', async () => {
    const dir = tempDir('wa-pi-aplay-');
    const fx = fixtures().find((f) => f.file.includes('where-is-my-cup'))!;
    const out = path.join(dir, 'played.raw');
    const cfg = piConfig(dir, { server: srv.url, token, speaker: { player: 'aplay' } });
    const r = await runPi(['listen', '--config', cfg, '--input', path.join(FIXTURES, fx.file), '--fast', '--json', '--verbose'], {
      env: { HOME: alsaHome(path.join(dir, 'no-mic.raw'), out) },
    });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stderr).toMatch(/debug: playing: aplay -q -t raw -f S16_LE -c 1 -r \d+ -/);
    const ev = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(ev.find((e) => e.type === 'reply').label).toBe('cup');
    expect(ev.filter((e) => e.type === 'played').map((p) => p.sink)).toEqual(['speaker (aplay, ALSA default)']);
    const announced = ev.filter((e) => e.type === 'audio').reduce((n, e) => n + e.bytes, 0);
    expect(announced).toBeGreaterThan(0);
    // aplay completes its last ALSA period with silence: the announced bytes, then at most a period of zeros
    const pcm = fs.readFileSync(out);
    expect(pcm.length).toBeGreaterThanOrEqual(announced);
    expect(pcm.length - announced).toBeLessThan(16384);
    expect(pcm.subarray(announced).every((b) => b === 0)).toBe(true);
    expect(analyzeSpeech(s16leToFloat32(pcm.subarray(0, announced)), ev.find((e) => e.type === 'audio').sample_rate).activeSec).toBeGreaterThan(0.8);
  });
});

describe.skipIf(!alsaTools)('no microphone, no speaker', () => {
  it('says so in one line, and never loads the speaker addon without an ALSA default device', async () => {
    const dir = tempDir('wa-pi-nosound-');
    const empty = path.join(dir, 'empty-alsa.conf');
    fs.writeFileSync(empty, '');
    // the server is never reached: the devices are checked first
    const cfg = piConfig(dir, { server: `http://127.0.0.1:${await freePort()}`, token: 'wad_x' });
    const env = { ALSA_CONFIG_PATH: empty };
    const wav = path.join(FIXTURES, fixtures()[0].file);

    const spk = await runPi(['listen', '--config', cfg, '--input', wav], { env });
    expect(spk.signal).toBe(null); // not aborted
    expect(spk.code).toBe(1);
    expect(spk.stderr.trim().split('\n')).toHaveLength(1);
    expect(spk.stderr).toMatch(/^whereabouts-pi: no speaker: ALSA has no default playback device .*; or run with --no-audio for text replies$/m);

    const mic = await runPi(['listen', '--config', cfg, '--vad', '--no-audio'], { env });
    expect(mic.code).toBe(1);
    expect(mic.stderr.trim().split('\n')).toHaveLength(1);
    expect(mic.stderr).toMatch(/^whereabouts-pi: no microphone: ALSA has no default capture device/m);

    // `setup` reports both without dying either
    const setup = await runPi(['setup', '--server', `http://127.0.0.1:${await freePort()}`, '--token', 'wad_x', '--config', path.join(dir, 's.json')], { env });
    expect(setup.signal).toBe(null);
    expect(setup.stdout).toMatch(/^no microphone: /m);
    expect(setup.stdout).toMatch(/^no speaker: /m);
    expect(setup.stdout).toMatch(/^server: cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused/m);
    expect(setup.code).toBe(1);
  });
});

describe('GPIO push-to-talk button (gpiomon)', () => {
  const PATH = `${path.join(HERE, 'bin')}:${process.env.PATH}`;

  it('turns gpiomon edges into press and release, ignoring bounces', async () => {
    const old = process.env.PATH;
    process.env.PATH = PATH;
    const argsFile = path.join(tempDir('wa-pi-gpio-'), 'args');
    process.env.FAKE_GPIOMON_ARGS = argsFile;
    const b = new GpioButton({ chip: 'gpiochip0', line: 17, activeLow: true, bias: 'pull-up' });
    const seen: string[] = [];
    b.on('press', () => seen.push('press'));
    b.on('release', () => seen.push('release'));
    try {
      await b.start();
      for (let i = 0; i < 50 && seen.length < 4; i++) await new Promise((r) => setTimeout(r, 50));
      expect(seen).toEqual(['press', 'release', 'press', 'release']);
      expect(fs.readFileSync(argsFile, 'utf8').trim()).toBe('-b -B pull-up -F %e gpiochip0 17');
    } finally {
      b.stop();
      process.env.PATH = old;
      delete process.env.FAKE_GPIOMON_ARGS;
    }
  });

  it('a line it cannot watch is one clear error', async () => {
    const old = process.env.PATH;
    process.env.PATH = PATH;
    process.env.FAKE_GPIOMON_MODE = 'fail';
    try {
      const b = new GpioButton({ chip: 'gpiochip0', line: 17, activeLow: true, bias: 'pull-up' });
      await expect(b.start()).rejects.toThrow(
        /^button: gpiomon cannot watch gpiochip0 line 17 \(gpiomon: unable to request lines: Permission denied; add the user to the gpio group\)$/,
      );
    } finally {
      process.env.PATH = old;
      delete process.env.FAKE_GPIOMON_MODE;
    }
  });
});
