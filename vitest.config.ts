import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // one throwaway PostgreSQL for the run (WHEREABOUTS_TEST_PG_URL); see test/helpers/pg.ts
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // two cores: model-heavy suites run side by side at most two at a time
    maxWorkers: 2,
    reporters: ['default'],
  },
});
