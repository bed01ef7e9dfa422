/** The recording functions of assistant/metrics.ts, as other modules (pools, the voice socket) use them. */
import { describe, expect, it } from 'vitest';
import {
  registry,
  observeStage,
  observeTimings,
  recordFrame,
  recordQuery,
  countAsr,
  countError,
  setQueueDepth,
  reportPool,
  registerGauge,
  voiceStreamOpened,
} from '../dist/assistant/metrics.js';

async function value(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = await registry.getSingleMetric(name)?.get();
  if (!m) return NaN;
  const v = m.values.find((x) => Object.entries(labels).every(([k, l]) => String((x.labels as Record<string, unknown>)[k]) === l));
  return v ? v.value : 0;
}

describe('metrics registry', () => {
  it('observes stages in milliseconds into one histogram with buckets from 0.1 ms to 5 s', async () => {
    const stat = async (kind: 'count' | 'sum') => {
      const m = await registry.getSingleMetric('whereabouts_stage_seconds')!.get();
      return m.values.find((v) => v.metricName === `whereabouts_stage_seconds_${kind}` && v.labels.stage === 'asr')?.value ?? 0;
    };
    const countBefore = await stat('count');
    const sumBefore = await stat('sum');
    observeStage('asr', 42);
    observeStage('asr', NaN); // ignored
    observeTimings({ asr_ms: 8, nlp_ms: 0.2, text: 'not a timing' } as object);
    const m = await registry.getSingleMetric('whereabouts_stage_seconds')!.get();
    // two observations (42 ms and 8 ms; NaN and the text are ignored), whatever ran before in this process
    expect((await stat('count')) - countBefore).toBe(2);
    expect((await stat('sum')) - sumBefore).toBeCloseTo(0.05, 6);
    const les = m.values.filter((v) => v.metricName === 'whereabouts_stage_seconds_bucket' && v.labels.stage === 'asr').map((v) => v.labels.le);
    expect(les[0]).toBe(0.0001);
    expect(les).toContain(5);
  });

  it('frames, sightings, queries, ASR time and errors are counted', async () => {
    recordFrame({ decode_ms: 3, letterbox_ms: 1, inference_ms: 15, postprocess_ms: 0.2 }, 2, 25, 3);
    recordQuery('voice', 'found', { asr_ms: 90, nlp_ms: 0.3, lookup_ms: 0.1, tts_ms: 40 });
    countAsr(2, 150);
    countError('busy', 'ws');
    const text = await registry.metrics();
    expect(text).toMatch(/^whereabouts_frames_total 1$/m);
    expect(text).toMatch(/^whereabouts_sightings_total 3$/m);
    expect(text).toMatch(/^whereabouts_queries_total\{source="voice",outcome="found"\} 1$/m);
    expect(text).toMatch(/^whereabouts_asr_audio_seconds_total 2$/m);
    expect(text).toMatch(/^whereabouts_asr_cpu_seconds_total 0.15$/m);
    expect(text).toMatch(/^whereabouts_errors_total\{code="busy",transport="ws"\} 1$/m);
    for (const stage of ['decode', 'letterbox', 'inference', 'postprocess', 'store', 'frame', 'tts', 'lookup'])
      expect(text).toMatch(new RegExp(`^whereabouts_stage_seconds_count\\{stage="${stage}"\\} \\d+$`, 'm'));
  });

  it('voice streams go up and down once per stream', async () => {
    const a = voiceStreamOpened();
    const b = voiceStreamOpened();
    expect(await value('whereabouts_voice_streams_active')).toBe(2);
    a();
    a(); // idempotent
    expect(await value('whereabouts_voice_streams_active')).toBe(1);
    b();
    expect(await value('whereabouts_voice_streams_active')).toBe(0);
  });

  it('pools report their queue depth pushed or pulled at scrape time, without prom-client', async () => {
    setQueueDepth('tts', 4);
    let queued = 7;
    const off = reportPool('vision', () => ({ queued, busy: 2 }));
    let text = await registry.metrics();
    expect(text).toMatch(/^whereabouts_worker_queue_depth\{pool="tts"\} 4$/m);
    expect(text).toMatch(/^whereabouts_worker_queue_depth\{pool="vision"\} 7$/m);
    expect(text).toMatch(/^whereabouts_worker_busy\{pool="vision"\} 2$/m);
    queued = 1;
    expect(await registry.metrics()).toMatch(/^whereabouts_worker_queue_depth\{pool="vision"\} 1$/m);
    off();
    text = await registry.metrics();
    expect(text).not.toMatch(/pool="vision"/);

    let n = 3;
    const unregister = registerGauge('whereabouts_test_backlog_seconds', 'a test gauge', () => n);
    expect(await registry.metrics()).toMatch(/^whereabouts_test_backlog_seconds 3$/m);
    n = 5;
    expect(await registry.metrics()).toMatch(/^whereabouts_test_backlog_seconds 5$/m);
    unregister();
    expect(await registry.metrics()).not.toContain('whereabouts_test_backlog_seconds');
  });
});
