/**
 * Builds the Fastify server: shared services as decorators (plugins/context.ts), one error shape
 * (plugins/errors.ts), authentication (plugins/auth.ts), then the encapsulated route plugins.
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import formbody from '@fastify/formbody';
import { Ajv } from 'ajv';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.js';
import { openStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { LabelBook } from './labels.js';
import { Answerer } from './answer.js';
import { QueryLog } from './query-log.js';
import { createSpeech } from './speech.js';
import { startOpenings, type Openings } from './openings.js';
import { warmUp } from '../nlp/parse.js';
import contextPlugin, { type SpeechService } from './plugins/context.js';
import errorsPlugin from './plugins/errors.js';
import openapiPlugin from './plugins/openapi.js';
import responseCheck from './plugins/response-check.js';
import metricsPlugin from './plugins/metrics.js';
import adminPage from './admin/plugin.js';
import authPlugin from './plugins/auth.js';
import bodiesPlugin from './plugins/bodies.js';
import { clientErrorHandler, frameworkErrorHandler } from './plugins/errors.js';
import voiceGuardPlugin from './voice-guard-plugin.js';
import sessionRoutes from './routes/session.js';
import queryRoutes from './routes/query.js';
import sightingRoutes from './routes/sightings.js';
import zoneRoutes from './routes/zones.js';
import { PlaceBook } from './places.js';
import accountRoutes from './routes/accounts.js';
import frameRoutes from './routes/frames.js';
import listenRoutes from './routes/listen.js';
import healthRoutes from './routes/health.js';
import type { TurnSettings } from './voice/turn.js';
import websocket from '@fastify/websocket';
import { createAsr, type Asr } from './asr/index.js';
import { createDetector, type Detector } from './vision/detector.js';
import { resolveVisionModel } from '../models/manifest.js';
import { findMoonshine } from '../models/moonshine.js';
import { MANIFEST_FILE } from '../models/paths.js';

export interface AppOptions {
  /** use this store instead of opening one from the config (the caller closes it) */
  store?: Store;
  /** labels to use when no detection model is loaded (default: the configured model's manifest entry) */
  labels?: readonly string[];
  speech?: SpeechService | null;
  /** a detector to use (the caller closes it); default: made from the configuration unless noModels */
  detector?: Detector | null;
  /** a speech recogniser to use (the caller closes it); default: made from the configuration unless noModels */
  asr?: Asr | null;
  /** voice turn settings over the configured ones (voice/turn.ts; tests shorten the watchdog) */
  voice?: Partial<TurnSettings>;
  logger?: boolean | Record<string, unknown>;
  /** validate every JSON reply against its response schema before serialising (default: WHEREABOUTS_CHECK_RESPONSES=1; the tests) */
  checkResponses?: boolean;
}

/** the configured detection model's labels from models/manifest.json, when it is a manifest entry */
export function manifestLabels(modelName: string): string[] | null {
  try {
    const m = JSON.parse(fs.readFileSync(MANIFEST_FILE, 'utf8')) as { models: Array<{ name: string; labels?: string[] }> };
    return m.models.find((x) => x.name === modelName)?.labels ?? null;
  } catch {
    return null;
  }
}

function asrLog(app: FastifyInstance) {
  return {
    debug: (m: string) => app.log.debug(m),
    info: (m: string) => app.log.info(m),
    warn: (m: string) => app.log.warn(m),
    error: (m: string) => app.log.error(m),
  };
}

/** the trustProxy setting in Fastify's terms: never trust any client's X-Forwarded-For unless told to */
export function trustProxyOption(v: string): boolean | string | string[] {
  const t = v.trim().toLowerCase();
  if (t === '' || t === 'false' || t === 'no') return false;
  if (t === 'true' || t === 'yes') return true;
  return v.split(',').map((x) => x.trim()).filter(Boolean);
}

export async function buildApp(config: Config, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger ?? { level: config.logLevel },
    bodyLimit: config.bodyLimit,
    trustProxy: trustProxyOption(config.trustProxy),
    requestIdHeader: 'x-request-id',
    genReqId: () => crypto.randomUUID(),
    // a whole request must arrive within this time (slow clients cannot hold connections forever)
    requestTimeout: Math.max(1, config.requestTimeout) * 1000,
    // errors Fastify and Node answer before any route runs leave in the one error shape too
    clientErrorHandler,
    frameworkErrors: frameworkErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON bodies are validated as sent (a number is not a string); query strings and path parameters,
  // which are always text, are coerced to the schema's types
  const strict = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  const coercing = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema));

  // the API speaks JSON (and images on /v1/frames); plain text bodies are refused with 415
  app.removeContentTypeParser('text/plain');

  const store = opts.store ?? (await openStore(config));
  let detector: Detector | null;
  let labels: readonly string[] | null;
  try {
    // the detector comes first: its labels (from the manifest or the model's own metadata) are the vocabulary
    detector = opts.detector !== undefined ? opts.detector : config.noModels ? null : await createDetector(config);
    if (detector && opts.detector === undefined) app.addHook('onClose', async () => detector!.close());
    labels = opts.labels ?? detector?.labels ?? manifestLabels(config.visionModel) ?? (await resolveVisionModel(config)).labels;
  } catch (err) {
    if (!opts.store) await store.close();
    throw err;
  }
  warmUp(); // loads compromise's lexicon now rather than in the first request
  const labelBook = new LabelBook(labels);
  const places = new PlaceBook(store, labelBook);

  // the speech recogniser listens for the vocabulary's words; a missing or broken model stops the start
  let asr: Asr | null;
  try {
    const startAsr = opts.asr === undefined && !config.noModels && config.asrEngine !== 'none';
    // the second look's recogniser (Moonshine): optional, its absence is said once at start
    const look = startAsr && config.secondLook ? findMoonshine(config.modelsDir) : null;
    if (look && !look.ok) app.log.warn(`no second look at unsure spoken questions (they are asked back instead): ${look.reason}. Run \`whereabouts models\` to install it.`);
    asr = !startAsr
      ? (opts.asr ?? null)
      : await createAsr(config, labelBook.vocabulary.phrases(), { preferred: labelBook.labels, log: asrLog(app), secondLook: look?.ok ? { encoder: look.encoder, decoder: look.decoder } : false, vadDenoise: config.vadDenoise });
  } catch (err) {
    await detector?.close();
    if (!opts.store) await store.close();
    throw err;
  }
  if (asr && opts.asr === undefined) app.addHook('onClose', async () => asr!.close());
  if (asr) listenForPlaces(app, store, labelBook, places, asr);
  const answerer = new Answerer(store, labelBook, config.timeZone, places);
  const queryLog = new QueryLog(store, (err) => app.log.error({ err }, 'could not store a question'));

  let speech = opts.speech;
  let openings: Openings | null = null;
  if (speech === undefined) {
    const s = await createSpeech(config, { info: (m) => app.log.info(m), warn: (m) => app.log.warn(m) });
    if (s) app.addHook('onClose', async () => s.close());
    speech = s;
    // the first words of likely replies, prepared ahead (Piper): "Your cup was", "I last saw", ...
    if (s?.tts.warm && config.ttsOpeningsMb > 0) {
      const o = startOpenings({ store, tts: s.tts, timeZone: config.timeZone, examples: labelBook.labels.slice(0, 2), log: { info: (m) => app.log.info(m), warn: (m) => app.log.warn(m) } });
      app.addHook('onClose', async () => o.stop());
      openings = o;
    }
  }

  await app.register(contextPlugin, { config, store, labelBook, answerer, queryLog, speech, places, openings, ownsStore: !opts.store });
  await app.register(errorsPlugin);
  if (opts.checkResponses ?? process.env.WHEREABOUTS_CHECK_RESPONSES === '1') await app.register(responseCheck);
  await app.register(openapiPlugin); // before every route: the OpenAPI document lists the routes registered after it
  // request bodies: read only after authentication, within a global in-flight byte budget
  await app.register(bodiesPlugin, { budget: config.bodyBudget, bodyIdleMs: config.bodyIdleSeconds * 1000, graceMs: config.bodyIdleSeconds * 1000 });
  await app.register(formbody);
  await app.register(metricsPlugin); // before auth: it answers /metrics with its own token check
  // before auth: an upgrade refused with 401 must still have its socket closed by @fastify/websocket
  await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
  await app.register(authPlugin);
  await app.register(voiceGuardPlugin);
  await app.register(healthRoutes);
  await app.register(sessionRoutes);
  await app.register(queryRoutes);
  await app.register(sightingRoutes);
  await app.register(zoneRoutes);
  await app.register(accountRoutes);
  await app.register(frameRoutes, { detector });
  await app.register(listenRoutes, { asr, turn: opts.voice });
  await app.register(adminPage);
  return app;
}

/**
 * The speech grammar learns the place names (every zone drawn on a camera and every room), so "what's on the
 * kitchen counter" can be heard; rebuilt when a zone or room changes.
 */
function listenForPlaces(app: FastifyInstance, store: Store, labelBook: LabelBook, places: PlaceBook, asr: Asr): void {
  let timer: NodeJS.Timeout | null = null;
  const rebuild = async () => {
    const [zones, devices] = await Promise.all([store.listZoneNames(), store.listDevices()]);
    const rooms = devices.filter((d) => d.room && !d.revokedAt).map((d) => d.room as string);
    asr.setPhrases(labelBook.vocabulary.phrases(), labelBook.labels, [...new Set([...zones, ...rooms])]);
  };
  const soon = () => {
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      rebuild().catch((err) => app.log.warn({ err }, 'could not rebuild the speech grammar with the place names'));
    }, 200);
    timer.unref();
  };
  const off = places.onChange(soon);
  app.addHook('onReady', async () => {
    await rebuild().catch((err) => app.log.warn({ err }, 'could not add the place names to the speech grammar'));
  });
  app.addHook('onClose', async () => {
    off();
    if (timer) clearTimeout(timer);
  });
}
