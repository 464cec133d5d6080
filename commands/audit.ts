import { Args, Flags } from '@oclif/core'
import { auditSummary, findingLine } from '../cli/audit-render.js'
import { FerryCommand } from '../cli/base-command.js'
import type { JsonShape } from '../cli/json-shape.js'
import { commandPolicy, policyFlags } from '../cli/policy-flags.js'
import { auditRepositories } from '../src/audit/index.js'
import { exitCodeFor, FerryError } from '../src/errors.js'
import { DEFAULT_POLICY_FILE, POLICY_ENV } from '../src/policy/index.js'

const RECORDED_SHAPE = {
  repository: 'string',
  tag: 'string',
  digest: 'string',
  file: 'string',
  line: 'number',
  time: 'string',
  'actor?': 'string',
  operation: 'string',
  verdict: 'string',
} as const

export default class Audit extends FerryCommand<typeof Audit> {
  static override summary =
    'Find drift: release tags that moved or went away, forbidden tags, images that do not verify, missing labels.'
  static override description =
    'Compares what each REPO holds now with what the ledger recorded and what the policy asks, read-only. ' +
    'Where ferry is not in the write path (a distribution registry, Harbor), a `skopeo copy` onto a release tag ' +
    'moves it and nothing notices; audit does, afterwards. One line per finding:\n' +
    '  moved      a tag the ledger recorded (promoted, tagged) names another digest than its last successful ' +
    'record: both digests and the ledger line (FILE:LINE, time, actor)\n' +
    '  gone       a tag the ledger recorded is no longer there (and whether its manifest went too)\n' +
    '  forbidden  a tag its environments forbid (forbid.tags: latest in prod)\n' +
    '  signature, sbom  an image in an environment that requires them does not verify offline with the ' +
    'policy’s keys (both signature schemes; a key in trust.revoked or outside its notBefore/notAfter window ' +
    'does not count, and the finding names it)\n' +
    '  labels     a required label is missing\n' +
    'A failure in a warn-mode environment is printed as `warn` and is not drift. The whole tag list is read or ' +
    'the audit fails (a listing the registry cannot give whole is an error, never a partial audit). ' +
    `The policy is --policy FILE, else $${POLICY_ENV}, else ./${DEFAULT_POLICY_FILE} when it exists; ` +
    '--no-policy compares with the ledger only. With neither a policy nor --ledger there is nothing to compare ' +
    'with (exit 2). A broken ledger chain (see ferry ledger verify) is said on stderr: the ledger itself may ' +
    'have been edited.\n\n' +
    'Exit 0 when there is no drift, 2 when there is; other failures keep their codes (3 not found, 4 denied, 6 ' +
    'network). Usage errors exit 2 as well: scripts read --json, whose "drift" says which (an error prints ' +
    '{"error": …} instead).'
  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    drift: 'boolean',
    findings: [
      {
        kind: '"moved" | "gone" | "forbidden" | "signature" | "sbom" | "labels"',
        severity: '"drift" | "warn"',
        image: 'string',
        'digest?': 'string',
        'recorded?': RECORDED_SHAPE,
        'manifestGone?': 'boolean',
        'rule?': 'string',
        'environment?': 'string',
        message: 'string',
      },
    ],
    repositories: [{ repository: 'string', tags: 'number', recorded: 'number' }],
    'ledger?': {
      file: 'string',
      records: 'number',
      chain: '"intact" | "broken" | "unchained"',
      'problem?': 'string',
    },
  }

  static override examples = [
    '<%= config.bin %> audit registry.intra/acme/shop/api-prod --ledger promotions.jsonl',
    '<%= config.bin %> audit registry.intra/acme/shop/api-prod registry.intra/acme/shop/web-prod --ledger promotions.jsonl --policy /etc/ferry/ferry.policy.yaml --json',
    {
      description: 'From cron: exit 2 on drift, anything else is a failure to audit.',
      command:
        '<%= config.bin %> audit registry.intra/acme/shop/api-prod --ledger promotions.jsonl --json > audit.json; [ "$(jq .drift audit.json)" = false ]',
    },
  ]
  static override strict = false
  static override args = {
    repository: Args.string({
      required: true,
      description: 'HOST/PATH of a repository (several may be given)',
    }),
  }
  static override flags = {
    ledger: Flags.string({
      description:
        'A promotion ledger (promote/tag --ledger): each tag it recorded must still name its last recorded digest.',
    }),
    policy: policyFlags.policy,
    'no-policy': policyFlags['no-policy'],
  }

  async run() {
    const policy = await commandPolicy(this.flags, (line) => this.note(line))
    const ledgerFile = this.flags.ledger
    if (!policy && ledgerFile === undefined) {
      throw new FerryError(
        'USAGE',
        `nothing to audit against: give --ledger FILE, or a policy (--policy FILE, $${POLICY_ENV} or ./${DEFAULT_POLICY_FILE})`,
      )
    }
    const report = await auditRepositories(this.context, this.positionals, {
      policy,
      ledgerFile,
    })
    if (report.ledger?.problem)
      this.note(`warning: ${report.ledger.problem}: the ledger's chain is broken (see ferry ledger verify)`)
    for (const f of report.findings) this.out(findingLine(f))
    this.out(auditSummary(report))
    if (report.drift) {
      const drift = new FerryError('DRIFT', 'drift found')
      this.note(`ferry: audit: ${auditSummary(report)}`)
      process.exitCode = exitCodeFor(drift)
    }
    return report
  }
}
