import { Args } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { OciLayout } from '../src/layout/index.js'
import { terminalSafe } from '../src/log.js'
import { type LayoutReference, parseReference } from '../src/reference/index.js'
import { openTarget } from '../src/targets/open.js'

export default class Tags extends FerryCommand<typeof Tags> {
  static override summary = 'List the tags of a repository.'
  static override description =
    'For an OCI layout directory (oci:DIR) that holds several repositories, as bundles and ferry serve ' +
    'write them, every repository is listed too: its tags as REPO:TAG, the name oci:DIR:REPO:TAG takes. ' +
    'oci:DIR:REPO lists that repository alone. A registry whose list continues on another origin (a next page on a ' +
    'host alias, or http:// behind a TLS terminator) is an error, not a shorter list: credentials do not follow ' +
    'it there.'
  static override examples = [
    '<%= config.bin %> tags docker.io/library/postgres',
    '<%= config.bin %> tags 127.0.0.1:5000/team/app --json',
    '<%= config.bin %> tags oci:./layout',
    '<%= config.bin %> tags oci:./site:library/postgres',
  ]
  static override registryArgs = { repository: 'reference' } as const
  static override args = {
    repository: Args.string({ required: true, description: 'REGISTRY/REPO, oci:DIR or oci:DIR:REPO' }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { repository: 'string', tags: ['string'] }

  async run() {
    const ref = parseReference(this.args.repository)
    if (ref.kind === 'layout' && ref.repository === undefined && !ref.digest) return this.layoutTags(ref)
    const { target } = await openTarget(ref, this.registryOptions)
    try {
      const tags = await target.listTags()
      for (const t of tags) this.out(terminalSafe(t))
      return { repository: target.name, tags }
    } finally {
      await target.close()
    }
  }

  /** The no-repository view's tags, then each repository's as REPO:TAG (or one repository, oci:DIR:REPO). */
  private async layoutTags(ref: LayoutReference) {
    const layout = await OciLayout.open(ref.path, { logger: this.logger })
    const names = await layout.repositories()
    if (ref.tag !== undefined && names.includes(ref.tag)) {
      const target = layout.target(ref.tag)
      const tags = await target.listTags()
      for (const t of tags) this.out(t)
      return { repository: target.name, tags }
    }
    const target = layout.target()
    const tags = await target.listTags()
    const repositories: Record<string, string[]> = {}
    for (const name of names) repositories[name] = await layout.target(name).listTags()
    for (const t of tags) this.out(t)
    for (const [name, own] of Object.entries(repositories)) for (const t of own) this.out(`${name}:${t}`)
    return { repository: target.name, tags, repositories }
  }
}
