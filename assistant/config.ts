/**
 * The server's settings: defaults < environment (WHEREABOUTS_*) < command-line flags (--kebab-case).
 * Adding a setting is one entry in SETTINGS (assistant/settings.ts has the builders); the Config type, the
 * flag, the environment variable, validation and the `--help` line all follow from it.
 */
import os from 'node:os';
import path from 'node:path';
import { bool, checkSettings, choice, ConfigError, int, num, parseSettings, settingsHelp as helpFor, str, type SettingsValues } from './settings.js';

export { ConfigError };

const abs = { map: (v: string) => path.resolve(v), placeholder: 'DIR' };
const fraction = { min: 0, max: 1 };

function timeZoneProblem(tz: string): string | null {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return null;
  } catch {
    return 'must be an IANA time zone such as Europe/London or UTC';
  }
}

export const SETTINGS = {
  host: str('127.0.0.1', 'address to listen on', { placeholder: 'ADDRESS' }),
  port: int(8080, 'port to listen on (0: any free port)', { min: 0, max: 65535, alsoEnv: ['PORT'] }),
  dataDir: str(() => 'data', 'data folder (database, snapshots)', abs),
  modelsDir: str(() => path.join('models', 'files'), 'model files folder', abs),
  database: str('', 'postgres://... to use PostgreSQL; empty for embedded SQLite in the data folder', {
    placeholder: 'URL',
    alsoEnv: ['DATABASE_URL'],
    check: (v) => (v === '' || /^(postgres(ql)?|sqlite):/i.test(v.trim()) ? null : 'must be empty, postgres://... or sqlite:FILE'),
  }),
  visionModel: str('yolox_nano', 'detection model: a manifest name or a path to an .onnx file', { placeholder: 'NAME|FILE' }),
  visionLabels: str('', 'labels file (one per line) for a user-supplied model without names metadata', { placeholder: 'FILE' }),
  visionWorkers: int(() => Math.max(1, os.availableParallelism()), 'inference worker threads', { min: 1, max: 64 }),
  visionThreads: int(1, 'onnxruntime intra-op threads per worker', { min: 1, max: 64 }),
  confThreshold: num(0.35, 'detection confidence threshold', fraction),
  iouThreshold: num(0.45, 'non-maximum suppression IoU threshold', fraction),
  maxImagePixels: int(40_000_000, 'largest accepted image, in pixels (width x height)', { min: 1 }),
  retentionDays: num(30, 'delete snapshots older than this many days (0: never)', { min: 0 }),
  retentionFrames: int(5000, 'keep at most this many snapshots per user (0: no limit)', { min: 0 }),
  bodyLimit: int(64 * 1024, 'largest JSON body, bytes', { min: 1024 }),
  frameBodyLimit: int(20 * 1024 * 1024, 'largest image upload, bytes', { min: 1024 }),
  bodyBudget: int(64 * 1024 * 1024, 'request body bytes in flight at once before uploads get 503 busy (0: no limit)', { min: 0 }),
  requestTimeout: num(120, 'longest time to receive one whole request, seconds', { min: 0.1 }),
  bodyIdleSeconds: num(10, 'a request body with no new byte for this long (or under 1 KiB/s after that long) is cut off, seconds', { min: 0.1 }),
  asrModel: str('vosk-model-small-en-us-0.15', 'speech model folder inside the models folder', { placeholder: 'NAME' }),
  asrEngine: choice('vosk', ['vosk', 'none'], 'speech recogniser (none: no voice)'),
  asrWorkers: int(() => Math.min(4, Math.max(1, os.availableParallelism())), 'speech recogniser worker threads, sharing one model (~130 MB once, ~16 MB per thread); each uses up to a core, and 16 streams need ~1.5 cores (default: the cores, at most 4)', { min: 1, max: 64 }),
  maxStreams: int(16, 'concurrent voice streams before "busy"', { min: 1 }),
  maxStreamsPerDevice: int(2, 'concurrent voice streams one device may hold', { min: 1 }),
  maxStreamsPerUser: int(8, 'concurrent voice streams one user may hold (all devices and browsers)', { min: 1 }),
  maxVoiceConnectionsPerDevice: int(8, 'open voice connections one device may hold', { min: 1 }),
  utteranceIdleSeconds: num(5, 'a started utterance with no audio for this long ends with a timeout error, seconds', { min: 0.1 }),
  voiceRecheckSeconds: num(5, 'open voice sockets re-check their credentials at least this often, seconds', { min: 0.1 }),
  maxUtteranceSeconds: num(15, 'longest utterance, seconds', { min: 1, max: 300 }),
  voiceEndSilenceMs: int(150, 'hands-free: quiet (Silero VAD; in a quiet room also the level meter) after a complete question before the answer starts, ms', { min: 0, max: 10_000 }),
  voiceHesitationMs: int(2000, 'hands-free: quiet after an unfinished question ("where is my ... um") before it ends anyway, ms', { min: 0, max: 60_000 }),
  voiceFollowUpSeconds: num(6, 'after a reply that asks a question: how long to listen for the answer, seconds', { min: 0, max: 120 }),
  voiceNoSpeechSeconds: num(3, 'hands-free: an utterance in which no voice is heard in this much audio ends quietly, seconds (0: never)', { min: 0, max: 60 }),
  ttsEngine: str('piper', 'speech synthesiser: piper (falls back to flite without a voice), flite, espeak-ng or none', { placeholder: 'ENGINE' }),
  voice: str('', 'Piper voice .onnx file (its .onnx.json beside it); empty: the one `whereabouts models` installs', { placeholder: 'FILE' }),
  voiceRate: num(1, 'speaking rate (Piper: length scale divided by it)', { min: 0.5, max: 2 }),
  voiceVolume: num(1, 'loudness of spoken replies', { min: 0, max: 2 }),
  ttsThreads: int(() => Math.min(2, os.availableParallelism()), 'onnxruntime threads in each Piper worker', { min: 1, max: 16 }),
  ttsNice: int(7, 'nice value of the Piper workers\' threads: above 0 the speech recognisers come first when the CPU is short (0: as the server)', { min: 0, max: 19 }),
  ttsWorkers: int(1, 'Piper worker threads, each with its own copy of the voice (~130 MB each)', { min: 1, max: 8 }),
  ttsCacheMb: num(8, 'cache of synthesised clause audio (Piper), MiB; 0: off', { min: 0, max: 1024 }),
  ttsOpeningsMb: num(4, 'openings of replies ("Your cup was", "I last saw") prepared ahead for every item seen (Piper), MiB; 0: off', { min: 0, max: 256 }),
  timeZone: str(() => Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC', 'time zone for spoken times', { placeholder: 'ZONE', check: timeZoneProblem }),
  sessionDays: num(30, 'login session lifetime, days', { min: 0.001 }),
  loginAttempts: int(10, 'failed logins per user and address in 15 minutes before 429', { min: 1 }),
  trustProxy: str('false', 'proxies trusted for X-Forwarded-For/-Proto: false (none), loopback, true, or comma-separated addresses/CIDRs', { placeholder: 'LIST' }),
  secureCookies: bool(false, 'mark cookies Secure (behind https)'),
  tlsCert: str('', 'TLS certificate (PEM file) for an HTTPS listener on --tls-port, with --tls-key', { placeholder: 'FILE' }),
  tlsKey: str('', 'TLS private key (PEM file) for --tls-cert', { placeholder: 'FILE' }),
  tlsSelfSigned: bool(false, 'serve HTTPS on --tls-port with a self-signed certificate made once in the data folder (for phones on the LAN)'),
  tlsPort: int(8443, 'HTTPS port when a certificate is in use; --port stays plain HTTP (Pis, curl)', { min: 0, max: 65535 }),
  metricsToken: str('', 'bearer token for /metrics (otherwise an admin session)', { placeholder: 'TOKEN' }),
  mallocArenas: int(2, 'glibc malloc arenas (0: glibc default); fewer keep memory flat', { min: 0, max: 64 }),
  logLevel: choice('info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'log level'),
  vadDenoise: bool(true, "hands-free: the voice-activity detector judges the audio with the room's noise suppressed (RNNoise), so questions asked in noise end sooner (about 30 ms of CPU per second of audio per stream)"),
  secondLook: bool(true, 'spoken questions: when unsure, hear the question again with a second recogniser (Moonshine, no grammar) before asking back (about a quarter of questions; ~0.1 s of one core each)'),
  noModels: bool(false, 'start without the vision and speech models (text path only)'),
};

export type Config = SettingsValues<typeof SETTINGS>;

/**
 * Builds a Config from `flags` (already-split command-line arguments, e.g. ['--port', '9000', '--no-models']),
 * the environment and the defaults. `overrides` (tests, the bench) win over everything and are checked by the
 * same rules. Throws ConfigError naming the setting, where the value came from and what it must be.
 */
export function loadConfig(flags: readonly string[] = [], env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const { values } = parseSettings(SETTINGS, flags, env);
  checkSettings(SETTINGS, overrides);
  const c = { ...values, ...overrides };
  if (!!c.tlsCert !== !!c.tlsKey) throw new ConfigError('give both --tls-cert and --tls-key');
  if (c.tlsCert && c.tlsSelfSigned) throw new ConfigError('give --tls-cert/--tls-key or --tls-self-signed, not both');
  c.dataDir = path.resolve(c.dataDir);
  c.modelsDir = path.resolve(c.modelsDir);
  return c;
}

/** The server settings' part of `--help`. */
export function settingsHelp(): string {
  return helpFor(SETTINGS);
}
