/** `POST /v1/query`: ask in text; the answer comes back as JSON, or spoken as a WAV. */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../errors.js';
import { recordQuery } from '../metrics.js'; // metrics
import { Answer, Binary, GUARDED, StringEnum, binary, JSON_BODY, errors } from '../schemas.js';

export const QueryBody = Type.Object({ text: Type.String({ maxLength: 1000 }) }, { additionalProperties: false });

function wantsWav(accept: string | undefined, audio: string | undefined): boolean {
  if (audio !== undefined) {
    if (audio === 'wav') return true;
    throw new AppError('validation', 'audio must be "wav"');
  }
  return !!accept && /\baudio\/(wav|x-wav|wave|\*)\b/i.test(accept) && !/application\/json/i.test(accept);
}

const queryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/v1/query',
    {
      preHandler: app.guard.any,
      schema: {
        description: 'ask in text; `Accept: audio/wav` or `?audio=wav` answers with speech (the words in the `X-Reply-Text` header)',
        body: QueryBody,
        querystring: Type.Object({ audio: Type.Optional(StringEnum(['wav'] as const, { description: 'answer with speech' })) }),
        response: {
          200: {
            description: 'the answer (JSON), or the answer spoken (16-bit PCM WAV)',
            content: { 'application/json': { schema: Answer }, 'audio/wav': { schema: Binary } },
          },
          ...errors(...GUARDED, ...JSON_BODY, 406),
        },
      },
    },
    async (request, reply) => {
      const p = request.principal!;
      const speak = wantsWav(request.headers.accept, request.query.audio);
      if (speak && !app.speech) throw new AppError('not_acceptable', 'spoken replies are not available: the speech synthesiser is not loaded');
      const a = await app.answerer.answer(p.user.id, request.body.text);
      let ttsMs = 0;
      let wav: Buffer | null = null;
      if (speak) {
        const t = performance.now();
        wav = await app.speech!.wav(a.reply);
        ttsMs = Math.round((performance.now() - t) * 100) / 100;
      }
      const timings = { ...a.timings, ...(speak ? { tts_ms: ttsMs } : {}) };
      recordQuery('text', a.outcome, timings); // metrics
      app.queryLog.addAnswer(p, 'text', request.body.text, a, timings);
      reply.header('server-timing', Object.entries(timings).map(([k, v]) => `${k.replace(/_ms$/, '')};dur=${v}`).join(', '));
      if (wav) {
        return reply
          .type('audio/wav')
          .header('x-reply-text', encodeURIComponent(a.reply))
          .send(wav);
      }
      return { reply: a.reply, intent: a.intent, outcome: a.outcome, item: a.item, label: a.label, sighting: a.sighting, timings };
    },
  );

  // speaks a text (an answer already shown) without asking again
  const speakSchema = {
    description: 'speaks a text (e.g. an answer already shown) as a WAV',
    body: QueryBody,
    response: { 200: binary('the text spoken (16-bit PCM WAV)', 'audio/wav'), ...errors(...GUARDED, ...JSON_BODY, 406) },
  };
  app.post('/v1/speak', { preHandler: app.guard.any, schema: speakSchema }, async (request, reply) => {
    if (!app.speech) throw new AppError('not_acceptable', 'spoken replies are not available: the speech synthesiser is not loaded');
    return reply.type('audio/wav').send(await app.speech.wav(request.body.text));
  });
};

export default queryRoutes;
