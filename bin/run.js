#!/usr/bin/env node
import { execute, settings } from '@oclif/core'

// Always the built JavaScript: with NODE_ENV=test or development oclif would otherwise look for the
// TypeScript sources and transpile them (slower, and the help class cannot be loaded that way).
settings.enableAutoTranspile = false

await execute({ dir: import.meta.url })
