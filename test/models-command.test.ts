/**
 * `whereabouts models` (its flags through the command line's parser, then runModels): copy from a folder, checksum refusal, --check, downloads from a
 * local HTTP server (resumed with Range), and the what/where message when nothing can be fetched. Never
 * touches the internet: downloads go to a local server or to a closed local port via --mirror.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../dist/assistant/config.js';
import { modelsOptions, parseCommand } from '../dist/assistant/commands.js';
import { runModels, sha256File, type ModelProvider } from '../dist/models/models.js';
import { detectionModelProvider } from '../dist/models/providers.js';
import { REPO, YOLOX_FILE, tempDir } from './helpers/tmp.js';

const YOLOX = YOLOX_FILE;
const OFFICIAL = 'https://github.com/Megvii-BaseDetection/YOLOX/releases/download/0.1.1rc0/yolox_nano.onnx';
const SHARED_SHA = '695e750a5d5754bb5a8d5325643b59282191a7e7a564e435a415fd3c578eab14';

function sink() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(c, _e, cb) {
      chunks.push(String(c));
      cb();
    },
  }) as Writable & { isTTY?: boolean };
  return { stream, text: () => chunks.join('') };
}

/** the detection model without the copy kept in the repository: what the copy/download paths do for any model */
const detectorWithoutCopy: ModelProvider = {
  ...detectionModelProvider,
  artifact: (c) => {
    const a = detectionModelProvider.artifact(c);
    return a && { ...a, bundled: undefined };
  },
};

async function run(args: string[], over: Record<string, unknown> = {}, io: { providers?: ModelProvider[]; tty?: boolean } = {}) {
  const modelsDir = (over.modelsDir as string) ?? tempDir();
  const config = loadConfig([], {}, { modelsDir, asrEngine: 'none', ttsEngine: 'none', ...over }); // the detection model's provider only
  const lines: string[] = [];
  const err = sink();
  err.stream.isTTY = io.tty;
  const { options } = parseCommand('models', args, {});
  const code = await runModels(modelsOptions(options), config, (l) => lines.push(l), { stderr: err.stream, providers: io.providers ?? [detectorWithoutCopy] });
  return { code, out: lines.join('\n'), stderr: err.text(), modelsDir, target: path.join(modelsDir, 'yolox_nano.onnx') };
}

/** a port nothing listens on */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

const servers: http.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** serves `body` at /yolox_nano.onnx with Range support; records the Range headers it saw */
async function serve(body: Buffer) {
  const ranges: Array<string | undefined> = [];
  const s = http.createServer((req, res) => {
    if (req.url !== '/yolox_nano.onnx') return res.writeHead(404).end();
    ranges.push(req.headers.range);
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m) {
      const from = Number(m[1]);
      if (from >= body.length) return res.writeHead(416).end();
      res.writeHead(206, { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}`, 'content-length': body.length - from });
      return res.end(body.subarray(from));
    }
    res.writeHead(200, { 'content-length': body.length });
    res.end(body);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { mirror: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, ranges };
}

describe('whereabouts models', () => {
  it('installs the default detector from the copy kept in the repository, with no network at all', async () => {
    const port = await closedPort(); // any download attempt would fail
    const r = await run(['--mirror', `http://127.0.0.1:${port}`], {}, { providers: [detectionModelProvider] });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/^installed: detection model "yolox_nano" from .*models\/vendor\/yolox_nano\.onnx to /);
    expect(r.out).not.toMatch(/download/);
    expect(await sha256File(r.target)).toBe(SHARED_SHA);
    // --offline too, and the copy is the same file models/vendor/SHA256SUMS names
    const off = await run(['--offline'], {}, { providers: [detectionModelProvider] });
    expect(off.code, off.out).toBe(0);
    const sums = fs.readFileSync(path.join(REPO, 'models', 'vendor', 'SHA256SUMS'), 'utf8');
    expect(sums.trim()).toBe(`${SHARED_SHA}  yolox_nano.onnx`);
    expect(fs.statSync(YOLOX).size).toBe(3_660_092);
    expect(fs.readFileSync(path.join(REPO, 'models', 'vendor', 'LICENSE.yolox_nano'), 'utf8')).toMatch(/Megvii[\s\S]*Apache License\s+Version 2\.0/);
  });

  it('copies the model from --from DIR and verifies it; a second run finds it in place', async () => {
    const r = await run(['--from', path.dirname(YOLOX)]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/copied: detection model "yolox_nano"/);
    expect(await sha256File(r.target)).toBe(SHARED_SHA);
    expect(fs.readdirSync(r.modelsDir)).toEqual(['yolox_nano.onnx']);
    const again = await run([], { modelsDir: r.modelsDir });
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^ok: detection model "yolox_nano"/);
  });

  it('accepts --from pointing at the file itself', async () => {
    const r = await run([`--from=${YOLOX}`]);
    expect(r.code, r.out).toBe(0);
    expect(fs.existsSync(r.target)).toBe(true);
  });

  it('refuses a file with a wrong checksum and installs nothing', async () => {
    const dir = tempDir();
    fs.copyFileSync(path.join(REPO, 'test', 'fixtures', 'vision', 'ultralytics_tiny.onnx'), path.join(dir, 'yolox_nano.onnx'));
    const r = await run(['--from', dir]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/refused: .*yolox_nano\.onnx has sha256 [0-9a-f]{64}, which is not an accepted checksum/);
    expect(fs.existsSync(r.target)).toBe(false);
  });

  it('offline with no copy: says what to fetch and exactly where to put it', async () => {
    const port = await closedPort();
    const r = await run(['--mirror', `http://127.0.0.1:${port}`]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/cannot download detection model "yolox_nano" from http:\/\/127\.0\.0\.1:\d+\/yolox_nano\.onnx: .*ECONNREFUSED/);
    expect(r.out).toContain(`fetch\n  ${OFFICIAL}\n`);
    expect(r.out).toContain(`put it at\n  ${r.target}\n`);
    expect(r.out).toMatch(/whereabouts models --from/);
    expect(fs.existsSync(r.target)).toBe(false);
    // the same with --offline (no network attempt at all)
    const off = await run(['--offline']);
    expect(off.code).toBe(1);
    expect(off.out).toContain(OFFICIAL);
    expect(off.out).toContain(off.target);
  });

  it('--check verifies only; --check-only-if-present lets a missing model pass', async () => {
    const missing = await run(['--check']);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/missing: detection model "yolox_nano"/);
    expect(missing.out).toContain(missing.target);
    expect(fs.readdirSync(missing.modelsDir)).toEqual([]);

    const lenient = await run(['--check-only-if-present']);
    expect(lenient.code).toBe(0);
    expect(lenient.out).toMatch(/not installed yet/);

    const dir = tempDir();
    const bytes = fs.readFileSync(YOLOX);
    fs.writeFileSync(path.join(dir, 'yolox_nano.onnx'), bytes.subarray(0, 1000));
    for (const flag of ['--check', '--check-only-if-present']) {
      const damaged = await run([flag], { modelsDir: dir });
      expect(damaged.code).toBe(1);
      expect(damaged.out).toMatch(/not usable: .*not an accepted checksum/);
    }
    fs.copyFileSync(YOLOX, path.join(dir, 'yolox_nano.onnx'));
    expect((await run(['--check'], { modelsDir: dir })).code).toBe(0);
  });

  it('downloads, resuming a partial file with an HTTP Range request, and shows progress', async () => {
    const body = fs.readFileSync(YOLOX);
    const { mirror, ranges } = await serve(body);
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'yolox_nano.onnx.part'), body.subarray(0, 1_000_000));
    const r = await run(['--mirror', mirror], { modelsDir: dir });
    expect(r.code, r.out).toBe(0);
    expect(ranges).toEqual(['bytes=1000000-']);
    expect(await sha256File(r.target)).toBe(SHARED_SHA);
    expect(fs.readdirSync(dir)).toEqual(['yolox_nano.onnx']);
    expect(r.out).toMatch(/installed: detection model "yolox_nano"/);
    // not a terminal: plain progress lines
    expect(r.stderr).toMatch(/yolox_nano\.onnx 100% /);
    expect(r.stderr).not.toContain('\r');

    // a terminal gets a redrawn bar
    const tty = await run(['--mirror', mirror], {}, { tty: true });
    expect(tty.code).toBe(0);
    expect(ranges[1]).toBeUndefined();
    expect(tty.stderr).toMatch(/\ryolox_nano\.onnx \[#+\] 100%/);
  });

  it('throws away a download whose checksum is wrong', async () => {
    const { mirror } = await serve(Buffer.from('not the model'));
    const r = await run(['--mirror', mirror]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/the download of detection model "yolox_nano" has sha256 [0-9a-f]{64}, not an accepted checksum/);
    expect(fs.readdirSync(r.modelsDir)).toEqual([]);
  });

  it('takes any number of providers: one entry adds a model', async () => {
    const payload = Buffer.from('a tiny speech model\n');
    const { createHash } = await import('node:crypto');
    const sha = createHash('sha256').update(payload).digest('hex');
    const src = tempDir();
    fs.writeFileSync(path.join(src, 'speech.bin'), payload);
    const installed: string[] = [];
    const speech: ModelProvider = {
      id: 'speech',
      title: () => 'speech model',
      enabled: () => true,
      target: (c) => path.join(c.modelsDir, 'speech-model'),
      artifact: () => ({ url: 'https://example.invalid/speech.bin', fileName: 'speech.bin', sha256: [sha] }),
      check: async (c) => (fs.existsSync(path.join(c.modelsDir, 'speech-model', 'model.bin')) ? null : 'not installed'),
      install: async (file, c) => {
        installed.push(file);
        fs.mkdirSync(path.join(c.modelsDir, 'speech-model'), { recursive: true });
        fs.renameSync(file, path.join(c.modelsDir, 'speech-model', 'model.bin'));
      },
    };
    const r = await run(['--from', src], {}, { providers: [speech] });
    expect(r.code, r.out).toBe(0);
    expect(installed).toHaveLength(1);
    expect(fs.readFileSync(path.join(r.modelsDir, 'speech-model', 'model.bin'), 'utf8')).toBe(payload.toString());
  });

  it('lets a provider with several sources fetch the model itself', async () => {
    const seen: unknown[] = [];
    const multi: ModelProvider = {
      id: 'multi',
      title: () => 'multi-source model',
      enabled: () => true,
      target: (c) => path.join(c.modelsDir, 'multi'),
      artifact: () => null,
      check: async (c) => (fs.existsSync(path.join(c.modelsDir, 'multi')) ? null : 'not installed'),
      ensure: async (c, ctx) => {
        seen.push({ from: ctx.from, offline: ctx.offline });
        ctx.out('fetching from the second source');
        fs.writeFileSync(path.join(c.modelsDir, 'multi'), 'x');
      },
    };
    const r = await run(['--offline', '--from', '/nowhere'], {}, { providers: [multi] });
    expect(r.code, r.out).toBe(0);
    expect(seen).toEqual([{ from: '/nowhere', offline: true }]);
    expect(r.out).toMatch(/fetching from the second source\ninstalled: multi-source model/);
    const failing = await run([], {}, { providers: [{ ...multi, ensure: async () => Promise.reject(new Error('no source worked')) }] });
    expect(failing.code).toBe(1);
    expect(failing.out).toMatch(/failed: multi-source model: no source worked/);
  });

  it('needs nothing with --no-models, and rejects unknown options', async () => {
    expect((await run(['--check'], { noModels: true })).out).toMatch(/no models needed/);
    await expect(run(['--frobnicate'])).rejects.toThrow(/^unknown option --frobnicate$/);
    await expect(run(['--from'])).rejects.toThrow(/^--from needs a value$/);
  });
});
