import { resolveIfPresent } from '../content/present.js'
import type { OperationOptions, ReadOnlyTarget } from '../content/target.js'
import { FerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { isAttachmentTag } from '../reference/grammar.js'
import { parseReference } from '../reference/index.js'
import { type OpenOptions, openTarget } from '../targets/open.js'
import { Limiter } from '../util/limit.js'

export interface DeleteOptions extends OpenOptions, OperationOptions {
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

/** Tags of the repository that name `digest` now: one HEAD per tag, eight at a time. */
async function tagsNaming(target: ReadOnlyTarget, digest: Digest, opts: OperationOptions): Promise<string[]> {
  const limiter = new Limiter(8)
  const tags = (await target.listTags(opts)).filter((t) => !isAttachmentTag(t))
  const named = await Promise.all(
    tags.map((t) =>
      limiter.run(async () => ((await resolveIfPresent(target, t, opts))?.digest === digest ? t : undefined)),
    ),
  )
  return named.filter((t): t is string => t !== undefined).sort()
}

/**
 * Deletes a manifest by digest. Registries delete a manifest with every tag that names it, so a digest
 * other tags still name is refused (POLICY_VIOLATION, listing them) unless `force`; the tag given in
 * REF itself is the one the user means to lose.
 */
export async function deleteImage(reference: string, opts: DeleteOptions = {}): Promise<DeleteResult> {
  const ref = parseReference(reference)
  const { target, reference: selector } = await openTarget(ref, opts)
  try {
    const digest = (ref.digest ?? (await target.resolve(selector, opts)).digest) as Digest
    const image = `${target.name}@${digest}`
    if (!(await target.deletes(opts)).manifest) {
      throw new FerryError(
        'UNSUPPORTED',
        `${target.name}: the registry does not allow manifest DELETE (distribution: REGISTRY_STORAGE_DELETE_ENABLED=true)`,
      )
    }
    const tags = await tagsNaming(target, digest, opts)
    const others = tags.filter((t) => t !== ref.tag)
    if (others.length && !opts.force) {
      throw new FerryError(
        'POLICY_VIOLATION',
        `${image} is also tagged ${others.join(', ')}; deleting it removes those tags too (--force deletes anyway)`,
      )
    }
    if (!opts.dryRun) await target.deleteManifest(digest, opts)
    return { image, digest, tags, deleted: !opts.dryRun, dryRun: opts.dryRun === true }
  } finally {
    await target.close()
  }
}
