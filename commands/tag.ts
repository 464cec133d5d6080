import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { loadPolicy } from '../src/policy/index.js'
import { retag } from '../src/promote/index.js'

export default class Tag extends FerryCommand<typeof Tag> {
  static override summary = 'Add a tag to an image in the same repository, by digest: no blob moves.'
  static override description =
    'The manifest’s exact bytes are PUT under NEWTAG (crane tag, regctl image retag). The tag is written on ' +
    'condition that it still names what was read, or still does not exist, so a concurrent writer is refused ' +
    '(exit 1), never overwritten. With --policy, a tag of an environment marked immutable never moves to ' +
    'another digest (exit 7, both digests named). --ledger FILE appends a hash-chained record of each attempt ' +
    '(tagged, unchanged or refused; see `ferry ledger`).'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    image: 'string',
    tag: 'string',
    digest: 'string',
    'previous?': 'string',
    changed: 'boolean',
    environment: 'string | null',
  }

  static override examples = [
    '<%= config.bin %> tag reg.local:5000/acme/web@sha256:… v1.4.2',
    '<%= config.bin %> tag registry.intra/acme/shop/api-prod:v1.4.2 stable --policy ferry.policy.yaml',
  ]
  static override registryArgs = { image: 'reference' } as const
  static override args = {
    image: Args.string({
      required: true,
      description: 'REGISTRY/REPO:TAG|@DIGEST or oci:DIR[:REPO]:TAG|@DIGEST',
    }),
    tag: Args.string({ required: true, description: 'The new tag, in the same repository.' }),
  }
  static override flags = {
    policy: Flags.string({ description: 'Apply the immutability rule of this policy file.' }),
    environment: Flags.string({
      description: 'Judge against this environment instead of the one the tag matches.',
      dependsOn: ['policy'],
    }),
    ledger: Flags.string({ description: 'Append a JSON Lines record of the attempt to this ledger file.' }),
  }

  async run() {
    const policy = this.flags.policy === undefined ? undefined : await loadPolicy(this.flags.policy)
    const result = await retag(this.args.image, this.args.tag, {
      ...this.registryOptions,
      policy,
      environment: this.flags.environment,
      ledger: this.flags.ledger,
      ferryVersion: this.config.version,
      signal: this.signal,
    })
    this.out(`${result.image}@${result.digest}`)
    if (!result.changed) this.note(`${result.image} already names ${result.digest}: nothing written`)
    else if (result.previous) this.note(`moved ${result.tag} from ${result.previous}`)
    if (this.flags.ledger) this.note(`recorded in ${this.flags.ledger}`)
    return result
  }
}
