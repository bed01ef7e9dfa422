/**
 * Delivers spooled frames to `POST /v1/frames`, oldest first, one at a time, each removed from the spool
 * only after a 2xx. Network errors, 5xx, 408 and 429 leave the frame at the head of the queue and retry with
 * capped exponential backoff and jitter (a Retry-After is honoured up to the cap); so does 404, which means
 * the server has no frames route at all (a wrong or old server), not that this frame is bad. Any other 4xx
 * refuses that frame for good: it is logged and dropped. 401/403 stop the uploader: the token is wrong for every frame, so
 * the spool is kept and the process exits with a one-line error.
 *
 * Every request carries `Idempotency-Key: sha256(image + captured_at)` so that a retry after a lost
 * acknowledgement can be recognised by the server, and `captured_at` (query) / `X-Captured-At` (header).
 */
import path from 'node:path';
import { Backoff, Sleeper } from './backoff.js';
import { authError, describeNetError, describeReply, request } from './http.js';
import type { Logger } from './log.js';
import { Spool, isoTime, type SpoolEntry } from './spool.js';
import type { AuthError } from './errors.js';

export interface UploaderOptions {
  server: string;
  token: string;
  backoff: Backoff;
  log: Logger;
  timeoutMs?: number;
  /** called once when the server refuses the token; the uploader has stopped */
  onAuthError?: (e: AuthError) => void;
}

export type Outcome = { kind: 'sent'; status: number; body: any } | { kind: 'retry'; why: string; retryAfterMs?: number } | { kind: 'reject'; why: string } | { kind: 'auth'; error: AuthError };

/** decides what an HTTP status means for the frame */
export function classify(status: number): 'sent' | 'retry' | 'reject' | 'auth' {
  if (status >= 200 && status < 300) return 'sent';
  if (status === 401 || status === 403) return 'auth';
  // 404: this server has no /v1/frames (an old or a wrong server); that is not the frame's fault
  if (status === 404 || status === 408 || status === 429 || status >= 500) return 'retry';
  return 'reject';
}

export function sniffContentType(image: Buffer, fileName = ''): string | null {
  if (image.length >= 3 && image[0] === 0xff && image[1] === 0xd8 && image[2] === 0xff) return 'image/jpeg';
  if (image.length >= 8 && image.readUInt32BE(0) === 0x89504e47) return 'image/png';
  if (image.length >= 12 && image.toString('ascii', 0, 4) === 'RIFF' && image.toString('ascii', 8, 12) === 'WEBP') return 'image/webp';
  if (/\.jpe?g$/i.test(fileName)) return 'image/jpeg';
  if (/\.png$/i.test(fileName)) return 'image/png';
  if (/\.webp$/i.test(fileName)) return 'image/webp';
  return null;
}

/** how a log line names a frame: its file name (watched folder), else its capture time */
export function frameName(e: Pick<SpoolEntry, 'source' | 'capturedAt'>): string {
  return e.source ? path.basename(e.source) : `the frame captured at ${isoTime(e.capturedAt)}`;
}

/** what the server found in a frame, from its reply: "cup 0.90, dining table 0.73", or why there is nothing */
export function describeFound(body: any): { text: string; labels: string[] } {
  if (body?.duplicate) return { text: `already delivered before${body?.frame?.id != null ? ` (frame ${body.frame.id})` : ''}`, labels: [] };
  const dets: Array<{ label?: unknown; score?: unknown }> = Array.isArray(body?.detections) ? body.detections : [];
  const labels = dets.map((d) => String(d.label ?? '?'));
  const frame = body?.frame?.id != null ? `frame ${body.frame.id}: ` : '';
  if (!dets.length) return { text: `${frame}nothing recognised`, labels };
  return { text: frame + dets.map((d) => `${String(d.label ?? '?')} ${typeof d.score === 'number' ? d.score.toFixed(2) : '?'}`).join(', '), labels };
}

function retryAfterMs(h: string | null): number | undefined {
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}

export class Uploader {
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly sleeper = new Sleeper();
  private loop: Promise<void> | null = null;
  private outageSince: number | null = null;
  private lastOutageLog = 0;
  private idleWaiters: Array<() => void> = [];
  /** frames delivered / refused since start, and how often each label was found in them */
  sent = 0;
  rejected = 0;
  readonly found = new Map<string, number>();

  constructor(
    private readonly spool: Spool,
    private readonly o: UploaderOptions,
  ) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** stops after the current request (which is aborted: the frame stays in the spool) */
  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.sleeper.wake();
    await this.loop;
  }

  /** resolves when the spool is empty (or the uploader has stopped) */
  idle(): Promise<void> {
    if (!this.spool.count || this.stopped) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private async run(): Promise<void> {
    const { backoff, log } = this.o;
    while (!this.stopped) {
      const e = this.spool.peek();
      if (!e) {
        for (const w of this.idleWaiters.splice(0)) w();
        await this.spool.waitForFrame(this.abort.signal);
        continue;
      }
      const r = await this.send(e);
      if (this.stopped) break;
      switch (r.kind) {
        case 'sent': {
          if (this.outageSince !== null) {
            log.info(`server is back after ${((Date.now() - this.outageSince) / 1000).toFixed(1)} s: delivering ${this.spool.count} waiting frame(s)`);
            this.outageSince = null;
          }
          backoff.reset();
          this.sent++;
          const what = describeFound(r.body);
          for (const l of what.labels) this.found.set(l, (this.found.get(l) ?? 0) + 1);
          log.info(`sent ${e.source ? `${path.basename(e.source)} (captured ${isoTime(e.capturedAt)})` : `the picture taken at ${isoTime(e.capturedAt)}`}, ${what.text}`);
          this.spool.remove(e, 'sent');
          break;
        }
        case 'reject':
          this.rejected++;
          log.warn(`the server refused ${frameName(e)} (${r.why}): dropped`);
          this.spool.remove(e, 'rejected');
          backoff.reset();
          break;
        case 'auth':
          // the owner prints it (once) and exits
          this.stopped = true;
          this.o.onAuthError?.(r.error);
          break;
        case 'retry': {
          const wait = Math.min(backoff.maxMs, Math.max(backoff.next(), r.retryAfterMs ?? 0));
          const now = Date.now();
          if (this.outageSince === null) {
            this.outageSince = now;
            this.lastOutageLog = now;
            log.warn(`cannot deliver frames to ${this.o.server}: ${r.why}; keeping them in the spool (${this.spool.count} waiting) and retrying`);
          } else if (now - this.lastOutageLog > 60_000) {
            this.lastOutageLog = now;
            log.warn(`still cannot deliver frames (${r.why}); ${this.spool.count} waiting`);
          }
          log.debug(`retrying in ${(wait / 1000).toFixed(1)} s`);
          await this.sleeper.sleep(wait);
          break;
        }
      }
    }
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private async send(e: SpoolEntry): Promise<Outcome> {
    let image: Buffer;
    try {
      image = this.spool.readImage(e);
    } catch (err) {
      return { kind: 'reject', why: `cannot read the spooled image: ${(err as Error).message}` };
    }
    const at = isoTime(e.capturedAt);
    try {
      const r = await request(this.o.server, `/v1/frames?captured_at=${encodeURIComponent(at)}`, {
        method: 'POST',
        token: this.o.token,
        body: image,
        headers: { 'content-type': e.contentType, 'x-captured-at': at, 'idempotency-key': e.key },
        timeoutMs: this.o.timeoutMs ?? 60_000,
        signal: this.abort.signal,
      });
      const kind = classify(r.status);
      if (kind === 'sent') return { kind, status: r.status, body: r.json };
      if (kind === 'auth') return { kind, error: authError(this.o.server, r) };
      if (kind === 'retry') return { kind, why: `the server answered ${describeReply(r)}`, retryAfterMs: retryAfterMs(r.headers.get('retry-after')) };
      return { kind, why: describeReply(r) };
    } catch (err) {
      return { kind: 'retry', why: describeNetError(err) };
    }
  }
}
