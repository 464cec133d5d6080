import { FerryError } from '../errors.js'
import { type Digest, digestOf } from '../oci/digest.js'
import { MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { cosignTag } from '../reference/grammar.js'
import {
  CREATED_ANNOTATION,
  EMPTY_CONFIG_BYTES,
  EMPTY_CONFIG_DIGEST,
  type ReferrerManifest,
} from './bundle.js'
import { appendLayers, type ImageBytes } from './ggcr-image.js'
import { goJson, sortedByGoKey } from './go-json.js'

export type SbomFormat = 'spdx' | 'cyclonedx'

/** IANA media types, used as both artifactType and layer type of an OCI 1.1 SBOM referrer. */
export const SBOM_MEDIA_TYPES: Record<SbomFormat, string> = {
  spdx: MediaType.spdxJson,
  cyclonedx: MediaType.cyclonedxJson,
}

/** Layer types `cosign attach sbom` writes on the legacy `.sbom` tag (`text/spdx+json` is cosign's own). */
export const LEGACY_SBOM_MEDIA_TYPES: Record<SbomFormat, string> = {
  spdx: 'text/spdx+json',
  cyclonedx: MediaType.cyclonedxJson,
}

/** SPDX 2.x JSON has `spdxVersion`; CycloneDX JSON has `bomFormat: "CycloneDX"`. Anything else is refused. */
export function detectSbomFormat(bytes: Uint8Array, source = 'SBOM'): SbomFormat {
  let doc: unknown
  try {
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'))
  } catch {
    throw new FerryError('USAGE', `${source}: not valid JSON (SPDX JSON or CycloneDX JSON expected)`)
  }
  if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    const d = doc as Record<string, unknown>
    if (typeof d.spdxVersion === 'string') return 'spdx'
    if (d.bomFormat === 'CycloneDX') return 'cyclonedx'
  }
  throw new FerryError(
    'USAGE',
    `${source}: neither SPDX JSON (spdxVersion) nor CycloneDX JSON (bomFormat "CycloneDX")`,
  )
}

export interface ArtifactReferrerInput {
  artifactType: string
  layerMediaType: string
  /** The content, or (for content too large to hold, hashed as it was read) its digest and size. */
  bytes: Uint8Array | { digest: Digest; size: number }
  /** The image this artifact is about; only mediaType, size and digest are kept. Absent: a plain artifact. */
  subject?: Pick<Descriptor, 'mediaType' | 'size' | 'digest'>
  annotations?: Record<string, string>
  /** RFC 3339 (`org.opencontainers.image.created`); pass a fixed time for reproducible manifests. */
  created: string
  /** e.g. `org.opencontainers.image.title` so that `oras pull` names the file. */
  layerAnnotations?: Record<string, string>
}

// Field order of the image-spec Go types (specs-go/v1 Descriptor), which oras writes too.
function ociDescriptor(d: Descriptor): Record<string, unknown> {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.annotations && Object.keys(d.annotations).length
      ? { annotations: sortedByGoKey(d.annotations) }
      : {}),
  }
}

/**
 * An OCI 1.1 artifact manifest (image-spec manifest.md "Guidelines for Artifact Usage"): empty config
 * descriptor, `artifactType` set, one layer with the content, `subject` pointing at the image (when given).
 */
export function artifactReferrerManifest(input: ArtifactReferrerInput): ReferrerManifest {
  const content = input.bytes
  const layerDigest = content instanceof Uint8Array ? digestOf(content) : content.digest
  const layerSize = content instanceof Uint8Array ? content.byteLength : content.size
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: input.artifactType,
    config: ociDescriptor({
      mediaType: MediaType.ociEmpty,
      digest: EMPTY_CONFIG_DIGEST,
      size: EMPTY_CONFIG_BYTES.byteLength,
    }),
    layers: [
      ociDescriptor({
        mediaType: input.layerMediaType,
        digest: layerDigest,
        size: layerSize,
        ...(input.layerAnnotations ? { annotations: input.layerAnnotations } : {}),
      }),
    ],
    ...(input.subject
      ? {
          subject: ociDescriptor({
            mediaType: input.subject.mediaType,
            digest: input.subject.digest,
            size: input.subject.size,
          }),
        }
      : {}),
    annotations: sortedByGoKey({ ...input.annotations, [CREATED_ANNOTATION]: input.created }),
  }
  return { manifestBytes: goJson(manifest), configBytes: new Uint8Array(EMPTY_CONFIG_BYTES), layerDigest }
}

/** The OCI 1.1 referrer for an SBOM, typed by its detected format. */
export function sbomReferrerManifest(
  input: Omit<ArtifactReferrerInput, 'artifactType' | 'layerMediaType'> & { format: SbomFormat },
): ReferrerManifest {
  const type = SBOM_MEDIA_TYPES[input.format]
  return artifactReferrerManifest({ ...input, artifactType: type, layerMediaType: type })
}

export const legacySbomTag = (digest: string): string => cosignTag(digest, 'sbom')

/**
 * The deprecated `cosign attach sbom` image for the `sha256-<hex>.sbom` tag (`pkg/oci/static/file.go`):
 * ggcr's empty OCI image plus one unannotated layer; each attach replaces the tag.
 */
export function legacySbomImage(bytes: Uint8Array, format: SbomFormat): ImageBytes & { layerDigest: Digest } {
  const layerDigest = digestOf(bytes)
  const layer = { mediaType: LEGACY_SBOM_MEDIA_TYPES[format], digest: layerDigest, size: bytes.byteLength }
  return { ...appendLayers(undefined, [layer], 'SBOM image'), layerDigest }
}
