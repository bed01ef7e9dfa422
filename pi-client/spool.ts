/**
 * The camera's bounded on-disk queue: frames wait here until the server has acknowledged them (2xx).
 *
 * Each frame is two files named by a sequence number: `000000000042.img` (the image) and
 * `000000000042.json` (captured_at, content type, idempotency key, where it came from). The image is written
 * and fsynced first, then the meta file (written to a temporary name and renamed), so a frame exists exactly
 * when its .json does; leftovers of a crash (.tmp files, images without meta) are cleaned up on open.
 * Frames leave in sequence order (first in, first out). When a new frame takes the queue over its bounds
 * (frames or bytes) the oldest frames are dropped, each with a log line.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from './log.js';

export interface SpoolEntry {
  seq: number;
  /** epoch ms */
  capturedAt: number;
  contentType: string;
  bytes: number;
  /** sha256 of the image bytes and the captured_at ISO string, hex: the Idempotency-Key header */
  key: string;
  /** the watched file this frame was read from (moved or deleted once the frame is done) */
  source: string | null;
}

export type RemoveReason = 'sent' | 'rejected' | 'dropped';

export interface SpoolOptions {
  maxFrames: number;
  maxBytes: number;
  log: Logger;
  /** called after a frame left the spool (for the watched file's clean-up) */
  onRemoved?: (e: SpoolEntry, reason: RemoveReason) => void;
}

const SEQ_DIGITS = 12;
const name = (seq: number, ext: string) => `${String(seq).padStart(SEQ_DIGITS, '0')}.${ext}`;

export function idempotencyKey(image: Buffer, capturedAt: number): string {
  return crypto.createHash('sha256').update(image).update(new Date(capturedAt).toISOString()).digest('hex');
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

function writeDurable(file: string, data: Buffer | string): void {
  const tmp = file + '.tmp';
  const fd = fs.openSync(tmp, 'w', 0o600);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* not supported everywhere; the data itself is synced */
  }
}

export class Spool {
  private readonly list: SpoolEntry[] = [];
  private total = 0;
  private nextSeq = 1;
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly dir: string,
    private readonly o: SpoolOptions,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.load();
  }

  private load(): void {
    const files = fs.readdirSync(this.dir);
    const metas = new Set<number>();
    for (const f of files) {
      if (f.endsWith('.tmp')) {
        fs.rmSync(path.join(this.dir, f), { force: true });
        continue;
      }
      const m = /^(\d+)\.json$/.exec(f);
      if (m) metas.add(Number(m[1]));
    }
    for (const seq of [...metas].sort((a, b) => a - b)) {
      const metaFile = path.join(this.dir, name(seq, 'json'));
      const imgFile = path.join(this.dir, name(seq, 'img'));
      try {
        const m = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as Omit<SpoolEntry, 'seq' | 'bytes'> & { capturedAt: number };
        const st = fs.statSync(imgFile);
        if (typeof m.capturedAt !== 'number' || typeof m.key !== 'string') throw new Error('bad meta');
        this.list.push({ seq, capturedAt: m.capturedAt, contentType: m.contentType || 'image/jpeg', bytes: st.size, key: m.key, source: m.source ?? null });
        this.total += st.size;
      } catch {
        this.o.log.warn(`spool: removing the damaged frame ${name(seq, 'json')}`);
        fs.rmSync(metaFile, { force: true });
        fs.rmSync(imgFile, { force: true });
      }
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
    // images whose meta never got written
    for (const f of files) {
      const m = /^(\d+)\.img$/.exec(f);
      if (m && !metas.has(Number(m[1]))) fs.rmSync(path.join(this.dir, f), { force: true });
    }
  }

  get count(): number {
    return this.list.length;
  }

  get bytes(): number {
    return this.total;
  }

  /** the frames waiting, oldest first */
  entries(): readonly SpoolEntry[] {
    return this.list;
  }

  peek(): SpoolEntry | undefined {
    return this.list[0];
  }

  has(e: SpoolEntry): boolean {
    return this.list.includes(e);
  }

  /** the watched files that are queued (so the watcher does not queue them twice) */
  sources(): Set<string> {
    return new Set(this.list.map((e) => e.source).filter((s): s is string => !!s));
  }

  imagePath(e: SpoolEntry): string {
    return path.join(this.dir, name(e.seq, 'img'));
  }

  readImage(e: SpoolEntry): Buffer {
    return fs.readFileSync(this.imagePath(e));
  }

  /** queues a frame (durably), then enforces the bounds by dropping the oldest frames */
  add(image: Buffer, meta: { capturedAt: number; contentType: string; source?: string | null }): SpoolEntry {
    const seq = this.nextSeq++;
    const e: SpoolEntry = {
      seq,
      capturedAt: meta.capturedAt,
      contentType: meta.contentType,
      bytes: image.length,
      key: idempotencyKey(image, meta.capturedAt),
      source: meta.source ?? null,
    };
    writeDurable(path.join(this.dir, name(seq, 'img')), image);
    writeDurable(path.join(this.dir, name(seq, 'json')), JSON.stringify({ capturedAt: e.capturedAt, contentType: e.contentType, key: e.key, source: e.source }));
    fsyncDir(this.dir);
    this.list.push(e);
    this.total += e.bytes;
    this.enforce();
    for (const w of [...this.waiters]) w();
    return e;
  }

  private enforce(): void {
    while (this.list.length > 1 && (this.list.length > this.o.maxFrames || this.total > this.o.maxBytes)) {
      const old = this.list[0];
      const why = this.list.length > this.o.maxFrames ? `${this.o.maxFrames} frames` : `${(this.o.maxBytes / 1e6).toFixed(1)} MB`;
      this.o.log.warn(`spool is full (${why}): dropped the oldest frame, captured at ${isoTime(old.capturedAt)}`);
      this.remove(old, 'dropped');
    }
  }

  /** takes a frame out (after a 2xx, a permanent refusal, or to make room); removing it twice is harmless */
  remove(e: SpoolEntry, reason: RemoveReason): void {
    const i = this.list.indexOf(e);
    if (i < 0) return;
    this.list.splice(i, 1);
    this.total -= e.bytes;
    fs.rmSync(path.join(this.dir, name(e.seq, 'json')), { force: true });
    fs.rmSync(path.join(this.dir, name(e.seq, 'img')), { force: true });
    this.o.onRemoved?.(e, reason);
  }

  /** resolves when a frame is added (or at once if some are waiting) */
  waitForFrame(signal?: AbortSignal): Promise<void> {
    if (this.list.length || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.add(done);
      signal?.addEventListener('abort', done);
    });
  }
}
