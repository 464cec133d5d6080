import { Args } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { parseReference } from '../src/reference/index.js'
import { openTarget } from '../src/targets/open.js'

export default class Tags extends FerryCommand<typeof Tags> {
  static override summary = 'List the tags of a repository.'
  static override examples = [
    '<%= config.bin %> tags docker.io/library/postgres',
    '<%= config.bin %> tags 127.0.0.1:5000/team/app --json',
    '<%= config.bin %> tags oci:./layout',
  ]
  static override args = {
    repository: Args.string({ required: true, description: 'REGISTRY/REPO, or oci:DIR' }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { repository: 'string', tags: ['string'] }

  async run() {
    const ref = parseReference(this.args.repository)
    const { target } = await openTarget(ref, this.registryOptions)
    try {
      const tags = await target.listTags()
      for (const t of tags) this.out(t)
      return { repository: target.name, tags }
    } finally {
      await target.close()
    }
  }
}
