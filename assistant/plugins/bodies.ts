/**
 * Request bodies cannot exhaust memory.
 *
 * - Nothing reads a body before the request is authenticated and authorised: guards run as `onRequest`
 *   hooks (plugins/auth.ts), and this plugin's checks run in `preParsing`, after every `onRequest` hook and
 *   before the first body byte is read.
 * - `Expect: 100-continue`: Node would answer "100 Continue" at once; here it is sent only once the request
 *   has passed authentication and the checks below, so a refused client never sends its body at all.
 * - A reply sent while the body is still unread (401, 403, 413, 503...) closes the connection, so the
 *   server does not go on reading the rest of a body nobody wants.
 * - A global in-flight byte budget: each request with a body reserves its declared length (or, when it is
 *   chunked, its route's body limit) until its response is finished; past the budget the request is refused
 *   with 503 `busy` before its body is read.
 * - A body that stalls (no byte for `bodyIdleMs`) or trickles (under `minBodyRate` bytes/s once past the
 *   grace period) is cut off: slow-loris clients cannot hold a budget share or a connection forever.
 * - After a burst, the memory is handed back: a full garbage collection frees the body buffers and
 *   malloc_trim returns the freed heap pages to the system (assistant/malloc.ts).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { AppError } from '../errors.js';
import { collectGarbage, trimMalloc } from '../malloc.js';
import { registerGauge } from '../metrics.js'; // metrics

export interface BodiesOptions {
  /** bytes of request bodies that may be in flight at once (0: no budget) */
  budget: number;
  /** a body with no new byte for this long is cut off, ms */
  bodyIdleMs?: number;
  /** bytes per second a body must average once past `graceMs` */
  minBodyRate?: number;
  graceMs?: number;
  /** after a burst of at least `trimAfterBytes` (default 16 MiB), memory is handed back once bodies settle */
  trimAfterBytes?: number;
}

interface Reservation {
  bytes: number;
  raw: IncomingMessage;
  started: number;
  lastBytes: number;
  lastProgress: number;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** request bodies in flight (bytes reserved, requests) */
    bodyBudget: { inFlight(): number; requests(): number; readonly limit: number };
  }
}

/** true when the request announces a body (Content-Length > 0 or a Transfer-Encoding) */
export function declaresBody(raw: IncomingMessage): boolean {
  const te = raw.headers['transfer-encoding'];
  if (te !== undefined && te !== '') return true;
  const cl = Number(raw.headers['content-length'] ?? 0);
  return Number.isFinite(cl) && cl > 0;
}

function wantsContinue(raw: IncomingMessage): boolean {
  return /^100-continue$/i.test(String(raw.headers.expect ?? '').trim());
}

/** how long, and for how many more bytes, a refused client may go on sending before its connection is cut */
const LINGER_MS = 2000;
const LINGER_BYTES = 8 * 1024 * 1024;

/**
 * Closes the connection after the response without making the client lose that response: closing a socket
 * while the client is still sending makes the kernel answer with a reset, and a client busy writing its body
 * then sees the reset instead of the 401 that was already on its way. So the write side is closed first
 * (the response, then FIN), what still arrives is read and dropped (Node's parser does that), and the socket
 * is destroyed once the client closes its side, after LINGER_MS, or after LINGER_BYTES more bytes.
 */
function lingeringClose(socket: Socket | null | undefined): void {
  if (!socket || (socket as Socket & { lingering?: boolean }).lingering) return;
  (socket as Socket & { lingering?: boolean }).lingering = true;
  socket.destroySoon = function lingeringDestroySoon(this: Socket) {
    if (this.writable) this.end();
    const start = this.bytesRead;
    const stop = () => {
      clearTimeout(timer);
      clearInterval(watch);
      this.destroy();
    };
    const timer = setTimeout(stop, LINGER_MS);
    const watch = setInterval(() => {
      if (this.bytesRead - start > LINGER_BYTES) stop();
    }, 50);
    timer.unref();
    watch.unref();
    this.once('end', stop);
    this.once('close', () => {
      clearTimeout(timer);
      clearInterval(watch);
    });
  };
}

export default fp<BodiesOptions>(
  async function bodiesPlugin(app: FastifyInstance, opts: BodiesOptions) {
    const budget = Math.max(0, Math.floor(opts.budget));
    const idleMs = opts.bodyIdleMs ?? 10_000;
    const minRate = opts.minBodyRate ?? 1024;
    const graceMs = opts.graceMs ?? 10_000;
    const trimAfter = opts.trimAfterBytes ?? 16 * 1024 * 1024;
    const live = new Set<Reservation>();
    let inFlight = 0;
    /** bytes received since memory was last handed back */
    let sinceTrim = 0;
    let trimTimers: NodeJS.Timeout[] = [];
    let watchdog: NodeJS.Timeout | null = null;

    app.decorate('bodyBudget', { inFlight: () => inFlight, requests: () => live.size, limit: budget });
    const offGauge = registerGauge('whereabouts_request_body_bytes_in_flight', 'request body bytes reserved by requests in flight', () => inFlight); // metrics

    // Node answers "Expect: 100-continue" itself unless someone listens for it: listen, and let the request
    // through the usual way; the 100 goes out in preParsing, once the request has been let in.
    const onCheckContinue = (req: IncomingMessage, res: ServerResponse) => app.server.emit('request', req, res);
    app.server.on('checkContinue', onCheckContinue);

    function handBack() {
      for (const t of trimTimers) clearTimeout(t);
      // once now that the burst is over, once more when stragglers (sockets, parsers) are gone
      trimTimers = [500, 5_000].map((ms) => {
        const t = setTimeout(() => {
          if (inFlight > 0) return;
          collectGarbage();
          trimMalloc();
        }, ms);
        t.unref();
        return t;
      });
    }

    function release(r: Reservation) {
      if (!live.delete(r)) return;
      inFlight -= r.bytes;
      if (live.size === 0) {
        inFlight = 0;
        if (watchdog) clearInterval(watchdog);
        watchdog = null;
        if (sinceTrim >= trimAfter) {
          sinceTrim = 0;
          handBack();
        }
      }
    }

    function watch() {
      const now = Date.now();
      for (const r of live) {
        if (r.raw.complete || r.raw.destroyed) continue;
        const read = r.raw.socket?.bytesRead ?? 0;
        if (read !== r.lastBytes) {
          r.lastBytes = read;
          r.lastProgress = now;
        }
        const elapsed = now - r.started;
        const stalled = now - r.lastProgress >= idleMs;
        const trickling = elapsed >= graceMs && (read * 1000) / elapsed < minRate;
        if (stalled || trickling) {
          app.log.warn({ url: r.raw.url, bytes: read, ms: elapsed }, stalled ? 'request body stalled: connection closed' : 'request body too slow: connection closed');
          r.raw.socket?.destroy();
          release(r);
        }
      }
    }

    app.addHook('preParsing', async (request: FastifyRequest, reply, payload) => {
      const raw = request.raw;
      if (!declaresBody(raw)) {
        if (wantsContinue(raw)) reply.raw.writeContinue();
        return payload;
      }
      const limit = request.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? 1024 * 1024;
      const cl = raw.headers['content-length'] !== undefined ? Number(raw.headers['content-length']) : NaN;
      if (Number.isFinite(cl) && cl > limit)
        throw new AppError('payload_too_large', `the body is ${cl} bytes; this route takes at most ${limit}`);
      const bytes = Number.isFinite(cl) ? cl : limit;
      if (budget > 0 && inFlight + bytes > budget && live.size > 0)
        throw new AppError('busy', 'the server is receiving too many uploads right now; try again shortly', { headers: { 'retry-after': '1' } });
      const now = Date.now();
      const r: Reservation = { bytes, raw, started: now, lastBytes: raw.socket?.bytesRead ?? 0, lastProgress: now };
      live.add(r);
      inFlight += bytes;
      sinceTrim += bytes;
      reply.raw.once('close', () => release(r));
      watchdog ??= setInterval(watch, Math.min(1000, idleMs / 2));
      watchdog.unref();
      if (wantsContinue(raw)) reply.raw.writeContinue();
      return payload;
    });

    // a reply that leaves a body unread ends the connection: otherwise Node would read the rest of it
    app.addHook('onSend', async (request, reply, payload) => {
      if (!request.raw.complete && declaresBody(request.raw)) {
        reply.header('connection', 'close');
        lingeringClose(request.raw.socket);
      }
      return payload;
    });

    app.addHook('onClose', async () => {
      app.server.off('checkContinue', onCheckContinue);
      if (watchdog) clearInterval(watchdog);
      for (const t of trimTimers) clearTimeout(t);
      offGauge();
    });
  },
  { name: 'bodies' },
);
