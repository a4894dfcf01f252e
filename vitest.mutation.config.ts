import { defineConfig } from 'vitest/config';

// The unit tests of the pure core, which mutation testing runs against each mutant of domain/.
export default defineConfig({
  test: {
    include: ['test/domain/**/*.test.ts', 'test/handle.test.ts', 'test/tracking-*.test.ts', 'test/zones.test.ts'],
    exclude: ['test/tracking.e2e.test.ts'],
    pool: 'forks',
  },
});
