import { configDefaults, defineConfig } from 'vitest/config'

/**
 * Two projects, told apart by one rule: a test file under `test/unit/` needs nothing but Node and
 * node_modules. It starts no docker-registry and no ferry serve, runs no skopeo, umoci, openssl or fish,
 * no other program by PATH and no built CLI (`dist/`); algorithms run against MemoryTarget, an OCI layout
 * in a temp directory or an in-process fake (an HTTP stand-in on loopback included), and a test that needs
 * a second process runs a Node worker from source (`node --import tsx`).
 * Everything else is `integration`, whose global setup refuses to start without those tools.
 *
 *   npm run test:unit    unit only: no system package, no build
 *   npm test             build, then both
 */
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each suite starts its own registries on free loopback ports; two cores are the budget.
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          globalSetup: ['test/unit/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          // test/ship/ tests what build:exe and build:image made: `npm run test:exe`, `npm run test:image`.
          exclude: [...configDefaults.exclude, 'test/unit/**', 'test/ship/**'],
          globalSetup: ['test/global-setup.ts'],
        },
      },
    ],
  },
})
