import type { Hook } from '@oclif/core'
import { versionLineCommit } from './version-line.js'

/**
 * oclif's init hook, run before `--version` is answered: the version line (`ferry version`, `-v`,
 * `--version`) ends with the commit the build came from, after oclif's own three fields, which stay as
 * they were for scripts that read them. `ferry version --json` has the full hash.
 */
const addCommit: Hook.Init = async ({ config }) => {
  const commit = versionLineCommit()
  if (!commit) return
  ;(config as { userAgent: string }).userAgent = `${config.userAgent} commit ${commit}`
}

export default addCommit
