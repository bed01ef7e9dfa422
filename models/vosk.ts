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
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { checkVoskModel } from '../assistant/asr/modelfiles.js';
import { probeModel } from '../assistant/asr/probe.js';

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

/** ELF e_machine per Node arch, and the wheel platform tag that carries libvosk for it */
const ARCH: Record<string, { machine: number; wheel: string; wheelTag: RegExp } | undefined> = {
  x64: { machine: 62, wheel: 'manylinux2010_x86_64', wheelTag: /x86_64/ },
  arm64: { machine: 183, wheel: 'manylinux2014_aarch64', wheelTag: /aarch64/ },
  arm: { machine: 40, wheel: 'linux_armv7l', wheelTag: /armv7l/ },
};

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

export class ProviderError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'ProviderError';
  }
}

const libPathIn = (modelsDir: string) => path.join(modelsDir, 'lib', 'libvosk.so');

/** Checks an ELF shared object is built for this CPU. Returns a problem or null. */
export function checkLib(file: string): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return `${file} missing`;
  }
  try {
    const h = Buffer.alloc(20);
    fs.readSync(fd, h, 0, 20, 0);
    if (h.readUInt32BE(0) !== 0x7f454c46) return `${file} is not an ELF library`;
    const want = ARCH[process.arch];
    const machine = h.readUInt16LE(18);
    if (want && machine !== want.machine) return `${file} is built for another CPU (ELF machine ${machine}, this is ${process.arch})`;
    if (fs.fstatSync(fd).size < 1_000_000) return `${file} is truncated`;
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

function check(modelsDir: string, model = DEFAULT_ASR_MODEL): VoskCheck {
  const dir = path.resolve(modelsDir, model);
  const lib = libPathIn(path.resolve(modelsDir));
  const m = checkVoskModel(dir);
  const problems = [...m.problems];
  if (process.platform !== 'linux') problems.push(`libvosk: only Linux is supported by this provider (this is ${process.platform})`);
  else {
    const l = checkLib(lib);
    if (l) problems.push(l);
  }
  return { ok: problems.length === 0, problems, model: dir, lib };
}

// ---- archives --------------------------------------------------------------------------------------------

interface ZipEntry {
  name: string;
  method: number;
  compressed: number;
  size: number;
  crc: number;
  offset: number;
}

/** Lists a zip file's entries (central directory; no zip64: our archives are < 4 GiB). */
export function readZipEntries(buf: Buffer): ZipEntry[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ProviderError('not a zip file (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw new ProviderError('corrupt zip central directory');
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    out.push({
      method: buf.readUInt16LE(p + 10),
      crc: buf.readUInt32LE(p + 16),
      compressed: buf.readUInt32LE(p + 20),
      size: buf.readUInt32LE(p + 24),
      offset: buf.readUInt32LE(p + 42),
      name: buf.toString('utf8', p + 46, p + 46 + nameLen),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

export function zipEntryData(buf: Buffer, e: ZipEntry): Buffer {
  const p = e.offset;
  if (buf.readUInt32LE(p) !== 0x04034b50) throw new ProviderError(`corrupt zip entry ${e.name}`);
  const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
  const raw = buf.subarray(start, start + e.compressed);
  let data: Buffer;
  if (e.method === 0) data = Buffer.from(raw);
  else if (e.method === 8) data = zlib.inflateRawSync(raw);
  else throw new ProviderError(`zip entry ${e.name}: unsupported compression ${e.method}`);
  if (data.length !== e.size) throw new ProviderError(`zip entry ${e.name}: size mismatch (truncated archive?)`);
  const crc32 = (zlib as unknown as { crc32?: (b: Uint8Array) => number }).crc32;
  if (crc32 && crc32(data) >>> 0 !== e.crc >>> 0) throw new ProviderError(`zip entry ${e.name}: CRC mismatch (corrupt archive)`);
  return data;
}

/** Extracts the entries under `prefix` (a folder inside the zip) into `dest`, safely (no ../ escapes). */
export async function extractZipFolder(zipFile: string, prefix: string, dest: string): Promise<number> {
  const buf = await fsp.readFile(zipFile);
  let n = 0;
  for (const e of readZipEntries(buf)) {
    if (!e.name.startsWith(prefix) || e.name.endsWith('/')) continue;
    const rel = e.name.slice(prefix.length);
    const target = path.resolve(dest, rel);
    if (!target.startsWith(path.resolve(dest) + path.sep)) throw new ProviderError(`unsafe path in archive: ${e.name}`);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.writeFile(target, zipEntryData(buf, e));
    n++;
  }
  return n;
}

/** Finds the folder inside a zip that holds a Vosk model (the one with am/final.mdl). */
export function findModelPrefix(zipFile: string): string | null {
  const buf = fs.readFileSync(zipFile);
  const hit = readZipEntries(buf).find((e) => e.name.endsWith('am/final.mdl'));
  return hit ? hit.name.slice(0, -'am/final.mdl'.length) : null;
}

/** Reads one file out of a .tar.gz (npm tarball). */
export function tarGzEntry(file: string, name: string): Buffer | null {
  const tar = zlib.gunzipSync(fs.readFileSync(file));
  let p = 0;
  while (p + 512 <= tar.length) {
    const h = tar.subarray(p, p + 512);
    if (h.every((b) => b === 0)) break;
    const field = (a: number, b: number) => h.toString('utf8', a, b).replace(/\0.*$/s, '');
    const size = parseInt(field(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 48);
    const prefix = field(345, 500);
    const entry = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const data = p + 512;
    if ((type === '0' || type === '\0') && entry === name) return Buffer.from(tar.subarray(data, data + size));
    p = data + Math.ceil(size / 512) * 512;
  }
  return null;
}

// ---- helpers ---------------------------------------------------------------------------------------------

export async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Downloads url to file with progress lines every ~10 %; checks size and sha256 when given. */
export async function download(url: string, file: string, opts: { sha256?: string; bytes?: number; log?: (l: string) => void; timeoutMs?: number } = {}) {
  const log = opts.log ?? (() => {});
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), opts.timeoutMs ?? 30 * 60_000);
  try {
    const res = await fetch(url, { signal: ctl.signal, redirect: 'follow' });
    if (!res.ok || !res.body) throw new ProviderError(`download ${url}: HTTP ${res.status}`);
    const total = Number(res.headers.get('content-length')) || opts.bytes || 0;
    const out = fs.createWriteStream(file);
    const hash = crypto.createHash('sha256');
    let got = 0;
    let nextMark = 0.1;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      got += value.byteLength;
      if (!out.write(value)) await new Promise<void>((r) => out.once('drain', () => r()));
      if (total && got / total >= nextMark) {
        log(`  ${path.basename(file)}: ${Math.floor((got / total) * 100)}% of ${(total / 1e6).toFixed(1)} MB`);
        nextMark += 0.1;
      }
    }
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    if (opts.bytes && got !== opts.bytes) throw new ProviderError(`download ${url}: got ${got} bytes, expected ${opts.bytes}`);
    const digest = hash.digest('hex');
    if (opts.sha256 && digest !== opts.sha256) throw new ProviderError(`download ${url}: sha256 ${digest} does not match ${opts.sha256}`);
    return digest;
  } catch (e) {
    await fsp.rm(file, { force: true });
    if (e instanceof ProviderError) throw e;
    throw new ProviderError(`download ${url}: ${(e as Error).message}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

function run(cmd: string, args: string[], cwd: string, timeoutMs = 10 * 60_000): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { ok: false, out: r.error.message };
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ') };
}

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
  const prefix = archive.endsWith('.aar') ? VOSK_MODEL_AAR.assets : findModelPrefix(archive);
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

/** The aar in the local Maven repository: ~/.m2/repository, else wherever `mvn` says its local repository is. */
function mavenArtifact(scratch: string): string {
  const rel = [...VOSK_MODEL_AAR.group.split('.'), VOSK_MODEL_AAR.artifact, VOSK_MODEL_AAR.version, `${VOSK_MODEL_AAR.artifact}-${VOSK_MODEL_AAR.version}.aar`];
  const home = path.join(os.homedir(), '.m2', 'repository', ...rel);
  if (fs.existsSync(home)) return home;
  const r = run('mvn', ['-q', 'help:evaluate', '-Dexpression=settings.localRepository', '-DforceStdout'], scratch, 5 * 60_000);
  const repo = r.ok ? (r.out.trim().split(' | ').pop() ?? '') : '';
  return repo ? path.join(repo, ...rel) : home;
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
    const coords = `${VOSK_MODEL_AAR.group}:${VOSK_MODEL_AAR.artifact}:${VOSK_MODEL_AAR.version}:aar`;
    const r = run('mvn', ['-q', 'dependency:get', `-Dartifact=${coords}`, '-Dtransitive=false'], scratch);
    if (r.ok) {
      const file = mavenArtifact(scratch);
      if (fs.existsSync(file)) {
        const digest = await sha256File(file);
        if (digest !== VOSK_MODEL_AAR.sha256) errors.push(`${file}: sha256 ${digest} does not match ${VOSK_MODEL_AAR.sha256}`);
        else {
          await modelFromArchive(file, dest, scratch);
          return 'mvn';
        }
      } else errors.push(`mvn fetched ${coords} but ${file} is missing`);
    } else errors.push(`mvn dependency:get ${coords}: ${r.out}`);
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
      const buf = await fsp.readFile(f);
      const e = readZipEntries(buf).find((x) => x.name === VOSK_WHEEL.entry);
      if (e) {
        log(`libvosk: extracting ${VOSK_WHEEL.entry} from ${f}`);
        await installLib(zipEntryData(buf, e), dest, f);
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
    const r = run('npm', ['pack', VOSK_NPM.spec, '--silent', '--pack-destination', scratch], scratch);
    const tgz = fs.readdirSync(scratch).find((n) => /^vosk-.*\.tgz$/.test(n));
    if (r.ok && tgz) {
      const data = tarGzEntry(path.join(scratch, tgz), VOSK_NPM.entry);
      if (data && crypto.createHash('sha256').update(data).digest('hex') === VOSK_NPM.sha256) {
        await installLib(data, dest, tgz);
        return 'npm';
      }
      errors.push(`${tgz}: ${VOSK_NPM.entry} missing or not the expected build`);
    } else errors.push(`npm pack ${VOSK_NPM.spec}: ${r.out || 'failed'}`);
  }
  // PyPI wheel: pip first (respects the user's index settings), then the PyPI JSON API
  const wheelDir = path.join(scratch, 'wheel');
  await fsp.mkdir(wheelDir, { recursive: true });
  const spec = `${VOSK_WHEEL.name}==${VOSK_WHEEL.version}`;
  for (const pip of ['pip3', 'pip']) {
    log(`libvosk: ${pip} download ${spec} (${arch.wheel})`);
    const r = run(pip, ['download', spec, '--no-deps', '--only-binary=:all:', '--platform', arch.wheel, '-d', wheelDir, '-q'], scratch);
    if (r.ok) break;
    errors.push(`${pip} download: ${r.out}`);
  }
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
    const buf = await fsp.readFile(path.join(wheelDir, whl));
    const e = readZipEntries(buf).find((x) => x.name === VOSK_WHEEL.entry);
    if (e) {
      await installLib(zipEntryData(buf, e), dest, whl);
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
  const libDest = libPathIn(modelsDir);
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
