/**
 * One error shape for the whole product: HTTP bodies are `{"error":{"code","message"}}`, socket errors are
 * `{"type":"error","code","message"}`. Throw an AppError anywhere; the error plugin turns it into a reply.
 */
export type ErrorCode =
  | 'bad_request'
  | 'bad_json'
  | 'validation'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'headers_too_large'
  | 'timeout'
  | 'unsupported_media_type'
  | 'bad_image'
  | 'rate_limited'
  | 'csrf'
  | 'unavailable'
  | 'busy'
  | 'internal'
  | 'not_acceptable'
  | 'unknown_label'
  | 'upgrade_required';

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  bad_json: 400,
  validation: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  headers_too_large: 431,
  timeout: 408,
  unsupported_media_type: 415,
  bad_image: 422,
  rate_limited: 429,
  csrf: 403,
  unavailable: 503,
  busy: 503,
  internal: 500,
  not_acceptable: 406,
  unknown_label: 400,
  upgrade_required: 426,
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly headers?: Record<string, string>;
  constructor(code: ErrorCode, message: string, opts?: { status?: number; headers?: Record<string, string>; cause?: unknown }) {
    super(message, { cause: opts?.cause });
    this.name = 'AppError';
    this.code = code;
    this.statusCode = opts?.status ?? STATUS[code];
    this.headers = opts?.headers;
  }
}

export function statusFor(code: ErrorCode): number {
  return STATUS[code];
}

export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}
