import { existsSync } from 'node:fs'
import { Args, Flags } from '@oclif/core'
import { repeatableList } from '../../cli/args.js'
import { FerryCommand } from '../../cli/base-command.js'
import { plural } from '../../cli/format.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { requiredPolicy } from '../../cli/policy-flags.js'
import { renderPlan } from '../../cli/retention-render.js'
import { DEFAULT_POLICY_FILE, POLICY_ENV, type Policy } from '../../src/policy/index.js'
import { planRetention } from '../../src/retention/index.js'

const age = { 'time?': 'string', source: 'string' } as const

const REPOSITORY_SUMMARY = {
  tags: 'number',
  kept: 'number',
  untag: 'number',
  deleteManifests: 'number',
  referrers: 'number',
  fallbackIndexes: 'number',
  placeholders: 'number',
} as const

const DELETED_MANIFEST: JsonShape = {
  digest: 'string',
  mediaType: 'string',
  role: 'string',
  'subject?': 'string',
  'artifactType?': 'string',
  'tag?': 'string',
}

export const PLAN_SHAPE: JsonShape = {
  repository: 'string',
  keep: [
    {
      tag: 'string',
      digest: 'string',
      reason: 'string',
      'environment?': 'string',
      'version?': 'string',
      'age?': age,
    },
  ],
  delete: [
    {
      tag: 'string',
      digest: 'string',
      action: '"untag" | "delete-manifest"',
      environment: 'string',
      'version?': 'string',
      'age?': age,
    },
  ],
  placeholders: [{ tag: 'string', digest: 'string' }],
  manifests: [DELETED_MANIFEST],
  referrers: [DELETED_MANIFEST],
  fallbackIndexes: [
    { tag: 'string', digest: 'string', subject: 'string', action: '"untag" | "delete-manifest"' },
  ],
  orphanAttachmentTags: ['string'],
  forbidden: [{ tag: 'string', digest: 'string', environment: 'string', pattern: 'string' }],
  untagged: { policy: '"keep" | "delete"', 'note?': 'string' },
  needs: { manifestDelete: 'boolean', tagDelete: 'boolean' },
  tags: { '*': 'string' },
  summary: REPOSITORY_SUMMARY,
}

export const SUMMARY_SHAPE = { repositories: 'number', ...REPOSITORY_SUMMARY } as const

export const retentionFlags = {
  policy: Flags.string({
    description: `The policy file with the retention rules. Default: $${POLICY_ENV}, else ${DEFAULT_POLICY_FILE} in the working directory.`,
  }),
  ledger: Flags.string({
    description:
      'The ledger (ferry promote --ledger; default: the policy file’s `ledger:`): the last source of a tag’s age; apply also appends each removal to it.',
  }),
  'all-repositories': Flags.string({
    description:
      'Every repository the catalog of REG (HOST[:PORT]) lists, read whole; besides those named. Repeatable, or comma-separated.',
    helpValue: 'REG',
    ...repeatableList,
  }),
}

/**
 * The ledger ages are read from: `--ledger` (which must exist), else the policy file's `ledger:` once
 * something has written it.
 */
export const agesLedger = (flag: string | undefined, policy: Policy): string | undefined =>
  flag ?? (policy.ledger !== undefined && existsSync(policy.ledger) ? policy.ledger : undefined)

/** REPO arguments: names, or globs over the catalog. */
export const repositoryArg = Args.string({
  description:
    'HOST/PATH of a repository, or a glob over HOST’s catalog: HOST/acme/** (any depth), HOST/acme/*-prod (one segment). Several may be given.',
})

/** The paragraph both commands share: which repositories, and in what order the plan is told. */
export const REPOSITORIES_HELP =
  'REPOSITORY is HOST/PATH, or a glob matched against HOST’s catalog (/v2/_catalog): ** crosses "/", *, ?, [a-z] and ' +
  '{a,b} do not. --all-repositories REG takes every repository of REG’s catalog. The catalog is read whole (a next ' +
  'page on another origin fails the run before anything is planned), a glob that matches no repository is an ' +
  'error, and each repository is planned once. The plan is sorted by repository, then by the environment whose ' +
  'rule governs each tag (in the policy file’s order; tags in none last), then newest first (SemVer precedence, ' +
  'then age); a tag the policy forbids where it is (tags.forbid, e.g. latest in prod) gets a note line and ' +
  'is listed under `forbidden`.'

export default class RetentionPlan extends FerryCommand<typeof RetentionPlan> {
  static override summary = 'Say what retention would keep, untag and delete; read-only.'
  static override description =
    'Lists each REPOSITORY’s tags, resolves them with HEAD, reads configs only where an age is needed, and applies the ' +
    'policy file’s retention rules: per environment, the `count` newest versions (SemVer precedence; tags without ' +
    'a version by age) and every tag younger than `within` are kept; `protect` patterns and `protect: true` ' +
    'environments are never deleted, nor is anything younger than `grace`. The keep-set is the closure of every ' +
    'kept tag: index children, referrers and cosign .sig/.att/.sbom tags. A candidate tag whose digest the keep-set ' +
    'holds is only untagged; any other goes with its digest, its index children and what is attached to it. A tag ' +
    'on ferry’s untag placeholder (left by an interrupted untag) is listed under placeholders and removed. A tag ' +
    'list the registry cannot give whole (a next page on another origin) fails the repository: no plan from part ' +
    'of the tags.\n\n' +
    `${REPOSITORIES_HELP}\n\n` +
    'Ages come from the org.opencontainers.image.created annotation, then the same config label, then the config’s ' +
    '`created` unless it is the 1970 epoch of reproducible builds, then --ledger. Safe on production: nothing is ' +
    'written (not even capability probes).'
  /** The --json document, shown in --help and checked by test/retention/cli.test.ts. */
  static jsonOutput: JsonShape = { repositories: [PLAN_SHAPE], summary: SUMMARY_SHAPE }

  static override examples = [
    '<%= config.bin %> retention plan registry.intra/acme/shop/web registry.intra/acme/shop/web-prod',
    '<%= config.bin %> retention plan registry.intra/acme/shop/web --policy ferry.policy.yaml --ledger promotions.jsonl --json',
    "<%= config.bin %> retention plan 'registry.intra/acme/**'",
    '<%= config.bin %> retention plan --all-repositories registry.intra',
  ]
  static override strict = false
  static override args = { repository: repositoryArg }
  static override flags = retentionFlags

  async run() {
    const policy = await requiredPolicy(this.flags.policy, 'retention plan')
    const result = await planRetention(this.context, this.positionals, {
      policy,
      ledgerFile: agesLedger(this.flags.ledger, policy),
      allRepositories: this.flags['all-repositories'],
    })
    for (const plan of result.repositories) for (const line of renderPlan(plan, policy)) this.out(line)
    const s = result.summary
    this.out(
      `plan: keep ${s.kept}, untag ${s.untag}, delete ${plural(s.deleteManifests, 'manifest')} in ${plural(s.repositories, 'repository', 'repositories')}`,
    )
    return result
  }
}
