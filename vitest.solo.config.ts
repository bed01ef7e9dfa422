/** Timing-sensitive tests, run one file at a time after the main suite so nothing else loads the cores. */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.solo.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default', './test/helpers/skip-report.ts'],
    // every JSON reply is checked against its route's response schema (assistant/plugins/response-check.ts)
    env: { WHEREABOUTS_CHECK_RESPONSES: '1' },
  },
});
