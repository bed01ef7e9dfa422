/**
 * Voice sockets cannot outlive their credentials or hold the speech streams.
 *
 * - Revocation: every open `/v1/listen` socket is re-checked against the store (its device token still
 *   active, its session still alive, its user still there) when the store reports an account change (this
 *   instance at once; other instances through PostgreSQL NOTIFY) and in any case every `recheckMs`, which
 *   bounds the delay when a change comes from elsewhere without a notification (the CLI on a SQLite file, a
 *   lost LISTEN connection). A socket whose credentials ended gets `{"type":"error","code":"unauthorized"}`
 *   and is closed (1008).
 * - Fair shares: a device may hold at most `maxPerDevice` speech streams at once and a user (all their
 *   devices and browsers) at most `maxPerUser`; beyond that, `start` is answered `busy`.
 * - Idle utterances: a started utterance that receives no audio for `idleMs`, or is still open after
 *   `maxOpenMs`, ends the connection with `{"type":"error","code":"timeout"}` (4408): a client that starts
 *   and then sends nothing cannot keep a recogniser.
 *
 * The voice route calls `attach(socket, principal)` once per connection and opens its recogniser streams
 * through `connection.asr(asr)`; the rest happens here.
 */
import type { WebSocket } from 'ws';
import { AsrError, type Asr, type AsrStream } from './asr/index.js';
import type { Principal } from './plugins/auth.js';
import type { Store } from '../store/types.js';

export interface VoiceGuardOptions {
  /** speech streams one device may hold at once */
  maxPerDevice: number;
  /** speech streams one user (all their devices and sessions) may hold at once */
  maxPerUser: number;
  /** a started utterance with no audio for this long ends the connection, ms */
  idleMs: number;
  /** a started utterance still open after this long ends the connection, ms */
  maxOpenMs: number;
  /** every open socket's credentials are re-checked at least this often, ms */
  recheckMs: number;
}

export interface GuardLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

export const CLOSE_UNAUTHORIZED = 1008;
export const CLOSE_TIMEOUT = 4408;

/** the credential a connection was let in with, as the store can check it again */
export function credentialOf(p: Principal): { kind: 'device' | 'session'; tokenHash: string } | null {
  if (p.kind === 'device') return p.tokenHash ? { kind: 'device', tokenHash: p.tokenHash } : null;
  return { kind: 'session', tokenHash: p.tokenHash };
}

export class VoiceConnection {
  closed = false;
  /** open streams of this connection */
  readonly streams = new Set<AsrStream>();
  constructor(
    private readonly guard: VoiceGuard,
    readonly socket: WebSocket,
    readonly principal: Principal,
  ) {}

  get deviceId(): number | null {
    return this.principal.kind === 'device' ? this.principal.device.id : null;
  }
  get userId(): number {
    return this.principal.user.id;
  }

  /** the recogniser as this connection may use it: shares enforced, idle streams timed out */
  asr(inner: Asr | null): Asr | null {
    if (!inner) return null;
    const open = (rate: number) => this.open(inner, rate);
    return new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'open') return open;
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }

  private open(inner: Asr, rate: number): AsrStream {
    if (this.closed) throw new AsrError('unavailable', 'this connection is closing');
    this.guard.checkShare(this);
    const s = inner.open(rate);
    this.streams.add(s);
    let done = false;
    const started = Date.now();
    let lastAudio = started;
    const release = () => {
      if (done) return;
      done = true;
      clearInterval(timer);
      this.streams.delete(s);
    };
    const timer = setInterval(() => {
      if (s.closed) return release();
      const now = Date.now();
      if (now - lastAudio >= this.guard.opts.idleMs)
        this.end(CLOSE_TIMEOUT, 'timeout', `no audio for ${Math.round(this.guard.opts.idleMs / 1000)} s after "start": send audio frames, or "stop"`);
      else if (now - started >= this.guard.opts.maxOpenMs) this.end(CLOSE_TIMEOUT, 'timeout', 'the utterance stayed open too long');
    }, Math.max(50, Math.min(1000, this.guard.opts.idleMs / 4)));
    timer.unref();
    const write = s.write.bind(s);
    const finish = s.finish.bind(s);
    const abort = s.abort.bind(s);
    s.write = (pcm: Uint8Array) => {
      lastAudio = Date.now();
      write(pcm);
    };
    s.finish = () => {
      // decoding what was sent still holds the recogniser: the share is released when it is done
      clearInterval(timer);
      const p = finish();
      p.then(release, release);
      return p;
    };
    s.abort = () => {
      release();
      abort();
    };
    return s;
  }

  /** sends a typed error and closes the socket; open streams are aborted */
  end(code: number, errorCode: 'unauthorized' | 'timeout', message: string): void {
    if (this.closed) return;
    this.closed = true;
    this.guard.log.info({ device: this.deviceId, user: this.userId, code: errorCode }, `voice socket closed: ${message}`);
    for (const s of [...this.streams]) s.abort();
    try {
      if (this.socket.readyState === this.socket.OPEN) {
        this.socket.send(JSON.stringify({ type: 'error', code: errorCode, message }));
        this.socket.close(code, errorCode);
      }
    } catch {
      /* already gone */
    }
    // a client that does not answer the close handshake is cut off
    setTimeout(() => this.socket.terminate(), 1000).unref();
    this.guard.detach(this);
  }
}

export class VoiceGuard {
  private readonly conns = new Set<VoiceConnection>();
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private again = false;
  private offStore: (() => void) | null = null;

  constructor(
    private readonly store: Store,
    readonly opts: VoiceGuardOptions,
    readonly log: GuardLog,
  ) {
    this.offStore = store.onAccountsChanged?.(() => void this.recheck()) ?? null;
  }

  get size(): number {
    return this.conns.size;
  }

  /** streams held by a device / a user right now */
  held(key: { deviceId?: number; userId?: number }): number {
    let n = 0;
    for (const c of this.conns) {
      if (key.deviceId !== undefined && c.deviceId !== key.deviceId) continue;
      if (key.userId !== undefined && c.userId !== key.userId) continue;
      for (const s of c.streams) if (!s.closed) n++;
    }
    return n;
  }

  checkShare(c: VoiceConnection): void {
    if (c.deviceId !== null && this.held({ deviceId: c.deviceId }) >= this.opts.maxPerDevice)
      throw new AsrError('busy', `this device already has ${this.opts.maxPerDevice} speech stream(s) open; finish one first`);
    if (this.held({ userId: c.userId }) >= this.opts.maxPerUser)
      throw new AsrError('busy', `this account already has ${this.opts.maxPerUser} speech streams open; finish one first`);
  }

  attach(socket: WebSocket, principal: Principal): VoiceConnection {
    const c = new VoiceConnection(this, socket, principal);
    this.conns.add(c);
    const drop = () => {
      c.closed = true;
      this.detach(c);
    };
    socket.once('close', drop);
    if (!this.timer) {
      this.timer = setInterval(() => void this.recheck(), this.opts.recheckMs);
      this.timer.unref();
    }
    return c;
  }

  detach(c: VoiceConnection): void {
    this.conns.delete(c);
    if (this.conns.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** checks every open connection's credentials now (coalesced: one check at a time, one more queued) */
  recheck(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return this.checking;
    }
    this.checking = (async () => {
      do {
        this.again = false;
        await Promise.all([...this.conns].map((c) => this.check(c)));
      } while (this.again);
    })().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async check(c: VoiceConnection): Promise<void> {
    if (c.closed) return;
    const cred = credentialOf(c.principal);
    if (!cred) return;
    let alive: boolean;
    try {
      if (cred.kind === 'device') {
        const found = await this.store.getDeviceByTokenHash(cred.tokenHash);
        alive = !!found && found.device.id === c.deviceId;
      } else {
        const found = await this.store.getSession(cred.tokenHash, Date.now());
        alive = !!found && found.user.id === c.userId;
      }
    } catch (err) {
      // the store is unreachable: keep the connection (the next check decides), but say so
      this.log.warn({ err }, 'voice socket: could not re-check credentials');
      return;
    }
    if (!alive)
      c.end(
        CLOSE_UNAUTHORIZED,
        'unauthorized',
        cred.kind === 'device' ? 'this device was revoked (or its owner removed): the connection is closed' : 'the session has ended: log in again',
      );
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.offStore?.();
    this.offStore = null;
  }
}
