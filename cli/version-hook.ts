import type { Hook } from '@oclif/core'
import { versionLineCommit } from './version-line.js'

/**
 * oclif's init hook, run before `--version` (and `-v`) is answered from config.userAgent: that line, like
 * `ferry version`'s, ends with the commit the build came from, after oclif's own three fields, which stay
 * as they were for scripts that read them. Only for those flags: every other use of the user agent (help's
 * VERSION section) keeps oclif's form, as a command's fresh config (`ferry help`) has it.
 */
const addCommit: Hook.Init = async ({ config, id }) => {
  const commit = versionLineCommit()
  const versionFlags = ['--version', ...(config.pjson.oclif.additionalVersionFlags ?? [])]
  if (!commit || id === undefined || !versionFlags.includes(id)) return
  ;(config as { userAgent: string }).userAgent = `${config.userAgent} commit ${commit}`
}

export default addCommit
