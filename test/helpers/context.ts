import { afterAll } from 'vitest'
import { type Context, type ContextOptions, createContext } from '../../src/context.js'

const made: Context[] = []

/**
 * A library call's context in a test: as the CLI's, one per call site, and closed (the client it made,
 * its connections) when the test file ends, as the CLI closes its context when the command ends.
 */
export function testContext(opts: ContextOptions = {}): Context {
  const ctx = createContext(opts)
  made.push(ctx)
  return ctx
}

afterAll(async () => {
  await Promise.all(made.splice(0).map((ctx) => ctx.close()))
})
