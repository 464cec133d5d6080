import { defineConfig } from 'vitest/config'

/**
 * The ship suite: what `npm run build:exe` and `npm run build:image` made, run as a site would run it
 * (`npm run test:exe`, `npm run test:image`). Not part of `npm test`, which runs before they are built.
 */
export default defineConfig({
  test: {
    root: `${import.meta.dirname}/../..`,
    include: ['test/ship/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 1,
  },
})
