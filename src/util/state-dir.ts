import { homedir } from 'node:os'
import { isAbsolute, join } from 'node:path'

/** `$XDG_STATE_HOME/ferry`, else `~/.local/state/ferry`; the XDG base directory spec ignores a relative value. */
export function ferryStateDir(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const state = env.XDG_STATE_HOME
  return join(state && isAbsolute(state) ? state : join(home, '.local', 'state'), 'ferry')
}
