/**
 * The question log at shutdown: questions still pending in the log's batch when the server closes are
 * written before the store closes (a real server on SQLite, real HTTP; the store reopened from disk).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../dist/store/index.js';
import { startTestServer } from './helpers/server.js';

const lines: string[] = [];
const logger = { level: 'warn', stream: { write: (l: string) => void lines.push(l) } };

describe('question log at shutdown', () => {
  const stores: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    for (const s of stores) await s.close();
  });

  it('questions answered just before close are stored before the store closes, without an error', async () => {
    const srv = await startTestServer({}, { logger });
    const ann = await srv.user('ann');
    // the log writes in batches every 200 ms: these three are still pending when close() starts
    for (const text of ['where is my cup', 'where are my keys', 'have you seen my phone']) expect((await ann.client.post('/v1/query', { text })).status).toBe(200);
    await srv.close();
    expect(lines.filter((l) => l.includes('could not store a question'))).toEqual([]);
    const store = await openStore(srv.config);
    stores.push(store);
    const rows = await store.listQueries(ann.id, 10);
    expect(rows.map((r) => r.text).sort()).toEqual(['have you seen my phone', 'where are my keys', 'where is my cup']);
  });

  it('a question answered after the log closed is reported as not logged, and tries no write to the closed store', async () => {
    lines.length = 0;
    const srv = await startTestServer({}, { logger });
    const ann = await srv.user('bob');
    const log = srv.app.queryLog;
    await srv.close();
    log.add({ userId: ann.id, deviceId: null, source: 'text', text: 'where is my mug', reply: 'x', intent: 'find', outcome: 'never_seen', label: null, timings: {}, heard: null, createdAt: Date.now() });
    await log.flush();
    const errors = lines.filter((l) => l.includes('could not store a question'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('the question log is closed');
    expect(errors[0]).not.toContain('database connection is not open');
  });
});
