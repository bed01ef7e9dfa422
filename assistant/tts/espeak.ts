/**
 * The 'espeak-ng' TTS engine: one `espeak-ng --stdout --stdin` child process per synthesize() call; its
 * streamed WAV (22050 Hz) is resampled to 16 kHz as it arrives. The text goes through stdin, never argv.
 */
import { spawn, execFile } from 'node:child_process';
import { AppError } from '../errors.js';
import { REPLY_AUDIO_CHUNK_BYTES } from '../../protocol/protocol.js';
import { Resampler, float32ToS16le, s16leToFloat32, splitBuffer } from '../../protocol/pcm.js';
import { parseWavHeader, type WavHeaderInfo } from '../../protocol/wav.js';
import { beginSynthesis, cancellable, checkTtsOptions, type Cancel } from './common.js';
import type { SynthesizeOptions, Tts, TtsOptions } from './types.js';

export const ESPEAK_BIN = process.env.WHEREABOUTS_ESPEAK_BIN || 'espeak-ng';
const DEFAULT_WPM = 175;
/** a synthesize() call that runs longer than this is killed */
const TIMEOUT_MS = 30_000;

/** Resolves to the `espeak-ng --version` line, or null when the binary cannot be run. */
export function espeakVersion(bin = ESPEAK_BIN): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(bin, ['--version'], { timeout: 5000 }, (err, stdout) => resolve(err ? null : String(stdout).trim() || null));
  });
}

export class EspeakTts implements Tts {
  readonly engine = 'espeak-ng';
  readonly sampleRate: number;
  readonly voice: string;
  private readonly wpm: number;
  private readonly children = new Set<ReturnType<typeof spawn>>();
  closed = false;

  constructor(
    opts: TtsOptions = {},
    private readonly bin = ESPEAK_BIN,
  ) {
    const o = checkTtsOptions(opts);
    this.sampleRate = o.sampleRate;
    this.voice = opts.voice ?? 'en-us';
    if (!/^[a-z0-9][a-z0-9+_\-/.]{0,63}$/i.test(this.voice)) throw new AppError('bad_request', `bad espeak-ng voice name "${this.voice}"`);
    this.wpm = Math.round(DEFAULT_WPM * o.rate);
  }

  /** Checks that the binary runs; throws AppError('unavailable') otherwise. */
  async start(): Promise<void> {
    if (!(await espeakVersion(this.bin))) {
      throw new AppError('unavailable', `text-to-speech engine espeak-ng is not installed (could not run "${this.bin}"); install the espeak-ng package or use --tts-engine flite`);
    }
  }

  synthesize(text: string, opts: SynthesizeOptions = {}): AsyncIterable<Buffer> {
    return cancellable((c) => this.run(text, opts, c), opts.signal);
  }

  private async *run(text: string, opts: SynthesizeOptions, c: Cancel): AsyncGenerator<Buffer> {
    const b = beginSynthesis(text, opts, this);
    if (!b || c.cancelled) return;
    const t = b.text;
    const child = spawn(this.bin, ['--stdout', '-v', this.voice, '-s', String(this.wpm), '--stdin'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.add(child);
    c.onCancel(() => child.kill('SIGKILL')); // a consumer gone: the pipe ends, and so does this reply
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      if (stderr.length < 2000) stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => {
      child.on('close', (code) => resolve(code));
      child.on('error', (e) => {
        stderr += e.message;
        resolve(null);
      });
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    child.stdin!.on('error', () => {}); // EPIPE if espeak dies early; reported through the exit code
    child.stdin!.end(t + '\n');

    let head: Buffer | null = Buffer.alloc(0);
    let header: WavHeaderInfo | null = null;
    let resampler: Resampler | null = null;
    let carry: Buffer | null = null; // odd byte / partial frame between reads
    let produced = 0;
    try {
      for await (const raw of child.stdout! as AsyncIterable<Buffer>) {
        let data = raw;
        if (!header) {
          head = Buffer.concat([head!, raw]);
          header = parseWavHeader(head);
          if (!header) continue;
          if (header.channels !== 1) throw new AppError('internal', `espeak-ng produced ${header.channels} channels`);
          resampler = new Resampler(header.sampleRate, b.sampleRate);
          data = head.subarray(header.dataOffset);
          head = null;
        }
        if (carry) {
          data = Buffer.concat([carry, data]);
          carry = null;
        }
        if (data.length & 1) {
          carry = Buffer.from(data.subarray(data.length - 1));
          data = data.subarray(0, data.length - 1);
        }
        if (!data.length) continue;
        const out = float32ToS16le(resampler!.process(s16leToFloat32(data)));
        produced += out.length;
        yield* splitBuffer(out, REPLY_AUDIO_CHUNK_BYTES);
      }
      if (c.cancelled) return;
      if (resampler) {
        const tail = float32ToS16le(resampler.flush());
        produced += tail.length;
        yield* splitBuffer(tail, REPLY_AUDIO_CHUNK_BYTES);
      }
      const code = await exited;
      if (c.cancelled) return;
      if (timedOut) throw new AppError('internal', `espeak-ng took longer than ${TIMEOUT_MS / 1000} s`);
      if (code !== 0 || (!header && !produced)) {
        throw new AppError('internal', `espeak-ng failed (exit ${code}): ${stderr.trim().slice(0, 300) || 'no audio produced'}`);
      }
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      this.children.delete(child);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.children) c.kill('SIGKILL');
    this.children.clear();
  }
}
