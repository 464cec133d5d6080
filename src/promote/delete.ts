import { resolveIfPresent } from '../content/present.js'
import type { OperationOptions, ReadOnlyTarget } from '../content/target.js'
import type { Context } from '../context.js'
import { FerryError } from '../errors.js'
import { admitRemoval, type Governance, governs, imageNameOf } from '../governance/governed.js'
import type { Digest } from '../oci/digest.js'
import { childrenOf } from '../oci/manifest.js'
import { INDEX_MEDIA_TYPES } from '../oci/media-types.js'
import { isAttachmentTag } from '../reference/grammar.js'
import { parseReference } from '../reference/index.js'
import { openTarget } from '../targets/open.js'
import { Limiter } from '../util/limit.js'

export interface DeleteOptions {
  /**
   * The repository's policy and the ledger: a tag of an immutable environment, or a manifest one names
   * or lists, is refused (POLICY_VIOLATION) before anything is deleted; each attempt is recorded.
   */
  governance?: Governance
  /** Delete even while other tags name the digest (most registries then drop those tags too). */
  force?: boolean
  /** Say what would happen; change nothing. */
  dryRun?: boolean
}

export interface DeleteResult {
  image: string
  digest: Digest
  /** Every tag naming the digest (all of them lose it on most registries). */
  tags: string[]
  deleted: boolean
  dryRun: boolean
}

interface Tagged {
  tag: string
  digest: Digest
  mediaType: string
}

/** Every tag of the repository (attachment tags aside) with what it names now: one HEAD per tag, eight at a time. */
async function taggedNow(target: ReadOnlyTarget, opts: OperationOptions): Promise<Tagged[]> {
  const limiter = new Limiter(8)
  const tags = (await target.listTags(opts)).filter((t) => !isAttachmentTag(t))
  const named = await Promise.all(
    tags.map((tag) =>
      limiter.run(async () => {
        const desc = await resolveIfPresent(target, tag, opts)
        return desc && { tag, digest: desc.digest as Digest, mediaType: desc.mediaType }
      }),
    ),
  )
  return named.filter((t): t is Tagged => t !== undefined)
}

/** Tags whose index lists `digest`: deleting it would break what they name. */
async function indexesListing(
  target: ReadOnlyTarget,
  tagged: readonly Tagged[],
  digest: Digest,
  opts: OperationOptions,
): Promise<Tagged[]> {
  const out: Tagged[] = []
  for (const t of tagged) {
    if (t.digest === digest || !INDEX_MEDIA_TYPES.includes(t.mediaType)) continue
    const m = await target.fetchManifest(t.digest, opts)
    if (childrenOf(m).manifests.some((d) => d.digest === digest)) out.push(t)
  }
  return out
}

/**
 * Deletes a manifest by digest. Registries delete a manifest with every tag that names it, so a digest
 * other tags still name is refused (POLICY_VIOLATION, listing them) unless `force`; the tag given in
 * REF itself is the one the user means to lose.
 */
export async function deleteImage(
  ctx: Context,
  reference: string,
  options: DeleteOptions = {},
): Promise<DeleteResult> {
  const opts = { ...options, signal: ctx.signal }
  const ref = parseReference(reference)
  const { target, reference: selector } = await openTarget(ctx, ref)
  try {
    const digest = (ref.digest ?? (await target.resolve(selector, opts)).digest) as Digest
    const image = `${target.name}@${digest}`
    const tagged = await taggedNow(target, opts)
    // Judged first: a refused delete sends the registry nothing, not even the capability probe.
    const admitted =
      governs(opts.governance) &&
      (await admitRemoval(opts.governance, {
        operation: 'delete',
        source: reference,
        name: imageNameOf(ref),
        ...(ref.tag ? { tag: ref.tag } : {}),
        digest,
        holders: [
          ...tagged.filter((t) => t.digest === digest),
          ...(opts.governance.policy ? await indexesListing(target, tagged, digest, opts) : []),
        ],
      }))
    if (!(await target.deletes(opts)).manifest) {
      throw new FerryError(
        'UNSUPPORTED',
        `${target.name}: the registry does not allow manifest DELETE (distribution: REGISTRY_STORAGE_DELETE_ENABLED=true)`,
      )
    }
    const tags = tagged
      .filter((t) => t.digest === digest)
      .map((t) => t.tag)
      .sort()
    const others = tags.filter((t) => t !== ref.tag)
    if (others.length && !opts.force) {
      throw new FerryError(
        'POLICY_VIOLATION',
        `${image} is also tagged ${others.join(', ')}; deleting it removes those tags too (--force deletes anyway)`,
      )
    }
    if (!opts.dryRun) {
      await target.deleteManifest(digest, opts)
      if (admitted) await admitted.record()
    }
    return { image, digest, tags, deleted: !opts.dryRun, dryRun: opts.dryRun === true }
  } finally {
    await target.close()
  }
}
