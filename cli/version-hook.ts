import type { Hook } from '@oclif/core'
import { BUILD_INFO } from './build-info.js'

/**
 * oclif's init hook, run before `--version` is answered: the version line (`ferry version`, `-v`,
 * `--version`) ends with the commit the build came from, after oclif's own three fields, which stay as
 * they were for scripts that read them.
 */
const addCommit: Hook.Init = async ({ config }) => {
  if (!BUILD_INFO.commit) return
  ;(config as { userAgent: string }).userAgent = `${config.userAgent} commit ${BUILD_INFO.commit}`
}

export default addCommit
