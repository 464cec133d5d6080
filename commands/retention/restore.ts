import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { restoreRetention } from '../../src/retention/index.js'

export default class RetentionRestore extends FerryCommand<typeof RetentionRestore> {
  static override summary = 'Re-push what a retention apply removed, from its backup.'
  static override description =
    'Pushes the backup’s manifests (children before their index, subjects before their referrers, with the SBOM, ' +
    'signature and attestation blobs the backup holds) and then its tags, into the repositories they came from or, ' +
    'for a backup of one repository, into --to. Image layers are not in the backup: this works until the registry’s ' +
    'garbage collection has removed them; after that the registry refuses the manifest and the error says so.'
  /** The --json document, shown in --help and checked by test/retention/cli.test.ts. */
  static jsonOutput: JsonShape = {
    repositories: [{ repository: 'string', manifests: 'number', blobs: 'number', tags: 'number' }],
  }
  static override examples = [
    '<%= config.bin %> retention restore ~/.local/state/ferry/retention/backups/2026-12-01T03-00-00-000Z',
    '<%= config.bin %> retention restore /backups/retention-2026-12-01 --to registry.intra/acme/shop/web-restored',
  ]
  static override args = {
    backup: Args.string({ required: true, description: 'The backup directory retention apply wrote' }),
  }
  static override flags = {
    to: Flags.string({
      description: 'Restore into this repository (HOST/PATH) instead of the original one.',
    }),
  }

  async run() {
    const result = await restoreRetention(this.args.backup, {
      ...this.registryOptions,
      to: this.flags.to,
      signal: this.signal,
    })
    for (const r of result.repositories) {
      this.out(`restored ${r.repository}: ${r.manifests} manifest(s), ${r.blobs} blob(s), ${r.tags} tag(s)`)
    }
    return result
  }
}
