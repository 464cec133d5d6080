import { Args } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { BundleReader } from '../src/bundle/reader.js'
import { OciLayout } from '../src/layout/index.js'
import { terminalSafe } from '../src/log.js'
import type { BundleReference, LayoutReference } from '../src/reference/index.js'
import { openSource } from '../src/targets/open.js'

export default class Tags extends FerryCommand<typeof Tags> {
  static override summary = 'List the tags of a repository.'
  static override description =
    'For an OCI layout directory (oci:DIR) that holds several repositories, as bundles and ferry serve ' +
    'write them, every repository is listed too: its tags as REPO:TAG, the name oci:DIR:REPO:TAG takes. ' +
    'oci:DIR:REPO lists that repository alone. A bundle (bundle:FILE, verified first) lists every image as ' +
    'REPO:TAG, the name bundle:FILE:REPO:TAG takes; bundle:FILE:REPO lists that repository. A registry whose ' +
    'list continues on another origin (a next page on a host alias, or http:// behind a TLS terminator) is an ' +
    'error, not a shorter list: credentials do not follow it there.'
  static override examples = [
    '<%= config.bin %> tags docker.io/library/postgres',
    '<%= config.bin %> tags 127.0.0.1:5000/team/app --json',
    '<%= config.bin %> tags oci:./layout',
    '<%= config.bin %> tags oci:./site:library/postgres',
    '<%= config.bin %> tags bundle:site.tar',
  ]
  static override registryArgs = { repository: 'reference' } as const
  static override args = {
    repository: Args.string({
      required: true,
      description: 'REGISTRY/REPO (https://REGISTRY/REPO), oci:DIR[:REPO] or bundle:FILE[:REPO]',
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    repository: 'string',
    tags: ['string'],
    'repositories?': { '*': ['string'] },
  }

  async run() {
    const ref = this.location('repository')
    if (ref.kind === 'layout' && ref.repository === undefined && !ref.digest) return this.layoutTags(ref)
    if (ref.kind === 'bundle' && ref.repository === undefined) return this.bundleTags(ref)
    const { target } = await openSource(this.context, ref)
    try {
      const tags = await target.listTags()
      for (const t of tags) this.out(terminalSafe(t))
      return { repository: target.name, tags }
    } finally {
      await target.close()
    }
  }

  /** Every image of a bundle, as REPO:TAG (the name bundle:FILE:REPO:TAG takes). */
  private async bundleTags(ref: BundleReference) {
    const bundle = await BundleReader.open(ref.path)
    try {
      const repositories: Record<string, string[]> = {}
      for (const name of bundle.repositories()) repositories[name] = await bundle.target(name).listTags()
      for (const [name, own] of Object.entries(repositories)) for (const t of own) this.out(`${name}:${t}`)
      return { repository: bundle.name, tags: [], repositories }
    } finally {
      await bundle.close()
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
