/**
 * Where the audio comes from and goes to. Everything is s16le mono PCM.
 *
 *   AudioSource  FileSource (a WAV or raw file, at real-time pace or --fast)
 *                ArecordSource (the microphone, through arecord)
 *   AudioSink    FileSink (appends each reply's bytes to a file), NullSink,
 *                SpeakerSink (the `speaker` package, imported only after a child aplay has shown that
 *                the ALSA device exists: constructing `speaker` without one aborts the process),
 *                AplaySink (a child `aplay` per reply: the fallback when `speaker` is not built)
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { PassThrough, Readable } from 'node:stream';
import { decodeWav, parseWav } from '../protocol/wav.js';
import { float32ToS16le } from '../protocol/pcm.js';
import { PiError } from './errors.js';
import { checkAlsa, lastLine, which } from './system.js';
import type { Logger } from './log.js';

export interface AudioSource {
  readonly sampleRate: number;
  readonly description: string;
  /** throws a one-line PiError when the source cannot work (no microphone, unreadable file) */
  check(): Promise<void>;
  /** starts producing s16le mono chunks; the stream ends when the source runs out or stop() is called */
  start(): Readable;
  stop(): void;
}

export interface SinkStream {
  write(pcm: Buffer): void;
  /** barge-in: stop playing now, dropping what is still buffered (end() still resolves) */
  abort?(): void;
  /** resolves once everything written has been played (or stored) */
  end(): Promise<void>;
}

export interface AudioSink {
  readonly description: string;
  /** throws a one-line PiError when the sink cannot work (no speaker) */
  check(): Promise<void>;
  /** one reply's audio */
  play(sampleRate: number): SinkStream;
}

// ---- files ------------------------------------------------------------------------------------------

/** reads a WAV (any rate/channels of 16-bit PCM, converted) or raw s16le mono file into PCM at `rate` */
export function readAudioFile(file: string, rate: number): Buffer {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new PiError(`cannot read the audio file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (!/\.wav$/i.test(file) && buf.toString('ascii', 0, 4) !== 'RIFF') return buf.subarray(0, buf.length & ~1);
  try {
    const w = parseWav(buf);
    if (w.channels === 1 && w.sampleRate === rate) return Buffer.from(w.data);
    return float32ToS16le(decodeWav(buf, { sampleRate: rate }).samples);
  } catch (e) {
    throw new PiError(`${file}: ${(e as Error).message}`);
  }
}

/** streams an audio file in `chunkMs` pieces, paced like a live microphone unless `fast` */
export class FileSource implements AudioSource {
  readonly description: string;
  private pcm: Buffer | null = null;
  private stream: Readable | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly file: string,
    readonly sampleRate = 16000,
    private readonly opts: { fast?: boolean; chunkMs?: number; padMs?: number } = {},
  ) {
    this.description = `file ${file}${opts.fast ? ' (fast)' : ''}`;
  }

  async check(): Promise<void> {
    const pcm = readAudioFile(this.file, this.sampleRate);
    // trailing silence (e.g. so a VAD sees the end of speech)
    this.pcm = this.opts.padMs ? Buffer.concat([pcm, Buffer.alloc(Math.round((this.sampleRate * this.opts.padMs) / 1000) * 2)]) : pcm;
  }

  get bytes(): number {
    return this.pcm?.length ?? 0;
  }

  start(): Readable {
    if (!this.pcm) throw new Error('FileSource.check() first');
    const pcm = this.pcm;
    const chunk = Math.max(2, Math.round((this.sampleRate * (this.opts.chunkMs ?? 100)) / 1000) * 2);
    const chunkMs = (chunk / 2 / this.sampleRate) * 1000;
    let off = 0;
    let i = 0;
    const t0 = Date.now();
    const s = new Readable({ read() {} });
    this.stream = s;
    const tick = () => {
      this.timer = null;
      if (s.destroyed || s.readableEnded) return;
      if (off >= pcm.length) {
        s.push(null);
        return;
      }
      s.push(pcm.subarray(off, Math.min(pcm.length, off + chunk)));
      off += chunk;
      i++;
      this.timer = this.opts.fast ? (setImmediate(tick) as unknown as NodeJS.Timeout) : setTimeout(tick, Math.max(0, t0 + i * chunkMs - Date.now()));
    };
    tick();
    return s;
  }

  stop(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      clearImmediate(this.timer as unknown as NodeJS.Immediate);
    }
    this.timer = null;
    if (this.stream && !this.stream.readableEnded) this.stream.push(null);
    this.stream = null;
  }
}

/** writes each reply's s16le bytes to a file (truncated once at the start, then appended to) */
export class FileSink implements AudioSink {
  readonly description: string;
  /** bytes written so far, all replies */
  written = 0;
  constructor(readonly file: string) {
    this.description = `file ${file}`;
  }

  async check(): Promise<void> {
    try {
      fs.mkdirSync(path.dirname(path.resolve(this.file)), { recursive: true });
      fs.writeFileSync(this.file, Buffer.alloc(0));
    } catch (e) {
      throw new PiError(`cannot write the output file ${this.file}: ${(e as Error).message}`);
    }
  }

  play(): SinkStream {
    const out = fs.createWriteStream(this.file, { flags: 'a' });
    return {
      write: (pcm) => {
        this.written += pcm.length;
        out.write(pcm);
      },
      end: () =>
        new Promise<void>((resolve, reject) => {
          out.on('error', reject);
          out.end(() => resolve());
        }),
    };
  }
}

export class NullSink implements AudioSink {
  readonly description = 'no audio (text only)';
  async check(): Promise<void> {}
  play(): SinkStream {
    return { write() {}, end: async () => {} };
  }
}

// ---- ALSA -------------------------------------------------------------------------------------------

/** arguments of `arecord` for raw s16le mono at RATE on DEVICE (ALSA's default when null) */
export function arecordArgs(device: string | null, sampleRate: number): string[] {
  return [...(device ? ['-D', device] : []), '-q', '-t', 'raw', '-f', 'S16_LE', '-c', '1', '-r', String(sampleRate), '-'];
}

/** the microphone through `arecord -t raw -f S16_LE -c 1 -r RATE [-D device]` */
export class ArecordSource implements AudioSource {
  readonly description: string;
  private proc: ChildProcess | null = null;
  private out: PassThrough | null = null;
  /** the current recording's state (a new object per start) */
  private run: { stopped: boolean } | null = null;

  constructor(
    readonly device: string | null,
    readonly sampleRate = 16000,
    private readonly log?: Logger,
  ) {
    this.description = `microphone (ALSA ${device ?? 'default'})`;
  }

  async check(): Promise<void> {
    const c = await checkAlsa('capture', this.device);
    if (!c.ok) throw new PiError(c.message);
  }

  start(): Readable {
    if (!which('arecord')) throw new PiError('no microphone: arecord is not installed (sudo apt install alsa-utils)');
    const out = new PassThrough();
    this.out = out;
    const args = arecordArgs(this.device, this.sampleRate);
    const proc = spawn('arecord', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    let stderr = '';
    const run = { stopped: false };
    this.run = run;
    const fail = (why: string) => {
      if (run.stopped || out.destroyed) return;
      run.stopped = true;
      out.destroy(new PiError(`no microphone: arecord could not record from ALSA device "${this.device ?? 'default'}" (${why})`));
    };
    proc.on('error', (e) => fail((e as NodeJS.ErrnoException).code === 'ENOENT' ? 'arecord is not installed' : e.message));
    proc.stderr?.on('data', (d) => (stderr += d));
    proc.on('close', (code, signal) => {
      if (!run.stopped && code !== 0 && signal === null) fail(lastLine(stderr) || `arecord exited with ${code}`);
    });
    proc.stdout?.on('data', (d: Buffer) => out.write(d));
    proc.stdout?.on('end', () => {
      if (!out.destroyed) out.end();
    });
    this.log?.debug(`recording: arecord ${this.device ? `-D ${this.device} ` : ''}-r ${this.sampleRate}`);
    return out;
  }

  stop(): void {
    const out = this.out;
    if (this.run) this.run.stopped = true;
    try {
      this.proc?.kill();
    } catch {
      /* already gone */
    }
    if (out && !out.destroyed && !out.writableEnded) out.end();
    this.proc = null;
    this.out = null;
  }
}

/** the speaker through `aplay -t raw -f S16_LE -c 1 -r RATE [-D device]`: used when the `speaker` package is not built */
export class AplaySink implements AudioSink {
  readonly description: string;

  constructor(
    readonly device: string | null,
    private readonly log?: Logger,
  ) {
    this.description = `speaker (aplay, ALSA ${device ?? 'default'})`;
  }

  async check(): Promise<void> {
    if (!which('aplay')) throw new PiError('no speaker: aplay is not installed (sudo apt install alsa-utils); or run with --no-audio for text replies');
    const c = await checkAlsa('playback', this.device);
    if (!c.ok) throw new PiError(`${c.message}; or run with --no-audio for text replies`);
  }

  play(sampleRate: number): SinkStream {
    const args = [...(this.device ? ['-D', this.device] : []), '-q', '-t', 'raw', '-f', 'S16_LE', '-c', '1', '-r', String(sampleRate), '-'];
    this.log?.debug(`playing: aplay ${args.join(' ')}`);
    const proc = spawn('aplay', args, { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    let failed: string | null = null;
    proc.stderr?.on('data', (d) => (stderr += d));
    // a speaker that went away must not crash the client through an EPIPE on stdin
    proc.stdin?.on('error', (e) => (failed ??= e.message));
    const closed = new Promise<void>((resolve) => {
      proc.on('error', (e) => {
        failed ??= e.message;
        resolve();
      });
      proc.on('close', (code, signal) => {
        if (code !== 0 && !failed) failed = lastLine(stderr) || `aplay exited with ${code ?? signal}`;
        resolve();
      });
    });
    return {
      write: (pcm) => {
        if (!failed) proc.stdin?.write(pcm);
      },
      end: async () => {
        proc.stdin?.end();
        await closed;
        if (failed) throw new PiError(`the speaker failed: ${failed}`);
      },
    };
  }
}

const require = createRequire(import.meta.url);

const SPEAKER_MISSING =
  'no speaker: the optional "speaker" package is not installed (replies play through aplay without it); or run with --no-audio for text replies';

/** is the optional `speaker` package there? (resolved only: loading it opens ALSA's default device) */
export function speakerPackageInstalled(): boolean {
  try {
    require.resolve('speaker');
    return true;
  } catch {
    return false;
  }
}

/** the speaker through the `speaker` package, loaded lazily and only once ALSA has shown the device exists */
export class SpeakerSink implements AudioSink {
  readonly description: string;
  private Speaker: (new (o: Record<string, unknown>) => NodeJS.WritableStream & { on(e: string, f: (...a: any[]) => void): unknown }) | null = null;

  constructor(readonly device: string | null) {
    this.description = `speaker (ALSA ${device ?? 'default'})`;
  }

  async check(): Promise<void> {
    // Loading the addon opens ALSA's *default* device (to list its formats), whatever device is configured:
    // so the default must work before the import, and then the configured device too.
    const def = await checkAlsa('playback', null);
    if (!def.ok) {
      throw new PiError(
        this.device
          ? `${def.message}; the speaker package needs a working ALSA default device even with speaker.device set: make "${this.device}" the default in /etc/asound.conf (see docs/pi-setup.md)`
          : `${def.message}; or run with --no-audio for text replies`,
      );
    }
    if (this.device) {
      const c = await checkAlsa('playback', this.device);
      if (!c.ok) throw new PiError(`${c.message}; or run with --no-audio for text replies`);
    }
    if (!speakerPackageInstalled()) throw new PiError(SPEAKER_MISSING);
    const name = 'speaker';
    try {
      const mod = (await import(name)) as { default: SpeakerSink['Speaker'] };
      this.Speaker = mod.default;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new PiError(
        code === 'ERR_MODULE_NOT_FOUND'
          ? SPEAKER_MISSING
          : `no speaker: the "speaker" package does not load (${(e as Error).message.split('\n')[0]})`,
      );
    }
  }

  play(sampleRate: number): SinkStream {
    if (!this.Speaker) throw new Error('SpeakerSink.check() first');
    const sp = new this.Speaker({ channels: 1, bitDepth: 16, sampleRate, signed: true, ...(this.device ? { device: this.device } : {}) });
    let failed: Error | null = null;
    const closed = new Promise<void>((resolve) => {
      sp.on('close', () => resolve());
      sp.on('error', (e: Error) => {
        failed = e;
        resolve();
      });
    });
    let aborted = false;
    return {
      write: (pcm) => {
        if (!failed && !aborted) sp.write(pcm);
      },
      abort: () => {
        aborted = true;
        // the speaker package's close(flush=false) drops the samples not yet handed to ALSA
        const s = sp as unknown as { close?: (flush: boolean) => void };
        if (typeof s.close === 'function') s.close(false);
      },
      end: async () => {
        if (aborted) return;
        if (!failed) sp.end();
        await closed;
        if (failed) throw new PiError(`the speaker failed: ${(failed as Error).message}`);
      },
    };
  }
}

/**
 * The speaker a Pi uses by default: the `speaker` package when it is installed (it was built when the client
 * was installed), otherwise a child `aplay` per reply. `player` forces one of them.
 */
export function defaultSpeaker(device: string | null, player: 'auto' | 'speaker' | 'aplay', log?: Logger): AudioSink {
  if (player === 'speaker' || (player === 'auto' && speakerPackageInstalled())) return new SpeakerSink(device);
  return new AplaySink(device, log);
}
