import type { DeleteSupport } from '../content/target.js'
import { FerryError } from '../errors.js'
import type { Governance } from '../governance/governed.js'
import { readLedger } from '../ledger/index.js'
import { parseRepository } from '../reference/index.js'
import { RegistryClient, type RegistryOptions } from '../registry/index.js'
import { type LedgerAges, ledgerAges } from './age.js'
import { type ApplyOptions, applyRepository, type RepositoryApply } from './apply.js'
import { claimBackupDir, type RestoreResult, readBackup, restoreRepository } from './backup.js'
import { gcAdvice } from './gc-advice.js'
import { type PlanOptions, planRepository, type RepositoryPlan, type RepositorySummary } from './plan.js'
import { type RepositorySelection, selectRepositories } from './repositories.js'

export type RetentionOptions = RegistryOptions &
  Omit<PlanOptions, 'ledger'> & {
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
  repositories: readonly string[],
  opts: RetentionOptions,
): Promise<RetentionPlan> {
  const ledger = await agesFrom(opts.ledgerFile)
  const client = new RegistryClient(opts)
  try {
    const names = await selectRepositories(client, { repositories, allRepositories: opts.allRepositories })
    const plans: RepositoryPlan[] = []
    for (const n of names) plans.push(await planRepository(client.repository(n), { ...opts, ledger }))
    return { repositories: plans, summary: summarizePlans(plans) }
  } finally {
    await client.close()
  }
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
  repositories: readonly string[],
  opts: RetentionOptions & Omit<ApplyOptions, 'policy' | 'ledger'>,
): Promise<RetentionApply> {
  const ledger = await agesFrom(opts.ledgerFile)
  await claimBackupDir(opts.backupDir)
  const client = new RegistryClient(opts)
  const results: RetentionApply['repositories'] = []
  const registries: DeleteSupport[] = []
  try {
    // Before any repository is touched: a glob that matches nothing, or a partial catalog, changes nothing.
    const names = await selectRepositories(client, { repositories, allRepositories: opts.allRepositories })
    for (const n of names) {
      const target = client.repository(n)
      try {
        results.push(await applyRepository(target, { ...opts, ledger }))
        // Probed already where it deleted (and kept by the client): which collection is safe there.
        registries.push(await target.deletes())
      } catch (err) {
        if (opts.signal?.aborted) throw err
        const code = (err as { code?: string }).code ?? 'INTERNAL'
        results.push({ repository: target.name, error: { code, message: (err as Error).message } })
      }
    }
  } finally {
    await client.close()
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
  dir: string,
  opts: RegistryOptions & { to?: string; signal?: AbortSignal; force?: boolean; governance?: Governance },
): Promise<RetentionRestore> {
  const record = await readBackup(dir)
  if (opts.to !== undefined && record.repositories.length !== 1) {
    throw new FerryError(
      'USAGE',
      `${dir} holds ${record.repositories.length} repositories (${record.repositories.map((r) => r.repository).join(', ')}); --to needs a backup of one`,
    )
  }
  const client = new RegistryClient(opts)
  try {
    const restored: RestoreResult[] = []
    for (const entry of record.repositories) {
      const n = parseRepository(opts.to ?? entry.repository)
      restored.push(await restoreRepository(dir, entry, client.repository(n), opts))
    }
    return { repositories: restored }
  } finally {
    await client.close()
  }
}
