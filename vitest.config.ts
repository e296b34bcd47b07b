import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration suites start real servers; two workers keep a 2-core machine responsive.
    pool: 'forks',
    maxWorkers: 2,
  },
});
