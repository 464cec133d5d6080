import { join } from 'node:path'
import { Flags } from '@oclif/core'
import { FerryCommand } from '../../cli/base-command.js'
import type { JsonShape } from '../../cli/json-shape.js'
import { requiredPolicy } from '../../cli/policy-flags.js'
import { renderApply, renderPlan } from '../../cli/retention-render.js'
import { exitCodeFor, FerryError } from '../../src/errors.js'
import { applyRetention, planRetention, retentionStateDir } from '../../src/retention/index.js'
import {
  agesLedger,
  PLAN_SHAPE,
  REPOSITORIES_HELP,
  repositoryArg,
  retentionFlags,
  SUMMARY_SHAPE,
} from './plan.js'

const backupPath = () => join(retentionStateDir(), 'backups', new Date().toISOString().replace(/[:.]/g, '-'))

export default class RetentionApply extends FerryCommand<typeof RetentionApply> {
  static override summary = 'Apply the retention plan: back up, then untag and delete, resumably.'
  static override description =
    'Without --yes it prints the plan and changes nothing. With --yes, for each REPOSITORY under a lock per ' +
    'registry+repository (every spelling of it shares one): a fresh plan is made from the whole tag list (a listing ' +
    'the registry cannot give whole, e.g. a next page on another origin, fails the repository before anything is ' +
    'changed); what an interrupted earlier run left in its journal (under $XDG_STATE_HOME/ferry/retention) is ' +
    'carried in where the fresh plan does not repeat it; the plan is checked against the registry’s delete ' +
    'capabilities (refused before any change when the registry lacks one, naming it); everything it touches is ' +
    'backed up to --backup (an OCI layout with retention-backup.json: manifests, the tag → digest map, and the ' +
    'attached SBOMs and signatures whole); kept tags are checked not to have moved; and then, in order: tags an ' +
    'interrupted untag left on ferry’s placeholder, untags, manifest deletes (each image before its index children ' +
    'and attachments), empty fallback (sha256-HEX) indexes. Just before each manifest DELETE the tags are listed ' +
    'again: a digest that a tag the plan does not remove now names or reaches is left, and the report says which ' +
    'tag. Where a registry has no tag DELETE (distribution 2.x), a tag is untagged by pushing a unique placeholder ' +
    'onto it and deleting that by digest.\n\n' +
    `${REPOSITORIES_HELP} Repositories are applied one by one in that order, each with the safety above.\n\n` +
    'The policy file: --policy FILE, else $FERRY_POLICY, else ferry.policy.yaml in the working directory. Before ' +
    'anything changes, every tag the plan removes is judged as `ferry delete` judges it: a tag of an immutable ' +
    'environment is never removed, and a plan that would remove one is refused with the repository untouched ' +
    '(exit 7, naming the rule, the environment, the tag and its digest). --ledger FILE (default: the policy ' +
    'file’s `ledger:`) gets one record per tag or manifest removed, and per refusal.\n\n' +
    'Exit 0 when every repository is done, 7 when the policy refused any, 1 when any other failed (the others still run). Space is reclaimed only by the ' +
    'registry’s garbage collection, and the last line says which is safe for the registry at hand. On ' +
    'distribution 2.x (which deletes by digest only): `registry garbage-collect CONFIG` WITHOUT ' +
    '--delete-untagged, which there deletes every manifest no tag names: the platform images of multi-arch ' +
    'images and the signatures and SBOMs attached as referrers, of kept images too. Harbor: its GC; ferry ' +
    'serve: `ferry gc --root DIR` or serve --gc-interval. `ferry retention restore BACKUP` re-pushes what was ' +
    'removed until that GC runs.'
  /** The --json document, shown in --help and checked by test/retention/cli.test.ts. */
  static jsonOutput: JsonShape = {
    'dryRun?': 'boolean',
    'backup?': 'string',
    repositories: [
      {
        repository: 'string',
        'plan?': PLAN_SHAPE,
        'resumed?': { steps: 'number', 'backup?': 'string' },
        'backup?': { dir: 'string', manifests: 'number', blobs: 'number', tags: 'number' },
        'steps?': {
          untagged: 'number',
          placeholderUntags: 'number',
          deletedManifests: 'number',
          removedFallbackIndexes: 'number',
          removedPlaceholders: 'number',
          skipped: ['string'],
        },
        'error?': { code: 'string', message: 'string' },
      },
    ],
    summary: { ...SUMMARY_SHAPE, 'failed?': 'number' },
    'gc?': 'string',
  }

  static override examples = [
    '<%= config.bin %> retention apply registry.intra/acme/shop/web',
    '<%= config.bin %> retention apply registry.intra/acme/shop/web registry.intra/acme/shop/web-prod --yes --json',
    '<%= config.bin %> retention apply registry.intra/acme/shop/web --yes --backup /backups/retention-$(date +%F)',
    "<%= config.bin %> retention apply 'registry.intra/acme/*-prod' --yes",
  ]
  static override strict = false
  static override args = { repository: repositoryArg }
  static override flags = {
    ...retentionFlags,
    yes: Flags.boolean({ description: 'Carry the plan out; without it, only print it.' }),
    backup: Flags.string({
      description:
        'A new directory for this run’s backup (an OCI layout); default: $XDG_STATE_HOME/ferry/retention/backups/TIME.',
    }),
  }

  async run() {
    const policy = await requiredPolicy(this.flags.policy, 'retention apply')
    const common = {
      policy,
      ledgerFile: agesLedger(this.flags.ledger, policy),
      allRepositories: this.flags['all-repositories'],
    }
    if (!this.flags.yes) {
      const plan = await planRetention(this.context, this.positionals, common)
      for (const p of plan.repositories) for (const line of renderPlan(p, policy)) this.out(line)
      this.note('ferry: nothing was changed; run again with --yes to apply this plan')
      return {
        dryRun: true,
        repositories: plan.repositories.map((p) => ({ repository: p.repository, plan: p })),
        summary: plan.summary,
      }
    }
    const result = await applyRetention(this.context, this.positionals, {
      ...common,
      backupDir: this.flags.backup ?? backupPath(),
      record: { ledger: this.flags.ledger ?? policy.ledger, ferryVersion: this.config.version },
    })
    for (const r of result.repositories) {
      if ('error' in r) {
        // Most errors already start with the repository (or the image in it): not said twice.
        const named = r.error.message.startsWith(r.repository)
        this.note(`ferry: ${named ? '' : `${r.repository}: `}${r.error.message}`)
      } else {
        for (const line of renderPlan(r.plan, policy)) this.out(line)
        for (const line of renderApply(r)) this.out(line)
      }
    }
    this.out(`backup: ${result.backup}`)
    this.out(result.gc)
    const refused = result.repositories.some((r) => 'error' in r && r.error.code === 'POLICY_VIOLATION')
    if (refused) process.exitCode = exitCodeFor(new FerryError('POLICY_VIOLATION', 'refused'))
    else if (result.summary.failed) process.exitCode = 1
    return result
  }
}
