/** Small HTTP helpers over fetch: timeouts, the server's error shape, and plain words for network errors. */
import { AuthError } from './errors.js';

export interface HttpResult {
  status: number;
  headers: Headers;
  body: Buffer;
  /** the parsed JSON body, when it is JSON */
  json: any;
}

let loaded: Promise<unknown> | null = null;
/**
 * Node loads its fetch implementation on the first call, which takes seconds on a slow Pi (and more under
 * emulation): that must not count against the server's time to answer. A data: URL loads it without a request.
 */
function fetchLoaded(): Promise<unknown> {
  loaded ??= fetch('data:,').then(
    (r) => r.arrayBuffer(),
    () => null,
  );
  return loaded;
}

export async function request(
  server: string,
  urlPath: string,
  opts: { method?: string; token?: string; body?: Buffer | string; headers?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<HttpResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  await fetchLoaded();
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? 15_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const res = await fetch(server + urlPath, { method: opts.method ?? 'GET', headers, body: opts.body as BodyInit | undefined, signal });
  const body = Buffer.from(await res.arrayBuffer());
  let json: any = null;
  if ((res.headers.get('content-type') ?? '').includes('json') && body.length) {
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      json = null;
    }
  }
  return { status: res.status, headers: res.headers, body, json };
}

/** "401 unauthorized: unknown or revoked device token" from a `{"error":{code,message}}` reply */
export function describeReply(r: { status: number; json: any; body?: Buffer }): string {
  const e = r.json?.error;
  if (e && typeof e === 'object') return `${r.status} ${e.code ?? ''}${e.message ? `: ${e.message}` : ''}`.trim();
  const text = r.body?.toString('utf8').trim().split('\n')[0]?.slice(0, 200);
  return text ? `${r.status}: ${text}` : `${r.status}`;
}

const NET: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is the server running?)',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'unknown host name',
  EAI_AGAIN: 'the host name could not be resolved (no network?)',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'timed out while connecting',
  UND_ERR_SOCKET: 'the connection broke',
  EPIPE: 'the connection broke',
  CERT_HAS_EXPIRED: 'its TLS certificate has expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its TLS certificate is self-signed (not trusted)',
  SELF_SIGNED_CERT_IN_CHAIN: 'its TLS certificate is not trusted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its TLS certificate is for another host name',
};

/** plain words for a fetch / socket error: "connection refused (is the server running?)" */
export function describeNetError(err: unknown): string {
  let e = err as { name?: string; code?: string; message?: string; cause?: unknown } | undefined;
  for (let i = 0; i < 4 && e; i++) {
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'no answer in time';
    if (e.code && NET[e.code]) return NET[e.code];
    if (!e.cause) break;
    e = e.cause as typeof e;
  }
  const msg = (e?.message ?? String(err)).split('\n')[0];
  return e?.code ? `${msg} (${e.code})` : msg;
}

/** the message for a refused token, with what to do about it */
export function authError(server: string, r: { status: number; json: any; body?: Buffer }): AuthError {
  const why = r.json?.error?.message ?? (r.status === 401 ? 'unauthorized' : 'forbidden');
  return new AuthError(
    r.status === 401
      ? `the server at ${server} refused the device token (401: ${why}); make a new one with \`whereabouts device add\` and run whereabouts-pi setup again`
      : `the server at ${server} refused this token (403: ${why}); the Pi needs a device token (wad_...), not a user session`,
  );
}
