/** fetch wrapper for the JSON API: same-origin cookie session, X-CSRF-Token on every change. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let sessionEnded: (() => void) | null = null;

/** what to do when a request finds the session ended (app.ts shows the log-in-again banner) */
export function onSessionEnded(fn: () => void): void {
  sessionEnded = fn;
}

export function csrfToken(): string {
  return document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? '';
}

export function setCsrfToken(token: string): void {
  const m = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]');
  if (m) m.content = token;
}

export async function request(method: string, url: string, body?: unknown, accept = 'application/json'): Promise<Response> {
  const headers: Record<string, string> = { accept };
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrfToken();
  let payload: string | undefined;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(url, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', 'the server cannot be reached; check the connection and try again');
  }
  if (!res.ok) {
    let code = 'http_' + res.status;
    let message = `the server answered ${res.status}`;
    try {
      const j = (await res.json()) as { error?: { code?: string; message?: string } };
      if (j.error?.code) code = j.error.code;
      if (j.error?.message) message = j.error.message;
    } catch {
      /* not JSON */
    }
    // the session ended (logged out, logged out everywhere, password changed): say so and let the user log
    // in again on this page, so what they typed is kept (no reload)
    if (res.status === 401 && url !== '/v1/session' && url !== '/v1/session/password') {
      sessionEnded?.();
      throw new ApiError(401, 'session_ended', 'Your session has ended. Log in again above; what you typed is kept.');
    }
    throw new ApiError(res.status, code, message);
  }
  return res;
}

export async function api<T = unknown>(method: string, url: string, body?: unknown): Promise<T> {
  const res = await request(method, url, body);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

// ---- wire types (see assistant/views.ts) ----

export interface User {
  id: number;
  name: string;
  admin: boolean;
  created_at: string;
}
export interface Device {
  id: number;
  user_id: number;
  name: string;
  room: string | null;
  created_at: string;
  last_seen_at: string | null;
  revoked_at: string | null;
  status: 'online' | 'idle' | 'never seen' | 'revoked';
}
export interface Sighting {
  id: number;
  label: string;
  score: number;
  box: [number, number, number, number];
  seen_at: string;
  first_seen_at: string;
  room: string | null;
  /** the camera zone it stood in */
  zone?: string | null;
  device: string;
  frame_id: number | null;
  snapshot_url: string | null;
}
export interface Item {
  label: string;
  count: number;
  latest: Sighting;
}
export interface QueryRow {
  id: number;
  user_id: number;
  device_id: number | null;
  source: 'text' | 'voice';
  text: string;
  reply: string;
  intent: string;
  outcome: string;
  label: string | null;
  timings: Record<string, number>;
  created_at: string;
}
export interface Answer {
  reply: string;
  intent: string;
  outcome: string;
  item: string | null;
  label: string | null;
  sighting: (Omit<Sighting, 'snapshot_url' | 'id' | 'first_seen_at'> & { snapshot_url?: string | null }) | null;
  timings: Record<string, number>;
  /** the conversation so far: send it with the next question ("and my phone?") */
  context?: Record<string, unknown>;
  /** "show me my cup": the snapshot view */
  show_url?: string | null;
  /** "what's on the desk?": the items there */
  items?: Array<{ label: string; sighting: Sighting }>;
}
