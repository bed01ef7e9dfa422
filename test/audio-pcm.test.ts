import { describe, expect, it } from 'vitest';
import {
  Resampler,
  analyzeSpeech,
  float32ToS16le,
  peak,
  resample,
  resampleS16le,
  rms,
  s16leToFloat32,
  splitBuffer,
  toDbfs,
} from '../dist/protocol/pcm.js';
import { WavError, decodeWav, encodeWav, parseWav, parseWavHeader, wavHeader } from '../dist/protocol/wav.js';

function sine(freq: number, rate: number, seconds: number, amp = 0.5): Float32Array {
  const n = Math.round(rate * seconds);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = amp * Math.sin((2 * Math.PI * freq * i) / rate);
  return out;
}

/** Frequency estimated from rising zero crossings in the middle 80% (edges hold the filter's ramp). */
function zcFrequency(x: Float32Array, rate: number): number {
  const a = Math.floor(x.length * 0.1);
  const b = Math.floor(x.length * 0.9);
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = a + 1; i < b; i++) {
    if (x[i - 1] < 0 && x[i] >= 0) {
      // sub-sample position of the crossing
      const pos = i - 1 + -x[i - 1] / (x[i] - x[i - 1]);
      if (first < 0) first = pos;
      else count++;
      last = pos;
    }
  }
  return (count * rate) / (last - first);
}

describe('s16le <-> Float32', () => {
  it('round-trips every 16-bit value exactly', () => {
    const buf = Buffer.alloc(65536 * 2);
    for (let v = -32768; v <= 32767; v++) buf.writeInt16LE(v, (v + 32768) * 2);
    const f = s16leToFloat32(buf);
    expect(f.length).toBe(65536);
    expect(f[0]).toBe(-1);
    expect(Math.max(...f.subarray(65000))).toBeLessThan(1);
    expect(float32ToS16le(f).equals(buf)).toBe(true);
  });

  it('clips out-of-range values and maps NaN to 0; handles unaligned buffers and odd lengths', () => {
    const b = float32ToS16le(new Float32Array([2, -2, NaN, 0.5]));
    expect([b.readInt16LE(0), b.readInt16LE(2), b.readInt16LE(4), b.readInt16LE(6)]).toEqual([32767, -32768, 0, 16384]);
    const big = Buffer.alloc(9);
    big.writeInt16LE(1000, 1);
    big.writeInt16LE(-1000, 3);
    const f = s16leToFloat32(big.subarray(1)); // odd byteOffset, 8 bytes
    expect(f.length).toBe(4);
    expect(f[0]).toBeCloseTo(1000 / 32768, 6);
    expect(f[1]).toBeCloseTo(-1000 / 32768, 6);
    expect(s16leToFloat32(Buffer.alloc(5)).length).toBe(2);
  });
});

describe('WAV', () => {
  it('builds a canonical 44-byte header and parses its own output', () => {
    const pcm = float32ToS16le(sine(440, 16000, 0.5));
    const h = wavHeader(pcm.length, 16000);
    expect(h.length).toBe(44);
    expect(h.toString('ascii', 0, 4)).toBe('RIFF');
    expect(h.readUInt32LE(4)).toBe(36 + pcm.length);
    expect(h.readUInt16LE(20)).toBe(1);
    expect(h.readUInt16LE(22)).toBe(1);
    expect(h.readUInt32LE(24)).toBe(16000);
    expect(h.readUInt32LE(28)).toBe(32000);
    expect(h.readUInt16LE(34)).toBe(16);
    const wav = encodeWav(pcm, 16000);
    const w = parseWav(wav);
    expect(w).toMatchObject({ sampleRate: 16000, channels: 1, bitsPerSample: 16, frames: 8000, durationSec: 0.5 });
    expect(w.data.equals(pcm)).toBe(true);
  });

  it('skips unknown chunks (with odd-size padding), clamps streamed sizes, accepts EXTENSIBLE/PCM', () => {
    const pcm = float32ToS16le(sine(300, 8000, 0.1));
    const base = encodeWav(pcm, 8000);
    // insert a LIST chunk of odd size 3 (+1 pad byte) between fmt and data
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.from([0])]);
    const withList = Buffer.concat([base.subarray(0, 36), list, base.subarray(36)]);
    expect(parseWav(withList).data.equals(pcm)).toBe(true);
    // streamed: data size 0x7ffff000 like espeak-ng --stdout
    const streamed = Buffer.from(base);
    streamed.writeUInt32LE(0x7ffff000, 40);
    expect(parseWav(streamed).data.equals(pcm)).toBe(true);
    // WAVE_FORMAT_EXTENSIBLE with the PCM sub-format GUID
    const fmt = Buffer.alloc(40);
    fmt.writeUInt16LE(0xfffe, 0);
    fmt.writeUInt16LE(1, 2);
    fmt.writeUInt32LE(8000, 4);
    fmt.writeUInt32LE(16000, 8);
    fmt.writeUInt16LE(2, 12);
    fmt.writeUInt16LE(16, 14);
    fmt.writeUInt16LE(22, 16);
    fmt.writeUInt16LE(16, 18);
    Buffer.from('0100000000001000800000aa00389b71', 'hex').copy(fmt, 24);
    const ext = Buffer.concat([
      Buffer.from('RIFF'),
      Buffer.alloc(4),
      Buffer.from('WAVEfmt '),
      Buffer.from([40, 0, 0, 0]),
      fmt,
      Buffer.from('data'),
      Buffer.from(Uint32Array.of(pcm.length).buffer),
      pcm,
    ]);
    expect(parseWav(ext)).toMatchObject({ sampleRate: 8000, channels: 1, frames: pcm.length / 2 });
  });

  it('rejects non-WAV, non-PCM and non-16-bit input with clear errors', () => {
    const pcm = Buffer.alloc(100);
    expect(() => parseWav(Buffer.from('hello world, not a wav'))).toThrow(/not a WAV file/);
    expect(() => parseWav(Buffer.alloc(4))).toThrow(WavError);
    const float = encodeWav(pcm, 16000);
    float.writeUInt16LE(3, 20);
    float.writeUInt16LE(32, 34);
    expect(() => parseWav(float)).toThrow(/16-bit integer PCM; this file is IEEE float/);
    try {
      parseWav(float);
    } catch (e) {
      expect((e as WavError).code).toBe('unsupported_media_type');
      expect((e as WavError).statusCode).toBe(415);
    }
    const eight = encodeWav(pcm, 16000);
    eight.writeUInt16LE(8, 34);
    eight.writeUInt16LE(1, 32);
    expect(() => parseWav(eight)).toThrow(/16-bit PCM; this file is 8-bit/);
    const alaw = encodeWav(pcm, 16000);
    alaw.writeUInt16LE(6, 20);
    expect(() => parseWav(alaw)).toThrow(/A-law/);
    const noData = encodeWav(pcm, 16000).subarray(0, 36);
    expect(() => parseWav(noData)).toThrow(/no data chunk/);
  });

  it('parseWavHeader finds the data offset incrementally', () => {
    const wav = encodeWav(Buffer.alloc(1000), 22050);
    expect(parseWavHeader(wav.subarray(0, 3))).toBeNull();
    expect(parseWavHeader(wav.subarray(0, 20))).toBeNull();
    expect(parseWavHeader(wav.subarray(0, 43))).toBeNull();
    expect(parseWavHeader(wav.subarray(0, 44))).toEqual({ sampleRate: 22050, channels: 1, dataOffset: 44, declaredDataBytes: 1000 });
    expect(() => parseWavHeader(Buffer.from('GIF89a'))).toThrow(/not a WAV/);
  });

  it('decodeWav downmixes stereo and resamples', () => {
    const l = sine(500, 32000, 0.5, 0.4);
    const st = new Float32Array(l.length * 2);
    for (let i = 0; i < l.length; i++) {
      st[2 * i] = l[i];
      st[2 * i + 1] = l[i];
    }
    const wav = encodeWav(float32ToS16le(st), 32000, 2);
    const d = decodeWav(wav, { sampleRate: 16000 });
    expect(d.sampleRate).toBe(16000);
    expect(d.samples.length).toBe(8000);
    expect(zcFrequency(d.samples, 16000)).toBeCloseTo(500, 0);
    expect(rms(d.samples)).toBeCloseTo(0.4 / Math.SQRT2, 2);
  });
});

describe('resampling', () => {
  const pairs: Array<[number, number, number]> = [
    [48000, 16000, 1000],
    [44100, 16000, 440],
    [22050, 16000, 1234],
    [8000, 16000, 700],
    [16000, 8000, 300],
    [16000, 48000, 2500],
    [11025, 16000, 3000],
    [12345, 16000, 1111], // no small rational ratio: the interpolated-kernel path
    [16000, 47999, 5000],
  ];
  for (const [from, to, f] of pairs) {
    it(`${from} -> ${to} keeps a ${f} Hz sine's frequency, level and the length ratio`, () => {
      const x = sine(f, from, 0.5);
      const y = resample(x, from, to);
      expect(y.length).toBe(Math.ceil((x.length * to) / from));
      expect(Math.abs(zcFrequency(y, to) - f) / f).toBeLessThan(0.002);
      const mid = y.subarray(Math.floor(y.length * 0.1), Math.floor(y.length * 0.9));
      expect(rms(mid)).toBeGreaterThan(0.5 / Math.SQRT2 - 0.01);
      expect(rms(mid)).toBeLessThan(0.5 / Math.SQRT2 + 0.01);
    });
  }

  it('removes content above the new Nyquist frequency (no aliasing)', () => {
    const y = resample(sine(7000, 48000, 0.5), 48000, 8000); // 7 kHz cannot exist at 8 kHz
    const mid = y.subarray(400, y.length - 400);
    expect(toDbfs(rms(mid) / (0.5 / Math.SQRT2))).toBeLessThan(-50);
  });

  it('streaming in random chunks gives the same output as one shot', () => {
    const x = sine(523, 44100, 0.3);
    for (let i = 0; i < x.length; i++) x[i] += ((i * 7919) % 101) / 2000; // some broadband content
    const oneShot = resample(x, 44100, 16000);
    const r = new Resampler(44100, 16000);
    const parts: number[] = [];
    let seed = 1;
    for (let i = 0; i < x.length; ) {
      seed = (seed * 48271) % 2147483647;
      const n = 1 + (seed % 3000);
      parts.push(...r.process(x.subarray(i, i + n)));
      i += n;
    }
    parts.push(...r.flush());
    expect(parts.length).toBe(oneShot.length);
    let maxDiff = 0;
    for (let i = 0; i < parts.length; i++) maxDiff = Math.max(maxDiff, Math.abs(parts[i] - oneShot[i]));
    expect(maxDiff).toBeLessThan(1e-6);
  });

  it('equal rates copy; s16le helper works; bad rates throw', () => {
    const x = sine(100, 16000, 0.1);
    expect(Array.from(resample(x, 16000, 16000))).toEqual(Array.from(x));
    const pcm = float32ToS16le(sine(400, 48000, 0.2));
    const out = resampleS16le(pcm, 48000, 16000);
    expect(out.length).toBe(3200 * 2);
    expect(zcFrequency(s16leToFloat32(out), 16000)).toBeCloseTo(400, 0);
    expect(() => new Resampler(0, 16000)).toThrow(RangeError);
    expect(() => new Resampler(16000, 1.5)).toThrow(RangeError);
  });
});

describe('levels and speech activity', () => {
  it('measures rms, peak and dBFS', () => {
    const s = sine(1000, 16000, 1, 0.5);
    expect(rms(s)).toBeCloseTo(0.3536, 3);
    expect(peak(s)).toBeCloseTo(0.5, 3);
    expect(toDbfs(1)).toBe(0);
    expect(rms(new Float32Array(0))).toBe(0);
  });

  it('silence is inactive, a tone burst is active for its length', () => {
    const silent = analyzeSpeech(new Float32Array(16000), 16000);
    expect(silent).toMatchObject({ durationSec: 1, activeFrames: 0, activeFraction: 0 });
    const x = new Float32Array(32000);
    x.set(sine(300, 16000, 0.5, 0.3), 8000); // 0.5 s of tone in 2 s
    const s = analyzeSpeech(x, 16000);
    expect(s.activeSec).toBeCloseTo(0.5, 1);
    expect(s.activeFraction).toBeCloseTo(0.25, 1);
  });

  it('splitBuffer cuts on whole samples', () => {
    const b = Buffer.alloc(20001);
    const parts = [...splitBuffer(b, 8191)];
    expect(parts.map((p) => p.length)).toEqual([8190, 8190, 3621]);
  });
});
