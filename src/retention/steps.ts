import { resolveIfPresent } from '../content/present.js'
import type { DeleteSupport, OperationOptions, Target } from '../content/target.js'
import { isFerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { childrenOf } from '../oci/manifest.js'
import { plural } from '../util/plural.js'
import type { DeleteGuard } from './delete-guard.js'
import type { Journal, Step } from './journal.js'
import type { RepositoryPlan } from './plan.js'

/** The steps of an apply: made from a plan (and what an interrupted run left), and carried out one by one. */

export interface StepCounts {
  untagged: number
  /** Untags done by pushing a placeholder onto the tag and deleting it by digest (no tag DELETE). */
  placeholderUntags: number
  deletedManifests: number
  removedFallbackIndexes: number
  /** Tags an interrupted untag had left on ferry's placeholder, removed with the placeholder. */
  removedPlaceholders: number
  /** Already done (a rerun), or changed by someone else since the plan: left alone, each said why. */
  skipped: string[]
}

export const emptyCounts = (): StepCounts => ({
  untagged: 0,
  placeholderUntags: 0,
  deletedManifests: 0,
  removedFallbackIndexes: 0,
  removedPlaceholders: 0,
  skipped: [],
})

/**
 * The plan as steps, in the order they run: placeholders an interrupted untag left, untags, manifest
 * deletes (each group's root first), fallbacks.
 */
export function stepsOf(plan: RepositoryPlan): Step[] {
  const keptIndexes = [
    ...new Set(plan.fallbackIndexes.filter((f) => f.action === 'untag').map((f) => f.digest)),
  ]
  return [
    ...plan.placeholders.map((p): Step => ({ op: 'remove-placeholder', tag: p.tag, digest: p.digest })),
    ...plan.delete
      .filter((d) => d.action === 'untag')
      .map((d): Step => ({ op: 'untag', tag: d.tag, digest: d.digest })),
    ...plan.manifests.map(
      (m): Step => ({
        op: 'delete-manifest',
        digest: m.digest,
        role: m.role,
        ...(m.tag ? { tag: m.tag } : {}),
      }),
    ),
    ...plan.fallbackIndexes.map((f): Step => ({ op: 'remove-fallback', tag: f.tag, keptIndexes })),
  ]
}

/**
 * What an interrupted run left to do, in its order, that the fresh plan does not already do: a step the
 * fresh plan repeats is left to it, an untag of a tag the fresh plan keeps is dropped (and said), and the
 * rest is carried into this run. Its deletes are re-checked like the plan's own just before they run.
 */
export function carriedSteps(previous: Journal, plan: RepositoryPlan, skipped: string[]): Step[] {
  const deletedTags = new Set([...plan.delete.map((d) => d.tag), ...plan.placeholders.map((p) => p.tag)])
  const keptTags = new Set(plan.keep.map((k) => k.tag))
  const deletedDigests = new Set(plan.manifests.map((m) => m.digest))
  const fallbacks = new Set(plan.fallbackIndexes.map((f) => f.tag))
  return previous.steps.slice(previous.done).filter((step) => {
    if (step.op === 'delete-manifest') return !deletedDigests.has(step.digest)
    if (step.op === 'remove-fallback') return !fallbacks.has(step.tag)
    if (keptTags.has(step.tag))
      skipped.push(`tag ${step.tag} (from the interrupted run): the fresh plan keeps it, left as it is`)
    return !deletedTags.has(step.tag) && !keptTags.has(step.tag)
  })
}

/** What one run's steps need: the target, the deletes it allows, the re-check before DELETEs, the tally. */
export interface StepContext {
  target: Target
  deletes: DeleteSupport
  guard: DeleteGuard
  counts: StepCounts
  opts: OperationOptions
}

/** Deletes `digest` unless a tag outside the plan's removals names or reaches it now; true if deleted. */
async function guardedDelete(ctx: StepContext, digest: Digest, what: string): Promise<boolean> {
  const holders = await ctx.guard.holders(digest)
  if (holders.length) {
    ctx.counts.skipped.push(`${what}: now needed by tag ${holders.join(', ')}; not deleted, left as it is`)
    return false
  }
  try {
    await ctx.target.deleteManifest(digest, ctx.opts)
    return true
  } catch (err) {
    if (!isFerryError(err, 'NOT_FOUND')) throw err
    ctx.counts.skipped.push(`${what}: already gone`)
    return false
  }
}

export async function runStep(ctx: StepContext, step: Step) {
  const { target, deletes, counts, opts } = ctx
  const gone = (what: string) => counts.skipped.push(`${what}: already gone`)
  if (step.op === 'untag') {
    try {
      await target.untag(step.tag, { ...opts, ifMatch: step.digest as Digest })
      counts.untagged++
      if (!deletes.tag) counts.placeholderUntags++
    } catch (err) {
      if (isFerryError(err, 'NOT_FOUND')) gone(`tag ${step.tag}`)
      else if (isFerryError(err, 'CONFLICT')) {
        ctx.guard.spare(step.tag)
        counts.skipped.push(`tag ${step.tag}: moved since the plan, left as it is`)
      } else throw err
    }
    return
  }
  if (step.op === 'remove-placeholder') {
    const moved = () => {
      ctx.guard.spare(step.tag)
      counts.skipped.push(`tag ${step.tag}: moved off ferry's placeholder since the plan, left as it is`)
    }
    const now = (await resolveIfPresent(target, step.tag, opts))?.digest
    if (now === undefined) return gone(`placeholder tag ${step.tag}`)
    if (now !== step.digest) return moved()
    // By digest where the registry allows it: the tag and the placeholder go in one request.
    if (deletes.manifest) {
      const what = `placeholder ${step.digest} of tag ${step.tag}`
      if (await guardedDelete(ctx, step.digest as Digest, what)) counts.removedPlaceholders++
      return
    }
    try {
      await target.untag(step.tag, { ...opts, ifMatch: step.digest as Digest })
      counts.removedPlaceholders++
    } catch (err) {
      if (isFerryError(err, 'NOT_FOUND')) gone(`placeholder tag ${step.tag}`)
      else if (isFerryError(err, 'CONFLICT')) moved()
      else throw err
    }
    return
  }
  if (step.op === 'delete-manifest') {
    if (await guardedDelete(ctx, step.digest as Digest, step.digest)) counts.deletedManifests++
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
      `fallback tag ${step.tag}: still lists ${plural(left.length, 'manifest')} that exist, left as it is`,
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
