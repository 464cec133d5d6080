import { Args } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { RegistryClient } from '../src/registry/index.js'

export default class Catalog extends FerryCommand<typeof Catalog> {
  static override summary = 'List the repositories of a registry (the _catalog API).'
  static override description =
    'Not every registry serves the catalog (Docker Hub does not); pagination is followed to the end.'
  static override examples = [
    '<%= config.bin %> catalog 127.0.0.1:5000',
    '<%= config.bin %> catalog reg.local:5000 --json',
  ]
  static override args = { registry: Args.string({ required: true, description: 'HOST[:PORT]' }) }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { registry: 'string', repositories: ['string'] }

  async run() {
    const client = new RegistryClient(this.registryOptions)
    try {
      const repositories = await client.catalog(this.args.registry)
      for (const r of repositories) this.out(r)
      return { registry: this.args.registry, repositories }
    } finally {
      await client.close()
    }
  }
}
