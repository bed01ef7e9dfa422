/**
 * The second look's recogniser (Moonshine tiny, no grammar) through the real model files installed by
 * `whereabouts models`: the engine alone, its worker and queue (asr/listener.ts), and the Vosk recogniser
 * handing it an unsure utterance's held audio (asr/recognizer.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Moonshine, normaliseHeard } from '../dist/assistant/asr/moonshine.js';
import { Listener } from '../dist/assistant/asr/listener.js';
import { createAsr } from '../dist/assistant/asr/index.js';
import { loadConfig } from '../dist/assistant/config.js';
import { buildVocabulary } from '../dist/nlp/vocabulary.js';
import { manifestLabels } from '../dist/assistant/app.js';
import { findMoonshine, moonshineProvider } from '../dist/models/moonshine.js';
import { voskProvider } from '../dist/models/vosk.js';
import { ASR_MODEL, MODELS_DIR, REPO, tempDir } from './asr-speech.js';

const corpus = JSON.parse(fs.readFileSync(path.join(REPO, 'audio-fixtures', 'corpus', 'manifest.json'), 'utf8')) as { clips: Array<{ id: string; file: string }> };
/** a corpus clip's samples (16 kHz s16le after the 44-byte header) */
function clip(prefix: string): Int16Array {
  const c = corpus.clips.find((x) => x.id.startsWith(prefix));
  if (!c) throw new Error(`no corpus clip ${prefix}`);
  const b = fs.readFileSync(path.join(REPO, 'audio-fixtures', c.file)).subarray(44);
  return new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

let files: { encoder: string; decoder: string };

beforeAll(async () => {
  // installed the way a user's `whereabouts models` does (CI has run it; this only checks it)
  await moonshineProvider.ensure({ modelsDir: MODELS_DIR, noModels: false, asrEngine: 'vosk' }, { from: null, offline: false, mirror: null, out: () => undefined, stderr: process.stderr });
  const f = findMoonshine(MODELS_DIR);
  if (!f.ok) throw new Error(f.reason);
  files = f;
}, 600_000);

describe('Moonshine tiny, the engine', () => {
  let m: Moonshine;
  beforeAll(async () => {
    m = await Moonshine.load(files);
  }, 60_000);
  afterAll(async () => m?.release());

  it('hears a word the grammar cannot: the item and every word with a confidence', async () => {
    // "hey could you tell me where my bottle is please" (Piper, fast): the grammar heard "balls"
    const r = await m.transcribe(clip('037-hey-could-you-tell-me-where-my-bottle-is-please'));
    expect(r.text).toBe('hey could you tell me where my bottle is please');
    expect(r.raw).toMatch(/^Hey, could you tell me where my bottle is please\??$/);
    expect(r.words.map((w) => w.word).join(' ')).toBe(r.text);
    const bottle = r.words.find((w) => w.word === 'bottle')!;
    expect(bottle.conf).toBeGreaterThan(0.8);
    for (const w of r.words) {
      expect(w.conf).toBeGreaterThan(0);
      expect(w.conf).toBeLessThanOrEqual(1);
    }
    // a thing nobody taught the system
    expect((await m.transcribe(clip('267-can-you-find-my-binoculars'))).text).toContain('binoculars');
  });

  it('audio too short to hold a word, and silence, give no words; a long input is bounded', async () => {
    expect(await m.transcribe(new Int16Array(1000))).toMatchObject({ text: '', words: [] });
    const quiet = await m.transcribe(new Int16Array(16000 * 2));
    expect(quiet.words.length).toBeLessThanOrEqual(2);
    // 40 s of the clip repeated: decoded (first 30 s), tokens bounded by the audio's length
    const one = clip('000-where-is-my-cup.flite-kal16.clean');
    const long = new Int16Array(16000 * 40);
    for (let at = 0; at + one.length <= long.length; at += one.length) long.set(one, at);
    const r = await m.transcribe(long);
    expect(r.words.length).toBeGreaterThan(4);
    expect(r.words.length).toBeLessThanOrEqual(30 * 6);
  }, 60_000);

  it('normalises what it writes', () => {
    expect(normaliseHeard("Where's my cup?")).toBe("where's my cup");
    expect(normaliseHeard('The tape-measure, please!')).toBe('the tape measure please');
    expect(normaliseHeard("'Quoted' words")).toBe('quoted words');
  });

  it('refuses files that are not the Moonshine model', async () => {
    const bad = path.join(tempDir('wa-moon-'), 'encoder_model.onnx');
    fs.writeFileSync(bad, 'not a model');
    await expect(Moonshine.load({ encoder: bad, decoder: files.decoder })).rejects.toThrow();
    // the right format, the wrong model: the decoder where the encoder should be
    await expect(Moonshine.load({ encoder: files.decoder, decoder: files.decoder })).rejects.toThrow(/not a Moonshine model/);
  });
});

describe('the listener: a worker thread and a bounded queue', () => {
  it('hears in order; a full queue, an aborted wait and a closed listener give null, never a hang', async () => {
    const l = await Listener.start({ ...files, maxQueue: 1 });
    try {
      const a = l.hear(clip('037-hey-could-you-tell-me-where-my-bottle-is-please'));
      const b = l.hear(clip('003-where-is-my-cup-then'));
      // one is being heard, one waits: the third finds the queue full
      expect(await l.hear(clip('000-where-is-my-cup'))).toBeNull();
      expect((await a)?.text).toContain('bottle');
      expect((await b)?.text).toContain('cup');
      const ac = new AbortController();
      const c = l.hear(clip('037-hey-could-you-tell-me-where-my-bottle-is-please'));
      const d = l.hear(clip('003-where-is-my-cup-then'), ac.signal);
      ac.abort();
      expect(await d).toBeNull();
      expect((await c)?.words.length).toBeGreaterThan(3);
      const e = l.hear(clip('003-where-is-my-cup-then'));
      await l.close();
      expect(await e).toBeNull();
      expect(await l.hear(clip('003-where-is-my-cup-then'))).toBeNull();
    } finally {
      await l.close();
    }
  }, 60_000);

  it('a worker that dies: what waits gets null, later questions get no look, the log says why', async () => {
    const errors: string[] = [];
    const l = await Listener.start({ ...files, log: { error: (m) => errors.push(m) } });
    try {
      const a = l.hear(clip('037-hey-could-you-tell-me-where-my-bottle-is-please'));
      const b = l.hear(clip('003-where-is-my-cup-then'));
      // (as if onnxruntime had crashed the thread)
      await (l as unknown as { worker: import('node:worker_threads').Worker }).worker.terminate();
      expect(await a).toBeNull();
      expect(await b).toBeNull();
      expect(await l.hear(clip('003-where-is-my-cup-then'))).toBeNull();
      expect(errors.join('\n')).toMatch(/second-look recogniser stopped/);
    } finally {
      await l.close();
    }
  }, 60_000);

  it('a missing model file: start rejects with the reason', async () => {
    await expect(Listener.start({ encoder: path.join(tempDir('wa-moon-'), 'none.onnx'), decoder: files.decoder })).rejects.toThrow(/none\.onnx|No such file|failed/i);
  });
});

describe('the Vosk recogniser hands an utterance to the second look', () => {
  const vocab = buildVocabulary(manifestLabels('yolox_nano')!);
  const config = () =>
    loadConfig([], {}, { modelsDir: MODELS_DIR, asrModel: ASR_MODEL, asrWorkers: 1, maxStreams: 4, dataDir: tempDir('wa-moon-asr-'), noModels: true });
  beforeAll(async () => {
    await voskProvider.ensure({ modelsDir: MODELS_DIR, model: ASR_MODEL });
  }, 600_000);

  it('the whole utterance as Vosk decoded it, heard again', async () => {
    const asr = await createAsr(config(), vocab.phrases(), { preferred: vocab.labels, secondLook: files, probe: false });
    try {
      const s = asr.open(16000, { endpointing: false });
      const pcm = clip('037-hey-could-you-tell-me-where-my-bottle-is-please');
      s.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
      const r = await s.finish();
      expect(r.secondLook).not.toBeNull();
      const look = await r.secondLook!.take();
      expect(look?.text).toBe('hey could you tell me where my bottle is please');
      expect(look?.cpuMs).toBeGreaterThan(0);
      // taken once
      expect(await r.secondLook!.take()).toBeNull();
    } finally {
      await asr.close();
    }
  }, 120_000);

  it('without its model: a warning at start, and utterances carry no second look', async () => {
    const warnings: string[] = [];
    const asr = await createAsr(config(), vocab.phrases(), {
      preferred: vocab.labels,
      secondLook: { encoder: path.join(tempDir('wa-moon-'), 'missing.onnx'), decoder: files.decoder },
      probe: false,
      log: { warn: (m) => warnings.push(m) },
    });
    try {
      expect(warnings.join('\n')).toMatch(/no second look at unsure questions.*whereabouts models/s);
      const s = asr.open(16000, { endpointing: false });
      const pcm = clip('003-where-is-my-cup-then');
      s.write(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength));
      const r = await s.finish();
      expect(r.text).not.toBe('');
      expect(r.secondLook).toBeNull();
    } finally {
      await asr.close();
    }
  }, 120_000);
});

describe('the server without the second recogniser', () => {
  it('says so once at start, and starts (unsure questions are asked back)', async () => {
    // a models folder with everything but Moonshine
    const dir = tempDir('wa-moon-models-');
    for (const f of fs.readdirSync(MODELS_DIR)) if (f !== 'moonshine-tiny-en' && !f.endsWith('.part')) fs.symlinkSync(path.join(MODELS_DIR, f), path.join(dir, f));
    const lines: string[] = [];
    const { buildApp } = await import('../dist/assistant/app.js');
    const config = loadConfig([], {}, { port: 0, dataDir: tempDir('wa-moon-app-'), modelsDir: dir, asrModel: ASR_MODEL, asrWorkers: 1, maxStreams: 2, logLevel: 'warn' });
    const app = await buildApp(config, { detector: null, speech: null, labels: manifestLabels('yolox_nano')!, logger: { level: 'warn', stream: { write: (l: string) => lines.push(l) } } });
    try {
      const said = lines.map((l) => JSON.parse(l).msg as string).filter((m) => /second look/.test(m));
      expect(said).toHaveLength(1);
      expect(said[0]).toMatch(/no second look at unsure spoken questions \(they are asked back instead\): the Moonshine recogniser is not installed .*moonshine-tiny-en.*Run `whereabouts models`/);
      expect(lines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
    } finally {
      await app.close();
    }
  }, 120_000);
});
