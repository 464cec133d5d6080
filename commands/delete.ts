import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { commandGovernance, governanceFlags } from '../cli/policy-flags.js'
import { deleteImage } from '../src/promote/index.js'

export default class Delete extends FerryCommand<typeof Delete> {
  static override summary = 'Delete a manifest by digest, refusing while other tags still name it.'
  static override description =
    'Registries delete a manifest together with every tag naming it, so ferry lists the repository’s tags first ' +
    'and refuses (exit 7, naming them) when a tag other than the one in IMAGE names the digest; --force deletes ' +
    'anyway. --dry-run says what would go and changes nothing. A registry with deletes disabled is named with ' +
    'the setting to change (exit 1). Signatures and SBOMs attached to the digest stay; space comes back when the ' +
    'registry’s garbage collection runs (distribution: `registry garbage-collect`).\n\n' +
    'Policy: --policy FILE, else $FERRY_POLICY, else ./ferry.policy.yaml when it exists (--no-policy applies none ' +
    'and says so). A tag of an immutable environment, or a manifest such a tag names or lists (an index child), ' +
    'is never deleted: refused before the DELETE (exit 7, one line naming the rule, the environment, the tag and ' +
    'the digests). --ledger FILE appends one record per attempt, deleted or refused.'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    image: 'string',
    digest: 'string',
    tags: ['string'],
    deleted: 'boolean',
    dryRun: 'boolean',
  }

  static override examples = [
    '<%= config.bin %> delete reg.local:5000/acme/web@sha256:… --dry-run',
    '<%= config.bin %> delete reg.local:5000/acme/web:v0.9.0',
    '<%= config.bin %> delete reg.local:5000/acme/web@sha256:… --force --json',
  ]
  static override registryArgs = { image: 'reference' } as const
  static override args = {
    image: Args.string({
      required: true,
      description: 'REGISTRY/REPO@DIGEST or REGISTRY/REPO:TAG (the digest it names); https://… too',
    }),
  }
  static override flags = {
    ...governanceFlags,
    force: Flags.boolean({ description: 'Delete even while other tags name the digest.' }),
    'dry-run': Flags.boolean({ description: 'Say what would be deleted; change nothing.' }),
  }

  async run() {
    const governance = await commandGovernance(this.flags, (line) => this.note(line), this.config.version)
    const result = await deleteImage(this.context, this.args.image, {
      governance,
      force: this.flags.force,
      dryRun: this.flags['dry-run'],
    })
    const tags = result.tags.length ? ` (tags: ${result.tags.join(', ')})` : ' (untagged)'
    this.out(`${result.dryRun ? 'would delete' : 'deleted'} ${result.image}${tags}`)
    return result
  }
}
