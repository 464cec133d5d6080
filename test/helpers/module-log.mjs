// `node --import THIS_FILE`: appends every module the process loads to $FERRY_MODULE_LOG, one file URL or
// path a line: ES modules as the loader loads them (a hook, in the loader's own thread), CommonJS ones
// (which require each other outside that loader) from require's cache at exit. For tests of what a
// command does not load (test/sync/start-up.test.ts).
import { appendFileSync } from 'node:fs'
import { createRequire, register } from 'node:module'

const log = process.env.FERRY_MODULE_LOG
if (log) {
  register(new URL('./module-log-hooks.mjs', import.meta.url), { data: { log } })
  const require = createRequire(import.meta.url)
  process.on('exit', () => appendFileSync(log, `${Object.keys(require.cache).join('\n')}\n`))
}
