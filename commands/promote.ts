import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import { formatBytes, plural } from '../cli/format.js'
import type { JsonShape } from '../cli/json-shape.js'
import { policyCheckShape } from '../cli/json-shapes.js'
import { commandGovernance, governanceFlags } from '../cli/policy-flags.js'
import { checkLine } from '../cli/policy-render.js'
import { exitCodeFor, FerryError } from '../src/errors.js'
import { promote } from '../src/promote/index.js'

export default class Promote extends FerryCommand<typeof Promote> {
  static override summary = 'Promote an image by digest, through the policy gates, with an audit record.'
  static override description =
    'SRC is resolved to a digest once and exactly that digest is copied to DST, with its signatures, SBOMs and ' +
    'attestations (never a rebuild, never a second resolve). DST without a tag takes SRC’s tag. SRC:TAG@DIGEST ' +
    'promotes DIGEST only when TAG names it too (as copy; --digest-wins promotes it anyway and says so).\n\n' +
    'The policy file: --policy FILE, else $FERRY_POLICY, else ferry.policy.yaml in the working directory when it ' +
    'exists; --no-policy applies none and says so on stderr. Gates, all before anything is sent to DST: the rules ' +
    'of the environment DST matches, immutable and forbid.tags of every environment DST matches, and with ' +
    '--environment that environment’s rules on top (it only tightens: the destination’s rules always apply). An ' +
    'enforce-mode failure refuses the promotion (exit 7, one line naming the rule and its environment), a ' +
    'warn-mode one is printed. Then DST’s tag is read: naming the same digest, the promotion is a successful ' +
    'no-op; naming another, it is refused (exit 7, both digests named) unless --force, and in an environment ' +
    'marked immutable even --force is refused. The tag is written last, on condition that it is still what was ' +
    'read, and read back afterwards. The signature rule judges keys as policy check does: a signature by a key in ' +
    'the policy’s trust.revoked, or outside its notBefore/notAfter window, does not count, and the refusal names it.\n\n' +
    '--ledger FILE (default: the policy file’s `ledger:`) appends one JSON line per attempt (promoted, refused or unchanged: time, operation, actor, ' +
    'repository, tag, verdict, source, destination, digest, environment, checks, labels source/revision/created, ' +
    'forced, ferryVersion), hash-chained to the line before; read it with `ferry ledger ls` and `ferry ledger ' +
    'show`, check it with `ferry ledger verify`.'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    time: 'string',
    verdict: 'string',
    source: 'string',
    destination: 'string',
    digest: 'string',
    environment: 'string | null',
    checks: [policyCheckShape],
    labels: { 'source?': 'string', 'revision?': 'string', 'created?': 'string' },
    forced: 'boolean',
    ferryVersion: 'string',
    'previous?': 'string',
    'reason?': 'string',
    'copy?': 'object',
    'ledger?': 'string',
    'digestWon?': { tag: 'string', 'tagDigest?': 'string' },
  }

  static override examples = [
    '<%= config.bin %> promote registry.intra/acme/shop/api:v1.4.2 registry.intra/acme/shop/api-prod --ledger promotions.jsonl',
    '<%= config.bin %> promote registry.intra/acme/shop/api@sha256:… registry.intra/acme/shop/api-prod:v1.4.2 --policy ferry.policy.yaml',
    '<%= config.bin %> promote oci:./build:team/app:1.0 reg.local:5000/team/app --force --json',
    'FERRY_POLICY=/etc/ferry/policy.yaml <%= config.bin %> promote registry.intra/acme/shop/api:v1.4.2 registry.intra/acme/shop/api-prod',
  ]
  static override args = {
    source: Args.string({
      required: true,
      description: 'REGISTRY/REPO[:TAG][@DIGEST] (https://… too), oci:DIR[:REF] or bundle:FILE:IMAGE',
    }),
    destination: Args.string({ required: true, description: 'REGISTRY/REPO[:TAG] or oci:DIR[:REPO]:TAG' }),
  }
  static override flags = {
    ...governanceFlags,
    force: Flags.boolean({
      description: 'Move a tag that names another digest (never in an immutable environment).',
    }),
    'no-referrers': Flags.boolean({ description: 'Leave signatures, SBOMs and attestations behind.' }),
    'digest-wins': Flags.boolean({
      description:
        'For SRC:TAG@DIGEST where TAG names another digest: promote DIGEST anyway (default: refuse). Said on stderr.',
    }),
  }

  async run() {
    const governance = await commandGovernance(this.flags, (line) => this.note(line), this.config.version)
    const result = await promote(this.context, this.args.source, this.args.destination, {
      ...governance,
      force: this.flags.force,
      digestWins: this.flags['digest-wins'],
      referrers: !this.flags['no-referrers'],
      ferryVersion: this.config.version,
    })
    if (result.digestWon) {
      const { tag, tagDigest } = result.digestWon
      this.note(
        `note: promoted ${result.digest} as given (--digest-wins); the source tag ${tag} ${tagDigest ? `is ${tagDigest}` : 'does not exist'}`,
      )
    }
    const env = result.environment === null ? 'no environment' : `environment ${result.environment}`
    this.out(
      `${result.verdict}: ${result.source} → ${result.destination} (${result.digest}, ${env}${result.forced ? ', forced' : ''})`,
    )
    for (const c of result.checks) this.out(checkLine(c, result.environment))
    if (result.copy) {
      const c = result.copy
      this.note(
        `copied ${plural(c.blobs.copied, 'blob')} (${formatBytes(c.bytes)}), skipped ${c.blobs.skipped}, mounted ${c.blobs.mounted}; ${plural(c.referrers, 'referrer')}`,
      )
    }
    if (result.ledger) this.note(`recorded in ${result.ledger}`)
    if (result.verdict === 'refused') {
      const failure = new FerryError('POLICY_VIOLATION', `${result.destination}: ${result.reason}`)
      this.note(`ferry: promotion refused: ${failure.message}`)
      process.exitCode = exitCodeFor(failure)
    }
    return result
  }
}
