/**
 * `GET /healthz`: is this instance fit to serve? 200 while the store answers (a cheap query, at most
 * 2 s), 503 `unavailable` when it does not (PostgreSQL stopped or frozen), so a load balancer takes the
 * instance out until the database is back.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errors } from '../schemas.js';

const Health = Type.Object({
  ok: Type.Boolean(),
  store: Type.String(),
  model: Type.String(),
  labels: Type.Integer(),
  speech: Type.Boolean(),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
});

/** 503: the same fields, with the one error shape under `error` */
const HealthDown = Type.Object({ ...Health.properties, error: Type.Object({ code: Type.String(), message: Type.String() }, { additionalProperties: false }) });

const HEALTH_TIMEOUT_MS = 2000;

const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { store, config } = app;
  app.get('/healthz', { schema: { description: 'is this instance fit to serve: 200 while the store answers, 503 `unavailable` when it does not', response: { 200: Health, ...errors(), 503: HealthDown } } }, async (_request, reply) => {
    const base = { store: store.kind, model: config.visionModel, labels: app.labelBook.labels.length, speech: !!app.speech };
    let timer: NodeJS.Timeout | undefined;
    const problem = await Promise.race([
      store.countAdmins().then(
        () => null,
        (e: Error) => `the database is unavailable: ${e.message.split('\n')[0]}`,
      ),
      new Promise<string>((r) => {
        timer = setTimeout(() => r(`the database did not answer within ${HEALTH_TIMEOUT_MS / 1000} s`), HEALTH_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (problem) return reply.status(503).header('retry-after', '2').send({ ok: false, ...base, error: { code: 'unavailable', message: problem } });
    return { ok: true, ...base };
  });
};

export default healthRoutes;
