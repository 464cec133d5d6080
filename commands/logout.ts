import { Args } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import type { RegistryHost } from '../src/reference/index.js'
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
    const { registry } = this.parsedArg('registry') as RegistryHost
    const removed = await logout(registry, { authFile: this.flags.authfile })
    this.note(removed ? `Removed login credentials for ${registry}` : `Not logged in to ${registry}`)
    return { registry, removed }
  }
}
