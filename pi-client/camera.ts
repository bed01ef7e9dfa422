/**
 * `whereabouts-pi camera`: takes a still every N seconds with a command (rpicam-still, libcamera-still,
 * fswebcam; `{file}` marks where the image goes), or uploads the images that appear in a watched folder.
 * Every frame goes through the spool (spool.ts) and the uploader (uploader.ts), so nothing is lost while the
 * server is away and everything arrives in capture order.
 *
 * Watched folder: a file is taken once it has not changed for `settleMs` (write it elsewhere and rename it
 * in to be safe); its modification time is its captured_at. Names starting with "." and ending in .tmp or
 * .part are ignored. After the server has acknowledged it, the file is moved to `sent/` (or deleted, per
 * camera.afterUpload); a frame the server refuses, or the spool drops, goes to `failed/` (or is deleted).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Backoff, Sleeper } from './backoff.js';
import { PiError, type AuthError } from './errors.js';
import type { Logger } from './log.js';
import { Spool, type RemoveReason, type SpoolEntry } from './spool.js';
import { findCameraCommand, lastLine, splitCommand, which } from './system.js';
import { Uploader, sniffContentType } from './uploader.js';
import type { PiConfig } from './config.js';
import { spoolDir } from './config.js';

const IMAGE_EXT = /\.(jpe?g|png|webp)$/i;

export interface CameraOptions {
  config: PiConfig;
  log: Logger;
  /** watch this folder instead of running the camera command */
  watchDir?: string | null;
  command?: string | null;
  intervalSeconds?: number;
  /** take one picture (or scan the folder once), deliver everything, exit */
  once?: boolean;
  /** watched files: how long a file must be unchanged before it is taken, ms */
  settleMs?: number;
  pollMs?: number;
}

// ---- the folder watcher ---------------------------------------------------------------------------------

export class FolderWatcher {
  private timer: NodeJS.Timeout | null = null;
  private watcher: fs.FSWatcher | null = null;
  private scanning = false;
  private again = false;
  private stopped = false;
  private lastProblem = '';
  /** files already reported as skipped (each is named once) */
  private readonly skipped = new Set<string>();

  constructor(
    readonly dir: string,
    private readonly o: { settleMs: number; pollMs: number; log: Logger; isQueued: (file: string) => boolean; take: (file: string, st: fs.Stats) => void },
  ) {}

  start(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    try {
      this.watcher = fs.watch(this.dir, () => this.soon());
      this.watcher.on('error', () => {
        /* polling carries on */
      });
    } catch {
      /* polling only */
    }
    this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
  }

  private soon(): void {
    // a change: look again once the file has had time to settle
    if (this.stopped) return;
    setTimeout(() => this.scan(), this.o.settleMs + 20).unref();
  }

  private tick(): void {
    if (this.stopped) return;
    this.scan();
    this.timer = setTimeout(() => this.tick(), this.o.pollMs);
  }

  /** one pass over the folder: takes the settled images, oldest first; returns how many are still settling */
  scan(): number {
    if (this.scanning) {
      this.again = true;
      return 0;
    }
    this.scanning = true;
    let pending = 0;
    try {
      do {
        this.again = false;
        pending = this.pass();
      } while (this.again && !this.stopped);
    } finally {
      this.scanning = false;
    }
    return pending;
  }

  private pass(): number {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
      this.lastProblem = '';
    } catch (e) {
      const msg = `cannot read the watched folder ${this.dir}: ${(e as Error).message}`;
      if (msg !== this.lastProblem) this.o.log.warn(msg);
      this.lastProblem = msg;
      return 0;
    }
    const now = Date.now();
    const ready: Array<{ file: string; st: fs.Stats }> = [];
    let pending = 0;
    for (const n of names) {
      // dot-names and .tmp/.part are files still being written (the safe way to drop an image in)
      if (n.startsWith('.') || /\.(tmp|part)$/i.test(n)) continue;
      const file = path.join(this.dir, n);
      if (!IMAGE_EXT.test(n)) {
        if (!this.skipped.has(n) && this.skipped.size < 10_000 && !isFolder(file)) {
          this.skipped.add(n);
          this.o.log.info(`skipping ${n} in ${this.dir}: only .jpg, .jpeg, .png and .webp images are uploaded`);
        }
        continue;
      }
      if (this.o.isQueued(file)) continue;
      let st: fs.Stats;
      try {
        st = fs.statSync(file);
      } catch {
        continue;
      }
      if (!st.isFile()) continue;
      if (st.size === 0 || now - Math.max(st.mtimeMs, st.ctimeMs) < this.o.settleMs) {
        pending++;
        continue;
      }
      ready.push({ file, st });
    }
    ready.sort((a, b) => a.st.mtimeMs - b.st.mtimeMs || (a.file < b.file ? -1 : 1));
    for (const r of ready) {
      if (this.stopped) break;
      this.o.take(r.file, r.st);
    }
    return pending;
  }
}

function isFolder(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return true; // gone already: nothing to report
  }
}

/** moves a finished watched file into `sent/` or `failed/` beside it, or deletes it */
export function finishSource(e: SpoolEntry, reason: RemoveReason, afterUpload: 'move' | 'delete', log: Logger): void {
  if (!e.source) return;
  try {
    if (afterUpload === 'delete') {
      fs.rmSync(e.source, { force: true });
      return;
    }
    if (!fs.existsSync(e.source)) return;
    const dest = path.join(path.dirname(e.source), reason === 'sent' ? 'sent' : 'failed');
    fs.mkdirSync(dest, { recursive: true });
    fs.renameSync(e.source, path.join(dest, path.basename(e.source)));
  } catch (err) {
    log.warn(`cannot move ${e.source} away: ${(err as Error).message}`);
  }
}

// ---- the camera command -----------------------------------------------------------------------------------

/** resolves the camera command (configured or found); throws a one-line PiError when there is none */
export function resolveCameraCommand(configured: string | null): { argv: string[]; line: string } {
  let line = configured;
  if (!line) {
    const found = findCameraCommand();
    if (!found) {
      throw new PiError(
        'no camera command: none of rpicam-still, libcamera-still or fswebcam is installed (sudo apt install rpicam-apps), or watch a folder with --watch DIR',
      );
    }
    line = found.command;
  }
  if (!line.includes('{file}')) throw new PiError(`the camera command must contain {file} where the image goes: ${line}`);
  let argv: string[];
  try {
    argv = splitCommand(line);
  } catch (e) {
    throw new PiError((e as Error).message);
  }
  if (!argv.length) throw new PiError('the camera command is empty');
  if (!which(argv[0])) throw new PiError(`camera command "${argv[0]}" not found: install it (rpicam-still is in rpicam-apps) or set camera.command`);
  return { argv, line };
}

/** runs the command once; resolves with the image file, or rejects with a one-line reason */
export function takeStill(argv: string[], file: string, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const args = argv.slice(1).map((a) => a.split('{file}').join(file));
    const p = spawn(argv[0], args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    p.on('error', (e) => {
      clearTimeout(t);
      reject(new Error((e as NodeJS.ErrnoException).code === 'ENOENT' ? `${argv[0]} not found` : e.message));
    });
    p.on('close', (code, signal) => {
      clearTimeout(t);
      if (code !== 0) return reject(new Error(`${argv[0]} failed (${signal ? `killed by ${signal}` : `exit ${code}`})${stderr ? `: ${lastLine(stderr)}` : ''}`));
      try {
        if (fs.statSync(file).size === 0) return reject(new Error(`${argv[0]} wrote an empty image`));
      } catch {
        return reject(new Error(`${argv[0]} wrote no image to ${file}`));
      }
      resolve();
    });
  });
}

// ---- the command -------------------------------------------------------------------------------------------

export async function runCamera(o: CameraOptions): Promise<number> {
  const { config, log } = o;
  // what the command line asks for wins over the settings: --command over a configured watch folder
  const watchDir = o.watchDir ?? (o.command ? null : config.camera.watchDir);
  const interval = (o.intervalSeconds ?? config.camera.intervalSeconds) * 1000;
  const cmd = watchDir ? null : resolveCameraCommand(o.command ?? config.camera.command);

  // the watched files queued in the spool (so a scan does not queue one twice)
  const queued = new Set<string>();
  const spool = new Spool(spoolDir(config), {
    maxFrames: config.camera.spoolMaxFrames,
    maxBytes: config.camera.spoolMaxMB * 1e6,
    log,
    onRemoved: (e, reason) => {
      finishSource(e, reason, config.camera.afterUpload, log);
      if (e.source) queued.delete(e.source);
    },
  });
  for (const s of spool.sources()) queued.add(s);
  if (spool.count) log.info(`${spool.count} frame(s) from before are waiting in ${spool.dir}`);

  let authFailure: AuthError | null = null;
  const stopped = new AbortController();
  const uploader = new Uploader(spool, {
    server: config.server,
    token: config.token,
    backoff: new Backoff({ initialMs: config.backoff.initialMs, maxMs: config.backoff.maxMs }),
    log,
    onAuthError: (e) => {
      authFailure = e;
      stopped.abort();
    },
  });

  const onSignal = () => stopped.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  uploader.start();

  try {
    if (watchDir) {
      const dir = path.resolve(watchDir);
      const watcher = new FolderWatcher(dir, {
        settleMs: o.settleMs ?? 1000,
        pollMs: o.pollMs ?? 1000,
        log,
        isQueued: (f) => queued.has(f),
        take: (file, st) => {
          let image: Buffer;
          try {
            image = fs.readFileSync(file);
          } catch (e) {
            log.warn(`cannot read ${file}: ${(e as Error).message}`);
            return;
          }
          const type = sniffContentType(image, file);
          if (!type) {
            log.warn(`${file} is not a JPEG, PNG or WebP image: ${config.camera.afterUpload === 'delete' ? 'deleted' : 'moved to failed/'}`);
            finishSource({ source: file } as SpoolEntry, 'rejected', config.camera.afterUpload, log);
            return;
          }
          queued.add(file);
          try {
            spool.add(image, { capturedAt: Math.round(st.mtimeMs), contentType: type, source: file });
          } catch (e) {
            queued.delete(file);
            log.warn(`cannot queue ${file}: ${(e as Error).message}`);
            return;
          }
          log.debug(`queued ${path.basename(file)} (${spool.count} waiting)`);
        },
      });
      log.info(`watching ${dir} for images; uploading to ${config.server}`);
      if (o.once) {
        // take what is there (waiting for files still being written), deliver, exit
        while (!stopped.signal.aborted && watcher.scan() > 0) await sleep(200, stopped.signal);
        await Promise.race([uploader.idle(), aborted(stopped.signal)]);
      } else {
        watcher.start();
        await aborted(stopped.signal);
      }
      watcher.stop();
    } else {
      const argv = cmd!.argv;
      const tmpDir = path.join(spool.dir, 'capture');
      fs.mkdirSync(tmpDir, { recursive: true });
      log.info(`taking a picture every ${interval / 1000} s with: ${cmd!.line}`);
      const ticker = new Sleeper();
      stopped.signal.addEventListener('abort', () => ticker.wake());
      let failures = 0;
      for (let next = Date.now(); !stopped.signal.aborted; ) {
        const file = path.join(tmpDir, `still-${process.pid}.jpg`);
        try {
          await takeStill(argv, file);
          const capturedAt = Date.now();
          const image = fs.readFileSync(file);
          fs.rmSync(file, { force: true });
          const type = sniffContentType(image, file);
          if (!type) throw new Error('the camera command did not write a JPEG, PNG or WebP image');
          spool.add(image, { capturedAt, contentType: type });
          if (failures) log.info('the camera works again');
          failures = 0;
        } catch (e) {
          failures++;
          if (failures === 1 || failures % 10 === 0) log.warn(`could not take a picture: ${(e as Error).message}${failures > 1 ? ` (${failures} times in a row)` : ''}`);
        }
        if (o.once) {
          await Promise.race([uploader.idle(), aborted(stopped.signal)]);
          break;
        }
        next += interval;
        const now = Date.now();
        if (next < now) next = now; // a slow camera: no burst to catch up
        await ticker.sleep(next - now);
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await uploader.stop();
  }
  if (authFailure) throw authFailure;
  if (o.once) log.info(summary(uploader));
  if (o.once && spool.count) log.warn(`${spool.count} frame(s) are still waiting in ${spool.dir}`);
  return o.once && spool.count ? 1 : 0;
}

/** one line for the end of `--once`: what was delivered and what was found in it */
export function summary(u: Pick<Uploader, 'sent' | 'rejected' | 'found'>): string {
  const found = [...u.found].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([l, n]) => (n > 1 ? `${l} x${n}` : l));
  const parts = [`${u.sent} frame(s) sent${u.sent ? `; found ${found.length ? found.join(', ') : 'nothing the model knows'}` : ''}`];
  if (u.rejected) parts.push(`${u.rejected} refused by the server`);
  return `done: ${parts.join('; ')}`;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
