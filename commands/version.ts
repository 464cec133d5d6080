import { Command, Flags } from '@oclif/core'
import { BUILD_INFO } from '../cli/build-info.js'
import type { JsonShape } from '../cli/json-shape.js'
import { versionLineCommit } from '../cli/version-line.js'

/**
 * ferry's own `version` (it replaced @oclif/plugin-version, which could not show the commit): the same
 * line as `--version` and `-v`, which cli/version-hook.ts extends. A plain oclif command, not a
 * FerryCommand, so that it loads nothing of the library: version and help start in a few milliseconds.
 */
export default class Version extends Command {
  static override summary = 'Print ferry’s version and the commit it was built from.'
  static override description =
    'One line: ferry/VERSION PLATFORM-ARCH node-NODE_VERSION commit COMMIT (the same as `ferry --version` and ' +
    '`ferry -v`). COMMIT is the git commit the build came from (12 hex digits; the full hash with --verbose and ' +
    'in --json), with -dirty when that work tree had uncommitted changes; a build made outside a git checkout ' +
    'prints no commit.'
  static override examples = ['<%= config.bin %> version', '<%= config.bin %> version --verbose --json']
  static override enableJsonFlag = true
  static override flags = {
    verbose: Flags.boolean({
      description: 'Also show the commit time, the operating system, where ferry runs from and its plugins.',
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    cliVersion: 'string',
    architecture: 'string',
    nodeVersion: 'string',
    'commit?': 'string',
    'commitTime?': 'string',
    'osVersion?': 'string',
    'rootPath?': 'string',
    'pluginVersions?': ['string'],
  }

  async run() {
    const { flags } = await this.parse(Version)
    const { cliVersion, architecture, nodeVersion, osVersion, rootPath, pluginVersions } =
      this.config.versionDetails
    const commit = BUILD_INFO.commit ? { commit: BUILD_INFO.commit } : {}
    const short = versionLineCommit()
    const line = `${cliVersion} ${architecture} ${nodeVersion}${short ? ` commit ${short}` : ''}`
    if (!flags.verbose) {
      this.log(line)
      return { cliVersion, architecture, nodeVersion, ...commit }
    }
    const plugins = Object.entries(pluginVersions ?? {})
      .filter(([name]) => name !== this.config.name)
      .map(([name, p]) => `${name} ${p.version}`)
      .sort()
    const details = {
      cliVersion,
      architecture,
      nodeVersion,
      ...commit,
      ...(BUILD_INFO.commitTime ? { commitTime: BUILD_INFO.commitTime } : {}),
      osVersion,
      rootPath,
      pluginVersions: plugins,
    }
    this.log(
      [
        line,
        ...(details.commit ? [`commit: ${details.commit}`] : []),
        ...(details.commitTime ? [`commit time: ${details.commitTime}`] : []),
        `os: ${osVersion}`,
        `root: ${rootPath}`,
        `plugins: ${plugins.join(', ')}`,
      ].join('\n'),
    )
    return details
  }
}
