/** Pi client building blocks: the energy VAD, the backoff, the on-disk spool, the uploader's rules, parsing. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EnergyVad, type VadEvent } from '../dist/pi-client/vad.js';
import { Backoff, Sleeper } from '../dist/pi-client/backoff.js';
import { Spool, idempotencyKey } from '../dist/pi-client/spool.js';
import { Uploader, classify, sniffContentType } from '../dist/pi-client/uploader.js';
import { parseCardList, parsePcmList, splitCommand, lastLine } from '../dist/pi-client/system.js';
import { gpiomonCommand, parseEdge } from '../dist/pi-client/button.js';
import { loadConfig, normalizeServer, saveConfig, withDefaults } from '../dist/pi-client/config.js';
import { readAudioFile } from '../dist/pi-client/audio.js';
import { float32ToS16le, rms, s16leToFloat32 } from '../dist/protocol/pcm.js';
import { RoomNoise } from '../dist/protocol/noise.js';
import { REPO, tempDir } from './helpers/tmp.js';

const RATE = 16000;

/** s16le: a sequence of [seconds, dBFS level] pieces (a 300 Hz tone, or -Infinity for digital silence), with a little noise */
function signal(pieces: Array<[number, number]>, noiseDb = -65, seed = 1): Buffer {
  let x = seed;
  const rnd = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff) * 2 - 1;
  const noise = Math.pow(10, noiseDb / 20) * Math.sqrt(3);
  const out: number[] = [];
  let t = 0;
  for (const [sec, db] of pieces) {
    const amp = Number.isFinite(db) ? Math.pow(10, db / 20) * Math.SQRT2 : 0;
    for (let i = 0; i < Math.round(sec * RATE); i++, t++) out.push(amp * Math.sin((2 * Math.PI * 300 * t) / RATE) + noise * rnd());
  }
  return float32ToS16le(Float32Array.from(out));
}

/** feeds a buffer in chunks of `chunk` bytes (or random sizes); returns events with the byte offset they came at */
function runVad(pcm: Buffer, chunk: number | 'random' = 3200, opts = {}) {
  const vad = new EnergyVad({ sampleRate: RATE, ...opts });
  const events: Array<VadEvent & { at: number }> = [];
  let off = 0;
  let seed = 7;
  while (off < pcm.length) {
    const n = chunk === 'random' ? 2 * (1 + ((seed = (seed * 48271) % 2147483647) % 1500)) : chunk;
    const piece = pcm.subarray(off, off + n);
    off += piece.length;
    for (const e of vad.push(Buffer.from(piece))) events.push({ ...e, at: off });
  }
  for (const e of vad.flush()) events.push({ ...e, at: off });
  return events;
}

const kinds = (ev: VadEvent[]) => ev.filter((e) => e.type !== 'audio').map((e) => (e.type === 'end' ? `end:${e.reason}` : e.type));
/** the audio of each utterance, in bytes */
function utterances(ev: VadEvent[]): Buffer[] {
  const out: Buffer[] = [];
  let cur: Buffer[] | null = null;
  for (const e of ev) {
    if (e.type === 'start') cur = [];
    else if (e.type === 'audio') cur!.push(e.pcm);
    else {
      out.push(Buffer.concat(cur!));
      cur = null;
    }
  }
  return out;
}

/**
 * A spoken-corpus clip, "can you find my mug" with pink noise 10 dB under the voice (the voice starts at 240 ms),
 * after 3 s of its room and before 2 s more, at `rate`: the voice begins 3.24 s in
 */
function mugInPinkRoom(rate: number): Buffer {
  const clip = readAudioFile(path.join(REPO, 'audio-fixtures', 'corpus', 'wav', '090-can-you-find-my-mug.piper-joe-slow.snr10.wav'), rate);
  const level = rms(s16leToFloat32(clip.subarray(0, 2 * Math.round(rate * 0.15))));
  return Buffer.concat([new RoomNoise('pink', level, 11, rate).frame(rate * 3), clip, new RoomNoise('pink', level, 12, rate).frame(rate * 2)]);
}

describe('energy VAD', () => {
  it('opens on speech with the pre-roll, closes after the hangover', () => {
    const pcm = signal([[1, -Infinity], [1, -20], [1.5, -Infinity]]);
    const ev = runVad(pcm);
    expect(kinds(ev)).toEqual(['start', 'end:silence']);
    const [u] = utterances(ev);
    const sec = u.length / 2 / RATE;
    // 500 ms pre-roll + 1 s of tone + 700 ms hangover (one frame either way)
    expect(sec).toBeGreaterThan(0.5 + 1 + 0.7 - 0.05);
    expect(sec).toBeLessThan(0.5 + 1 + 0.7 + 0.05);
    // the start is announced once minSpeechMs (200 ms) of speech has been heard, not before
    const startAt = ev.find((e) => e.type === 'start')!.at / 2 / RATE;
    expect(startAt).toBeGreaterThanOrEqual(1.2);
    expect(startAt).toBeLessThan(1.35);
  });

  it('ignores bursts shorter than the minimum speech length', () => {
    const pcm = signal([[0.5, -Infinity], [0.1, -15], [1, -Infinity], [0.12, -15], [1, -Infinity]]);
    expect(kinds(runVad(pcm))).toEqual([]);
  });

  it('keeps one utterance across pauses shorter than the hangover, splits on longer ones', () => {
    const one = signal([[0.5, -Infinity], [0.6, -20], [0.4, -Infinity], [0.6, -20], [1, -Infinity]]);
    expect(kinds(runVad(one))).toEqual(['start', 'end:silence']);
    const two = signal([[0.5, -Infinity], [0.6, -20], [1.2, -Infinity], [0.6, -20], [1, -Infinity]]);
    expect(kinds(runVad(two))).toEqual(['start', 'end:silence', 'start', 'end:silence']);
  });

  it('stops a never-ending utterance at maxUtteranceMs', () => {
    const pcm = signal([[0.3, -Infinity], [6, -20]]);
    const ev = runVad(pcm, 3200, { maxUtteranceMs: 3000 });
    expect(kinds(ev).slice(0, 2)).toEqual(['start', 'end:max_length']);
    expect(utterances(ev)[0].length / 2 / RATE).toBeCloseTo(3, 1);
  });

  it('does not take steady background noise for speech, even loud noise', () => {
    // a fan at -35 dBFS: above the absolute threshold, but it is the noise floor
    expect(kinds(runVad(signal([[4, -Infinity]], -35)))).toEqual([]);
    // and speech well above that noise still counts
    expect(kinds(runVad(signal([[2, -Infinity], [1, -12], [1.5, -Infinity]], -35)))).toEqual(['start', 'end:silence']);
  });

  it('gives the same events whatever the chunk sizes', () => {
    const pcm = signal([[0.7, -Infinity], [0.8, -18], [0.3, -Infinity], [0.5, -22], [1.2, -Infinity], [0.4, -15], [1, -Infinity]]);
    const a = runVad(pcm, 640);
    const b = runVad(pcm, 'random');
    expect(kinds(b)).toEqual(kinds(a));
    expect(utterances(b).map((u) => u.toString('hex'))).toEqual(utterances(a).map((u) => u.toString('hex')));
  });

  it('finds the spoken question in a real recording, whole', () => {
    const speech = readAudioFile(path.join(REPO, 'audio-fixtures', 'wav', 'where-is-my-cup.en-us.s150.wav'), RATE);
    const pcm = Buffer.concat([signal([[0.8, -Infinity]], -60), speech, signal([[1.5, -Infinity]], -60)]);
    const ev = runVad(pcm);
    expect(kinds(ev)).toEqual(['start', 'end:silence']);
    const u = utterances(ev)[0];
    // the utterance covers the whole spoken part of the file: it contains its loud middle
    const mid = speech.subarray(Math.floor(speech.length / 4) & ~1, Math.floor((speech.length * 3) / 4) & ~1);
    expect(u.includes(mid)).toBe(true);
  });

  it('hears a voice under steady noise nearly as loud as itself by its speech bands; the whole-band level misses it', () => {
    const pcm = mugInPinkRoom(RATE);
    const voiceAt = (3 + 0.24) * RATE * 2;
    const ev = runVad(pcm, 640);
    const start = ev.find((e) => e.type === 'start');
    expect(start, 'opens').toBeDefined();
    // on the voice, not on the room before it; and the audio sent begins before the voice does
    expect(start!.at).toBeGreaterThan(voiceAt);
    expect(start!.at).toBeLessThan(voiceAt + 0.8 * RATE * 2);
    const first = ev[ev.indexOf(start!) + 1] as VadEvent & { at: number; pcm: Buffer };
    expect(first.at - first.pcm.length).toBeLessThan(voiceAt);
    expect(kinds(runVad(pcm, 640, { bandMarginDb: 0 }))).toEqual([]);
  });

  it('... at whatever rate the microphone records (8 to 48 kHz: the FFT and the bands follow the rate)', () => {
    for (const rate of [8000, 22050, 48000]) {
      const pcm = mugInPinkRoom(rate);
      const startAt = (opts: object) => {
        const vad = new EnergyVad({ sampleRate: rate, ...opts });
        const chunk = Math.round(rate * 0.02) * 2;
        for (let o = 0; o < pcm.length; o += chunk) if (vad.push(pcm.subarray(o, o + chunk)).some((e) => e.type === 'start')) return (o + chunk) / 2 / rate;
        return null;
      };
      const at = startAt({});
      expect(at, `${rate} Hz`).not.toBeNull();
      expect(at!).toBeGreaterThan(3.24);
      expect(at!).toBeLessThan(3.24 + 0.8);
      expect(startAt({ bandMarginDb: 0 }), `${rate} Hz, level rule alone`).toBeNull();
    }
  });

  it('steady rooms (pink, white, hum) do not open it, loud or quiet, over a minute each', () => {
    for (const [colour, level] of [['pink', 0.1], ['pink', 0.003], ['white', 0.05], ['white', 0.0005]] as const)
      expect(kinds(runVad(new RoomNoise(colour, level, 5).frame(RATE * 60), 640)), `${colour} ${level}`).toEqual([]);
    const hum = float32ToS16le(Float32Array.from({ length: RATE * 60 }, (_, i) => 0.1 * (Math.sin((2 * Math.PI * 50 * i) / RATE) + 0.5 * Math.sin((2 * Math.PI * 100 * i) / RATE))));
    expect(kinds(runVad(hum, 640))).toEqual([]);
  });

  it('flush() closes an utterance still open at the end of the input', () => {
    const ev = runVad(signal([[0.5, -Infinity], [1, -20]]));
    expect(kinds(ev)).toEqual(['start', 'end:silence']);
  });
});

describe('backoff', () => {
  it('grows exponentially to the cap, and resets', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6].map(() => b.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.attempts).toBe(6);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('jitters within [(1 - jitter) * ceiling, ceiling], never above the cap', () => {
    const lo = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0.5, random: () => 0 });
    const hi = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0.5, random: () => 1 });
    expect([1, 2, 3, 4, 5].map(() => lo.next())).toEqual([500, 1000, 2000, 4000, 4000]);
    expect([1, 2, 3, 4, 5].map(() => hi.next())).toEqual([1000, 2000, 4000, 8000, 8000]);
    const r = new Backoff({ initialMs: 200, maxMs: 5000 });
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) {
      const ceiling = r.ceiling();
      const d = r.next();
      expect(d).toBeGreaterThanOrEqual(ceiling / 2);
      expect(d).toBeLessThanOrEqual(Math.min(ceiling, 5000));
      seen.add(d);
    }
    expect(seen.size).toBeGreaterThan(20); // really random: clients do not retry in lockstep
  });

  it('survives many failures without overflowing', () => {
    const b = new Backoff({ initialMs: 1000, maxMs: 60_000, jitter: 0 });
    for (let i = 0; i < 5000; i++) b.next();
    expect(b.next()).toBe(60_000);
  });

  it('a Sleeper can be woken early', async () => {
    const s = new Sleeper();
    const t0 = Date.now();
    setTimeout(() => s.wake(), 20);
    await s.sleep(10_000);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

const log = () => {
  const lines: string[] = [];
  return { lines, debug: (m: string) => lines.push(m), info: (m: string) => lines.push(m), warn: (m: string) => lines.push(m), error: (m: string) => lines.push(m) };
};
const img = (n: number, size = 100) => Buffer.concat([Buffer.from([0xff, 0xd8, 0xff]), Buffer.alloc(size - 3, n)]);

describe('spool', () => {
  it('keeps frames in order across restarts and removes them once', () => {
    const dir = tempDir('wa-pi-spool-');
    const l = log();
    const s = new Spool(dir, { maxFrames: 10, maxBytes: 1e9, log: l });
    for (let i = 1; i <= 5; i++) s.add(img(i), { capturedAt: 1000 * i, contentType: 'image/jpeg' });
    expect(s.entries().map((e) => e.capturedAt)).toEqual([1000, 2000, 3000, 4000, 5000]);
    const first = s.peek()!;
    s.remove(first, 'sent');
    s.remove(first, 'sent'); // twice: harmless
    expect(s.count).toBe(4);

    const again = new Spool(dir, { maxFrames: 10, maxBytes: 1e9, log: l });
    expect(again.entries().map((e) => e.capturedAt)).toEqual([2000, 3000, 4000, 5000]);
    expect(again.readImage(again.peek()!)).toEqual(img(2));
    const e = again.add(img(6), { capturedAt: 6000, contentType: 'image/jpeg' });
    expect(e.seq).toBeGreaterThan(again.entries()[3].seq); // sequence numbers continue
    expect(again.entries().map((x) => x.capturedAt)).toEqual([2000, 3000, 4000, 5000, 6000]);
  });

  it('drops the oldest frames beyond the frame bound, with a log line each', () => {
    const dir = tempDir('wa-pi-spool-');
    const l = log();
    const removed: number[] = [];
    const s = new Spool(dir, { maxFrames: 3, maxBytes: 1e9, log: l, onRemoved: (e, why) => why === 'dropped' && removed.push(e.capturedAt) });
    for (let i = 1; i <= 7; i++) s.add(img(i), { capturedAt: i, contentType: 'image/jpeg' });
    expect(s.entries().map((e) => e.capturedAt)).toEqual([5, 6, 7]);
    expect(removed).toEqual([1, 2, 3, 4]);
    expect(l.lines.filter((x) => /spool is full \(3 frames\): dropped the oldest frame, captured at 1970-01-01T00:00:00\.00[1-4]Z/.test(x))).toHaveLength(4);
    // nothing of the dropped frames is left on disk
    expect(fs.readdirSync(dir).sort()).toEqual(s.entries().flatMap((e) => [`${String(e.seq).padStart(12, '0')}.img`, `${String(e.seq).padStart(12, '0')}.json`]).sort());
  });

  it('drops the oldest frames beyond the byte bound, but always keeps the newest', () => {
    const s = new Spool(tempDir('wa-pi-spool-'), { maxFrames: 100, maxBytes: 2500, log: log() });
    for (let i = 1; i <= 5; i++) s.add(img(i, 1000), { capturedAt: i, contentType: 'image/jpeg' });
    expect(s.entries().map((e) => e.capturedAt)).toEqual([4, 5]);
    expect(s.bytes).toBe(2000);
    s.add(img(9, 5000), { capturedAt: 9, contentType: 'image/jpeg' });
    expect(s.entries().map((e) => e.capturedAt)).toEqual([9]);
  });

  it('cleans up what a crash leaves behind', () => {
    const dir = tempDir('wa-pi-spool-');
    const s = new Spool(dir, { maxFrames: 10, maxBytes: 1e9, log: log() });
    s.add(img(1), { capturedAt: 1, contentType: 'image/jpeg' });
    s.add(img(2), { capturedAt: 2, contentType: 'image/jpeg' });
    fs.writeFileSync(path.join(dir, '000000000003.img'), img(3)); // image written, meta not yet
    fs.writeFileSync(path.join(dir, '000000000004.img.tmp'), 'half');
    fs.rmSync(path.join(dir, '000000000002.img')); // meta without its image
    const l = log();
    const again = new Spool(dir, { maxFrames: 10, maxBytes: 1e9, log: l });
    expect(again.entries().map((e) => e.capturedAt)).toEqual([1]);
    expect(fs.readdirSync(dir).sort()).toEqual(['000000000001.img', '000000000001.json']);
    expect(l.lines.join('\n')).toMatch(/damaged frame 000000000002/);
  });

  it('keys frames by sha256(image + captured_at)', () => {
    const k = idempotencyKey(img(1), 1700000000000);
    expect(k).toBe(crypto.createHash('sha256').update(Buffer.concat([img(1), Buffer.from('2023-11-14T22:13:20.000Z')])).digest('hex'));
    expect(idempotencyKey(img(1), 1700000000001)).not.toBe(k);
  });
});

describe('uploader', () => {
  let server: http.Server | null = null;
  afterEach(() => {
    server?.close();
    server = null;
  });

  it('knows which answers are retried, which drop the frame, which stop everything', () => {
    expect([200, 201, 204].map(classify)).toEqual(['sent', 'sent', 'sent']);
    expect([408, 429, 500, 502, 503, 504, 404].map(classify)).toEqual(Array(7).fill('retry'));
    expect([400, 413, 415, 422].map(classify)).toEqual(Array(4).fill('reject'));
    expect([401, 403].map(classify)).toEqual(['auth', 'auth']);
    expect(sniffContentType(Buffer.from([0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10]))).toBe('image/png');
    expect(sniffContentType(img(1))).toBe('image/jpeg');
    expect(sniffContentType(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBe('image/webp');
    expect(sniffContentType(Buffer.from('hello'), 'x.txt')).toBe(null);
  });

  it('delivers in order, each frame once, retrying 5xx/429 and dropping a refused frame', async () => {
    const received: Array<{ at: string; header: string; key: string; type: string; auth: string; size: number; status: number }> = [];
    // the server's answers, in order; then 201
    const script = [503, 201, 201, 429, 422, 500, 201, 201];
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const status = script.shift() ?? 201;
        const u = new URL(req.url!, 'http://x');
        received.push({
          at: u.searchParams.get('captured_at')!,
          header: String(req.headers['x-captured-at']),
          key: String(req.headers['idempotency-key']),
          type: String(req.headers['content-type']),
          auth: String(req.headers.authorization),
          size: Buffer.concat(chunks).length,
          status,
        });
        res.writeHead(status, { 'content-type': 'application/json', ...(status === 429 ? { 'retry-after': '0' } : {}) });
        res.end(JSON.stringify(status < 300 ? { frame: { id: received.length }, detections: [] } : { error: { code: 'x', message: 'scripted' } }));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const l = log();
    const spool = new Spool(tempDir('wa-pi-up-'), { maxFrames: 50, maxBytes: 1e9, log: l });
    for (let i = 1; i <= 5; i++) spool.add(img(i, 50 + i), { capturedAt: Date.UTC(2024, 0, 1, 0, 0, i), contentType: 'image/jpeg' });
    const up = new Uploader(spool, { server: `http://127.0.0.1:${port}`, token: 'wad_test', backoff: new Backoff({ initialMs: 10, maxMs: 50 }), log: l });
    up.start();
    await up.idle();
    await up.stop();

    const ok = received.filter((r) => r.status === 201).map((r) => r.at);
    // frame 3 was refused (422) and dropped; the others arrived once each, in order
    expect(ok).toEqual([1, 2, 4, 5].map((i) => new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString()));
    expect(received.map((r) => r.size)).toEqual([51, 51, 52, 53, 53, 54, 54, 55]);
    for (const r of received) {
      expect(r.header).toBe(r.at);
      expect(r.key).toMatch(/^[0-9a-f]{64}$/);
      expect(r.type).toBe('image/jpeg');
      expect(r.auth).toBe('Bearer wad_test');
    }
    expect(spool.count).toBe(0);
    expect(up.sent).toBe(4);
    expect(up.rejected).toBe(1);
    expect(l.lines.join('\n')).toMatch(/refused the frame captured at 2024-01-01T00:00:03\.000Z \(422 x: scripted\): dropped/);
    expect(l.lines.join('\n')).toMatch(/cannot deliver frames .*503/);
  });

  it('keeps frames while the server is down and delivers them when it is back; stops on a refused token', async () => {
    const l = log();
    const spool = new Spool(tempDir('wa-pi-up-'), { maxFrames: 50, maxBytes: 1e9, log: l });
    // a port nobody listens on (yet)
    const probe = http.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    for (let i = 1; i <= 3; i++) spool.add(img(i), { capturedAt: i * 1000, contentType: 'image/jpeg' });
    let authFailed: Error | null = null;
    const up = new Uploader(spool, {
      server: `http://127.0.0.1:${port}`,
      token: 'wad_x',
      backoff: new Backoff({ initialMs: 20, maxMs: 100 }),
      log: l,
      onAuthError: (e) => (authFailed = e),
    });
    up.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(spool.count).toBe(3);
    expect(l.lines.join('\n')).toMatch(/connection refused/);

    const got: string[] = [];
    let refuse = false;
    server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        if (refuse) {
          res.writeHead(401, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'unknown or revoked device token' } }));
        }
        got.push(new URL(req.url!, 'http://x').searchParams.get('captured_at')!);
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((r) => server!.listen(port, '127.0.0.1', r));
    await up.idle();
    expect(got).toEqual(['1970-01-01T00:00:01.000Z', '1970-01-01T00:00:02.000Z', '1970-01-01T00:00:03.000Z']);
    expect(l.lines.join('\n')).toMatch(/server is back after/);

    refuse = true;
    spool.add(img(4), { capturedAt: 4000, contentType: 'image/jpeg' });
    for (let i = 0; i < 100 && !authFailed; i++) await new Promise((r) => setTimeout(r, 20));
    expect(String(authFailed)).toMatch(/refused the device token \(401: unknown or revoked device token\)/);
    expect(spool.count).toBe(1); // kept for when the token is fixed
    await up.stop();
  });
});

describe('parsing helpers', () => {
  it('reads arecord/aplay listings', () => {
    const l = `**** List of CAPTURE Hardware Devices ****
card 1: Device [USB PnP Sound Device], device 0: USB Audio [USB Audio]
  Subdevices: 1/1
  Subdevice #0: subdevice #0
card 2: seeed2micvoicec [seeed-2mic-voicecard], device 0: bcm2835-i2s-wm8960-hifi wm8960-hifi-0 [bcm2835-i2s-wm8960-hifi wm8960-hifi-0]
`;
    expect(parseCardList(l)).toEqual([
      { card: 1, id: 'Device', name: 'USB PnP Sound Device', device: 0, deviceName: 'USB Audio' },
      { card: 2, id: 'seeed2micvoicec', name: 'seeed-2mic-voicecard', device: 0, deviceName: 'bcm2835-i2s-wm8960-hifi wm8960-hifi-0' },
    ]);
    expect(parseCardList('aplay: device_list:274: no soundcards found...')).toEqual([]);
    expect(parsePcmList('null\n    Discard all samples\ndefault\n    Default ALSA Output\nhw:CARD=Device,DEV=0\n    USB\n')).toEqual(['null', 'default', 'hw:CARD=Device,DEV=0']);
    expect(lastLine('ALSA lib pcm.c:2666:(snd_pcm_open_noupdate) Unknown PCM default\naplay: main:831: audio open error: No such file or directory\n')).toBe(
      'audio open error: No such file or directory',
    );
  });

  it('splits camera commands without a shell', () => {
    expect(splitCommand('rpicam-still -n -t 1 -o {file}')).toEqual(['rpicam-still', '-n', '-t', '1', '-o', '{file}']);
    expect(splitCommand(`fswebcam --title "Front door" -r 640x480 '{file}'`)).toEqual(['fswebcam', '--title', 'Front door', '-r', '640x480', '{file}']);
    expect(splitCommand('a "" b\\ c')).toEqual(['a', '', 'b c']);
    expect(() => splitCommand('a "b')).toThrow(/unbalanced quote/);
  });

  it('builds gpiomon command lines for libgpiod 1 and 2 and reads their edges', () => {
    const b = { chip: 'gpiochip0', line: 17, activeLow: true, bias: 'pull-up' as const };
    expect(gpiomonCommand(1, b)).toEqual({ cmd: 'gpiomon', args: ['-b', '-B', 'pull-up', '-F', '%e', 'gpiochip0', '17'] });
    expect(gpiomonCommand(2, b).args.slice(-8)).toEqual(['-c', 'gpiochip0', '-b', 'pull-up', '-p', '10ms', '-F', '%e', '17'].slice(-8));
    expect(['0', '1', 'x'].map((l) => parseEdge(l, 1))).toEqual(['falling', 'rising', null]);
    expect(['1', '2', '0'].map((l) => parseEdge(l, 2))).toEqual(['rising', 'falling', null]);
  });

  it('reads settings with defaults, and writes them readable by the owner only', () => {
    const dir = tempDir('wa-pi-cfg-');
    const file = path.join(dir, 'sub', 'pi.json');
    saveConfig(file, withDefaults({ server: 'http://pi.local:8080/', token: 'wad_abc' }));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const c = loadConfig(file);
    expect(c.server).toBe('http://pi.local:8080');
    expect(c.vad.hangoverMs).toBe(700);
    expect(c.camera.afterUpload).toBe('move');
    fs.writeFileSync(file, JSON.stringify({ server: 'http://x', token: 't', camera: { command: 'rpicam-still -o out.jpg' } }));
    expect(() => loadConfig(file)).toThrow(/camera.command must contain \{file\}/);
    fs.writeFileSync(file, '{"server": ');
    expect(() => loadConfig(file)).toThrow(/is not valid JSON/);
    expect(() => loadConfig(path.join(dir, 'none.json'))).toThrow(/run whereabouts-pi setup/);
    expect(normalizeServer('192.168.1.20:8080')).toBe('http://192.168.1.20:8080');
    expect(() => normalizeServer('ftp://x')).toThrow(/http:\/\/ or https:\/\//);
  });
});
