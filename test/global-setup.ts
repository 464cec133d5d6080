import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** Journals and locks go to a throwaway state directory, never the user's ~/.local/state. */
export default function setup() {
  const state = mkdtempSync(join(tmpdir(), 'ferry-test-state-'))
  process.env.XDG_STATE_HOME = state
  return () => rmSync(state, { recursive: true, force: true })
}
