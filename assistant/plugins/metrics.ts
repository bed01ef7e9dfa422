/**
 * Request metrics and `GET /metrics`.
 *
 * - Every reply carries `x-request-id` (the request id in the logs; an incoming `X-Request-Id` is honoured
 *   by the server's `requestIdHeader`).
 * - Every answered request is counted by method, route pattern (never the raw URL) and status, with its
 *   duration; every error reply is counted by its code, read from the `{"error":{"code"}}` body (or from
 *   `reply.errorCode` when a route sends an error in another shape).
 * - `GET /metrics` serves the registry (assistant/metrics.ts) in the Prometheus text format, to an admin
 *   session or to `Authorization: Bearer <metricsToken>`.
 *
 * Register before the auth plugin: the metrics token is not a user or device token, so this plugin's
 * onRequest hook checks it on `/metrics` and removes the header before the auth hook would refuse it.
 */
import crypto from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { binary, errors } from '../schemas.js';
import { countError, httpDuration, httpRequests, registry } from '../metrics.js';

declare module 'fastify' {
  interface FastifyReply {
    /** the error code of this reply, for replies whose body is not `{"error":{"code"}}` JSON */
    errorCode: string | null;
  }
  interface FastifyRequest {
    /** set when the request carried the metrics token */
    metricsTokenOk: boolean;
  }
}

export const METRICS_PATH = '/metrics';
const ERROR_CODE = /^\s*\{\s*"error"\s*:\s*\{\s*"code"\s*:\s*"([A-Za-z0-9_.-]{1,64})"/;

function sameSecret(a: string, b: string): boolean {
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y);
}

function errorCodeOf(reply: FastifyReply, payload: unknown): string {
  if (reply.errorCode) return reply.errorCode;
  let text: string | null = null;
  if (typeof payload === 'string') text = payload.slice(0, 200);
  else if (Buffer.isBuffer(payload) && /json/i.test(String(reply.getHeader('content-type') ?? ''))) text = payload.subarray(0, 200).toString('utf8');
  const m = text ? ERROR_CODE.exec(text) : null;
  return m ? m[1] : `http_${reply.statusCode}`;
}

export default fp(
  async function metricsPlugin(app: FastifyInstance) {
    const token = app.config.metricsToken;

    app.decorateReply('errorCode', null);
    app.decorateRequest('metricsTokenOk', false);

    app.addHook('onRequest', async (request) => {
      if (!token || request.url.split('?')[0] !== METRICS_PATH) return;
      const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
      if (m && sameSecret(m[1], token)) {
        request.metricsTokenOk = true;
        delete request.headers.authorization; // consumed here: it is not a user or device token
      }
    });

    app.addHook('onSend', async (request, reply, payload) => {
      reply.header('x-request-id', request.id);
      if (reply.statusCode >= 400) countError(errorCodeOf(reply, payload), 'http');
      return payload;
    });

    app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
      const route = request.routeOptions.url ?? 'unmatched';
      const method = request.method;
      httpRequests.inc({ method, route, status: reply.statusCode });
      httpDuration.observe({ method, route }, reply.elapsedTime / 1000);
    });

    app.get(
      METRICS_PATH,
      {
        logLevel: 'warn',
        schema: {
          description: 'Prometheus metrics (text format 0.0.4), for an admin session or `Authorization: Bearer <metrics token>`',
          security: [{ bearer: [] }, { cookie: [] }],
          response: { 200: binary('the metrics', 'text/plain'), ...errors(400, 401, 403) },
        },
      },
      async (request, reply) => {
        if (!request.metricsTokenOk) {
          const p = request.principal;
          if (!p) throw new AppError('unauthorized', `log in as an admin or send "Authorization: Bearer <metrics token>"`);
          if (p.kind !== 'user' || !p.user.isAdmin) throw new AppError('forbidden', 'only an admin (or the metrics token) can read metrics');
        }
        const body = await registry.metrics();
        return reply.header('cache-control', 'no-store').type(registry.contentType).send(body);
      },
    );
  },
  { name: 'metrics', dependencies: ['context'] },
);
