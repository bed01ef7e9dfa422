/**
 * Frame snapshots on disk: `<dataDir>/snapshots/<userId>/<yyyy-mm-dd>/<name>.jpg` (the date of capture, UTC),
 * written atomically, read back only from inside the snapshots folder, and deleted by the retention policy
 * (config.retentionDays / config.retentionFrames; the snapshot behind any label's latest sighting is kept).
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config.js';
import type { Store } from '../../store/types.js';

export const SNAPSHOT_DIR = 'snapshots';

/** the snapshot's path relative to the data folder */
export function snapshotRelPath(userId: number, capturedAt: number, name: string | number): string {
  const day = new Date(capturedAt).toISOString().slice(0, 10);
  return path.posix.join(SNAPSHOT_DIR, String(userId), day, `${name}.jpg`);
}

/** the absolute file of a stored relative path; null when it would leave the snapshots folder */
export function snapshotFile(dataDir: string, rel: string): string | null {
  const root = path.resolve(dataDir, SNAPSHOT_DIR);
  const file = path.resolve(dataDir, rel);
  return file.startsWith(root + path.sep) ? file : null;
}

/** writes the JPEG under a temporary name and renames it into place */
export async function writeSnapshot(dataDir: string, rel: string, jpeg: Buffer): Promise<void> {
  const file = snapshotFile(dataDir, rel);
  if (!file) throw new Error(`snapshot path ${rel} is outside ${SNAPSHOT_DIR}/`);
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    await fsp.writeFile(tmp, jpeg);
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw e;
  }
}

export async function removeSnapshot(dataDir: string, rel: string): Promise<void> {
  const file = snapshotFile(dataDir, rel);
  if (file) await fsp.rm(file, { force: true });
}

/**
 * Deletes the snapshots the retention policy lets go (older than retentionDays, beyond the newest
 * retentionFrames of each user), never one behind a label's latest sighting. Returns how many went.
 */
export async function evictSnapshots(store: Store, config: Pick<Config, 'dataDir' | 'retentionDays' | 'retentionFrames'>, now = Date.now()): Promise<number> {
  const olderThan = config.retentionDays > 0 ? now - config.retentionDays * 86_400_000 : undefined;
  const keepNewest = config.retentionFrames > 0 ? config.retentionFrames : undefined;
  if (olderThan === undefined && keepNewest === undefined) return 0;
  const batch = 200;
  let evicted = 0;
  for (let round = 0; round < 50; round++) {
    const frames = await store.listEvictableFrames({ olderThan, keepNewest, limit: batch });
    for (const f of frames) {
      if (f.snapshotPath) await removeSnapshot(config.dataDir, f.snapshotPath);
      await store.clearFrameSnapshot(f.id);
      evicted++;
    }
    if (frames.length < batch) break;
  }
  return evicted;
}

/** Runs `task` at most once per `intervalMs`, never twice at the same time; poke() after each insert. */
export class Throttled {
  private last = -Infinity;
  private running: Promise<void> | null = null;
  constructor(
    private readonly task: () => Promise<void>,
    private readonly intervalMs: number,
  ) {}

  poke(now = Date.now()): Promise<void> | null {
    if (this.running || now - this.last < this.intervalMs) return null;
    this.last = now;
    this.running = this.task().finally(() => (this.running = null));
    return this.running;
  }

  /** waits for a run in progress (used at shutdown) */
  async idle(): Promise<void> {
    await this.running;
  }
}
