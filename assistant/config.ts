/**
 * Settings: defaults < environment (WHEREABOUTS_*) < command-line flags (--kebab-case).
 * Every setting has one entry in SETTINGS; `whereabouts serve --help` prints them.
 */
import os from 'node:os';
import path from 'node:path';

export interface Config {
  host: string;
  port: number;
  /** data folder: SQLite file, snapshots */
  dataDir: string;
  /** where model files live (downloaded or copied by `whereabouts models`) */
  modelsDir: string;
  /** empty = embedded SQLite in dataDir; postgres://... selects PostgreSQL */
  database: string;
  /** name of the detection model entry in models/manifest.json, or a path to a user .onnx file */
  visionModel: string;
  /** labels file (one per line) for a user-supplied model without metadata */
  visionLabels: string;
  visionWorkers: number;
  visionThreads: number;
  confThreshold: number;
  iouThreshold: number;
  /** largest accepted image in pixels (width*height); larger ones are refused */
  maxImagePixels: number;
  /** frames kept: snapshots older than this many days are deleted (0 = keep forever) */
  retentionDays: number;
  /** frames kept per user (0 = no limit) */
  retentionFrames: number;
  /** body limit for JSON requests, bytes */
  bodyLimit: number;
  /** body limit for image uploads, bytes */
  frameBodyLimit: number;
  /** ASR model folder name inside modelsDir */
  asrModel: string;
  /** 'vosk' (default), or 'none' for no voice */
  asrEngine: string;
  asrWorkers: number;
  /** concurrent voice streams before `busy` */
  maxStreams: number;
  /** concurrent voice streams one device may hold */
  maxStreamsPerDevice: number;
  /** concurrent voice streams one user (all their devices and sessions) may hold */
  maxStreamsPerUser: number;
  /** a started utterance with no audio for this long ends the voice connection, seconds */
  utteranceIdleSeconds: number;
  /** open voice sockets re-check their device token / session at least this often, seconds */
  voiceRecheckSeconds: number;
  /** request body bytes in flight at once before new uploads get 503 busy (0: no limit) */
  bodyBudget: number;
  /** longest time to receive one whole request, seconds (slow clients are cut off) */
  requestTimeout: number;
  /** a request body with no new byte for this long is cut off, seconds */
  bodyIdleSeconds: number;
  maxUtteranceSeconds: number;
  /** hands-free: quiet after a complete question before the server ends the utterance, ms */
  voiceEndSilenceMs: number;
  /** hands-free: quiet after an unfinished question ("where is my ... um") before it ends anyway, ms */
  voiceHesitationMs: number;
  /** after a reply that asks a question: how long the server listens for the answer, seconds */
  voiceFollowUpSeconds: number;
  /** 'piper' (default; falls back to flite without a voice), 'flite', 'espeak-ng' or 'none' */
  ttsEngine: string;
  /** Piper voice: a path to a .onnx voice (its .onnx.json beside it); empty = the installed default voice */
  voice: string;
  /** speaking rate, 0.5..2 (1 = the voice's own; Piper's length scale is divided by it) */
  voiceRate: number;
  /** loudness of spoken replies, 0..2 (1 = normal) */
  voiceVolume: number;
  /** onnxruntime threads for the Piper voice */
  ttsThreads: number;
  /** time zone for spoken times ("yesterday at 6 pm"); default: the machine's */
  timeZone: string;
  sessionDays: number;
  /** failed logins per username+address in 15 minutes before 429 */
  loginAttempts: number;
  /** which proxies may set X-Forwarded-For/-Proto: 'false' (default: none), 'loopback', 'true', or addresses/CIDRs */
  trustProxy: string;
  /** mark cookies Secure (set when served behind https) */
  secureCookies: boolean;
  /** HTTPS beside plain HTTP: a PEM certificate and key, or a self-signed certificate made in dataDir/tls */
  tlsCert: string;
  tlsKey: string;
  tlsSelfSigned: boolean;
  /** the HTTPS listener's port (with a certificate); --port stays plain HTTP (Pis, curl) */
  tlsPort: number;
  /** token for GET /metrics without an admin session (empty: admin session only) */
  metricsToken: string;
  /** glibc malloc arenas (0: leave as is); fewer arenas keep worker threads from holding idle memory */
  mallocArenas: number;
  /** pino log level */
  logLevel: string;
  /** skip loading models (vision/asr/tts) — for tests of the text path only */
  noModels: boolean;
}

type Kind = 'string' | 'number' | 'boolean';
interface Setting {
  key: keyof Config;
  kind: Kind;
  def: () => string | number | boolean;
  help: string;
}

const S = (key: keyof Config, kind: Kind, def: () => string | number | boolean, help: string): Setting => ({ key, kind, def, help });

export const SETTINGS: Setting[] = [
  S('host', 'string', () => '127.0.0.1', 'address to listen on'),
  S('port', 'number', () => 8080, 'port to listen on'),
  S('dataDir', 'string', () => path.resolve('data'), 'data folder (database, snapshots)'),
  S('modelsDir', 'string', () => path.resolve('models', 'files'), 'model files folder'),
  S('database', 'string', () => '', 'postgres://... to use PostgreSQL; empty for embedded SQLite'),
  S('visionModel', 'string', () => 'yolox_nano', 'detection model: a manifest name or a path to an .onnx file'),
  S('visionLabels', 'string', () => '', 'labels file (one per line) for a user-supplied model'),
  S('visionWorkers', 'number', () => Math.max(1, os.availableParallelism()), 'inference worker threads'),
  S('visionThreads', 'number', () => 1, 'onnxruntime intra-op threads per worker'),
  S('confThreshold', 'number', () => 0.35, 'detection confidence threshold'),
  S('iouThreshold', 'number', () => 0.45, 'non-maximum suppression IoU threshold'),
  S('maxImagePixels', 'number', () => 40_000_000, 'largest accepted image, in pixels'),
  S('retentionDays', 'number', () => 30, 'delete snapshots older than this many days (0: never)'),
  S('retentionFrames', 'number', () => 5000, 'keep at most this many snapshots per user (0: no limit)'),
  S('bodyLimit', 'number', () => 64 * 1024, 'largest JSON body, bytes'),
  S('frameBodyLimit', 'number', () => 20 * 1024 * 1024, 'largest image upload, bytes'),
  S('bodyBudget', 'number', () => 64 * 1024 * 1024, 'request body bytes in flight at once before uploads get 503 busy (0: no limit)'),
  S('requestTimeout', 'number', () => 120, 'longest time to receive one whole request, seconds'),
  S('bodyIdleSeconds', 'number', () => 10, 'a request body with no new byte for this long (or under 1 KiB/s after that long) is cut off, seconds'),
  S('asrModel', 'string', () => 'vosk-model-small-en-us-0.15', 'speech model folder inside the models folder'),
  S('asrEngine', 'string', () => 'vosk', 'speech recogniser: vosk, or none for no voice'),
  S('asrWorkers', 'number', () => 1, 'speech recogniser worker threads (each holds the model, ~130 MB; one keeps up with ~16 streams)'),
  S('maxStreams', 'number', () => 16, 'concurrent voice streams before "busy"'),
  S('maxStreamsPerDevice', 'number', () => 2, 'concurrent voice streams one device may hold'),
  S('maxStreamsPerUser', 'number', () => 8, 'concurrent voice streams one user may hold (all devices and browsers)'),
  S('utteranceIdleSeconds', 'number', () => 5, 'a started utterance with no audio for this long ends the voice connection'),
  S('voiceRecheckSeconds', 'number', () => 5, 'open voice sockets re-check their credentials at least this often'),
  S('maxUtteranceSeconds', 'number', () => 15, 'longest utterance, seconds'),
  S('voiceEndSilenceMs', 'number', () => 200, 'hands-free: quiet (Silero VAD) after a complete question before the answer starts, ms'),
  S('voiceHesitationMs', 'number', () => 2000, 'hands-free: quiet after an unfinished question ("where is my ... um") before it ends anyway, ms'),
  S('voiceFollowUpSeconds', 'number', () => 6, 'after a reply that asks a question: how long to listen for the answer, seconds'),
  S('ttsEngine', 'string', () => 'piper', 'speech synthesiser: piper (falls back to flite without a voice), flite, espeak-ng or none'),
  S('voice', 'string', () => '', 'Piper voice .onnx file (its .onnx.json beside it); empty: the one `whereabouts models` installs'),
  S('voiceRate', 'number', () => 1, 'speaking rate 0.5..2 (Piper: length scale divided by it)'),
  S('voiceVolume', 'number', () => 1, 'loudness of spoken replies 0..2'),
  S('ttsThreads', 'number', () => Math.min(2, os.availableParallelism()), 'onnxruntime threads for the Piper voice'),
  S('timeZone', 'string', () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', 'time zone for spoken times'),
  S('sessionDays', 'number', () => 30, 'login session lifetime, days'),
  S('loginAttempts', 'number', () => 10, 'failed logins per user and address in 15 minutes before 429'),
  S('trustProxy', 'string', () => 'false', 'proxies trusted for X-Forwarded-For/-Proto: false (none), loopback, true, or comma-separated addresses/CIDRs'),
  S('secureCookies', 'boolean', () => false, 'mark cookies Secure (behind https)'),
  S('tlsCert', 'string', () => '', 'TLS certificate (PEM file) for an HTTPS listener on --tls-port, with --tls-key'),
  S('tlsKey', 'string', () => '', 'TLS private key (PEM file) for --tls-cert'),
  S('tlsSelfSigned', 'boolean', () => false, 'serve HTTPS on --tls-port with a self-signed certificate made once in the data folder (for phones on the LAN)'),
  S('tlsPort', 'number', () => 8443, 'HTTPS port when a certificate is in use; --port stays plain HTTP'),
  S('metricsToken', 'string', () => '', 'bearer token for /metrics (otherwise an admin session)'),
  S('mallocArenas', 'number', () => 2, 'glibc malloc arenas (0: glibc default); fewer keep memory flat'),
  S('logLevel', 'string', () => 'info', 'log level (fatal, error, warn, info, debug, trace, silent)'),
  S('noModels', 'boolean', () => false, 'start without the vision and speech models (text path only)'),
];

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
const envName = (k: string) => 'WHEREABOUTS_' + kebab(k).replace(/-/g, '_').toUpperCase();

function coerce(s: Setting, raw: string): string | number | boolean {
  if (s.kind === 'number') {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new ConfigError(`${kebab(s.key)} must be a number, got "${raw}"`);
    return n;
  }
  if (s.kind === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    throw new ConfigError(`${kebab(s.key)} must be true or false, got "${raw}"`);
  }
  return raw;
}

export class ConfigError extends Error {}

/**
 * Builds a Config. `flags` are already-split CLI arguments (e.g. ['--port', '9000', '--no-models']);
 * unknown flags are an error. `overrides` win over everything (used by tests and the bench).
 */
export function loadConfig(flags: string[] = [], env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const e = env[envName(s.key)];
    out[s.key] = e !== undefined && e !== '' ? coerce(s, e) : s.def();
  }
  if (env.DATABASE_URL && !env[envName('database')]) out.database = env.DATABASE_URL;
  if (env.PORT && !env[envName('port')]) out.port = coerce(SETTINGS.find((s) => s.key === 'port')!, env.PORT);
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i];
    if (!f.startsWith('--')) throw new ConfigError(`unexpected argument "${f}"`);
    let name = f.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let s = SETTINGS.find((x) => kebab(x.key) === name);
    if (!s && name.startsWith('no-')) {
      s = SETTINGS.find((x) => kebab(x.key) === name.slice(3) && x.kind === 'boolean');
      if (s) {
        out[s.key] = false;
        continue;
      }
    }
    if (!s) throw new ConfigError(`unknown option --${name}`);
    if (s.kind === 'boolean' && value === undefined) {
      const next = flags[i + 1];
      if (next !== undefined && /^(true|false|yes|no|on|off|1|0)$/i.test(next)) {
        value = next;
        i++;
      } else value = 'true';
    }
    if (value === undefined) {
      value = flags[++i];
      if (value === undefined) throw new ConfigError(`--${name} needs a value`);
    }
    out[s.key] = coerce(s, value);
  }
  // "no-models" is itself a boolean setting named noModels; "--no-models" must mean noModels=true
  if (flags.includes('--no-models')) out.noModels = true;
  Object.assign(out, overrides);
  const c = out as unknown as Config;
  c.dataDir = path.resolve(c.dataDir);
  c.modelsDir = path.resolve(c.modelsDir);
  if (!Number.isInteger(c.port) || c.port < 0 || c.port > 65535) throw new ConfigError(`port must be 0..65535, got ${c.port}`);
  if (!Number.isInteger(c.tlsPort) || c.tlsPort < 0 || c.tlsPort > 65535) throw new ConfigError(`tls-port must be 0..65535, got ${c.tlsPort}`);
  if (!!c.tlsCert !== !!c.tlsKey) throw new ConfigError('give both --tls-cert and --tls-key');
  if (c.tlsCert && c.tlsSelfSigned) throw new ConfigError('give --tls-cert/--tls-key or --tls-self-signed, not both');
  return c;
}

export function settingsHelp(): string {
  return SETTINGS.map((s) => `  --${kebab(s.key).padEnd(22)} ${envName(s.key).padEnd(34)} ${s.help} (default: ${String(s.def())})`).join('\n');
}
