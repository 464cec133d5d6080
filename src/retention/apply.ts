import { createHash } from 'node:crypto'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { resolveIfPresent } from '../content/present.js'
import type { DeleteSupport, OperationOptions, ReadOnlyTarget, Target } from '../content/target.js'
import { FerryError } from '../errors.js'
import { admitRemoval, type Governance } from '../governance/governed.js'
import { GraphReader } from '../graph/index.js'
import { recordAttempt } from '../ledger/index.js'
import { type Logger, silentLogger } from '../log.js'
import type { Digest } from '../oci/digest.js'
import { parseAttachmentTag } from '../reference/grammar.js'
import { canonicalName } from '../reference/index.js'
import { Limiter } from '../util/limit.js'
import { withLock } from '../util/lock.js'
import { plural } from '../util/plural.js'
import { ferryStateDir } from '../util/state-dir.js'
import { type BackupSummary, writeBackup } from './backup.js'
import { DeleteGuard } from './delete-guard.js'
import { finishJournal, type Journal, readJournal, type Step, writeJournal } from './journal.js'
import {
  type DeletedManifest,
  type PlanOptions,
  planRepository,
  type RepositoryPlan,
  splitName,
} from './plan.js'
import { carriedSteps, emptyCounts, runStep, type StepContext, type StepCounts, stepsOf } from './steps.js'

export interface ApplyOptions extends PlanOptions {
  /** The backup layout of this run (see backup.ts); the caller has claimed it. */
  backupDir: string
  /** Where journals and locks live; default `$XDG_STATE_HOME/ferry/retention`. */
  stateDir?: string
  logger?: Logger
  /** Called after each step is done and journalled (tests stop a run here). */
  onStep?: (step: Step, index: number) => void | Promise<void>
  /** The ledger each removal (and a refusal) is appended to, and the version and actor it records. */
  record?: Omit<Governance, 'policy'>
}

export interface RepositoryApply {
  repository: string
  plan: RepositoryPlan
  /**
   * Steps an interrupted earlier run had left, carried into this run: checked against the fresh plan,
   * backed up with it, and re-checked before each DELETE like its own steps.
   */
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

/**
 * The lock and journal key of a repository: the same for every spelling of it (`LOCALHOST:5000/app`,
 * `localhost:5000/app`), so that a journal waits for no particular spelling and two spellings never run
 * at once.
 */
export const repositoryKey = (name: string): string => keyOf(canonicalName(name))

/** Refuses, before anything changes, a plan that needs what the registry does not allow. */
export function checkDeletes(plan: RepositoryPlan, deletes: DeleteSupport): void {
  if (plan.needs.manifestDelete && !deletes.manifest) {
    throw new FerryError(
      'UNSUPPORTED',
      `${plan.repository}: the plan deletes ${plural(plan.summary.deleteManifests, 'manifest')} and the registry does not allow manifest DELETE (distribution: REGISTRY_STORAGE_DELETE_ENABLED=true; or the credentials lack delete); nothing was changed`,
    )
  }
  if (plan.needs.tagDelete && !deletes.tag && !deletes.manifest) {
    throw new FerryError(
      'UNSUPPORTED',
      `${plan.repository}: the plan untags ${plural(plan.summary.untag + plan.summary.placeholders, 'tag')} and the registry allows neither tag DELETE nor manifest DELETE; nothing was changed`,
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

async function runJournal(
  ctx: StepContext,
  path: string,
  journal: Journal,
  opts: ApplyOptions,
  removals: Removals,
): Promise<void> {
  for (let i = journal.done; i < journal.steps.length; i++) {
    opts.signal?.throwIfAborted()
    const step = journal.steps[i]!
    const skipped = ctx.counts.skipped.length
    await runStep(ctx, step)
    // A step that was skipped (gone already, moved since) removed nothing: nothing to record.
    if (ctx.counts.skipped.length === skipped) await removals.record(step)
    journal.done = i + 1
    await writeJournal(path, journal)
    await opts.onStep?.(step, i)
  }
  await finishJournal(path)
}

interface Removals {
  record(step: Step): Promise<void>
}

/**
 * Every tag the plan removes, judged before anything is changed as `ferry delete` and `serve --policy`
 * judge a removal: a tag of an immutable environment stays, so a plan that would remove one is refused
 * (POLICY_VIOLATION) with the repository untouched. Then each untag and manifest delete is recorded.
 */
async function admitRemovals(name: string, plan: RepositoryPlan, opts: ApplyOptions): Promise<Removals> {
  const g: Governance = { policy: opts.policy, ...opts.record }
  const admitted = new Map<string, { record(): Promise<void> }>()
  /** Tags that go with their digest: recorded when the manifest DELETE takes them. */
  const withDigest = new Map<string, { record(): Promise<void> }[]>()
  const where = splitName(name)
  for (const d of plan.delete) {
    const digest = d.digest as Digest
    const removal = await admitRemoval(g, {
      operation: 'retention-apply',
      source: plan.repository,
      name: where,
      tag: d.tag,
      digest,
      holders: [{ tag: d.tag, digest }],
    })
    if (d.action === 'untag') admitted.set(d.tag, removal)
    else withDigest.set(d.digest, [...(withDigest.get(d.digest) ?? []), removal])
  }
  return {
    async record(step) {
      if (!g.ledger || (step.op !== 'untag' && step.op !== 'delete-manifest')) return
      const byTag = step.op === 'untag' ? admitted.get(step.tag) : undefined
      if (byTag) return byTag.record()
      const tags = step.op === 'delete-manifest' ? withDigest.get(step.digest) : undefined
      if (tags) {
        for (const t of tags) await t.record()
        return
      }
      await recordAttempt(g, {
        operation: 'retention-apply',
        source: plan.repository,
        destination: `${name}@${step.digest}`,
        digest: step.digest,
        environment: null,
        verdict: 'deleted',
      })
    },
  }
}

/**
 * Applies retention to one repository under a lock per registry+repository: a fresh plan is made (from a
 * complete tag listing, or not at all), an interrupted earlier run's remaining steps are carried in
 * where the fresh plan does not already cover them, and then everything is checked against the
 * registry's deletes, backed up, checked for tags that moved, and carried out step by step, each
 * manifest DELETE re-checked against the tags just before it.
 */
export async function applyRepository(target: Target, opts: ApplyOptions): Promise<RepositoryApply> {
  const state = opts.stateDir ?? retentionStateDir()
  await mkdir(state, { recursive: true })
  const key = repositoryKey(target.name)
  const journalPath = join(state, `${key}.journal.json`)
  // Journals of earlier versions were keyed by the name as typed.
  const typedPath = join(state, `${keyOf(target.name)}.journal.json`)
  return withLock(
    join(state, `${key}.lock`),
    { logger: opts.logger ?? silentLogger, timeoutMs: 5_000 },
    async () => {
      const counts = emptyCounts()
      let previous = await readJournal(journalPath)
      let foundAt = journalPath
      if (!previous && typedPath !== journalPath) {
        previous = await readJournal(typedPath)
        foundAt = typedPath
      }
      const reader = new GraphReader(target, { signal: opts.signal })
      const plan = await planRepository(target, { ...opts, reader })
      const carried = previous ? carriedSteps(previous, plan, counts.skipped) : []
      const steps = [...carried, ...stepsOf(plan)]
      const result: RepositoryApply = {
        repository: target.name,
        plan,
        steps: counts,
        ...(previous
          ? {
              resumed: {
                steps: previous.steps.length - previous.done,
                ...(previous.backup ? { backup: previous.backup } : {}),
              },
            }
          : {}),
      }
      if (steps.length === 0) {
        if (previous) await finishJournal(foundAt)
        return result
      }
      // Judged first: a refused plan sends the registry nothing, not even the capability probe.
      const removals = await admitRemovals(target.name, plan, opts)
      const deletes = await target.deletes(opts)
      checkDeletes(withCarried(plan, carried), deletes)
      // The plan's reader: the manifests backed up were read by the plan already. Carried deletes are
      // backed up too, those still there (a step the killed run finished is gone already).
      const extra: Pick<DeletedManifest, 'digest' | 'role' | 'tag'>[] = []
      for (const s of carried) {
        if (s.op !== 'delete-manifest' || !(await target.hasManifest(s.digest as Digest, opts))) continue
        extra.push({ digest: s.digest as Digest, role: s.role ?? 'image', ...(s.tag ? { tag: s.tag } : {}) })
      }
      result.backup = await writeBackup(opts.backupDir, reader, plan, opts, extra)
      await checkUnmoved(target, plan, opts)
      const journal: Journal = {
        version: 1,
        repository: canonicalName(target.name),
        backup: opts.backupDir,
        steps,
        done: 0,
      }
      await writeJournal(journalPath, journal)
      if (foundAt !== journalPath) await finishJournal(foundAt)
      const guard = new DeleteGuard(target, reader, plan, opts)
      await runJournal({ target, deletes, guard, counts, opts }, journalPath, journal, opts, removals)
      return result
    },
  )
}

/** The plan's needs and counts with the carried steps added, for the deletes check. */
function withCarried(plan: RepositoryPlan, carried: readonly Step[]): RepositoryPlan {
  const deletes = carried.filter((s) => s.op === 'delete-manifest').length
  const untags = carried.filter((s) => s.op === 'untag' || s.op === 'remove-placeholder').length
  return {
    ...plan,
    needs: {
      manifestDelete: plan.needs.manifestDelete || deletes > 0,
      tagDelete: plan.needs.tagDelete || untags > 0,
    },
    summary: {
      ...plan.summary,
      deleteManifests: plan.summary.deleteManifests + deletes,
      untag: plan.summary.untag + untags,
    },
  }
}
