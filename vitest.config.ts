import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // timing-sensitive files run alone afterwards (vitest.solo.config.ts)
    exclude: ['test/**/*.solo.test.ts', 'test/**/*.arm64.test.ts', 'node_modules/**'],
    // one throwaway PostgreSQL for the run (WHEREABOUTS_TEST_PG_URL); see test/helpers/pg.ts
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // two cores: model-heavy suites run side by side at most two at a time
    maxWorkers: 2,
    // every skipped test is named at the end (and listed for .ci/run's skip check)
    reporters: ['default', './test/helpers/skip-report.ts'],
    // every JSON reply is checked against its route's response schema (assistant/plugins/response-check.ts)
    env: { WHEREABOUTS_CHECK_RESPONSES: '1' },
  },
});
