/**
 * The Pi client's settings: one JSON file, written by `whereabouts-pi setup` with mode 0600 (it holds the
 * device token). Where it is:
 *   --config PATH                     always wins
 *   $WHEREABOUTS_PI_CONFIG            next
 *   ~/.config/whereabouts/pi.json     a user's (the default for `setup`)
 *   /etc/whereabouts/pi.json          the services' (`setup --system`); read when the user has none
 * Missing keys take the defaults below, so a file with just {"server","token"} works.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PiError, UsageError } from './errors.js';
import { VAD_DEFAULTS } from './vad.js';

export interface ButtonConfig {
  /** gpiochip name or number, e.g. "gpiochip0" (the 40-pin header on a Pi 4 / Pi 5 with recent kernels) */
  chip: string;
  /** line offset (the BCM GPIO number on a Pi), e.g. 17 for physical pin 11 */
  line: number;
  /** the button pulls the line to ground (pressed = falling edge); default true */
  activeLow: boolean;
  bias: 'pull-up' | 'pull-down' | 'disable' | 'as-is';
}

export interface PiConfig {
  server: string;
  token: string;
  /** what the server said about this device at setup (informational) */
  device?: { id: number; name: string; room: string | null; user?: string };
  mic: { device: string | null; sampleRate: number };
  /** player: auto = the `speaker` package when it is installed, else `aplay` */
  speaker: { device: string | null; player: 'auto' | 'speaker' | 'aplay' };
  button: ButtonConfig | null;
  listen: {
    /** auto: the button when configured, else Enter on a terminal, else the VAD */
    mode: 'auto' | 'enter' | 'button' | 'vad';
    /** ask for spoken replies */
    audio: boolean;
  };
  vad: typeof VAD_DEFAULTS;
  camera: {
    /** command taking one still, with {file} where the image goes; null: rpicam-still, libcamera-still or fswebcam */
    command: string | null;
    intervalSeconds: number;
    /** upload the images that appear in this folder instead of running a command */
    watchDir: string | null;
    /** what happens to a watched image after its upload: moved into `sent/` beside it, or deleted */
    afterUpload: 'move' | 'delete';
    /** the on-disk queue for frames the server has not acknowledged yet; null: the state folder */
    spoolDir: string | null;
    spoolMaxFrames: number;
    spoolMaxMB: number;
  };
  backoff: { initialMs: number; maxMs: number };
}

export function defaults(): Omit<PiConfig, 'server' | 'token'> {
  return {
    mic: { device: null, sampleRate: 16000 },
    speaker: { device: null, player: 'auto' },
    button: null,
    listen: { mode: 'auto', audio: true },
    vad: { ...VAD_DEFAULTS },
    camera: { command: null, intervalSeconds: 10, watchDir: null, afterUpload: 'move', spoolDir: null, spoolMaxFrames: 500, spoolMaxMB: 200 },
    backoff: { initialMs: 1000, maxMs: 60_000 },
  };
}

export const USER_CONFIG = () => path.join(process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'whereabouts', 'pi.json');
export const SYSTEM_CONFIG = '/etc/whereabouts/pi.json';

/** where to read the config from (see the top of this file) */
export function configPath(explicit?: string | null): string {
  if (explicit) return path.resolve(explicit);
  if (process.env.WHEREABOUTS_PI_CONFIG) return path.resolve(process.env.WHEREABOUTS_PI_CONFIG);
  const user = USER_CONFIG();
  if (fs.existsSync(user) || !fs.existsSync(SYSTEM_CONFIG)) return user;
  return SYSTEM_CONFIG;
}

/** the state folder: $STATE_DIRECTORY (systemd StateDirectory=), else $XDG_STATE_HOME or ~/.local/state */
export function stateDir(): string {
  const sd = process.env.STATE_DIRECTORY?.split(':')[0];
  if (sd) return sd;
  return path.join(process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'), 'whereabouts');
}

export function spoolDir(c: PiConfig): string {
  return c.camera.spoolDir ? path.resolve(c.camera.spoolDir) : path.join(stateDir(), 'spool');
}

/** "http://host:8080/" -> "http://host:8080"; throws on anything that is not an http(s) URL */
export function normalizeServer(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.includes('://') ? raw : `http://${raw}`);
  } catch {
    throw new UsageError(`"${raw}" is not a server address (e.g. http://192.168.1.20:8080)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`the server address must start with http:// or https://, got "${raw}"`);
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => !!v && typeof v === 'object' && !Array.isArray(v);

/** deep merge of plain objects: b's keys win; arrays and null replace */
function merge<T>(a: T, b: unknown): T {
  if (!isObj(a) || !isObj(b)) return (b === undefined ? a : b) as T;
  const out: Obj = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = k in out ? merge(out[k], v) : v;
  return out as T;
}

/** checks the types of the known settings; one clear line on the first problem */
export function validate(c: PiConfig, where: string): PiConfig {
  const bad = (key: string, what: string) => new PiError(`${where}: ${key} ${what}`);
  if (typeof c.server !== 'string' || !c.server) throw bad('server', 'is missing (run whereabouts-pi setup --server URL --token TOKEN)');
  if (typeof c.token !== 'string' || !c.token) throw bad('token', 'is missing (run whereabouts-pi setup --server URL --token TOKEN)');
  c.server = normalizeServer(c.server);
  const num = (key: string, v: unknown, min: number) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw bad(key, `must be a number >= ${min}`);
  };
  const strOrNull = (key: string, v: unknown) => {
    if (v !== null && typeof v !== 'string') throw bad(key, 'must be a string or null');
  };
  strOrNull('mic.device', c.mic.device);
  num('mic.sampleRate', c.mic.sampleRate, 8000);
  strOrNull('speaker.device', c.speaker.device);
  if (!['auto', 'speaker', 'aplay'].includes(c.speaker.player)) throw bad('speaker.player', 'must be auto, speaker or aplay');
  if (!['auto', 'enter', 'button', 'vad'].includes(c.listen.mode)) throw bad('listen.mode', 'must be auto, enter, button or vad');
  for (const [k, v] of Object.entries(c.vad)) if (k !== 'thresholdDb') num(`vad.${k}`, v, 0);
  if (typeof c.vad.thresholdDb !== 'number' || c.vad.thresholdDb > 0) throw bad('vad.thresholdDb', 'must be a number <= 0 (dBFS)');
  if (c.button !== null) {
    if (!isObj(c.button)) throw bad('button', 'must be {"chip":"gpiochip0","line":17} or null');
    c.button = { activeLow: true, bias: 'pull-up', ...(c.button as Partial<ButtonConfig>) } as ButtonConfig;
    if (typeof c.button.chip !== 'string' || !c.button.chip) throw bad('button.chip', 'must name a gpiochip, e.g. "gpiochip0"');
    if (!Number.isInteger(c.button.line) || c.button.line < 0) throw bad('button.line', 'must be a line number, e.g. 17');
    if (!['pull-up', 'pull-down', 'disable', 'as-is'].includes(c.button.bias)) throw bad('button.bias', 'must be pull-up, pull-down, disable or as-is');
  }
  strOrNull('camera.command', c.camera.command);
  if (c.camera.command !== null && !c.camera.command.includes('{file}')) throw bad('camera.command', 'must contain {file} where the image is to be written');
  num('camera.intervalSeconds', c.camera.intervalSeconds, 0.1);
  strOrNull('camera.watchDir', c.camera.watchDir);
  if (!['move', 'delete'].includes(c.camera.afterUpload)) throw bad('camera.afterUpload', 'must be "move" or "delete"');
  strOrNull('camera.spoolDir', c.camera.spoolDir);
  num('camera.spoolMaxFrames', c.camera.spoolMaxFrames, 1);
  num('camera.spoolMaxMB', c.camera.spoolMaxMB, 0.001);
  num('backoff.initialMs', c.backoff.initialMs, 1);
  num('backoff.maxMs', c.backoff.maxMs, 1);
  return c;
}

export function loadConfig(file: string): PiConfig {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PiError(`no settings at ${file}: run whereabouts-pi setup --server URL --token TOKEN first`);
    if (code === 'EACCES') throw new PiError(`cannot read ${file}: permission denied (it is readable by its owner only)`);
    throw new PiError(`cannot read ${file}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw new PiError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(parsed)) throw new PiError(`${file} must hold a JSON object`);
  return validate(merge({ ...defaults(), server: '', token: '' } as PiConfig, parsed), file);
}

/** reads the file if it exists (for setup, which updates it); null otherwise */
export function readExisting(file: string): Partial<PiConfig> | null {
  try {
    const v = JSON.parse(fs.readFileSync(file, 'utf8'));
    return isObj(v) ? (v as Partial<PiConfig>) : null;
  } catch {
    return null;
  }
}

export function withDefaults(partial: Partial<PiConfig>): PiConfig {
  return merge({ ...defaults(), server: '', token: '' } as PiConfig, partial);
}

/** writes the config atomically with mode 0600 (the token is a secret); creates the folder (0700 for a user's) */
export function saveConfig(file: string, c: PiConfig): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    const { server, token, device, ...rest } = c;
    fs.writeSync(fd, JSON.stringify({ server, token, device, ...rest }, null, 2) + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}
