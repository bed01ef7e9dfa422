/**
 * The Piper engine: text pieces and phoneme ids (pure), then the real voice `whereabouts models` installs
 * (models/files/en_US-joe-medium.onnx; CI fetches it with `whereabouts models`), and the flite fallback for a
 * missing or damaged voice, through the real server.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTts, synthesizeToPcm, type Tts } from '../dist/assistant/tts/index.js';
import { PiperTts } from '../dist/assistant/tts/piper.js';
import { createSpeech } from '../dist/assistant/speech.js';
import { phonemesToIds, piecePhonemes, parseVoiceConfig, planPieces, splitClauses, VoiceConfigError } from '../dist/assistant/tts/piper-voice.js';
import { loadEspeak } from '../dist/assistant/tts/espeak-wasm.js';
import { analyzeSpeech, peak, s16leToFloat32 } from '../dist/protocol/pcm.js';
import { parseWav } from '../dist/protocol/wav.js';
import { createAsr } from '../dist/assistant/asr/index.js';
import { REPLY_AUDIO_CHUNK_BYTES } from '../dist/protocol/protocol.js';
import { REPO, tempDir } from './helpers/server.js';

const MODELS = path.join(REPO, 'models', 'files');
const VOICE = path.join(MODELS, 'en_US-joe-medium.onnx');
const haveVoice = fs.existsSync(VOICE) && fs.existsSync(`${VOICE}.json`);
const inCI = /^(1|true|yes)$/i.test(process.env.CI ?? '');
if (!haveVoice) console.warn(`[tts-piper] ${VOICE} is missing: run \`whereabouts models\` (these tests fail under CI=true)`);
const needVoice = haveVoice || inCI;

const JOE_MAP = { _: [0], '^': [1], $: [2], ' ': [3], ',': [8], '.': [10], a: [14], b: [15], 'ˈ': [120], 'ɪ': [74] };
const voiceJson = (over: Record<string, unknown> = {}) => ({
  audio: { sample_rate: 22050 },
  espeak: { voice: 'en-us' },
  inference: { noise_scale: 0.667, length_scale: 1, noise_w: 0.8 },
  phoneme_type: 'espeak',
  phoneme_id_map: JOE_MAP,
  num_symbols: 256,
  ...over,
});

describe('piper text pieces and phoneme ids', () => {
  it('cuts clauses at punctuation and keeps what ends each', () => {
    expect(splitClauses('Your cup is on the kitchen counter, four minutes ago.')).toEqual([
      { text: 'Your cup is on the kitchen counter', end: ',' },
      { text: 'four minutes ago', end: '.' },
    ]);
    expect(splitClauses('Where is it? I saw it: yesterday!')).toEqual([
      { text: 'Where is it', end: '?' },
      { text: 'I saw it', end: ':' },
      { text: 'yesterday', end: '!' },
    ]);
    // no cut inside numbers, after titles or initials; text without a final stop ends with ''
    expect(splitClauses('Dr. Smith has 2.5 cups')).toEqual([{ text: 'Dr. Smith has 2.5 cups', end: '' }]);
    expect(splitClauses(' , ... ')).toEqual([]);
  });

  it('makes the first piece short, cutting before a preposition or determiner', () => {
    const p = planPieces('Your cup is on the kitchen counter, four minutes ago.');
    expect(p.map((x) => x.text)).toEqual(['Your cup is', 'on the kitchen counter', 'four minutes ago']);
    expect(p.map((x) => x.end)).toEqual(['', ',', '.']);
    const texts = (t: string) => planPieces(t).map((x) => x.text);
    expect(texts('I have not seen your wallet.')).toEqual(['I have not seen', 'your wallet']);
    expect(texts('I think I last saw your handbag in the hallway.')).toEqual(['I think I last saw', 'your handbag in the hallway']);
    expect(texts('Where are my keys?')).toEqual(['Where are my keys']); // short: whole
    // no phrase boundary: whole up to six words, else cut after four
    expect(texts('Alpha bravo charlie delta echo.')).toEqual(['Alpha bravo charlie delta echo']);
    expect(texts('Alpha bravo charlie delta echo foxtrot golf.')).toEqual(['Alpha bravo charlie delta', 'echo foxtrot golf']);
  });

  it("cleans espeak-ng's IPA and appends the piece's punctuation as Piper does", () => {
    expect(piecePhonemes('j_ʊɹ k_ˈʌ_p | ɪ_z', ',')).toBe('jʊɹ kˈʌp ɪz, '.normalize('NFD'));
    expect(piecePhonemes('ˌoʊ_k_ˈeɪ', '.')).toBe('ˌoʊkˈeɪ.');
    expect(piecePhonemes('ab', '')).toBe('ab');
    expect('ç'.length).toBe(1);
    expect(piecePhonemes('ç', '')).toBe('c\u0327'); // decomposed, as piper-phonemize does
  });

  it('maps phonemes to ids: ^ _ (id _)* $, unknown codepoints dropped and reported', () => {
    const v = parseVoiceConfig(voiceJson());
    expect(phonemesToIds('ab', v)).toEqual({ ids: [1, 0, 14, 0, 15, 0, 2], missing: [] });
    expect(phonemesToIds('ˈa, b.', v).ids).toEqual([1, 0, 120, 0, 14, 0, 8, 0, 3, 0, 15, 0, 10, 0, 2]);
    expect(phonemesToIds('aЖ', v)).toEqual({ ids: [1, 0, 14, 0, 2], missing: ['Ж'] });
    // a voice's phoneme_map rewrites before the ids
    const m = parseVoiceConfig(voiceJson({ phoneme_map: { b: ['a', 'a'] } }));
    expect(phonemesToIds('b', m).ids).toEqual([1, 0, 14, 0, 14, 0, 2]);
  });

  it('refuses voice configs it cannot use, saying what is wrong', () => {
    const bad = (j: unknown) => () => parseVoiceConfig(j, 'x.onnx.json');
    expect(bad([])).toThrow(VoiceConfigError);
    expect(bad(voiceJson({ phoneme_type: 'text' }))).toThrow(/phoneme_type "text"/);
    expect(bad(voiceJson({ phoneme_id_map: { a: [1] } }))).toThrow(/no "_"/);
    expect(bad(voiceJson({ phoneme_id_map: { ...JOE_MAP, ab: [3] } }))).toThrow(/one codepoint/);
    expect(bad(voiceJson({ phoneme_id_map: { ...JOE_MAP, z: [999] } }))).toThrow(/below num_symbols/);
    expect(bad(voiceJson({ audio: {} }))).toThrow(/sample_rate/);
    expect(parseVoiceConfig(voiceJson()).sampleRate).toBe(22050);
  });

  it('espeak-ng runs in process and gives the IPA Piper voices expect', async () => {
    const g2p = await loadEspeak('en-us');
    const ph = piecePhonemes(g2p.phonemize('Your cup is on the kitchen counter'), ',');
    expect(ph).toBe('jʊɹ kˈʌp ɪz ɔnðə kˈɪtʃən kˈaʊntɚ, '.normalize('NFD'));
    expect(piecePhonemes(g2p.phonemize('six pm'), '.')).toBe('sˈɪks pˌiːˈɛm.'.normalize('NFD'));
  });
});

describe.skipIf(!needVoice)('piper engine with the real voice', () => {
  let tts: Tts;
  beforeAll(async () => {
    tts = await createTts({ ttsEngine: 'piper', voice: VOICE });
  }, 120_000);
  afterAll(async () => tts?.close());

  it('speaks a reply: plausible speech in <= 8 KiB even chunks, the first clause handed out before the rest is done', async () => {
    const piper = tts as InstanceType<typeof PiperTts>;
    expect(tts.engine).toBe('piper');
    const before = piper.stats.length;
    const t0 = performance.now();
    let firstMs = -1;
    const chunks: Buffer[] = [];
    for await (const c of tts.synthesize('Your phone is on the dining table in the kitchen, about an hour ago.')) {
      if (firstMs < 0) firstMs = performance.now() - t0;
      chunks.push(c);
    }
    const totalMs = performance.now() - t0;
    for (const c of chunks) {
      expect(c.length).toBeGreaterThan(0);
      expect(c.length).toBeLessThanOrEqual(REPLY_AUDIO_CHUNK_BYTES);
      expect(c.length % 2).toBe(0);
    }
    expect(piper.stats.length - before).toBe(3); // "Your phone is" | "on the dining table in the kitchen," | "about an hour ago."
    expect(firstMs).toBeLessThan(totalMs);
    const s = analyzeSpeech(s16leToFloat32(Buffer.concat(chunks)), 16000);
    expect(s.durationSec).toBeGreaterThan(2);
    expect(s.durationSec).toBeLessThan(7);
    expect(s.peak).toBeGreaterThan(0.5);
    expect(s.activeFraction).toBeGreaterThan(0.4);
    expect([...piper.missing.keys()]).toEqual([]); // espeak-ng gave only phonemes the voice knows
    console.log(`[piper] first audio ${firstMs.toFixed(0)} ms, whole reply ${totalMs.toFixed(0)} ms (under whatever load the machine has)`);
  });

  it('closing while a piece is being synthesised ends cleanly (no abort from inside onnxruntime)', () => {
    const script = `
      const { createTts } = await import(${JSON.stringify(path.join(REPO, 'dist/assistant/tts/index.js'))});
      const tts = await createTts({ ttsEngine: 'piper', voice: ${JSON.stringify(VOICE)} });
      const it = tts.synthesize('Your cup is on the kitchen counter next to the kettle and the toaster, four minutes ago.')[Symbol.asyncIterator]();
      await it.next();
      await tts.close();
      console.log('closed');`;
    const file = path.join(tempDir(), 'close.mjs');
    fs.writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr, r.stderr).not.toMatch(/terminate called|Aborted/);
    expect(r.stdout, `${r.error?.message ?? ''} ${r.stderr}`).toContain('closed');
    expect(r.stdout).toContain('closed');
    expect(r.status).toBe(0);
  }, 130_000);

  it('keeps the audio of recent clauses: a repeated reply start is not synthesised again', async () => {
    const piper = tts as InstanceType<typeof PiperTts>;
    const a = await synthesizeToPcm(tts, 'Your keys are on the table in the hallway, a few seconds ago.');
    const hits = piper.cache.hits;
    const done = piper.piecesDone;
    const b = await synthesizeToPcm(tts, 'Your keys are in the garage, two days ago.');
    expect(piper.cache.hits).toBe(hits + 1);
    expect(piper.piecesDone - done).toBe(2); // "in the garage," and "two days ago." only
    // the cached start is the same audio
    const start = Math.min(8000, a.length);
    expect(b.subarray(0, start).equals(a.subarray(0, start))).toBe(true);
  });

  it('resamples to the rate a call asks for; speaking rate and volume change length and level', async () => {
    const text = 'I have not seen your wallet.';
    const at = async (opts: { sampleRate?: number }, t: Tts = tts) => {
      const pcm = await synthesizeToPcm(t, text, opts);
      return { sec: pcm.length / 2 / (opts.sampleRate ?? 16000), peak: peak(s16leToFloat32(pcm)) };
    };
    const base = await at({});
    const hi = await at({ sampleRate: 22050 });
    const lo = await at({ sampleRate: 8000 });
    // the same words at each rate (VITS varies a little from run to run)
    for (const x of [hi, lo]) expect(Math.abs(x.sec - base.sec)).toBeLessThan(0.35 * base.sec);
    const fast = await createTts({ ttsEngine: 'piper', voice: VOICE, voiceRate: 1.6, voiceVolume: 0.5 });
    try {
      const f = await at({}, fast);
      expect(f.sec).toBeLessThan(base.sec * 0.85);
      expect(f.peak).toBeLessThan(0.6);
      expect(f.peak).toBeGreaterThan(0.3);
    } finally {
      await fast.close();
    }
  }, 120_000);

  it("is understood by the project's own recogniser (free dictation)", async () => {
    const asr = await createAsr({ modelsDir: MODELS, asrModel: 'vosk-model-small-en-us-0.15', asrEngine: 'vosk', asrWorkers: 1, maxStreams: 2 }, [], { dictation: true, probe: false });
    try {
      const said = 'i last saw your keys in the hallway yesterday at six pm';
      const pcm = await synthesizeToPcm(tts, 'I last saw your keys in the hallway, yesterday at six pm.');
      const st = asr.open(16000);
      st.write(pcm);
      st.write(Buffer.alloc(16000));
      const heard = (await st.finish()).text.split(' ');
      const want = said.split(' ');
      const hits = want.filter((w) => heard.includes(w)).length;
      expect(hits / want.length).toBeGreaterThanOrEqual(0.8);
    } finally {
      await asr.close();
    }
  }, 120_000);
});

describe.skipIf(!needVoice)('without a usable Piper voice the server speaks with flite', () => {
  const dir = tempDir();
  const cases: Array<[string, () => string]> = [
    ['missing', () => path.join(dir, 'nowhere.onnx')],
    [
      'damaged (not an ONNX file)',
      () => {
        const f = path.join(dir, 'junk.onnx');
        fs.writeFileSync(f, Buffer.alloc(200_000, 7));
        fs.copyFileSync(`${VOICE}.json`, `${f}.json`);
        return f;
      },
    ],
    [
      'truncated',
      () => {
        const f = path.join(dir, 'cut.onnx');
        const fd = fs.openSync(VOICE, 'r');
        const b = Buffer.alloc(5_000_000);
        fs.readSync(fd, b, 0, b.length, 0);
        fs.closeSync(fd);
        fs.writeFileSync(f, b);
        fs.copyFileSync(`${VOICE}.json`, `${f}.json`);
        return f;
      },
    ],
    [
      'without its .onnx.json',
      () => {
        const f = path.join(dir, 'alone.onnx');
        fs.copyFileSync(VOICE, f);
        return f;
      },
    ],
  ];
  for (const [what, make] of cases) {
    it(`voice file ${what}: a warning naming the file, then flite`, async () => {
      const voice = make();
      const warnings: string[] = [];
      const speech = await createSpeech({ ttsEngine: 'piper', voice }, { info: () => {}, warn: (m) => warnings.push(m) });
      try {
        expect(speech!.engine).toBe('flite');
        expect(speech!.fallback).toContain(path.basename(voice));
        expect(warnings.join('\n')).toMatch(/Piper voice is not usable, speaking with flite instead/);
        const w = parseWav(await speech!.wav('Your cup is on the table.'));
        expect(analyzeSpeech(s16leToFloat32(w.data), w.sampleRate).durationSec).toBeGreaterThan(0.8);
      } finally {
        await speech?.close();
      }
    }, 60_000);
  }

  it('`whereabouts serve` says so at start and still answers /v1/speak', async () => {
    const voice = path.join(dir, 'nowhere.onnx');
    const dataDir = tempDir();
    const cli = path.join(REPO, 'dist/assistant/cli.js');
    const add = spawnSync(process.execPath, [cli, 'user', 'add', 'ann', '--admin', '--data-dir', dataDir], { input: 'correct horse battery\n', encoding: 'utf8' });
    expect(add.status, add.stderr).toBe(0);
    const child = spawn(process.execPath, [cli, 'serve', '--port', '0', '--no-models', '--voice', voice, '--data-dir', dataDir], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, WHEREABOUTS_LOG_LEVEL: 'info' },
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no start within 60 s:\n${out}`)), 60_000);
        child.stdout!.on('data', () => {
          const m = /ready at (http:\/\/[^/\s]+)/.exec(out);
          if (m) {
            clearTimeout(t);
            resolve(m[1]);
          }
        });
        child.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
      });
      expect(out).toMatch(/Piper voice is not usable, speaking with flite instead/);
      expect(out).toContain(voice);
      const login = await fetch(`${url}/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'ann', password: 'correct horse battery' }) });
      const cookie = (login.headers.getSetCookie()[0] ?? '').split(';')[0];
      const csrf = ((await login.json()) as { csrf_token: string }).csrf_token;
      const r = await fetch(`${url}/v1/speak`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrf }, body: JSON.stringify({ text: 'Your cup is on the table.' }) });
      expect(r.status).toBe(200);
      const w = parseWav(Buffer.from(await r.arrayBuffer()));
      expect(w.data.length).toBeGreaterThan(16000);
    } finally {
      child.kill('SIGTERM');
    }
  }, 90_000);
});

describe.skipIf(!needVoice)('the voice socket speaks Piper at the rate the client asks for', () => {
  it('start {reply_sample_rate: 22050}: reply audio at 22050 Hz, announced exactly; a bad rate is a typed error', async () => {
    const { buildApp, manifestLabels } = await import('../dist/assistant/app.js');
    const { loadConfig } = await import('../dist/assistant/config.js');
    const { addDevice, addUser } = await import('../dist/assistant/accounts.js');
    const { buildVocabulary } = await import('../dist/nlp/vocabulary.js');
    const WebSocket = (await import('ws')).default;
    const vocab = buildVocabulary(manifestLabels('yolox_nano')!);
    const asr = await createAsr({ modelsDir: MODELS, asrModel: 'vosk-model-small-en-us-0.15', asrEngine: 'vosk', asrWorkers: 1, maxStreams: 2 }, vocab.phrases(), { preferred: vocab.labels });
    const speech = await createSpeech({ ttsEngine: 'piper', voice: VOICE });
    const app = await buildApp(loadConfig([], {}, { port: 0, dataDir: tempDir(), logLevel: 'warn', noModels: true, timeZone: 'UTC', modelsDir: MODELS }), { asr, speech: speech as never });
    try {
      expect(speech!.engine).toBe('piper');
      await app.listen({ host: '127.0.0.1', port: 0 });
      const user = await addUser(app.store, 'ann', 'ann-password-1', true);
      const token = (await addDevice(app.store, user.id, 'pi', 'kitchen')).token;
      const port = (app.server.address() as { port: number }).port;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/listen`, { headers: { authorization: `Bearer ${token}` } });
      const events: any[] = [];
      let bytes = 0;
      ws.on('message', (d: Buffer, bin: boolean) => (bin ? (bytes += d.length) : events.push(JSON.parse(d.toString('utf8')))));
      await new Promise((r, j) => (ws.once('open', r), ws.once('error', j)));
      const until = async (f: (e: any) => boolean) => {
        for (let i = 0; i < 600 && !events.some(f); i++) await new Promise((r) => setTimeout(r, 50));
        return events.find(f);
      };
      ws.send(JSON.stringify({ type: 'start', sample_rate: 16000, reply_sample_rate: 7 }));
      expect(await until((e) => e.type === 'error')).toMatchObject({ code: 'bad_message' });
      events.length = 0;
      ws.send(JSON.stringify({ type: 'start', sample_rate: 16000, reply_sample_rate: 22050 }));
      await until((e) => e.type === 'listening');
      const wav = parseWav(fs.readFileSync(path.join(REPO, 'audio-fixtures', 'wav', 'can-you-find-my-book.flite-rms.r100.wav')));
      for (let o = 0; o < wav.data.length; o += 3200) ws.send(wav.data.subarray(o, o + 3200));
      ws.send(Buffer.alloc(16000));
      ws.send(JSON.stringify({ type: 'stop' }));
      const done = await until((e) => e.type === 'done' || e.type === 'error');
      expect(done?.type).toBe('done');
      const audio = events.filter((e) => e.type === 'audio');
      expect(audio.length).toBeGreaterThan(0);
      for (const a of audio) expect(a.sample_rate).toBe(22050);
      expect(bytes).toBe(audio.reduce((n, a) => n + a.bytes, 0));
      const reply = events.find((e) => e.type === 'reply');
      // a one-sentence reply is 1-8 s of speech at 22050 Hz
      expect(bytes / 2 / 22050).toBeGreaterThan(1);
      expect(bytes / 2 / 22050).toBeLessThan(8);
      expect(reply.text).toMatch(/book/);
      ws.close();
    } finally {
      await app.close();
      await asr.close();
      await speech?.close();
    }
  }, 120_000);
});
