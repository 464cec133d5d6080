import { descriptorOf } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'
import { type Manifest, subjectOf } from '../oci/manifest.js'
import type { OperationOptions, TagOptions, TagOutcome, Target } from './target.js'

/**
 * Stores a manifest by digest and makes it findable as a referrer of its `subject`: the backend indexes
 * it itself (referrers API, a layout entry), or the referrers list is updated after the push.
 */
export async function storeManifest(
  target: Target,
  manifest: Manifest,
  opts?: OperationOptions,
): Promise<void> {
  const { subjectIndexed } = await target.pushManifest(manifest, opts)
  const subject = subjectOf(manifest)
  if (subject && !subjectIndexed) {
    await target.addReferrer(
      subject.digest as Digest,
      descriptorOf(manifest, { artifactType: 'referrers', annotations: 'own' }),
      opts,
    )
  }
}

/**
 * Stores a manifest and names it, the tag last. Given the bytes, `tag` stores them itself (a registry's
 * PUT by tag, a layout's blob write), so a separate push by digest is needed only for a referrer, whose
 * subject's list must name it before the tag does.
 */
export async function storeTagged(
  target: Target,
  manifest: Manifest,
  tag: string,
  opts?: TagOptions,
): Promise<TagOutcome> {
  if (subjectOf(manifest)) await storeManifest(target, manifest, opts)
  return target.tag(manifest, tag, opts)
}
