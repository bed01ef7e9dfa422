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

// ---- wire types: derived from the server's schemas (assistant/schemas.ts) ----
// Type-only imports: tsc erases them, so the browser never loads the server's schema module.

import type { Static } from 'typebox';
import type * as S from '../../schemas.js';

export type User = Static<typeof S.User>;
export type Device = Static<typeof S.Device>;
export type Sighting = Static<typeof S.Sighting>;
export type Item = Static<typeof S.Item>;
export type QueryRow = Static<typeof S.QueryRow>;
export type Answer = Static<typeof S.Answer>;
export type SessionReply = Static<typeof S.SessionReply>;
export type PasswordReply = Static<typeof S.PasswordReply>;
export type UserReply = Static<typeof S.UserReply>;
export type UsersReply = Static<typeof S.UsersReply>;
export type DevicesReply = Static<typeof S.DevicesReply>;
export type NewDeviceReply = Static<typeof S.NewDeviceReply>;
export type ItemsReply = Static<typeof S.ItemsReply>;
export type SightingsReply = Static<typeof S.SightingsReply>;
export type QueriesReply = Static<typeof S.QueriesReply>;
