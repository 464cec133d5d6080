import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { missingTools, missingToolsMessage } from './helpers/tools.js'

/**
 * Refuses to start without the real registry and tools the suites run (one message naming the Debian
 * packages, not a spawn ENOENT per test), and sends journals and locks to a throwaway state directory,
 * never the user's ~/.local/state.
 */
export default function setup() {
  const missing = missingTools()
  if (missing.length > 0) throw new Error(missingToolsMessage(missing))
  const state = mkdtempSync(join(tmpdir(), 'ferry-test-state-'))
  process.env.XDG_STATE_HOME = state
  return () => rmSync(state, { recursive: true, force: true })
}
