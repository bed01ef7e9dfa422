/**
 * Voice sockets cannot outlive their credentials or hold the speech streams: the policy behind the voice
 * socket's hook points (assistant/voice/guard.ts, called by routes/listen.ts).
 *
 * - Revocation (`watch`): every open `/v1/listen` connection is re-checked against the store (its device
 *   token still active, its session still alive, its user still there) when the store reports an account
 *   change (this instance at once; other PostgreSQL instances through NOTIFY) and in any case every
 *   `recheckMs`, which bounds the delay when a change comes from elsewhere without a notification (the CLI on
 *   a SQLite file, a lost LISTEN connection). A connection whose credentials ended is closed with
 *   `{"type":"error","code":"unauthorized"}` (1008).
 * - Fair shares (`openStream`): a device may hold at most `maxPerDevice` speech streams at once and a user
 *   (all their devices and browsers) at most `maxPerUser`; beyond that, `start` is answered `busy`. A device
 *   may keep at most `maxConnectionsPerDevice` connections open (`admit`); more are closed with `busy`.
 * - Idle utterances: a started utterance whose audio stops arriving ends with `timeout` after `noAudioMs`
 *   (the turn reducer's timer); one still open after `maxOpenMs` (audio trickled in to keep it alive) ends
 *   the connection with `timeout`.
 */
import type { ErrorEventCode } from '../protocol/protocol.js';
import type { GuardRefusal, VoiceGuard as VoiceGuardHooks } from './voice/guard.js';
import type { Principal } from './plugins/auth.js';
import type { Store } from '../store/types.js';

export interface VoiceGuardOptions {
  /** speech streams one device may hold at once */
  maxPerDevice: number;
  /** speech streams one user (all their devices and sessions) may hold at once */
  maxPerUser: number;
  /** open connections one device may hold */
  maxConnectionsPerDevice: number;
  /** a started utterance with no audio for this long ends with `timeout`, ms */
  idleMs: number;
  /** a started utterance still open after this long ends the connection, ms */
  maxOpenMs: number;
  /** every open connection's credentials are re-checked at least this often, ms */
  recheckMs: number;
}

export interface GuardLog {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
}

/** the credential a connection was let in with, as the store can check it again */
export function credentialOf(p: Principal): { kind: 'device' | 'session'; tokenHash: string } | null {
  if (p.kind === 'device') return p.tokenHash ? { kind: 'device', tokenHash: p.tokenHash } : null;
  return { kind: 'session', tokenHash: p.tokenHash };
}

interface Conn {
  principal: Principal;
  /** speech streams this connection holds */
  streams: number;
  end: ((code: ErrorEventCode, message: string) => void) | null;
  ended: boolean;
}

export class VoiceGuard implements VoiceGuardHooks {
  readonly noAudioMs: number;
  private readonly conns = new Map<Principal, Conn>();
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private again = false;
  private offStore: (() => void) | null;

  constructor(
    private readonly store: Store,
    readonly opts: VoiceGuardOptions,
    readonly log: GuardLog,
  ) {
    this.noAudioMs = opts.idleMs;
    this.offStore = store.onAccountsChanged?.(() => void this.recheck()) ?? null;
  }

  /** open connections */
  get size(): number {
    return this.conns.size;
  }

  /** speech streams held right now by a device / a user */
  held(key: { deviceId?: number; userId?: number }): number {
    let n = 0;
    for (const c of this.conns.values()) {
      const p = c.principal;
      if (key.deviceId !== undefined && (p.kind !== 'device' || p.device.id !== key.deviceId)) continue;
      if (key.userId !== undefined && p.user.id !== key.userId) continue;
      n += c.streams;
    }
    return n;
  }

  admit(principal: Principal): GuardRefusal | null {
    if (principal.kind === 'device') {
      let n = 0;
      for (const c of this.conns.values()) if (c.principal.kind === 'device' && c.principal.device.id === principal.device.id) n++;
      if (n >= this.opts.maxConnectionsPerDevice)
        return { code: 'busy', message: `this device already has ${this.opts.maxConnectionsPerDevice} voice connections open; close one first` };
    }
    this.conns.set(principal, { principal, streams: 0, end: null, ended: false });
    if (!this.timer) {
      this.timer = setInterval(() => void this.recheck(), this.opts.recheckMs);
      this.timer.unref();
    }
    return null;
  }

  release(principal: Principal): void {
    this.conns.delete(principal);
    if (this.conns.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  openStream(principal: Principal): GuardRefusal | (() => void) {
    let c = this.conns.get(principal);
    if (!c) {
      this.admit(principal);
      c = this.conns.get(principal)!;
    }
    if (principal.kind === 'device' && this.held({ deviceId: principal.device.id }) >= this.opts.maxPerDevice)
      return { code: 'busy', message: `this device already has ${this.opts.maxPerDevice} speech stream(s) open; finish one first` };
    if (this.held({ userId: principal.user.id }) >= this.opts.maxPerUser)
      return { code: 'busy', message: `this account already has ${this.opts.maxPerUser} speech streams open; finish one first` };
    const conn = c;
    conn.streams++;
    const tooLong = setTimeout(() => this.end(conn, 'timeout', 'the utterance stayed open too long; start again'), this.opts.maxOpenMs);
    tooLong.unref();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      clearTimeout(tooLong);
      conn.streams--;
    };
  }

  watch(principal: Principal, end: (code: ErrorEventCode, message: string) => void): () => void {
    const c = this.conns.get(principal);
    if (!c) return () => {};
    c.end = end;
    return () => {
      if (c.end === end) c.end = null;
    };
  }

  private end(c: Conn, code: ErrorEventCode, message: string): void {
    if (c.ended || !c.end) return;
    c.ended = true;
    const p = c.principal;
    this.log.info({ device: p.kind === 'device' ? p.device.id : null, user: p.user.id, code }, `voice connection closed: ${message}`);
    c.end(code, message);
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
        await Promise.all([...this.conns.values()].map((c) => this.check(c)));
      } while (this.again);
    })().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async check(c: Conn): Promise<void> {
    if (c.ended) return;
    const cred = credentialOf(c.principal);
    if (!cred) return;
    let alive: boolean;
    try {
      if (cred.kind === 'device') {
        const found = await this.store.getDeviceByTokenHash(cred.tokenHash);
        alive = !!found && c.principal.kind === 'device' && found.device.id === c.principal.device.id;
      } else {
        const found = await this.store.getSession(cred.tokenHash, Date.now());
        alive = !!found && found.user.id === c.principal.user.id;
      }
    } catch (err) {
      // the store is unreachable: keep the connection (the next check decides), but say so
      this.log.warn({ err }, 'voice socket: could not re-check credentials');
      return;
    }
    if (!alive)
      this.end(
        c,
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
