import type { ReadOnlyTarget } from '../../content/target.js'
import { ifPresent } from '../../errors.js'
import { type InspectResult, inspectImage } from '../../inspect.js'
import type { Digest } from '../../oci/digest.js'

/** What a tag row says about the manifest it names. */
export interface ManifestFacts {
  kind: 'image' | 'index' | 'artifact'
  /** `linux/amd64`, … (an index's children; an image's config); buildx's attestation entries left out. */
  platforms: string[]
  /** Manifests, configs and layers, each counted once. */
  size: number
  /** The config's `created` (an index: its first platform image's). */
  created?: string
  artifactType?: string
}

// buildx lists its provenance and SBOM attestations as index children of platform unknown/unknown.
const ATTESTATION_PLATFORM = 'unknown/unknown'

/** Size, platforms and creation time of an image or index, from its manifests and configs. */
export async function manifestFacts(target: ReadOnlyTarget, digest: Digest): Promise<ManifestFacts> {
  const root = await inspectImage(target, digest)
  if (!root.manifests) {
    return {
      kind: root.artifactType ? 'artifact' : 'image',
      platforms: root.platform ? [root.platform] : [],
      size: root.size + (root.totalSize ?? 0),
      ...(root.created ? { created: root.created } : {}),
      ...(root.artifactType ? { artifactType: root.artifactType } : {}),
    }
  }
  const blobs = new Map<string, number>()
  let size = root.size
  let created: string | undefined
  const platforms: string[] = []
  for (const child of root.manifests) {
    if (child.platformName && child.platformName !== ATTESTATION_PLATFORM) platforms.push(child.platformName)
    // A child that is not here (pulled through a cache one platform at a time) adds nothing.
    const inspected: InspectResult | undefined = await ifPresent(inspectImage(target, child.digest))
    if (!inspected) continue
    size += inspected.size
    if (inspected.config) blobs.set(inspected.config.digest, inspected.config.size)
    for (const l of inspected.layers ?? []) blobs.set(l.digest, l.size)
    if (child.platformName !== ATTESTATION_PLATFORM) created ??= inspected.created
  }
  for (const n of blobs.values()) size += n
  return { kind: 'index', platforms, size, ...(created ? { created } : {}) }
}
