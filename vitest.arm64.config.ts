/** The Pi client in a Debian 12 arm64 root under qemu (test/*.arm64.test.ts): `npm run test:arm64`, after `.ci/arm64-root`. */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.arm64.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
