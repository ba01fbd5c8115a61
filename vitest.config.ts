import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Forks, not threads: our kernels set process-wide V8 flags and tests spawn their own workers.
    pool: 'forks',
  },
});
