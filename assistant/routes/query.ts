/** `POST /v1/query`: ask in text; the answer comes back as JSON, or spoken as a WAV. */
import type { FastifyReply } from 'fastify';
import { Type, type FastifyPluginAsyncTypebox, type Static } from '@fastify/type-provider-typebox';
import { AppError } from '../errors.js';
import { recordQuery } from '../metrics.js'; // metrics
import type { DialogContext } from '../dialog.js';
import { Answer as AnswerBody, Binary, ConversationContext, GUARDED, JSON_BODY, StringEnum, binary, errors } from '../schemas.js';

type WireContext = Static<typeof ConversationContext>;

export const QueryBody = Type.Object({ text: Type.String({ maxLength: 1000 }) }, { additionalProperties: false });
/** the sample rate a spoken reply should have (default: the synthesiser's, 16000) */
const SampleRate = Type.Optional(Type.Integer({ minimum: 8000, maximum: 48000, description: 'sample rate of the WAV, Hz (default 16000)' }));
const AskBody = Type.Object({ text: Type.String({ maxLength: 1000 }), context: Type.Optional(Type.Union([ConversationContext, Type.Null()])) }, { additionalProperties: false });

export function contextToWire(d: DialogContext): WireContext {
  return {
    last_item: d.lastItem,
    last_label: d.lastLabel,
    last_intent: d.lastIntent ?? null,
    last_place: d.lastPlace ?? null,
    pending: d.pending ? { ...d.pending } : null,
    at: new Date(d.at).toISOString(),
  };
}

export function contextFromWire(w: WireContext | null | undefined): DialogContext | null {
  if (!w) return null;
  const at = Date.parse(w.at);
  if (!Number.isFinite(at)) throw new AppError('validation', 'context.at must be an ISO 8601 time');
  const p = w.pending;
  const pending: DialogContext['pending'] =
    p && p.kind === 'confirm' && p.item && p.label ? { kind: 'confirm', item: p.item, label: p.label } : p && p.kind === 'which' ? { kind: 'which' } : null;
  return { lastItem: w.last_item ?? null, lastLabel: w.last_label ?? null, lastIntent: w.last_intent ?? null, lastPlace: w.last_place ?? null, pending, at };
}

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
        description:
          'ask in text; `Accept: audio/wav` or `?audio=wav` answers with speech (the words in the `X-Reply-Text` header). ' +
          'Send the previous answer\'s `context` to continue a conversation ("and my phone?").',
        body: AskBody,
        querystring: Type.Object({ audio: Type.Optional(StringEnum(['wav'] as const, { description: 'answer with speech' })), sample_rate: SampleRate }),
        response: {
          200: { description: 'the answer (JSON), or the answer spoken (16-bit PCM WAV)', content: { 'application/json': { schema: AnswerBody }, 'audio/wav': { schema: Binary } } },
          ...errors(...GUARDED, ...JSON_BODY, 406),
        },
      },
    },
    async (request, reply) => {
      const p = request.principal!;
      const speak = wantsWav(request.headers.accept, request.query.audio);
      if (speak && !app.speech) throw new AppError('not_acceptable', 'spoken replies are not available: the speech synthesiser is not loaded');
      const a = await app.answerer.answer(p.user.id, request.body.text, { dialog: contextFromWire(request.body.context) });
      let ttsMs = 0;
      let wav: Buffer | null = null;
      if (speak) {
        const t = performance.now();
        wav = await app.speech!.wav(a.reply, { sampleRate: request.query.sample_rate, signal: untilClientGone(reply) });
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
          .send(wav as never); // a Buffer goes out as it is (the JSON schema is for JSON replies)
      }
      return {
        reply: a.reply,
        intent: a.intent,
        outcome: a.outcome,
        item: a.item,
        label: a.label,
        sighting: a.sighting,
        timings,
        context: contextToWire(a.dialog),
        follow_up: a.follow_up,
        ...(a.show_url !== undefined ? { show_url: a.show_url } : {}),
        ...(a.place !== undefined ? { place: a.place } : {}),
        ...(a.items ? { items: a.items } : {}),
        ...(a.history ? { history: a.history } : {}),
      };
    },
  );

  // speaks a text (an answer already shown) without asking again
  const speakSchema = {
    description: 'speaks a text (e.g. an answer already shown) as a WAV',
    body: QueryBody,
    querystring: Type.Object({ sample_rate: SampleRate }),
    response: { 200: binary('the text spoken (16-bit PCM WAV)', 'audio/wav'), ...errors(...GUARDED, ...JSON_BODY, 406) },
  };
  app.post('/v1/speak', { preHandler: app.guard.any, schema: speakSchema }, async (request, reply) => {
    if (!app.speech) throw new AppError('not_acceptable', 'spoken replies are not available: the speech synthesiser is not loaded');
    return reply.type('audio/wav').send(await app.speech.wav(request.body.text, { sampleRate: request.query.sample_rate, signal: untilClientGone(reply) }));
  });
};

/**
 * Aborts when the client goes away before its reply is sent (the connection closed): the speech being
 * synthesised for it leaves the synthesiser's queue instead of taking a worker from the clients still waiting.
 */
function untilClientGone(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  const res = reply.raw;
  if (res.destroyed) ac.abort();
  else res.once('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return ac.signal;
}

export default queryRoutes;
