import { resolveIfPresent } from '../content/present.js'
import type { OperationOptions, ReadOnlyTarget } from '../content/target.js'
import { isUntagPlaceholder } from '../content/untag-placeholder.js'
import type { Context } from '../context.js'
import {
  type LedgerVerification,
  lastRecordedTags,
  type RecordedTag,
  readLedger,
  recordedAt,
  verifyLedger,
} from '../ledger/index.js'
import type { Digest } from '../oci/digest.js'
import { checkContent, checkName, judgesFor, type Policy, type PolicyCheck } from '../policy/index.js'
import { isAttachmentTag } from '../reference/grammar.js'
import { canonicalName, parseRepository } from '../reference/index.js'
import { Limiter } from '../util/limit.js'
import { type AuditFinding, byImageAndKind } from './findings.js'

export interface AuditOptions {
  /** The rules tags and images are held to; without it only the ledger is compared. */
  policy?: Policy
  /** A promotion ledger (`promote`/`tag --ledger`): where each release tag should still be. */
  ledgerFile?: string
}

export interface AuditedRepository {
  repository: string
  /** Tags looked at (attachment tags aside). */
  tags: number
  /** Tags the ledger has a successful record of. */
  recorded: number
}

export interface AuditReport {
  /** True when any finding is drift (exit 2). */
  drift: boolean
  findings: AuditFinding[]
  repositories: AuditedRepository[]
  ledger?: { file: string; records: number; chain: LedgerVerification['status']; problem?: string }
}

// HEADs in flight per repository: a tag list of hundreds resolves in a few round trips.
const RESOLVE_CONCURRENCY = 8

/**
 * Compares what each repository holds now with what the ledger recorded and what the policy asks:
 * release tags that moved or went away (whoever did it: a `skopeo copy` onto a registry ferry does not
 * guard), forbidden tags, images that do not verify where a signature or SBOM is required, and missing
 * labels. Read-only: tag listing (whole, or the audit fails), HEADs, and the manifests, configs and
 * attachments the policy's content rules read.
 */
export async function auditRepositories(
  ctx: Context,
  repositories: readonly string[],
  opts: AuditOptions,
): Promise<AuditReport> {
  const names = repositories.map(parseRepository)
  const ledger = opts.ledgerFile === undefined ? undefined : await readLedgerState(opts.ledgerFile)
  const findings: AuditFinding[] = []
  const audited: AuditedRepository[] = []
  for (const n of names) {
    const target = ctx.client.repository(n)
    const recorded = [...(ledger?.tags.values() ?? [])].filter(
      (r) => r.repository === canonicalName(`${n.registry}/${n.repository}`),
    )
    const found = await auditRepository(target, {
      ...n,
      recorded,
      policy: opts.policy,
      signal: ctx.signal,
    })
    findings.push(...found.findings)
    audited.push({ repository: target.name, tags: found.tags, recorded: recorded.length })
  }
  findings.sort(byImageAndKind)
  return {
    drift: findings.some((f) => f.severity === 'drift'),
    findings,
    repositories: audited,
    ...(ledger ? { ledger: ledger.summary } : {}),
  }
}

/**
 * One repository read through `target` (a registry's own store: `serve`'s web UI), held to the same
 * ledger and policy as `auditRepositories`. `hosts` are the names the registry is reached by: a ledger
 * record under any of them is a record of this repository.
 */
export async function auditTarget(
  target: ReadOnlyTarget,
  opts: OperationOptions & {
    repository: string
    hosts: readonly string[]
    policy?: Policy
    ledgerFile?: string
  },
): Promise<AuditFinding[]> {
  const ledger = opts.ledgerFile === undefined ? undefined : await readLedgerState(opts.ledgerFile)
  const wanted = new Set(opts.hosts.map((h) => canonicalName(`${h}/${opts.repository}`)))
  const recorded = [...(ledger?.tags.values() ?? [])].filter((r) => wanted.has(r.repository))
  const { findings } = await auditRepository(target, {
    registry: opts.hosts[0] ?? '',
    repository: opts.repository,
    recorded,
    policy: opts.policy,
    signal: opts.signal,
  })
  return findings.sort(byImageAndKind)
}

async function readLedgerState(file: string) {
  const [contents, chain] = await Promise.all([readLedger(file), verifyLedger(file)])
  return {
    tags: lastRecordedTags(file, contents),
    summary: {
      file,
      records: contents.records.length,
      chain: chain.status,
      ...(chain.problem ? { problem: `${file}:${chain.problem.line}: ${chain.problem.message}` } : {}),
    },
  }
}

interface RepositoryAudit extends OperationOptions {
  registry: string
  repository: string
  recorded: RecordedTag[]
  policy?: Policy
}

async function auditRepository(
  target: ReadOnlyTarget,
  opts: RepositoryAudit,
): Promise<{ findings: AuditFinding[]; tags: number }> {
  const op = { signal: opts.signal }
  const tags = (await target.listTags(op)).filter((t) => !isAttachmentTag(t))
  const limiter = new Limiter(RESOLVE_CONCURRENCY)
  const resolved = await Promise.all(
    tags.map((tag) => limiter.run(async () => (await resolveIfPresent(target, tag, op))?.digest as Digest)),
  )
  const now = new Map<string, Digest>()
  for (const [i, tag] of tags.entries()) if (resolved[i]) now.set(tag, resolved[i]!)
  const image = (tag: string) => `${target.name}:${tag}`
  const findings: AuditFinding[] = []
  for (const r of opts.recorded)
    findings.push(...(await ledgerFindings(target, r, now.get(r.tag), image(r.tag), op)))
  if (opts.policy) {
    const policy = opts.policy
    const content = new Map<string, Promise<PolicyCheck[]>>()
    for (const [tag, digest] of now) {
      const name = { host: opts.registry, repository: opts.repository, tag }
      const rows = checkName({ policy, digest, name }).checks.filter((c) => c.rule === 'tags.forbid')
      // Content rules depend on the image and on the environments judging it, not on the tag itself.
      const judges = judgesFor(policy, name)
      const key = `${judges.home?.name ?? ''}\0${digest}`
      let checked = content.get(key)
      if (!checked) {
        checked = contentRows(target, policy, name, digest, op)
        content.set(key, checked)
      }
      rows.push(...(await checked))
      findings.push(...rows.flatMap((row) => policyFinding(row, image(tag), digest)))
    }
  }
  return { findings, tags: tags.length }
}

async function contentRows(
  target: ReadOnlyTarget,
  policy: Policy,
  name: { host: string; repository: string; tag: string },
  digest: Digest,
  op: OperationOptions,
): Promise<PolicyCheck[]> {
  const manifest = await target.fetchManifest(digest, op)
  // A run of retention killed mid-untag leaves a tag on its placeholder: a tag being removed, no image.
  if (isUntagPlaceholder(manifest)) return []
  return (await checkContent({ policy, target, digest, name, manifest })).checks
}

const KIND_OF_RULE = {
  'tags.forbid': 'forbidden',
  signature: 'signature',
  sbom: 'sbom',
  labels: 'labels',
} as const

function policyFinding(row: PolicyCheck, image: string, digest: Digest): AuditFinding[] {
  if (row.result !== 'fail' && row.result !== 'warn') return []
  const kind = KIND_OF_RULE[row.rule as keyof typeof KIND_OF_RULE]
  if (!kind) return []
  return [
    {
      kind,
      severity: row.result === 'fail' ? 'drift' : 'warn',
      image,
      digest,
      rule: row.rule,
      ...(row.environment ? { environment: row.environment } : {}),
      message: `${row.rule} (${row.environment ? `environment ${row.environment}` : 'no environment'}): ${row.message}`,
    },
  ]
}

/** A recorded tag against what it names now (undefined: gone). */
async function ledgerFindings(
  target: ReadOnlyTarget,
  r: RecordedTag,
  now: Digest | undefined,
  image: string,
  op: OperationOptions,
): Promise<AuditFinding[]> {
  if (now === r.digest) return []
  const manifestGone = !(await target.hasManifest(r.digest as Digest, op))
  const where = recordedAt(r)
  const also = manifestGone ? `; ${r.digest} is gone from the repository too` : ''
  if (now === undefined) {
    return [
      {
        kind: 'gone',
        severity: 'drift',
        image,
        recorded: r,
        manifestGone,
        message: `gone: the ledger recorded it naming ${r.digest} at ${where}; the tag is gone${manifestGone ? ` and so is the manifest` : `, the manifest is still there by digest`}`,
      },
    ]
  }
  return [
    {
      kind: 'moved',
      severity: 'drift',
      image,
      digest: now,
      recorded: r,
      manifestGone,
      message: `moved: it names ${now}, the ledger recorded ${r.digest} at ${where}${also}`,
    },
  ]
}
