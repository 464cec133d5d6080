import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { DeleteSupport, OperationOptions, ReadOnlyTarget, Target } from '../content/target.js'
import { FerryError, isFerryError } from '../errors.js'
import { GraphReader } from '../graph/index.js'
import { type Logger, silentLogger } from '../log.js'
import { parseAttachmentTag } from '../naming/attachment-tags.js'
import type { Digest } from '../oci/digest.js'
import { childrenOf } from '../oci/manifest.js'
import { resolveIfPresent } from '../targets/present.js'
import { Limiter } from '../util/limit.js'
import { withLock } from '../util/lock.js'
import { ferryStateDir } from '../util/state-dir.js'
import { type BackupSummary, writeBackup } from './backup.js'
import { finishJournal, type Journal, readJournal, type Step, writeJournal } from './journal.js'
import { type PlanOptions, planRepository, type RepositoryPlan } from './plan.js'

/** Said with every apply: deleting manifests frees no disk until the registry's own GC runs. */
export const GC_NOTE =
  'space is reclaimed when the registry garbage-collects: distribution `registry garbage-collect --delete-untagged CONFIG`, Harbor: Administration > Clean Up > Garbage Collection'

export interface ApplyOptions extends PlanOptions {
  /** The backup layout of this run (see backup.ts); the caller has claimed it. */
  backupDir: string
  /** Where journals and locks live; default `$XDG_STATE_HOME/ferry/retention`. */
  stateDir?: string
  logger?: Logger
  /** Called after each step is done and journalled (tests stop a run here). */
  onStep?: (step: Step, index: number) => void | Promise<void>
}

export interface StepCounts {
  untagged: number
  /** Untags done by pushing a placeholder onto the tag and deleting it by digest (no tag DELETE). */
  placeholderUntags: number
  deletedManifests: number
  removedFallbackIndexes: number
  /** Already done (a rerun), or changed by someone else since the plan: left alone, each said why. */
  skipped: string[]
}

export interface RepositoryApply {
  repository: string
  plan: RepositoryPlan
  /** Steps of an interrupted earlier run, finished first. */
  resumed?: { steps: number; backup?: string }
  backup?: BackupSummary
  steps: StepCounts
}

export const retentionStateDir = (): string => join(ferryStateDir(), 'retention')

/** One name per registry+repository for its lock and journal: readable, and unique by the hash. */
function keyOf(repository: string): string {
  const readable = repository.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80)
  return `${readable}-${createHash('sha256').update(repository).digest('hex').slice(0, 12)}`
}

const emptyCounts = (): StepCounts => ({
  untagged: 0,
  placeholderUntags: 0,
  deletedManifests: 0,
  removedFallbackIndexes: 0,
  skipped: [],
})

/** The plan as steps, in the order they run: untags, manifest deletes (each group's root first), fallbacks. */
export function stepsOf(plan: RepositoryPlan): Step[] {
  const keptIndexes = [
    ...new Set(plan.fallbackIndexes.filter((f) => f.action === 'untag').map((f) => f.digest)),
  ]
  return [
    ...plan.delete
      .filter((d) => d.action === 'untag')
      .map((d): Step => ({ op: 'untag', tag: d.tag, digest: d.digest })),
    ...plan.manifests.map((m): Step => ({ op: 'delete-manifest', digest: m.digest })),
    ...plan.fallbackIndexes.map((f): Step => ({ op: 'remove-fallback', tag: f.tag, keptIndexes })),
  ]
}

/** Refuses, before anything changes, a plan that needs what the registry does not allow. */
export function checkDeletes(plan: RepositoryPlan, deletes: DeleteSupport): void {
  if (plan.needs.manifestDelete && !deletes.manifest) {
    throw new FerryError(
      'UNSUPPORTED',
      `${plan.repository}: the plan deletes ${plan.summary.deleteManifests} manifest(s) and the registry does not allow manifest DELETE (distribution: REGISTRY_STORAGE_DELETE_ENABLED=true; or the credentials lack delete); nothing was changed`,
    )
  }
  if (plan.needs.tagDelete && !deletes.tag && !deletes.manifest) {
    throw new FerryError(
      'UNSUPPORTED',
      `${plan.repository}: the plan untags ${plan.summary.untag} tag(s) and the registry allows neither tag DELETE nor manifest DELETE; nothing was changed`,
    )
  }
}

/**
 * Checks, just before the first change, that nothing the plan relies on moved: every kept tag still
 * names what it named, and no tag that appeared since names a digest about to be deleted.
 */
async function checkUnmoved(
  target: ReadOnlyTarget,
  plan: RepositoryPlan,
  opts: OperationOptions,
): Promise<void> {
  const doomed = new Set<string>(plan.manifests.map((m) => m.digest))
  const kept = new Set(plan.keep.map((k) => k.tag))
  const limiter = new Limiter(8)
  const tags = (await target.listTags(opts)).filter(
    (t) => parseAttachmentTag(t) === undefined && (kept.has(t) || plan.tags[t] === undefined),
  )
  const moved = await Promise.all(
    tags.map((tag) =>
      limiter.run(async () => {
        const now = (await resolveIfPresent(target, tag, opts))?.digest
        if (now === undefined) return undefined
        if (kept.has(tag) && now !== plan.tags[tag]) return `${tag} moved from ${plan.tags[tag]} to ${now}`
        if (!kept.has(tag) && doomed.has(now)) return `${tag} appeared, naming ${now}, which the plan deletes`
        return undefined
      }),
    ),
  )
  const problems = moved.filter((m): m is string => m !== undefined)
  if (problems.length) {
    throw new FerryError(
      'CONFLICT',
      `${plan.repository}: tags changed since the plan (${problems.join('; ')}); nothing was changed, run again`,
    )
  }
}

async function runStep(
  target: Target,
  step: Step,
  deletes: DeleteSupport,
  counts: StepCounts,
  opts: OperationOptions,
) {
  const gone = (what: string) => counts.skipped.push(`${what}: already gone`)
  if (step.op === 'untag') {
    try {
      await target.untag(step.tag, { ...opts, ifMatch: step.digest as Digest })
      counts.untagged++
      if (!deletes.tag) counts.placeholderUntags++
    } catch (err) {
      if (isFerryError(err, 'NOT_FOUND')) gone(`tag ${step.tag}`)
      else if (isFerryError(err, 'CONFLICT'))
        counts.skipped.push(`tag ${step.tag}: moved since the plan, left as it is`)
      else throw err
    }
    return
  }
  if (step.op === 'delete-manifest') {
    try {
      await target.deleteManifest(step.digest as Digest, opts)
      counts.deletedManifests++
    } catch (err) {
      if (isFerryError(err, 'NOT_FOUND')) gone(step.digest)
      else throw err
    }
    return
  }
  // A fallback index goes once nothing it lists is left; its digest changed as its referrers went.
  const desc = await resolveIfPresent(target, step.tag, opts)
  if (!desc) return gone(`fallback tag ${step.tag}`)
  const index = await target.fetchManifest(desc.digest, opts)
  const listed = childrenOf(index).manifests
  const left = (await Promise.all(listed.map((d) => target.hasManifest(d.digest as Digest, opts)))).filter(
    Boolean,
  )
  if (left.length) {
    counts.skipped.push(
      `fallback tag ${step.tag}: still lists ${left.length} manifest(s) that exist, left as it is`,
    )
    return
  }
  if (step.keptIndexes.includes(desc.digest)) {
    await target.untag(step.tag, { ...opts, ifMatch: desc.digest as Digest })
    if (!deletes.tag) counts.placeholderUntags++
  } else {
    await target.deleteManifest(desc.digest as Digest, opts)
  }
  counts.removedFallbackIndexes++
}

async function runJournal(
  target: Target,
  path: string,
  journal: Journal,
  deletes: DeleteSupport,
  counts: StepCounts,
  opts: ApplyOptions,
): Promise<void> {
  for (let i = journal.done; i < journal.steps.length; i++) {
    opts.signal?.throwIfAborted()
    const step = journal.steps[i]!
    await runStep(target, step, deletes, counts, opts)
    journal.done = i + 1
    await writeJournal(path, journal)
    await opts.onStep?.(step, i)
  }
  await finishJournal(path)
}

/**
 * Applies retention to one repository under a lock per registry+repository: an interrupted earlier run
 * is finished first (its journal), then a fresh plan is made, checked against the registry's
 * deletes, backed up, checked for tags that moved, and carried out step by step.
 */
export async function applyRepository(target: Target, opts: ApplyOptions): Promise<RepositoryApply> {
  const state = opts.stateDir ?? retentionStateDir()
  await mkdir(state, { recursive: true })
  const key = keyOf(target.name)
  const journalPath = join(state, `${key}.journal.json`)
  return withLock(
    join(state, `${key}.lock`),
    { logger: opts.logger ?? silentLogger, timeoutMs: 5_000 },
    async () => {
      const counts = emptyCounts()
      const previous = await readJournal(journalPath)
      let resumed: RepositoryApply['resumed']
      if (previous) {
        const deletes = await target.deletes(opts)
        const steps = previous.steps.length - previous.done
        await runJournal(target, journalPath, previous, deletes, counts, opts)
        resumed = { steps, ...(previous.backup ? { backup: previous.backup } : {}) }
      }
      const reader = new GraphReader(target, { signal: opts.signal })
      const plan = await planRepository(target, { ...opts, reader })
      const steps = stepsOf(plan)
      const result: RepositoryApply = {
        repository: target.name,
        plan,
        steps: counts,
        ...(resumed ? { resumed } : {}),
      }
      if (steps.length === 0) return result
      const deletes = await target.deletes(opts)
      checkDeletes(plan, deletes)
      // The plan's reader: the manifests backed up were read by the plan already.
      result.backup = await writeBackup(opts.backupDir, reader, plan, opts)
      await checkUnmoved(target, plan, opts)
      const journal: Journal = { version: 1, repository: target.name, backup: opts.backupDir, steps, done: 0 }
      await writeJournal(journalPath, journal)
      await runJournal(target, journalPath, journal, deletes, counts, opts)
      return result
    },
  )
}
