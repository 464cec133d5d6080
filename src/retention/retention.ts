import type { DeleteSupport } from '../content/target.js'
import type { Context } from '../context.js'
import { FerryError } from '../errors.js'
import type { Governance } from '../governance/governed.js'
import { readLedger } from '../ledger/index.js'
import { parseRepository } from '../reference/index.js'
import { type LedgerAges, ledgerAges } from './age.js'
import { type ApplyOptions, applyRepository, type RepositoryApply } from './apply.js'
import { claimBackupDir, type RestoreResult, readBackup, restoreRepository } from './backup.js'
import { gcAdvice } from './gc-advice.js'
import { type PlanOptions, planRepository, type RepositoryPlan, type RepositorySummary } from './plan.js'
import { type RepositorySelection, selectRepositories } from './repositories.js'

/** The signal (and, applying, the logger) are the context's. */
export type RetentionOptions = Omit<PlanOptions, 'ledger' | 'signal'> & {
  /** A promotion ledger (JSON lines), the last source of ages. */
  ledgerFile?: string
  /** `--all-repositories REG`: every repository of these registries' catalogs, besides those named. */
  allRepositories?: RepositorySelection['allRepositories']
}

export interface RetentionPlan {
  repositories: RepositoryPlan[]
  summary: RepositorySummary & { repositories: number }
}

export function summarizePlans(plans: readonly RepositoryPlan[]): RetentionPlan['summary'] {
  const total = {
    repositories: plans.length,
    tags: 0,
    kept: 0,
    untag: 0,
    deleteManifests: 0,
    referrers: 0,
    fallbackIndexes: 0,
    placeholders: 0,
  }
  for (const p of plans) {
    for (const k of [
      'tags',
      'kept',
      'untag',
      'deleteManifests',
      'referrers',
      'fallbackIndexes',
      'placeholders',
    ] as const)
      total[k] += p.summary[k]
  }
  return total
}

async function agesFrom(file: string | undefined): Promise<LedgerAges | undefined> {
  return file === undefined ? undefined : ledgerAges((await readLedger(file)).records)
}

/** The plan for each repository (`HOST/PATH`, or a glob over the catalog: see selectRepositories), read-only. */
export async function planRetention(
  ctx: Context,
  repositories: readonly string[],
  opts: RetentionOptions,
): Promise<RetentionPlan> {
  const ledger = await agesFrom(opts.ledgerFile)
  const { client, signal } = ctx
  const names = await selectRepositories(client, { repositories, allRepositories: opts.allRepositories })
  const plans: RepositoryPlan[] = []
  for (const n of names) plans.push(await planRepository(client.repository(n), { ...opts, ledger, signal }))
  return { repositories: plans, summary: summarizePlans(plans) }
}

export interface RetentionApply {
  backup: string
  repositories: (RepositoryApply | { repository: string; error: { code: string; message: string } })[]
  summary: RetentionPlan['summary'] & { failed: number }
  gc: string
}

/**
 * Applies retention repository by repository; one that fails (a refusal, a registry error) is reported
 * and the others still run, so a cron job does what it can and exits 1.
 */
export async function applyRetention(
  ctx: Context,
  repositories: readonly string[],
  opts: RetentionOptions & Omit<ApplyOptions, 'policy' | 'ledger' | 'signal' | 'logger'>,
): Promise<RetentionApply> {
  const ledger = await agesFrom(opts.ledgerFile)
  await claimBackupDir(opts.backupDir)
  const { client, signal, logger } = ctx
  const results: RetentionApply['repositories'] = []
  const registries: DeleteSupport[] = []
  // Before any repository is touched: a glob that matches nothing, or a partial catalog, changes nothing.
  const names = await selectRepositories(client, { repositories, allRepositories: opts.allRepositories })
  for (const n of names) {
    const target = client.repository(n)
    try {
      results.push(await applyRepository(target, { ...opts, ledger, signal, logger }))
      // Probed already where it deleted (and kept by the client): which collection is safe there.
      registries.push(await target.deletes())
    } catch (err) {
      if (signal?.aborted) throw err
      const code = (err as { code?: string }).code ?? 'INTERNAL'
      results.push({ repository: target.name, error: { code, message: (err as Error).message } })
    }
  }
  const plans = results.flatMap((r) => ('plan' in r ? [r.plan] : []))
  return {
    backup: opts.backupDir,
    repositories: results,
    summary: { ...summarizePlans(plans), failed: results.length - plans.length },
    gc: gcAdvice(registries),
  }
}

export interface RetentionRestore {
  repositories: RestoreResult[]
}

/**
 * Re-pushes a backup, into the repositories it came from or (a backup of one repository) into `to`.
 * Tags re-used since the apply are reported as conflicts and left alone, unless `force`.
 */
export async function restoreRetention(
  ctx: Context,
  dir: string,
  opts: { to?: string; force?: boolean; governance?: Governance },
): Promise<RetentionRestore> {
  const record = await readBackup(dir)
  if (opts.to !== undefined && record.repositories.length !== 1) {
    throw new FerryError(
      'USAGE',
      `${dir} holds ${record.repositories.length} repositories (${record.repositories.map((r) => r.repository).join(', ')}); --to needs a backup of one`,
    )
  }
  const restored: RestoreResult[] = []
  for (const entry of record.repositories) {
    const n = parseRepository(opts.to ?? entry.repository)
    restored.push(
      await restoreRepository(dir, entry, ctx.client.repository(n), { ...opts, signal: ctx.signal }),
    )
  }
  return { repositories: restored }
}
