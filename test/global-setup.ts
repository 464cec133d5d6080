import { throwawayStateDir } from './helpers/state-dir.js'
import { missingTools, missingToolsMessage } from './helpers/tools.js'

/**
 * The integration suite's setup: refuses to start without the real registry and tools its tests run
 * (one message naming the Debian packages, not a spawn ENOENT per test), and sends journals and locks to
 * a throwaway state directory. The unit suite (test/unit/) needs none of the tools: test/unit/global-setup.ts.
 */
export default function setup() {
  const missing = missingTools()
  if (missing.length > 0) throw new Error(missingToolsMessage(missing))
  return throwawayStateDir()
}
