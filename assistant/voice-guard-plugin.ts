/**
 * Registers the voice guard (assistant/voice-guard.ts) as `app.voiceGuard`, the policy behind the voice
 * socket's hook points (assistant/voice/guard.ts), configured from the settings.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { VoiceGuard } from './voice-guard.js';
import { registerGauge } from './metrics.js'; // metrics

export default fp(
  async function voiceGuardPlugin(app: FastifyInstance) {
    const c = app.config;
    const guard = new VoiceGuard(
      app.store,
      {
        maxPerDevice: Math.max(1, Math.floor(c.maxStreamsPerDevice)),
        maxPerUser: Math.max(1, Math.floor(c.maxStreamsPerUser)),
        maxConnectionsPerDevice: Math.max(1, Math.floor(c.maxVoiceConnectionsPerDevice)),
        idleMs: Math.max(0.1, c.utteranceIdleSeconds) * 1000,
        maxOpenMs: (Math.max(1, c.maxUtteranceSeconds) + Math.max(0.1, c.utteranceIdleSeconds)) * 1000,
        recheckMs: Math.max(0.1, c.voiceRecheckSeconds) * 1000,
      },
      { info: (o, m) => app.log.info(o, m), warn: (o, m) => app.log.warn(o, m) },
    );
    app.decorate('voiceGuard', guard);
    const offHeld = registerGauge('whereabouts_voice_streams_held', 'speech streams held by voice connections (per-device and per-user shares)', () => guard.held({})); // metrics
    const offConns = registerGauge('whereabouts_voice_connections_watched', 'voice connections whose credentials are re-checked', () => guard.size); // metrics
    app.addHook('onClose', async () => {
      guard.close();
      offHeld();
      offConns();
    });
  },
  { name: 'voice-guard', dependencies: ['context'] },
);
