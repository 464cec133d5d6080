import { Args, Flags } from '@oclif/core'
import { FerryCommand } from '../cli/base-command.js'
import { formatBytes, plural, table } from '../cli/format.js'
import type { JsonShape } from '../cli/json-shape.js'
import { blobCountsShape } from '../cli/json-shapes.js'
import { commandGovernance, governanceFlags } from '../cli/policy-flags.js'
import { exitCodeFor, FerryError } from '../src/errors.js'
import { JOB_INDEX_VARIABLE, parseShard } from '../src/sync/shard.js'
import { runSync, type SyncReport } from '../src/sync/sync.js'

export default class Sync extends FerryCommand<typeof Sync> {
  static override summary = 'Mirror the images a YAML spec lists into an internal registry, idempotently.'
  static override description =
    'Images already at the destination with the same digest are recognised with HEAD requests alone (Docker Hub ' +
    'does not count those against its pull limit) and left alone, so a scheduled re-run transfers nothing. One ' +
    'failing image does not stop the others; the exit code is 1 when any failed. Two runs of the same spec never ' +
    'overlap (a lock under $XDG_STATE_HOME/ferry). See examples/sync.example.yaml for the spec format.\n\n' +
    'The policy file is found as copy finds it (--policy FILE, $FERRY_POLICY, ./ferry.policy.yaml; --no-policy ' +
    'applies none and says so). Each image is judged by the environments its destination matches before ' +
    'anything of it is sent: naming, forbidden tags, the SemVer rule, immutability and the required labels. A ' +
    'refused image is a failure naming the rule, and the exit code is then 7 (the others still run). --ledger ' +
    'FILE appends one record per image copied or refused.'
  static override examples = [
    '<%= config.bin %> sync mirror.yaml --dry-run',
    '<%= config.bin %> sync mirror.yaml',
    '<%= config.bin %> sync mirror.yaml --json > report.json   # from cron or a Kubernetes CronJob',
    '<%= config.bin %> sync mirror.yaml --shard 1/3   # the second of three workers',
    '<%= config.bin %> sync mirror.yaml --shard 3     # in a Kubernetes Indexed Job: K from $JOB_COMPLETION_INDEX',
  ]
  static override args = { spec: Args.string({ required: true, description: 'Mirror spec (YAML).' }) }
  static override flags = {
    ...governanceFlags,
    'dry-run': Flags.boolean({
      description:
        'Print what would be copied, what is in sync and what the policy would refuse (exit 7); write nothing.',
    }),
    concurrency: Flags.integer({ description: "Images at once (default: the spec's concurrency).", min: 1 }),
    'blob-concurrency': Flags.integer({
      description: 'Blobs in flight across all images.',
      default: 8,
      min: 1,
    }),
    shard: Flags.string({
      description:
        'Mirror only shard K of N (0-based): each source repository belongs to exactly one shard by a stable ' +
        'hash of its name, so N workers (a Kubernetes Indexed Job) share one spec without coordination; each ' +
        `shard has its own lock and upload journal. N alone takes K from $${JOB_INDEX_VARIABLE}. ` +
        'See examples/k8s/sync-indexed-job.yaml.',
      helpValue: 'K/N',
    }),
  }

  /** The --json document, shown in --help and checked by test/cli/json-output.test.ts. */
  static jsonOutput: JsonShape = {
    spec: 'string',
    dryRun: 'boolean',
    'shard?': { index: 'number', count: 'number' },
    entries: [
      {
        source: 'string',
        destination: 'string',
        status: '"copied" | "in-sync" | "would-copy" | "failed"',
        'sourceDigest?': 'string',
        'destinationDigest?': 'string',
        bytes: 'number',
        manifestsPushed: 'number',
        'blobs?': blobCountsShape,
        'error?': { code: 'string', message: 'string' },
      },
    ],
    totals: {
      images: 'number',
      copied: 'number',
      inSync: 'number',
      wouldCopy: 'number',
      failed: 'number',
      bytes: 'number',
      manifestsPushed: 'number',
    },
    durationMs: 'number',
  }

  async run() {
    const governance = await commandGovernance(this.flags, (line) => this.note(line), this.config.version)
    const report = await runSync(this.context, this.args.spec, {
      ...(this.flags.shard === undefined ? {} : { shard: parseShard(this.flags.shard) }),
      dryRun: this.flags['dry-run'],
      concurrency: this.flags.concurrency,
      blobConcurrency: this.flags['blob-concurrency'],
      governance,
    })
    this.out(render(report))
    // A refusal by the policy says so in the exit code, whatever else failed.
    const refused = report.entries.some((e) => e.error?.code === 'POLICY_VIOLATION')
    if (refused) process.exitCode = exitCodeFor(new FerryError('POLICY_VIOLATION', 'refused'))
    else if (report.totals.failed > 0) process.exitCode = 1
    return report
  }
}

function render(r: SyncReport): string {
  const rows = r.entries.map((e) => [
    e.status,
    e.source,
    '→',
    e.destination,
    e.status === 'failed' ? (e.error?.message ?? '') : e.status === 'copied' ? transferred([e]) : '',
  ])
  const t = r.totals
  const copied = r.entries.filter((e) => e.status === 'copied')
  const summary =
    t.copied + t.wouldCopy + t.failed === 0
      ? `${t.images === 1 ? '1 image' : `all ${t.images} images`} already in sync (0 bytes transferred, 0 manifests pushed)`
      : r.dryRun
        ? `${t.wouldCopy} would be copied, ${t.inSync} in sync, ${t.failed} failed (dry run: nothing written)`
        : `${t.copied} copied (${transferred(copied)}), ${t.inSync} in sync, ${t.failed} failed`
  const shard = r.shard ? `shard ${r.shard.index}/${r.shard.count}: ` : ''
  return `${table(rows)}\n${shard}${summary} in ${(r.durationMs / 1000).toFixed(1)}s`
}

/**
 * What copying moved: bytes sent, and blobs the registry mounted from another repository or already
 * had, which cost no transfer. "0 B" alone would read as if nothing had happened.
 */
function transferred(entries: SyncReport['entries']): string {
  const sum = (pick: (e: SyncReport['entries'][number]) => number) => entries.reduce((n, e) => n + pick(e), 0)
  const sent = sum((e) => e.blobs?.copied ?? 0)
  const mounted = sum((e) => e.blobs?.mounted ?? 0)
  const present = sum((e) => e.blobs?.skipped ?? 0)
  return [
    sent ? `${plural(sent, 'blob')} sent (${formatBytes(sum((e) => e.bytes))})` : 'no blob sent',
    mounted ? `${mounted} mounted` : '',
    present ? `${present} already there` : '',
    `${plural(
      sum((e) => e.manifestsPushed),
      'manifest',
    )} pushed`,
  ]
    .filter(Boolean)
    .join(', ')
}
