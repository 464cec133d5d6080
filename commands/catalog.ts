import { Args } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { FerryError } from '../src/errors.js'
import { OciLayout } from '../src/layout/index.js'
import { terminalSafe } from '../src/log.js'
import { LAYOUT_PREFIX, type Location } from '../src/reference/index.js'

export default class Catalog extends FerryCommand<typeof Catalog> {
  static override summary = 'List the repositories of a registry (the _catalog API) or of an OCI layout.'
  static override description =
    'Not every registry serves the catalog (Docker Hub does not); pagination is followed to the end. ' +
    'For oci:DIR, the repositories its index.json names (as bundles and ferry serve write them).'
  static override examples = [
    '<%= config.bin %> catalog 127.0.0.1:5000',
    '<%= config.bin %> catalog reg.local:5000 --json',
    '<%= config.bin %> catalog oci:./site',
    '<%= config.bin %> catalog 127.0.0.1:5443 --ca-file cert.pem   # a TLS port-forward',
    '<%= config.bin %> catalog https://127.0.0.1:5443 --ca-file cert.pem',
    'echo "ci:$PW" | <%= config.bin %> catalog reg.local:5000 --creds-stdin',
  ]
  static override registryArgs = { registry: 'host' } as const
  static override args = {
    registry: Args.string({
      required: true,
      description: 'HOST[:PORT] (https://HOST[:PORT] too), or oci:DIR',
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { registry: 'string', repositories: ['string'] }

  async run() {
    const where = this.parsedArg('registry')
    if (where.kind !== 'host') return this.layoutCatalog(where)
    const repositories = await this.context.client.catalog(where)
    for (const r of repositories) this.out(terminalSafe(r))
    return { registry: where.registry, repositories }
  }

  private async layoutCatalog(ref: Location) {
    if (ref.kind !== 'layout' || ref.tag !== undefined || ref.digest || ref.repository !== undefined) {
      throw new FerryError(
        'USAGE',
        `catalog takes a layout directory alone (oci:DIR), not ${this.args.registry}`,
      )
    }
    const layout = await OciLayout.open(ref.path, { logger: this.logger })
    const repositories = await layout.repositories()
    for (const r of repositories) this.out(r)
    return { layout: `${LAYOUT_PREFIX}${layout.dir}`, repositories }
  }
}
