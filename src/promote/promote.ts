import { resolveIfPresent } from '../content/present.js'
import type { Context } from '../context.js'
import { applyCopy, type CopyResult, commitCopy, planCopy } from '../copy/copy.js'
import { copyFailure, onSide } from '../copy/copy-error.js'
import { FerryError, isFerryError } from '../errors.js'
import { imageNameOf } from '../governance/governed.js'
import { appendLedger, type PromoteRecord } from '../ledger/index.js'
import type { Digest } from '../oci/digest.js'
import {
  checkImage,
  failuresOf,
  type ImageCheck,
  type ImageName,
  immutableCheck,
  judgesFor,
  labelsOf,
  type Policy,
  refusalReason,
  traceLabels,
} from '../policy/index.js'
import {
  formatReference,
  type Location,
  parseLocation,
  parseReference,
  type Reference,
  withTag,
} from '../reference/index.js'
import { type CopyReferenceResult, checkTagAndDigest } from '../targets/copy-reference.js'
import { TargetSet } from '../targets/open.js'

export type PromoteVerdict = PromoteRecord['verdict']

export interface PromoteOptions {
  /** Without one, only the tag rule applies: an existing tag moves with `force` alone. */
  policy?: Policy
  /** Add this environment's rules to those of the environments the destination matches (never instead). */
  environment?: string
  /** JSON Lines file every attempt is appended to. */
  ledger?: string
  /** Move a tag that names another digest (never in an immutable environment). */
  force?: boolean
  /** `SRC:TAG@DIGEST` where TAG names another digest: promote DIGEST anyway (default: refuse, as copy does). */
  digestWins?: boolean
  /** Carry signatures, SBOMs and attestations. Default true: the evidence travels with the release. */
  referrers?: boolean
  /** Recorded in the ledger. */
  ferryVersion: string
  concurrency?: number
  now?: () => Date
}

export interface PromoteResult extends Omit<PromoteRecord, 'digest'> {
  digest: Digest
  /** The copy's summary when something was written. */
  copy?: CopyResult
  /** Where the record went. */
  ledger?: string
  /** Set when SRC's tag and digest disagreed and the digest was promoted (`digestWins`). */
  digestWon?: CopyReferenceResult['digestWon']
}

/**
 * Promotes exactly one digest: SRC is resolved once and only that digest is copied, with its referrers.
 * Every gate runs before anything is sent to the destination, and an enforce-mode failure, a tag that
 * would move without `force`, or any move of an immutable tag refuses the promotion with nothing
 * written. The tag is written last, on condition that it is still what was seen (or still absent), and
 * read back. Each attempt, refused or not, becomes one ledger record.
 */
export async function promote(
  ctx: Context,
  source: string,
  destination: string,
  options: PromoteOptions,
): Promise<PromoteResult> {
  const opts = { ...options, signal: ctx.signal, logger: ctx.logger, progress: ctx.progress }
  // Any location (a bundle's image too: the closed side promotes what it received); DST is written.
  const src = parseLocation(source)
  const dst = parseReference(destination)
  const tag = destinationTag(destination, src, dst)
  const shownDestination = formatReference(withTag(dst, tag))
  // Both sides over the context's one client; closing the set releases a bundle source.
  const targets = new TargetSet(ctx)
  try {
    // Each side's failures name it, as a copy's do: promote calls copy's steps (and its own reads) itself.
    const opened = await targets.openSource(src)
    const from = { ...opened, target: onSide(opened.target, 'source') }
    const digestWon = await checkTagAndDigest(from.target, src, opts)
    const digest = (src.digest ?? (await from.target.resolve(from.reference, opts)).digest) as Digest
    const name: ImageName = { ...imageNameOf(dst), tag }
    const check: ImageCheck = opts.policy
      ? await checkImage({
          policy: opts.policy,
          target: from.target,
          digest,
          name,
          environment: opts.environment,
          deferImmutable: true,
        })
      : {
          image: `${name.repository}:${tag}`,
          digest,
          environment: null,
          mode: 'enforce',
          checks: [],
          labels: traceLabels(await labelsOf(from.target, await from.target.fetchManifest(digest, opts))),
        }
    const record = (verdict: PromoteVerdict, extra: Partial<PromoteResult> = {}): PromoteResult => ({
      time: (opts.now?.() ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      verdict,
      source,
      destination: shownDestination,
      digest,
      environment: check.environment,
      checks: check.checks,
      labels: check.labels,
      forced: false,
      ferryVersion: opts.ferryVersion,
      ...extra,
    })
    const finish = async (result: PromoteResult): Promise<PromoteResult> => {
      if (opts.ledger) {
        const { copy: _copy, ledger: _ledger, digestWon: _won, ...entry } = result
        await appendLedger(opts.ledger, { operation: 'promote', ...entry })
      }
      const done = digestWon ? { ...result, digestWon } : result
      return opts.ledger ? { ...done, ledger: opts.ledger } : done
    }

    // The gates on content come first: a refused image costs the destination no request at all.
    const blocking = failuresOf(check)
    if (blocking.length) return finish(record('refused', { reason: refusalReason(blocking) }))

    const written = await targets.open(dst, { create: true })
    const to = onSide(written.target, 'destination')
    const existing = (await resolveIfPresent(to, tag, opts))?.digest as Digest | undefined
    // Judged now that DST was read, by every environment that protects the destination.
    const immutable =
      opts.policy &&
      immutableCheck(judgesFor(opts.policy, name, opts.environment), tag, digest, existing ?? null)
    if (immutable) check.checks.push(immutable)
    if (existing === digest) return finish(record('unchanged'))
    const immutableFailure = failuresOf(check)
    if (immutableFailure.length)
      return finish(record('refused', { reason: refusalReason(immutableFailure), previous: existing }))
    if (existing && !opts.force) {
      return finish(
        record('refused', {
          previous: existing,
          reason: `${shownDestination} names ${existing}; promoting ${digest} would move it (--force moves it)`,
        }),
      )
    }

    const forced = existing !== undefined
    const copyOpts = {
      ...opts,
      referrers: opts.referrers ?? true,
      expectDigest: digest,
      tagPrecondition: existing ? { ifMatch: existing } : { ifAbsent: true as const },
    }
    let copy: CopyResult
    try {
      const plan = await planCopy(from.target, digest, to, tag, copyOpts)
      copy = await commitCopy(plan, await applyCopy(plan, copyOpts), copyOpts)
    } catch (err) {
      if (isFerryError(err, 'CONFLICT')) {
        await finish(record('refused', { forced, previous: existing, reason: (err as Error).message }))
      }
      throw err
    }
    const after = (await resolveIfPresent(to, tag, opts))?.digest
    if (after !== digest) {
      const reason = `${shownDestination} names ${after ?? 'nothing'} right after the push of ${digest}: another writer moved it`
      await finish(record('refused', { forced, previous: existing, reason }))
      throw new FerryError('CONFLICT', reason)
    }
    return finish(record('promoted', { forced, ...(existing ? { previous: existing } : {}), copy }))
  } catch (err) {
    throw copyFailure(err, source, shownDestination, 'promote')
  } finally {
    await targets.close()
  }
}

function destinationTag(text: string, src: Location, dst: Reference): string {
  if (dst.digest)
    throw new FerryError('USAGE', `${text}: promote writes a tag; give the destination as NAME[:TAG]`)
  const tag = dst.tag ?? src.tag
  if (!tag)
    throw new FerryError(
      'USAGE',
      `${text}: no tag to promote to (the source is a digest): give DST as NAME:TAG`,
    )
  return tag
}
