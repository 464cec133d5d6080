/**
 * `bundle create --require-signature --require-sbom`: every image the bundle carries must have a
 * signature (cosign's `.sig` tag, or a Sigstore bundle referrer that signs rather than attests) and an
 * SBOM (SPDX or CycloneDX, as a referrer or cosign's `.sbom` tag) attached to its own digest, among what
 * the bundle carries. Presence only: what verifies them is the key, on the closed side
 * (`bundle verify --key`).
 */
import { FerryError } from '../errors.js'
import { annotationsOf, parseManifest } from '../oci/manifest.js'
import { MediaType } from '../oci/media-types.js'
import { BUNDLE_PREDICATE_TYPE_ANNOTATION } from '../sign/bundle.js'
import { COSIGN_SIGN_PREDICATE_TYPE } from '../sign/in-toto.js'
import { bundleLayerOf, sbomFormatOf } from '../supply/kinds.js'
import { plural } from '../util/plural.js'
import type { ImageRecord, ReferrerRecord } from './format.js'
import type { BundlePlan } from './plan.js'

export interface BundleRequirements {
  signature?: boolean
  sbom?: boolean
}

type Requirement = keyof BundleRequirements

const WORDS: Record<Requirement, string> = { signature: 'no signature', sbom: 'no SBOM' }

/** What each attachment is, read from the manifest the plan holds. */
function kindsOf(r: ReferrerRecord, plan: BundlePlan): Requirement[] {
  const bytes = plan.manifests.get(r.digest)
  if (!bytes) return []
  const m = parseManifest(bytes, { expectedDigest: r.digest, contentType: r.mediaType })
  const listed = { mediaType: r.mediaType, digest: r.digest, size: r.size, artifactType: r.artifactType }
  const kinds: Requirement[] = []
  if (r.artifactType === MediaType.cosignSimpleSigning) kinds.push('signature')
  else if (bundleLayerOf(m)) {
    // An attestation's bundle says what it is in this (unsigned) annotation; a signature's says so too or nothing.
    const predicate = annotationsOf(m)?.[BUNDLE_PREDICATE_TYPE_ANNOTATION]
    if (!predicate || predicate === COSIGN_SIGN_PREDICATE_TYPE) kinds.push('signature')
  }
  if (sbomFormatOf(m, listed)) kinds.push('sbom')
  return kinds
}

function missingFor(image: ImageRecord, plan: BundlePlan, wanted: Requirement[]): Requirement[] {
  const found = new Set(
    image.referrers.filter((r) => r.subject === image.digest).flatMap((r) => kindsOf(r, plan)),
  )
  return wanted.filter((w) => !found.has(w))
}

/**
 * Refuses the plan, before a byte of the bundle is written, when an image lacks what is required: one
 * line naming every such image and what it lacks (POLICY_VIOLATION, exit 7).
 */
export function checkRequirements(plan: BundlePlan, required: BundleRequirements, output: string): void {
  const wanted = (['signature', 'sbom'] as const).filter((r) => required[r])
  if (!wanted.length) return
  const lacking = plan.images.flatMap((image) => {
    const missing = missingFor(image, plan, wanted)
    if (!missing.length) return []
    // A platform-filtered index is a new digest: the signatures and SBOMs of the original do not name it.
    const filtered = image.sourceDigest ? `; --platform made a new index of ${image.sourceDigest}` : ''
    return [`${image.source} (${missing.map((m) => WORDS[m]).join(', ')}${filtered})`]
  })
  if (!lacking.length) return
  const n = lacking.length
  throw new FerryError(
    'POLICY_VIOLATION',
    `${output} not written: ${plural(n, 'image')} ${n === 1 ? 'lacks' : 'lack'} what is required: ${lacking.join(', ')}`,
  )
}
