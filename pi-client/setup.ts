/**
 * `whereabouts-pi setup`: writes the settings (mode 0600) and says in plain words what it found: the server,
 * who the token belongs to, the microphone, the speaker, the camera command and gpiomon.
 * `whereabouts-pi check` prints the same report for the existing settings without writing anything.
 */
import path from 'node:path';
import { SYSTEM_CONFIG, USER_CONFIG, configPath, normalizeServer, readExisting, saveConfig, validate, withDefaults, type PiConfig } from './config.js';
import { EXIT_AUTH, EXIT_FAILURE, PiError, UsageError } from './errors.js';
import { authError, describeNetError, describeReply, request } from './http.js';
import { speakerPackageInstalled } from './audio.js';
import { checkAlsa, findCameraCommand, gpiomonVersion, splitCommand, which } from './system.js';

export interface SetupFlags {
  server?: string;
  token?: string;
  config?: string;
  system?: boolean;
  mic?: string;
  speaker?: string;
  button?: string;
  'camera-command'?: string;
  interval?: string;
  watch?: string;
  spool?: string;
  force?: boolean;
}

/** one line of the report; `fine` marks a line that reports no problem (`--quiet` leaves those out) */
type Say = (line: string, fine?: boolean) => void;

/** "gpiochip0:17" or "17" (gpiochip0) -> the button settings; "none" removes it */
export function parseButton(s: string): PiConfig['button'] {
  if (/^(none|off|no)$/i.test(s)) return null;
  const m = /^(?:([\w-]+):)?(\d+)$/.exec(s.trim());
  if (!m) throw new UsageError(`--button wants CHIP:LINE (e.g. gpiochip0:17) or a line number, got "${s}"`);
  return { chip: m[1] ?? 'gpiochip0', line: Number(m[2]), activeLow: true, bias: 'pull-up' };
}

export async function checkServer(c: PiConfig, say: Say): Promise<{ serverOk: boolean; tokenOk: boolean | null; device: PiConfig['device'] | null }> {
  let serverOk = false;
  try {
    const h = await request(c.server, '/healthz', { timeoutMs: 8000 });
    if (h.status === 200 && h.json?.ok) {
      serverOk = true;
      const bits = [h.json.store && `store ${h.json.store}`, typeof h.json.speech === 'boolean' && `speech ${h.json.speech ? 'on' : 'off'}`].filter(Boolean);
      say(`server: ${c.server} answers${bits.length ? ` (${bits.join(', ')})` : ''}`, true);
    } else say(`server: ${c.server} answers, but not like a whereabouts server (GET /healthz: ${describeReply(h)})`);
  } catch (e) {
    say(`server: cannot reach ${c.server}: ${describeNetError(e)}`);
    return { serverOk: false, tokenOk: null, device: null };
  }
  try {
    const r = await request(c.server, '/v1/device', { token: c.token, timeoutMs: 8000 });
    if (r.status === 200 && r.json?.device) {
      const d = r.json.device;
      const device = { id: d.id, name: d.name, room: d.room ?? null, user: r.json.user?.name };
      say(
        `device: the token is good; this is "${d.name}"${d.room ? ` in the ${d.room}` : ' (no room set: give it one on the admin page so answers can say where things are)'}${device.user ? `, belonging to ${device.user}` : ''}`,
        !!d.room,
      );
      return { serverOk, tokenOk: true, device };
    }
    if (r.status === 401 || r.status === 403) {
      say(`device: ${authError(c.server, r).message}`);
      return { serverOk, tokenOk: false, device: null };
    }
    say(`device: could not check the token (GET /v1/device: ${describeReply(r)})`);
  } catch (e) {
    say(`device: could not check the token: ${describeNetError(e)}`);
  }
  return { serverOk, tokenOk: null, device: null };
}

export async function checkHardware(c: PiConfig, say: Say): Promise<void> {
  const mic = await checkAlsa('capture', c.mic.device);
  say(mic.message, mic.ok);
  if (!mic.ok && mic.cards.length) say(`  capture devices: ${mic.cards.map((k) => `plughw:${k.card},${k.device} (${k.name})`).join(', ')}; pick one with --mic`);

  const spk = await checkAlsa('playback', c.speaker.device);
  say(spk.message, spk.ok);
  if (!spk.ok && spk.cards.length) say(`  playback devices: ${spk.cards.map((k) => `plughw:${k.card},${k.device} (${k.name})`).join(', ')}; pick one with --speaker`);
  // resolved, never loaded: loading `speaker` opens ALSA's default device, and aborts the process without one
  const useSpeaker = c.speaker.player === 'speaker' || (c.speaker.player === 'auto' && speakerPackageInstalled());
  say(
    useSpeaker
      ? `playback: through the speaker package${speakerPackageInstalled() ? '' : ', which is not installed (speaker.player is "speaker"; "auto" uses aplay)'}`
      : which('aplay')
        ? `playback: through aplay${c.speaker.player === 'aplay' ? ' (speaker.player is "aplay")' : ' (the optional speaker package is not installed; nothing is missing)'}`
        : 'playback: neither aplay nor the speaker package is installed, so replies cannot be played (sudo apt install alsa-utils)',
    useSpeaker ? speakerPackageInstalled() : !!which('aplay'),
  );

  if (c.camera.watchDir) say(`camera: uploads the images that appear in ${c.camera.watchDir}`, true);
  if (c.camera.command) {
    const bin = splitCommand(c.camera.command)[0] ?? '';
    const p = which(bin);
    say(p ? `camera: ${bin} (${p}), every ${c.camera.intervalSeconds} s` : `camera: the camera command "${bin}" is not installed`, !!p);
  } else if (!c.camera.watchDir) {
    const f = findCameraCommand();
    say(
      f
        ? `camera: ${f.bin} (${f.path}), every ${c.camera.intervalSeconds} s`
        : 'camera: none of rpicam-still, libcamera-still or fswebcam is installed (sudo apt install rpicam-apps); `camera --watch DIR` still works',
      !!f,
    );
  }

  const g = await gpiomonVersion();
  if (c.button) say(g ? `button: ${c.button.chip} line ${c.button.line} through gpiomon (libgpiod ${g.text})` : 'button: configured, but gpiomon is not installed (sudo apt install gpiod)', !!g);
  else say(g ? `button: none configured (gpiomon ${g.text} is there: add one with --button gpiochip0:17)` : 'button: none configured; gpiomon is not installed (sudo apt install gpiod)', true);
}

export async function runSetup(flags: SetupFlags, say: Say): Promise<number> {
  if (flags.system && flags.config) throw new UsageError('give --system or --config, not both');
  const file = flags.config ? configPath(flags.config) : flags.system ? SYSTEM_CONFIG : USER_CONFIG();
  const existing = readExisting(file) ?? {};
  const c = withDefaults(existing);
  if (flags.server) c.server = normalizeServer(flags.server);
  if (flags.token) c.token = flags.token.trim();
  if (!c.server || !c.token) throw new UsageError('usage: whereabouts-pi setup --server URL --token TOKEN [--config PATH | --system]');
  if (!/^wad_/.test(c.token)) say('note: device tokens start with "wad_" (from `whereabouts device add` or the admin page)');
  if (flags.mic !== undefined) c.mic.device = /^(default|)$/.test(flags.mic) ? null : flags.mic;
  if (flags.speaker !== undefined) c.speaker.device = /^(default|)$/.test(flags.speaker) ? null : flags.speaker;
  if (flags.button !== undefined) c.button = parseButton(flags.button);
  if (flags['camera-command'] !== undefined) c.camera.command = flags['camera-command'] || null;
  if (flags.interval !== undefined) c.camera.intervalSeconds = Number(flags.interval);
  if (flags.watch !== undefined) c.camera.watchDir = flags.watch ? path.resolve(flags.watch) : null;
  if (flags.spool !== undefined) c.camera.spoolDir = flags.spool ? path.resolve(flags.spool) : null;
  try {
    validate(c, 'settings');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }

  const s = await checkServer(c, say);
  if (s.device) c.device = s.device;
  await checkHardware(c, say);

  if (s.tokenOk === false && !flags.force) {
    say(`settings NOT written (the token was refused; --force writes them anyway)`);
    return EXIT_AUTH;
  }
  try {
    saveConfig(file, c);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new PiError(`cannot write ${file}: ${code === 'EACCES' ? 'permission denied (use sudo for --system)' : (e as Error).message}`);
  }
  say(`settings written to ${file} (mode 0600: only its owner can read it, as it holds the token)`, true);
  if (flags.system) say('next: sudo systemctl enable --now whereabouts-listen whereabouts-camera (see docs/pi-setup.md)', true);
  if (!s.serverOk) return EXIT_FAILURE;
  return 0;
}

export async function runCheck(file: string, c: PiConfig, say: Say): Promise<number> {
  say(`settings: ${file}`, true);
  const s = await checkServer(c, say);
  await checkHardware(c, say);
  if (s.tokenOk === false) return EXIT_AUTH;
  return s.serverOk ? 0 : EXIT_FAILURE;
}
