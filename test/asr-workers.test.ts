/**
 * The recogniser's worker threads share one Vosk model (assistant/asr/pool.ts): the real model and libvosk,
 * real synthetic speech (espeak-ng / flite), real worker threads, and a child process for the memory figure.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createAsr, type Asr, type AsrStream } from '../dist/assistant/asr/index.js';
import { ASR_MODEL, MODELS_DIR, REPO, frames, say, tempDir } from './asr-speech.js';

const PHRASES = ['cup', 'cell phone', 'phone', 'laptop', 'keys', 'remote', 'book', 'scissors', 'toothbrush', 'wallet'];
const config = { modelsDir: MODELS_DIR, asrModel: ASR_MODEL, asrEngine: 'vosk', maxStreams: 16, logLevel: 'warn' };

const open: Asr[] = [];
afterAll(async () => {
  for (const a of open) await a.close();
});

async function start(workers: number): Promise<Asr> {
  const a = await createAsr({ ...config, asrWorkers: workers }, PHRASES);
  open.push(a);
  return a;
}

/** the worker threads behind an Asr (test access to the pool's internals: to kill one) */
function workerThreads(a: Asr): Array<{ index: number; worker: { terminate(): Promise<number> } }> {
  return (a as unknown as { pool: { slots: Array<{ index: number; worker: { terminate(): Promise<number> } }> } }).pool.slots;
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const SENTENCES: Array<[string, string]> = [
  ['where is my cup', 'cup'],
  ['have you seen my laptop', 'laptop'],
  ['where are my keys', 'keys'],
  ['where is my remote', 'remote'],
  ['where did i leave my book', 'book'],
  ['where is my toothbrush', 'toothbrush'],
];
const speech = new Map(SENTENCES.map(([t], i) => [t, say(t, i % 2 ? { engine: 'flite', voice: 'slt' } : {})]));

describe('recogniser workers sharing one model', () => {
  it('every worker uses the same model; streams are spread over the workers; each gets its own words', async () => {
    const a = await start(3);
    const stats = await a.workerStats();
    expect(stats).toHaveLength(3);
    expect(stats[0].model).toMatch(/^0x[0-9a-f]+$/);
    expect(new Set(stats.map((s) => s.model)).size).toBe(1);
    const streams = SENTENCES.map(([t]) => ({ t, s: a.open(16000) }));
    // least-loaded placement: six streams on three workers, two each
    expect((await a.workerStats()).map((s) => s.recognizers)).toEqual([2, 2, 2]);
    const fs_ = streams.map(({ t }) => frames(speech.get(t)!));
    for (let i = 0; i < Math.max(...fs_.map((f) => f.length)); i++) streams.forEach(({ s }, k) => fs_[k][i] && s.write(fs_[k][i]));
    const results = await Promise.all(streams.map(({ s }) => s.finish()));
    results.forEach((r, k) => {
      expect(r.text, SENTENCES[k][0]).toContain(SENTENCES[k][1]);
      for (const [, other] of SENTENCES) if (other !== SENTENCES[k][1]) expect(r.text, SENTENCES[k][0]).not.toContain(other);
    });
  });

  it("a stream's transcripts come in order: two utterances, endpoints in the order spoken", async () => {
    const a = await start(2);
    // the other worker busy with a stream of its own
    const busy = a.open(16000);
    for (const f of frames(speech.get('where is my remote')!)) busy.write(f);
    const s = a.open(16000);
    const endpoints: string[] = [];
    s.on('endpoint', (t) => endpoints.push(t));
    for (const f of frames(say('where is my cup', { tail: 1.2 }))) s.write(f);
    for (const f of frames(say('where are my keys', { tail: 1.2 }))) s.write(f);
    const r = await s.finish();
    expect((await busy.finish()).text).toContain('remote');
    expect(endpoints.length).toBeGreaterThanOrEqual(2);
    expect(endpoints.findIndex((t) => t.includes('cup'))).toBeLessThan(endpoints.findIndex((t) => t.includes('keys')));
    expect(r.text.indexOf('cup')).toBeGreaterThanOrEqual(0);
    expect(r.text.indexOf('cup')).toBeLessThan(r.text.indexOf('keys'));
  });

  it('the worker that loaded the model dies: its stream fails, the others go on, the replacement shares the same model', async () => {
    const a = await start(3);
    const model = (await a.workerStats())[0].model;
    const streams: AsrStream[] = [a.open(16000), a.open(16000), a.open(16000)];
    const loader = workerThreads(a).find((w) => w.index === 0)!;
    // the streams were placed in worker order: the first on the loader
    const pcm = frames(speech.get('where is my cup')!);
    const failed = new Promise<string>((resolve) => streams[0].once('error', (e) => resolve(e.message)));
    for (const f of pcm.slice(0, 5)) for (const s of streams) s.write(f);
    await loader.worker.terminate();
    expect(await failed).toMatch(/^speech recogniser worker exited/);
    expect(streams[0].closed).toBe(true);
    // the worker is gone, its model is not: the others keep decoding with it
    for (const f of pcm.slice(5)) for (const s of streams.slice(1)) s.write(f);
    const texts = await Promise.all(streams.slice(1).map((s) => s.finish().then((r) => r.text)));
    expect(texts).toHaveLength(2);
    for (const t of texts) expect(t).toContain('cup');
    await waitFor('the replacement worker', () => a.stats().workers === 3);
    const after = await a.workerStats();
    expect(after.map((s) => s.model)).toEqual([model, model, model]);
    // new streams on every worker, the replacement included, recognise with it
    const more = SENTENCES.slice(0, 3).map(([t, item]) => ({ item, s: a.open(16000), pcm: speech.get(t)! }));
    expect((await a.workerStats()).map((s) => s.recognizers)).toEqual([1, 1, 1]);
    for (const m of more) for (const f of frames(m.pcm)) m.s.write(f);
    for (const m of more) expect((await m.s.finish()).text).toContain(m.item);
    // closing frees the model once, last; a new recogniser in this process loads it again and works
    await a.close();
    const b = await start(2);
    const s = b.open(16000);
    for (const f of frames(speech.get('where are my keys')!)) s.write(f);
    expect((await s.finish()).text).toContain('keys');
  });

  it('memory: a second and third worker add a thread each, not a copy of the model (~126 MiB)', () => {
    // a fresh process per count: RSS after the recogniser started, then after a stream through every worker
    const dir = tempDir();
    const script = path.join(dir, 'rss.mjs');
    fs.writeFileSync(
      script,
      `import { createAsr } from ${JSON.stringify(path.join(REPO, 'dist/assistant/asr/index.js'))};
const a = await createAsr({ modelsDir: ${JSON.stringify(MODELS_DIR)}, asrModel: ${JSON.stringify(ASR_MODEL)}, asrEngine: 'vosk', asrWorkers: Number(process.argv[2]), maxStreams: 8 }, ${JSON.stringify(PHRASES)}, { probe: false });
const streams = Array.from({ length: Number(process.argv[2]) }, () => a.open(16000));
for (const s of streams) s.write(new Uint8Array(32000));
await Promise.all(streams.map((s) => s.finish()));
console.log(JSON.stringify({ rss: process.memoryUsage().rss, workers: a.stats().workers }));
await a.close();
`,
    );
    const rss = (n: number) => JSON.parse(execFileSync(process.execPath, [script, String(n)], { encoding: 'utf8' }).trim().split('\n').pop()!) as { rss: number; workers: number };
    const one = rss(1);
    const three = rss(3);
    expect(one.workers).toBe(1);
    expect(three.workers).toBe(3);
    const perWorkerMiB = (three.rss - one.rss) / 2 / 1048576;
    console.log(`ASR RSS: 1 worker ${(one.rss / 1048576).toFixed(0)} MiB, 3 workers ${(three.rss / 1048576).toFixed(0)} MiB: +${perWorkerMiB.toFixed(1)} MiB per extra worker`);
    expect(perWorkerMiB).toBeLessThan(45);
  }, 120_000);
});
