import { Args } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { logout } from '../src/registry/index.js'

export default class Logout extends FerryCommand<typeof Logout> {
  static override summary = 'Remove the stored credentials for a registry.'
  static override description =
    'From the file `ferry login` writes: --authfile, else $REGISTRY_AUTH_FILE, else the docker config.'
  static override examples = [
    '<%= config.bin %> logout reg.local:5000',
    '<%= config.bin %> logout reg.local:5000 --authfile ./auth.json',
  ]
  static override registryArgs = { registry: 'host' } as const
  static override args = { registry: Args.string({ required: true, description: 'HOST[:PORT]' }) }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = { registry: 'string', removed: 'boolean' }

  async run() {
    const removed = await logout(this.args.registry, this.registryOptions)
    this.note(
      removed
        ? `Removed login credentials for ${this.args.registry}`
        : `Not logged in to ${this.args.registry}`,
    )
    return { registry: this.args.registry, removed }
  }
}
