import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * Sends journals and locks to a throwaway state directory, never the user's ~/.local/state; returns
 * what removes it. Both suites' global setups start with it.
 */
export function throwawayStateDir(): () => void {
  const state = mkdtempSync(join(tmpdir(), 'ferry-test-state-'))
  process.env.XDG_STATE_HOME = state
  return () => rmSync(state, { recursive: true, force: true })
}
