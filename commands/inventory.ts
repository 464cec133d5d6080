import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import { plural } from '../cli/format.js'
import type { JsonShape } from '../cli/json-shape.js'
import { createInventory, writeInventory } from '../src/bundle/inventory.js'

export default class Inventory extends FerryCommand<typeof Inventory> {
  static override summary = 'Record what a registry holds, for delta bundles made against it.'
  static override description =
    'Lists every repository under HOST[:PORT][/PREFIX] (the _catalog API), every tag, and every manifest and blob ' +
    'reachable from them (index children and referrers too), and writes it as JSON. Carry the file to the ' +
    'connected side and pass it to `bundle create --against`: blobs it lists are left out of the bundle. ' +
    'oci:DIR inventories a layout directory. Tags that cannot be read are listed under "skipped".'
  static override examples = [
    '<%= config.bin %> inventory reg.local:5000/cache --output closed-side.json',
    '<%= config.bin %> inventory oci:/srv/mirror --output mirror.json',
  ]
  static override args = {
    where: Args.string({
      required: true,
      description: 'HOST[:PORT][/PREFIX] (https:// or http:// in front too) or oci:DIR',
    }),
  }
  static override flags = {
    output: Flags.string({ char: 'o', required: true, description: 'The inventory file to write (JSON).' }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    output: 'string',
    repositories: 'number',
    tags: 'number',
    blobs: 'number',
    skipped: [{ repository: 'string', 'tag?': 'string', reason: 'string' }],
  }

  async run() {
    const inventory = await createInventory(this.context, this.args.where)
    await writeInventory(this.flags.output, inventory)
    const blobs = new Set(inventory.repositories.flatMap((r) => r.blobs.map((b) => b.digest)))
    const tags = inventory.repositories.reduce((n, r) => n + Object.keys(r.tags).length, 0)
    this.out(this.flags.output)
    this.note(
      `${plural(inventory.repositories.length, 'repository', 'repositories')}, ${plural(tags, 'tag')}, ${plural(blobs.size, 'distinct blob')}` +
        `${inventory.skipped.length ? `; ${plural(inventory.skipped.length, 'tag')} skipped (see "skipped")` : ''}`,
    )
    return {
      output: this.flags.output,
      repositories: inventory.repositories.length,
      tags,
      blobs: blobs.size,
      skipped: inventory.skipped,
    }
  }
}
