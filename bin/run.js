#!/usr/bin/env node
import module from 'node:module'

// Node 22.1 and later keep V8's compiled code between runs (in the OS temp directory; set
// NODE_DISABLE_COMPILE_CACHE=1 to turn it off): 0.04–0.05 s less CPU for a one-image sync on Node 22
// and 24 (bench/README.md, "Start-up"). Node 20 has no such cache and goes on without it.
module.enableCompileCache?.()

// oclif checks the Node version against its own `engines` (node >= 18) at import, and loads all of
// semver (48 modules, 0.02–0.04 s of every command's CPU) to do it; ferry's `engines` asks for more
// than that range and npm warns about it on install. The variable is not left for child processes.
const quietEngineCheck = !('OCLIF_DISABLE_ENGINE_WARNING' in process.env)
if (quietEngineCheck) process.env.OCLIF_DISABLE_ENGINE_WARNING = '1'
const { execute, settings } = await import('@oclif/core')
if (quietEngineCheck) delete process.env.OCLIF_DISABLE_ENGINE_WARNING

// Always the built JavaScript: with NODE_ENV=test or development oclif would otherwise look for the
// TypeScript sources and transpile them (slower, and the help class cannot be loaded that way).
settings.enableAutoTranspile = false

await execute({ dir: import.meta.url })
