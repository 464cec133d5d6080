import type { ReadOnlyTarget, ReferrersListing } from '../content/target.js'
import type { Manifest } from '../oci/manifest.js'
import { MediaType } from '../oci/media-types.js'
import type { Descriptor, ImageManifest } from '../oci/schemas.js'
import type { SbomFormat } from '../sign/index.js'

/**
 * How something is attached to an image: as an OCI 1.1 referrer, found through the registry's referrers
 * API, through the `sha256-HEX` tag-schema index (registries without the API), or in an OCI layout's
 * index.json; or as one of cosign's `sha256-HEX.sig|att|sbom` tags.
 */
export type ReferrersScheme = 'referrers-api' | 'tag-schema' | 'layout'
export type AttachScheme = ReferrersScheme | 'cosign-tag'

const SCHEMES: Record<ReferrersListing, ReferrersScheme> = {
  api: 'referrers-api',
  'tag-schema': 'tag-schema',
  index: 'layout',
}

export async function referrersScheme(target: ReadOnlyTarget): Promise<ReferrersScheme> {
  return SCHEMES[await target.referrersListing()]
}

/** Config types that say nothing about what an artifact is (generic image config, the empty blob). */
const GENERIC_TYPES: readonly string[] = [MediaType.ociEmpty, MediaType.ociConfig, MediaType.dockerConfig]

export const isUsefulArtifactType = (t: string | undefined): t is string => !!t && !GENERIC_TYPES.includes(t)

/**
 * What an attached manifest is. The manifest's own artifactType, else a specific config type, else the
 * layers' common media type: cosign's `.sig` images and bundle referrers use a generic config, and
 * tag-schema entries written by go-containerregistry carry only the config type, so cosign itself looks
 * at the layer media type.
 */
export function effectiveArtifactType(m: Manifest, listed?: Descriptor): string | undefined {
  if (isUsefulArtifactType(listed?.artifactType)) return listed.artifactType
  if (m.kind === 'index') return (m.index as { artifactType?: string }).artifactType
  const image = m.image as ImageManifest
  if (image.artifactType) return image.artifactType
  if (isUsefulArtifactType(image.config.mediaType)) return image.config.mediaType
  const layerTypes = [...new Set(image.layers.map((l) => l.mediaType))]
  return layerTypes.length === 1 ? layerTypes[0] : image.config.mediaType
}

const bare = (mediaType: string) => mediaType.split(';')[0]!.trim().toLowerCase()

/** SPDX and CycloneDX media types, IANA's and cosign's legacy ones, JSON and otherwise. */
const SBOM_TYPES: Record<string, SbomFormat> = {
  [MediaType.spdxJson]: 'spdx',
  'application/spdx3+json': 'spdx',
  'text/spdx+json': 'spdx',
  'text/spdx': 'spdx',
  [MediaType.cyclonedxJson]: 'cyclonedx',
  'application/vnd.cyclonedx+xml': 'cyclonedx',
  'application/vnd.cyclonedx': 'cyclonedx',
}

export const sbomFormatOfType = (mediaType: string | undefined): SbomFormat | undefined =>
  mediaType ? SBOM_TYPES[bare(mediaType)] : undefined

/** The SBOM format of an attached manifest, judged by its artifact type or its layers; undefined if not an SBOM. */
export function sbomFormatOf(m: Manifest, listed?: Descriptor): SbomFormat | undefined {
  const own = sbomFormatOfType(effectiveArtifactType(m, listed))
  if (own || m.kind !== 'image') return own
  for (const l of m.image.layers) {
    const f = sbomFormatOfType(l.mediaType)
    if (f) return f
  }
  return undefined
}

const BUNDLE_PREFIX = 'application/vnd.dev.sigstore.bundle'

/** cosign's rule for a bundle referrer (`GetBundles`): an image manifest with exactly one bundle layer. */
export function bundleLayerOf(m: Manifest): Descriptor | undefined {
  if (m.kind !== 'image') return undefined
  const layers = m.image.layers.filter((l) => l.mediaType.startsWith(BUNDLE_PREFIX))
  return layers.length === 1 ? layers[0] : undefined
}
