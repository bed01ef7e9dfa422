/**
 * What this machine has: commands on PATH, ALSA capture/playback devices, cameras, gpiomon. Everything runs
 * ALSA in a child process (aplay/arecord), never in this one: opening a missing ALSA device from inside
 * node (the `speaker` addon) aborts the whole process.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function which(cmd: string, envPath = process.env.PATH ?? ''): string | null {
  if (cmd.includes('/')) return isExecutable(cmd) ? cmd : null;
  for (const dir of envPath.split(path.delimiter)) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    if (isExecutable(p)) return p;
  }
  return null;
}

function isExecutable(p: string): boolean {
  try {
    const st = fs.statSync(p);
    if (!st.isFile()) return false;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface RunOutput {
  code: number | null;
  stdout: string;
  stderr: string;
  /** spawn error code (ENOENT: not installed) */
  error?: string;
}

/** runs a command to completion (killed after timeoutMs); never throws */
export function runCommand(cmd: string, args: string[], timeoutMs = 10_000, env?: NodeJS.ProcessEnv): Promise<RunOutput> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let done = false;
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', (e) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      resolve({ code: null, stdout, stderr, error: (e as NodeJS.ErrnoException).code ?? e.message });
    });
    p.on('close', (code) => {
      if (done) return;
      done = true;
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** the last meaningful line of an ALSA tool's stderr: "audio open error: No such file or directory" */
export function lastLine(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const l = lines[lines.length - 1] ?? '';
  return l.replace(/^(arecord|aplay): (main|set_params|capture|playback|begin_wave):\d+: /, '');
}

export interface SoundCard {
  card: number;
  id: string;
  name: string;
  device: number;
  deviceName: string;
}

/** parses `arecord -l` / `aplay -l`: "card 1: Device [USB PnP Sound Device], device 0: USB Audio [USB Audio]" */
export function parseCardList(text: string): SoundCard[] {
  const out: SoundCard[] = [];
  const re = /^card (\d+): (\S+) \[([^\]]*)\], device (\d+): ([^[]*?)\s*\[([^\]]*)\]/gm;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out.push({ card: Number(m[1]), id: m[2], name: m[3], device: Number(m[4]), deviceName: m[6] || m[5] });
  }
  return out;
}

/** parses `aplay -L` / `arecord -L`: the PCM names (the unindented lines) */
export function parsePcmList(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l && !/^\s/.test(l))
    .map((l) => l.trim());
}

/** the ALSA configuration files a user's programs read, in order (ALSA_CONFIG_PATH replaces the lot) */
function alsaConfigFiles(): string[] {
  if (process.env.ALSA_CONFIG_PATH) return process.env.ALSA_CONFIG_PATH.split(':');
  return ['/etc/asound.conf', path.join(process.env.HOME || os.homedir(), '.asoundrc')];
}

/** does an ALSA config file define (or redirect) the default PCM? */
export function configDefinesDefault(): string | null {
  for (const f of alsaConfigFiles()) {
    try {
      const t = fs.readFileSync(f, 'utf8').replace(/#.*$/gm, '');
      if (/\bpcm\.!?default\b|\bpcm\s*\{[^}]*\b!?default\b|\bdefaults\.pcm\.card\b/.test(t)) return f;
    } catch {
      /* not there */
    }
  }
  return null;
}

export interface DeviceCheck {
  ok: boolean;
  /** one line, plain words */
  message: string;
  cards: SoundCard[];
}

/**
 * Can this machine play (or record) through `device` (null: ALSA's default)? Checks that the default exists
 * (`aplay -L` lists it, or an .asoundrc / asound.conf defines it), then opens the device for real in a child
 * aplay/arecord.
 */
export async function checkAlsa(kind: 'playback' | 'capture', device: string | null): Promise<DeviceCheck> {
  const tool = kind === 'playback' ? 'aplay' : 'arecord';
  const what = kind === 'playback' ? 'speaker' : 'microphone';
  const want = device ?? 'default';
  if (!which(tool)) {
    return { ok: false, message: `no ${what}: ${tool} is not installed (sudo apt install alsa-utils)`, cards: [] };
  }
  const cards = parseCardList((await runCommand(tool, ['-l'])).stdout);
  if (want === 'default') {
    const pcms = parsePcmList((await runCommand(tool, ['-L'])).stdout);
    if (!pcms.includes('default') && !configDefinesDefault()) {
      return {
        ok: false,
        message: `no ${what}: ALSA has no default ${kind} device (${tool} -l finds no sound card${kind === 'playback' ? '' : ' with a capture device'}); plug one in or name one in the settings`,
        cards,
      };
    }
  }
  const fmt = ['-q', '-D', want, '-t', 'raw', '-f', 'S16_LE', '-c', '1', '-r', '16000'];
  const probe = kind === 'playback' ? await runCommand(tool, [...fmt, '/dev/null'], 5000) : await runCommand(tool, [...fmt, '-s', '1', '/dev/null'], 5000);
  if (probe.code !== 0) {
    const why = lastLine(probe.stderr) || `${tool} exited with ${probe.code ?? 'a signal'}`;
    return { ok: false, message: `no ${what}: cannot open ALSA device "${want}" (${why})`, cards };
  }
  const named = want === 'default' && cards.length ? ` (${cards.map((c) => `card ${c.card}: ${c.name}`).join('; ')})` : '';
  return { ok: true, message: `${what}: ALSA device "${want}" opens${named}`, cards };
}

export const CAMERA_COMMANDS: Array<{ bin: string; command: string }> = [
  { bin: 'rpicam-still', command: 'rpicam-still -n --immediate -t 1 --width 1280 --height 960 -q 85 -o {file}' },
  { bin: 'libcamera-still', command: 'libcamera-still -n --immediate -t 1 --width 1280 --height 960 -q 85 -o {file}' },
  { bin: 'fswebcam', command: 'fswebcam -q --no-banner -r 1280x960 --jpeg 85 {file}' },
];

/** the first camera command found on PATH */
export function findCameraCommand(): { bin: string; command: string; path: string } | null {
  for (const c of CAMERA_COMMANDS) {
    const p = which(c.bin);
    if (p) return { ...c, path: p };
  }
  return null;
}

/** splits a command line into words (single and double quotes, backslash escapes); no shell involved */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let has = false;
  let q: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === q) q = null;
      else if (c === '\\' && q === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
      has = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
    } else cur += c;
  }
  if (q) throw new Error(`unbalanced quote in command: ${line}`);
  if (has || cur) out.push(cur);
  return out;
}

/** gpiomon's major version (1: Bookworm's libgpiod 1.6, 2: libgpiod 2.x), or null when not installed */
export async function gpiomonVersion(): Promise<{ major: number; text: string } | null> {
  if (!which('gpiomon')) return null;
  const r = await runCommand('gpiomon', ['--version'], 5000);
  const m = /v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(r.stdout + r.stderr);
  return m ? { major: Number(m[1]), text: m[0] } : { major: 1, text: 'unknown version' };
}
