/**
 * Downloads for model files: a one-shot download with size and checksum checks (`download`) and a resumable
 * one with a progress bar (`downloadResumable`, HTTP Range onto a .part file), plus the sha256 of a file.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { ProviderError } from './errors.js';

export async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export function sha256(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/**
 * null when `file` exists with an accepted checksum (and, given `bytes`, that size), else what is wrong;
 * `whose` names the file's owner in the message ("the voice's").
 */
export async function checkPinned(file: string, f: { sha256: readonly string[]; bytes?: number }, whose: string): Promise<string | null> {
  const st = await fsp.stat(file).catch(() => null);
  if (!st) return `${file} is missing`;
  if (!st.isFile() || st.size === 0) return `${file} is empty or not a file`;
  if (f.bytes !== undefined && st.size !== f.bytes)
    return `${file} has ${st.size.toLocaleString('en-US')} bytes, not ${f.bytes.toLocaleString('en-US')}; it is damaged or a different file`;
  const got = await sha256File(file);
  return f.sha256.includes(got) ? null : `${file} has sha256 ${got}, not ${whose} (${f.sha256[0]}); it is damaged or a different file`;
}

/** Downloads url to file with progress lines every ~10 %; checks size and sha256 when given. */
export async function download(url: string, file: string, opts: { sha256?: string; bytes?: number; log?: (l: string) => void; timeoutMs?: number } = {}) {
  const log = opts.log ?? (() => {});
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), opts.timeoutMs ?? 30 * 60_000);
  try {
    const res = await fetch(url, { signal: ctl.signal, redirect: 'follow' });
    if (!res.ok || !res.body) throw new ProviderError(`download ${url}: HTTP ${res.status}`);
    const total = Number(res.headers.get('content-length')) || opts.bytes || 0;
    const out = fs.createWriteStream(file);
    const hash = crypto.createHash('sha256');
    let got = 0;
    let nextMark = 0.1;
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      got += value.byteLength;
      if (!out.write(value)) await new Promise<void>((r) => out.once('drain', () => r()));
      if (total && got / total >= nextMark) {
        log(`  ${path.basename(file)}: ${Math.floor((got / total) * 100)}% of ${(total / 1e6).toFixed(1)} MB`);
        nextMark += 0.1;
      }
    }
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    if (opts.bytes && got !== opts.bytes) throw new ProviderError(`download ${url}: got ${got} bytes, expected ${opts.bytes}`);
    const digest = hash.digest('hex');
    if (opts.sha256 && digest !== opts.sha256) throw new ProviderError(`download ${url}: sha256 ${digest} does not match ${opts.sha256}`);
    return digest;
  } catch (e) {
    await fsp.rm(file, { force: true });
    if (e instanceof ProviderError) throw e;
    throw new ProviderError(`download ${url}: ${(e as Error).message}`, { cause: e });
  } finally {
    clearTimeout(timer);
  }
}

const mb = (n: number) => (n / 1e6).toFixed(1);

/** Progress to stderr: a redrawn bar on a terminal, otherwise a line per quarter. */
function progress(stream: NodeJS.WritableStream & { isTTY?: boolean }, label: string, total: number | undefined) {
  const tty = !!stream.isTTY;
  let lastDraw = 0;
  let lastQuarter = -1;
  return {
    update(done: number, final = false) {
      if (tty) {
        const now = Date.now();
        if (!final && now - lastDraw < 100) return;
        lastDraw = now;
        if (total) {
          const f = Math.min(1, done / total);
          const width = 30;
          const fill = Math.round(f * width);
          stream.write(`\r${label} [${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${String(Math.floor(f * 100)).padStart(3)}% ${mb(done)}/${mb(total)} MB`);
        } else stream.write(`\r${label} ${mb(done)} MB`);
        if (final) stream.write('\n');
      } else if (total) {
        const q = Math.floor((Math.min(1, done / total) * 100) / 25);
        if (q > lastQuarter) {
          lastQuarter = q;
          stream.write(`${label} ${q * 25}% (${mb(done)}/${mb(total)} MB)\n`);
        }
      } else if (final) stream.write(`${label} ${mb(done)} MB\n`);
    },
  };
}

export function describeFetchError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return cause ? `${err.message} (${cause})` : err.message;
}

/**
 * Downloads `url` onto `part`, resuming from its current size when the server honours Range. Resolves
 * when the body is complete; the caller verifies the checksum.
 */
export async function downloadResumable(url: string, part: string, opts: { total?: number; stderr: NodeJS.WritableStream & { isTTY?: boolean }; label: string; stallMs?: number }): Promise<void> {
  let have = (await fsp.stat(part).catch(() => null))?.size ?? 0;
  const ctrl = new AbortController();
  const stallMs = opts.stallMs ?? 30_000;
  let stall = setTimeout(() => ctrl.abort(new Error(`no data for ${stallMs / 1000} s`)), stallMs);
  const poke = () => {
    clearTimeout(stall);
    stall = setTimeout(() => ctrl.abort(new Error(`no data for ${stallMs / 1000} s`)), stallMs);
  };
  try {
    const res = await fetch(url, { headers: have > 0 ? { range: `bytes=${have}-` } : {}, redirect: 'follow', signal: ctrl.signal });
    if (res.status === 416 && have > 0) {
      await res.body?.cancel();
      return; // the part is already complete (the checksum decides)
    }
    let append = false;
    if (res.status === 206) {
      const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
      append = !!m && Number(m[1]) === have;
      if (!append) {
        await res.body?.cancel();
        await fsp.rm(part, { force: true });
        return downloadResumable(url, part, opts);
      }
    } else if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status} ${res.statusText}`);
    }
    if (!append) have = 0;
    const length = Number(res.headers.get('content-length'));
    const total = opts.total ?? (Number.isFinite(length) && length > 0 ? have + length : undefined);
    const bar = progress(opts.stderr, opts.label, total);
    const file = await fsp.open(part, append ? 'a' : 'w');
    let done = have;
    try {
      if (!res.body) throw new Error('empty response');
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        poke();
        await file.write(chunk);
        done += chunk.length;
        bar.update(done);
      }
    } finally {
      await file.close();
    }
    bar.update(done, true);
  } finally {
    clearTimeout(stall);
  }
}
