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
 * ModelProvider (providers.ts): adding one is one entry in MODEL_PROVIDERS.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';
import { describeFetchError, downloadResumable, sha256File } from './download.js';
import { MODEL_PROVIDERS, type ModelArtifact, type ModelProvider, type ModelsOptions } from './providers.js';

export { sha256File };
export type { ModelArtifact, ModelProvider, ModelsOptions };

async function exists(p: string): Promise<boolean> {
  return fsp.stat(p).then(
    () => true,
    () => false,
  );
}

export interface ModelsIo {
  /** where the progress bar goes (default process.stderr) */
  stderr?: NodeJS.WritableStream & { isTTY?: boolean };
  providers?: ModelProvider[];
  /** abort a download when no byte arrives for this long (default 30 s) */
  stallMs?: number;
}

/** What `whereabouts models` was asked to do (its flags, parsed by the command line). */
export interface ModelsCommandOptions {
  /** only verify */
  check: boolean;
  /** with check: a model that is not installed is a note, not a failure */
  onlyIfPresent: boolean;
  /** never download */
  offline: boolean;
  /** a folder or file to copy from first */
  from: string | null;
  /** download from <mirror>/<file name> */
  mirror: string | null;
}

type Options = ModelsCommandOptions;

async function defaultInstall(provider: ModelProvider, file: string, config: ModelsOptions): Promise<void> {
  if (provider.install) return provider.install(file, config);
  const target = provider.target(config);
  await fsp.mkdir(path.dirname(target), { recursive: true });
  await fsp.rename(file, target);
}

function byHand(p: ModelProvider, config: ModelsOptions, a: ModelArtifact): string {
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

async function ensure(p: ModelProvider, config: ModelsOptions, o: Options, out: (line: string) => void, io: Required<Pick<ModelsIo, 'stderr'>> & ModelsIo): Promise<boolean> {
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
      await p.ensure(config, { from: o.from, offline: o.offline, mirror: o.mirror, out, stderr: io.stderr });
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

  // --from first, then the copy kept in the repository; the network only when neither has it
  for (const from of [o.from, a.bundled ?? null]) {
    if (!from) continue;
    const src = await locate(from, a, target);
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
      return verified(`${from === o.from ? 'copied' : 'installed'}: ${title} from ${src} to ${target}`);
    }
    if (from === o.from) out(`note: ${o.from} has no ${a.fileName}${o.offline ? '' : '; looking elsewhere'}`);
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

/** The `whereabouts models` command; resolves to the exit code (0 ok, 1 a model is missing or failed). */
export async function runModels(o: ModelsCommandOptions, config: ModelsOptions, out: (line: string) => void, io: ModelsIo = {}): Promise<number> {
  const providers = (io.providers ?? MODEL_PROVIDERS).filter((p) => p.enabled(config));
  if (providers.length === 0) {
    out('no models needed by this configuration');
    return 0;
  }
  let ok = true;
  for (const p of providers) {
    try {
      if (!(await ensure(p, config, o, out, { ...io, stderr: io.stderr ?? process.stderr }))) ok = false;
    } catch (e) {
      out(`error: ${p.id}: ${(e as Error).message}`);
      ok = false;
    }
  }
  return ok ? 0 : 1;
}
