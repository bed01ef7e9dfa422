/** The text endpoint speaks: `Accept: audio/wav` or `?audio=wav` returns the reply as a WAV. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers/server.js';
import { parseWav } from '../dist/protocol/wav.js';
import { analyzeSpeech, s16leToFloat32 } from '../dist/protocol/pcm.js';

describe('spoken replies from POST /v1/query', () => {
  let s: TestServer;
  let token: string;
  beforeAll(async () => {
    s = await startTestServer();
    const u = await s.user('ann');
    token = (await s.device(u.id, 'cam', 'kitchen')).token;
    await s.client(token).post('/v1/sightings', { detections: [{ label: 'cup', score: 0.9, box: [0.4, 0.4, 0.1, 0.1] }] });
  });
  afterAll(async () => s?.close());

  for (const [how, url, headers] of [
    ['Accept: audio/wav', '/v1/query', { accept: 'audio/wav' }],
    ['?audio=wav', '/v1/query?audio=wav', {}],
  ] as const) {
    it(`answers with speech for ${how}`, async () => {
      const r = await s.client(token).post(url, { text: 'where is my cup' }, { ...headers });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('audio/wav');
      const text = decodeURIComponent(r.headers.get('x-reply-text')!);
      expect(text).toMatch(/kitchen/);
      const wav = parseWav(r.raw);
      expect(wav.sampleRate).toBe(16000);
      expect(wav.channels).toBe(1);
      const stats = analyzeSpeech(s16leToFloat32(wav.data), wav.sampleRate);
      // a one-sentence reply: a couple of seconds of clearly non-silent audio
      expect(stats.durationSec).toBeGreaterThan(1);
      expect(stats.durationSec).toBeLessThan(12);
      expect(stats.activeSec).toBeGreaterThan(0.8);
      expect(r.headers.get('server-timing')).toMatch(/tts;dur=/);
    });
  }

  it('a bad audio parameter is a validation error; JSON is still the default', async () => {
    const bad = await s.client(token).post('/v1/query?audio=mp3', { text: 'where is my cup' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation');
    const json = await s.client(token).post('/v1/query', { text: 'where is my cup' }, { accept: 'application/json, audio/wav' });
    expect(json.body.label).toBe('cup');
  });

  it('says 406 when no speech synthesiser is loaded', async () => {
    const quiet = await startTestServer({ ttsEngine: 'none' });
    try {
      const u = await quiet.user('bo');
      const d = await quiet.device(u.id, 'cam');
      const r = await d.client.post('/v1/query?audio=wav', { text: 'where is my cup' });
      expect(r.status).toBe(406);
      expect(r.body.error.code).toBe('not_acceptable');
    } finally {
      await quiet.close();
    }
  });
});

describe('POST /v1/speak', () => {
  it('speaks a given text as a WAV without logging a question', async () => {
    const s = await startTestServer();
    try {
      const u = await s.user('cy');
      const before = (await u.client.get('/v1/queries')).body.queries.length;
      const r = await u.client.post('/v1/speak', { text: 'Your cup was in the kitchen.' });
      expect(r.status).toBe(200);
      const wav = parseWav(r.raw);
      expect(analyzeSpeech(s16leToFloat32(wav.data), wav.sampleRate).activeSec).toBeGreaterThan(0.5);
      expect((await u.client.get('/v1/queries')).body.queries.length).toBe(before);
      expect((await s.client().post('/v1/speak', { text: 'hi' })).status).toBe(401);
      expect((await u.client.post('/v1/speak', { text: 'x'.repeat(1001) })).body.error.code).toBe('validation');
    } finally {
      await s.close();
    }
  });
});
