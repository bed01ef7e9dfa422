/**
 * The single error shape: every failure leaves as `{"error":{"code","message"}}` with a fitting status.
 */
import fp from 'fastify-plugin';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, errorBody } from '../errors.js';
import { StoreConflictError, StoreUnavailableError } from '../../store/types.js';

const FASTIFY_CODES: Record<string, { status: number; code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'bad_json', message: 'the body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'bad_json', message: 'the body is empty; send a JSON object' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'payload_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'bad_request' },
  FST_ERR_CTP_EMPTY_TYPE: { status: 415, code: 'unsupported_media_type', message: 'a Content-Type header is required' },
};

/**
 * Errors Node's HTTP parser raises before there is a request (headers too large, a malformed request line,
 * a request that took too long to arrive): answered in the one error shape, then the connection is closed.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'timeout', 'the request took too long to arrive']
        : [400, 'bad_request', 'the request is not valid HTTP'];
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  socket.destroy(err);
}

/** Fastify's own routing errors (a malformed URL, a path parameter too long), in the one error shape */
export function frameworkErrorHandler(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
  void reply.status(status).send(errorBody('bad_request', err.message));
}

/** multipart parser failures (busboy raises plain errors): the client sent a broken form */
const MULTIPART_MESSAGES = /^(Unexpected end of form|Malformed part header|Multipart: Boundary not found|Unexpected end of multipart data|Part terminated early)/;

export default fp(
  async function errorsPlugin(app: FastifyInstance) {
    app.setErrorHandler((err: FastifyError | AppError | Error, request, reply) => {
      if (err instanceof AppError) {
        if (err.headers) reply.headers(err.headers);
        if (err.statusCode >= 500) request.log.error({ err }, err.message);
        return reply.status(err.statusCode).send(errorBody(err.code, err.message));
      }
      if (err instanceof StoreUnavailableError) {
        request.log.warn({ err }, 'store unavailable');
        return reply.status(503).header('retry-after', '2').send(errorBody('unavailable', 'the database is unavailable; try again shortly'));
      }
      if (err instanceof StoreConflictError) return reply.status(409).send(errorBody('conflict', err.message));
      const fe = err as FastifyError;
      if (fe.validation) {
        const where = fe.validationContext ?? 'body';
        const first = fe.validation[0];
        const field = first?.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : '';
        const detail = first ? `${field ? `${field} ` : ''}${first.message ?? 'is invalid'}` : fe.message;
        return reply.status(400).send(errorBody('validation', `invalid ${where}: ${detail}`.trim()));
      }
      if (!fe.statusCode && MULTIPART_MESSAGES.test(fe.message ?? ''))
        return reply.status(400).header('connection', 'close').send(errorBody('bad_request', `malformed multipart form: ${fe.message}`));
      const mapped = fe.code ? FASTIFY_CODES[fe.code] : undefined;
      if (mapped) return reply.status(mapped.status).send(errorBody(mapped.code, mapped.message ?? fe.message));
      if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
        const code = fe.statusCode === 413 ? 'payload_too_large' : fe.statusCode === 415 ? 'unsupported_media_type' : fe.statusCode === 404 ? 'not_found' : 'bad_request';
        return reply.status(fe.statusCode).send(errorBody(code, fe.message));
      }
      request.log.error({ err }, 'unhandled error');
      return reply.status(500).send(errorBody('internal', 'something went wrong on the server'));
    });
    app.setNotFoundHandler((request, reply) => {
      reply.status(404).send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
    });
  },
  { name: 'errors' },
);
