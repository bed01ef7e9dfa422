/**
 * WAV (RIFF) helpers for 16-bit PCM.
 *
 *   wavHeader(dataBytes, sampleRate, channels?)  the 44-byte canonical header for s16le PCM
 *   encodeWav(pcm, sampleRate, channels?)        header + data
 *   parseWavHeader(buf)                           streaming: where the data starts (null: need more bytes)
 *   parseWav(buf)                                 walks the RIFF chunks, finds `fmt ` and `data`; only 16-bit
 *                                                 integer PCM is accepted (WAVE_FORMAT_PCM or EXTENSIBLE/PCM)
 *   decodeWav(buf, { sampleRate? })               parseWav + downmix to mono Float32 (+ optional resampling)
 *
 * Malformed input throws WavError (code 'bad_request'); a well-formed WAV in another encoding (float, A-law,
 * 8/24/32-bit, ...) throws WavError (code 'unsupported_media_type'). A WavError carries the HTTP status
 * that fits (400 / 415), so the server's error handler answers it like its own errors.
 */
import { resample, s16leToFloat32 } from './pcm.js';

export class WavError extends Error {
  readonly code: 'bad_request' | 'unsupported_media_type';
  readonly statusCode: number;
  constructor(code: 'bad_request' | 'unsupported_media_type', message: string) {
    super(message);
    this.name = 'WavError';
    this.code = code;
    this.statusCode = code === 'bad_request' ? 400 : 415;
  }
}

export const WAV_HEADER_BYTES = 44;

/** The canonical 44-byte RIFF/WAVE header for `dataBytes` bytes of 16-bit little-endian PCM. */
export function wavHeader(dataBytes: number, sampleRate: number, channels = 1): Buffer {
  if (!Number.isInteger(dataBytes) || dataBytes < 0 || dataBytes > 0xffffffff - 36) throw new RangeError(`bad WAV data size ${dataBytes}`);
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new RangeError(`bad sample rate ${sampleRate}`);
  if (!Number.isInteger(channels) || channels < 1 || channels > 8) throw new RangeError(`bad channel count ${channels}`);
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // WAVE_FORMAT_PCM
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * channels * 2, 28); // byte rate
  h.writeUInt16LE(channels * 2, 32); // block align
  h.writeUInt16LE(16, 34); // bits per sample
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** A complete WAV file for s16le PCM data (a trailing odd byte is dropped). */
export function encodeWav(pcm: Uint8Array, sampleRate: number, channels = 1): Buffer {
  const len = pcm.byteLength - (pcm.byteLength % (2 * channels));
  return Buffer.concat([wavHeader(len, sampleRate, channels), Buffer.from(pcm.buffer, pcm.byteOffset, len)]);
}

export interface WavInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: 16;
  /** the PCM bytes (a view into the input buffer), interleaved s16le, a whole number of frames */
  data: Buffer;
  /** number of sample frames (samples per channel) */
  frames: number;
  durationSec: number;
}

const FORMAT_NAMES: Record<number, string> = { 2: 'ADPCM', 3: 'IEEE float', 6: 'A-law', 7: 'mu-law', 0x11: 'IMA ADPCM', 0x55: 'MP3' };
const KSDATAFORMAT_PCM_TAIL = '000000001000800000aa00389b71'; // bytes 2..15 of the PCM sub-format GUID

interface Fmt {
  format: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bits: number;
}

function checkRiff(buf: Buffer): void {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new WavError('bad_request', 'not a WAV file (no RIFF/WAVE header)');
  }
}

function readFmt(buf: Buffer, body: number, size: number): Fmt {
  if (size < 16 || body + 16 > buf.length) throw new WavError('bad_request', 'WAV fmt chunk is truncated');
  let format = buf.readUInt16LE(body);
  if (format === 0xfffe) {
    // WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID
    if (size < 40 || body + 40 > buf.length) throw new WavError('bad_request', 'WAV extensible fmt chunk is truncated');
    const sub = buf.readUInt16LE(body + 24);
    format = buf.toString('hex', body + 26, body + 40) === KSDATAFORMAT_PCM_TAIL ? sub : -1;
  }
  return {
    format,
    channels: buf.readUInt16LE(body + 2),
    sampleRate: buf.readUInt32LE(body + 4),
    blockAlign: buf.readUInt16LE(body + 12),
    bits: buf.readUInt16LE(body + 14),
  };
}

/** Throws unless the format is 16-bit integer PCM with sane numbers. */
function checkFmt(fmt: Fmt | null): asserts fmt is Fmt {
  if (!fmt) throw new WavError('bad_request', 'WAV file has no fmt chunk before its data');
  if (fmt.format !== 1) {
    const name = FORMAT_NAMES[fmt.format] ?? (fmt.format < 0 ? 'a non-PCM extensible format' : `format tag 0x${fmt.format.toString(16)}`);
    throw new WavError('unsupported_media_type', `WAV audio must be 16-bit integer PCM; this file is ${name}`);
  }
  if (fmt.bits !== 16) throw new WavError('unsupported_media_type', `WAV audio must be 16-bit PCM; this file is ${fmt.bits}-bit`);
  if (fmt.channels < 1) throw new WavError('bad_request', 'WAV file declares 0 channels');
  if (fmt.sampleRate < 1) throw new WavError('bad_request', 'WAV file declares a sample rate of 0');
  if (fmt.blockAlign !== 0 && fmt.blockAlign !== fmt.channels * 2) {
    throw new WavError('bad_request', `WAV block align ${fmt.blockAlign} does not match ${fmt.channels} channel(s) of 16-bit audio`);
  }
}

/**
 * Parses a RIFF/WAVE buffer holding 16-bit integer PCM. Unknown chunks (LIST, fact, ...) are skipped. A data
 * chunk whose declared size runs past the end of the buffer (streamed WAVs such as `espeak-ng --stdout`
 * write 0x7ffff000) is clamped to the bytes present.
 */
export function parseWav(buf: Buffer): WavInfo {
  checkRiff(buf);
  let fmt: Fmt | null = null;
  let data: Buffer | null = null;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') fmt = readFmt(buf, body, size);
    else if (id === 'data') {
      data = buf.subarray(body, Math.min(buf.length, body + size));
      if (fmt) break; // anything after the data chunk is irrelevant
    }
    off = body + size + (size & 1); // chunks are word-aligned
  }
  checkFmt(fmt);
  if (!data) throw new WavError('bad_request', 'WAV file has no data chunk');
  const frameBytes = fmt.channels * 2;
  const frames = Math.floor(data.length / frameBytes);
  return {
    sampleRate: fmt.sampleRate,
    channels: fmt.channels,
    bitsPerSample: 16,
    data: data.subarray(0, frames * frameBytes),
    frames,
    durationSec: frames / fmt.sampleRate,
  };
}

export interface WavHeaderInfo {
  sampleRate: number;
  channels: number;
  /** byte offset of the PCM data */
  dataOffset: number;
  /** data size as declared (streamed WAVs declare a huge placeholder) */
  declaredDataBytes: number;
}

/**
 * For streamed WAVs: given the first bytes received, returns where the PCM data starts, or null when more
 * bytes are needed to reach the `data` chunk. Throws WavError like parseWav.
 */
export function parseWavHeader(buf: Buffer): WavHeaderInfo | null {
  if (buf.length < 12) {
    if (!'RIFF'.startsWith(buf.toString('ascii', 0, Math.min(4, buf.length)))) checkRiff(buf);
    return null;
  }
  checkRiff(buf);
  let fmt: Fmt | null = null;
  let off = 12;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'data') {
      checkFmt(fmt);
      return { sampleRate: fmt.sampleRate, channels: fmt.channels, dataOffset: body, declaredDataBytes: size };
    }
    if (id === 'fmt ') {
      if (body + Math.min(size, 40) > buf.length) return null;
      fmt = readFmt(buf, body, size);
    }
    off = body + size + (size & 1);
  }
  if (off > 1024 * 1024) throw new WavError('bad_request', 'WAV header is longer than 1 MiB');
  return null;
}

/**
 * Parses a 16-bit PCM WAV into mono Float32 samples (channels averaged), resampled to `opts.sampleRate`
 * when given.
 */
export function decodeWav(buf: Buffer, opts: { sampleRate?: number } = {}): { samples: Float32Array; sampleRate: number } {
  const w = parseWav(buf);
  let samples = s16leToFloat32(w.data);
  if (w.channels > 1) {
    const mono = new Float32Array(w.frames);
    for (let i = 0; i < w.frames; i++) {
      let s = 0;
      for (let c = 0; c < w.channels; c++) s += samples[i * w.channels + c];
      mono[i] = s / w.channels;
    }
    samples = mono;
  }
  const target = opts.sampleRate ?? w.sampleRate;
  if (target !== w.sampleRate) samples = resample(samples, w.sampleRate, target);
  return { samples, sampleRate: target };
}
