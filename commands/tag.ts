import { Args } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { policyCheckShape } from '../cli/json-shapes.js'
import { commandGovernance, governanceFlags } from '../cli/policy-flags.js'
import { describeCheck } from '../src/policy/index.js'
import { retag } from '../src/promote/index.js'

export default class Tag extends FerryCommand<typeof Tag> {
  static override summary = 'Add a tag to an image in the same repository, by digest: no blob moves.'
  static override description =
    'The manifest’s exact bytes are PUT under NEWTAG (crane tag, regctl image retag). The tag is written on ' +
    'condition that it still names what was read, or still does not exist, so a concurrent writer is refused ' +
    '(exit 1), never overwritten.\n\n' +
    'The policy file is found as promote finds it: --policy FILE, else $FERRY_POLICY, else ferry.policy.yaml in ' +
    'the working directory when it exists; --no-policy applies none and says so on stderr. With a policy, the ' +
    'rules about the new name are judged before anything is written: naming, forbidden tags (latest), the ' +
    'SemVer rule, and immutability (a tag of an immutable environment never moves to another digest). An ' +
    'enforce-mode failure refuses the tag (exit 7, one line naming the rule, the environment and, for a tag ' +
    'that would move, both digests); a warn-mode one is printed. The environments are those the new name ' +
    'matches; --environment adds one’s rules, never removes any. ' +
    '--ledger FILE (default: the policy file’s `ledger:`) appends a hash-chained record of each attempt (tagged, unchanged or refused; see `ferry ledger`).'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    image: 'string',
    tag: 'string',
    digest: 'string',
    'previous?': 'string',
    changed: 'boolean',
    environment: 'string | null',
    'checks?': [policyCheckShape],
  }

  static override examples = [
    '<%= config.bin %> tag reg.local:5000/acme/web@sha256:… v1.4.2',
    '<%= config.bin %> tag registry.intra/acme/shop/api-prod:v1.4.2 stable --policy ferry.policy.yaml',
    'FERRY_POLICY=/etc/ferry/policy.yaml <%= config.bin %> tag registry.intra/acme/shop/api-prod@sha256:… v1.4.3',
  ]
  static override registryArgs = { image: 'reference' } as const
  static override args = {
    image: Args.string({
      required: true,
      description: 'REGISTRY/REPO:TAG|@DIGEST (https://… too) or oci:DIR[:REPO]:TAG|@DIGEST',
    }),
    tag: Args.string({ required: true, description: 'The new tag, in the same repository.' }),
  }
  static override flags = governanceFlags

  async run() {
    const governance = await commandGovernance(this.flags, (line) => this.note(line), this.config.version)
    const result = await retag(this.context, this.args.image, this.args.tag, {
      ...governance,
    })
    for (const c of result.checks ?? [])
      if (c.result === 'warn') this.note(`ferry: warning: ${describeCheck(c)}`)
    this.out(`${result.image}@${result.digest}`)
    if (!result.changed) this.note(`${result.image} already names ${result.digest}: nothing written`)
    else if (result.previous) this.note(`moved ${result.tag} from ${result.previous}`)
    if (governance.ledger) this.note(`recorded in ${governance.ledger}`)
    return result
  }
}
