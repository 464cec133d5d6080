import type { Manifest } from '../oci/manifest.js'
import { isManifestMediaType } from '../oci/media-types.js'
import { ApiError } from './errors.js'

/**
 * What a pushed manifest must be beyond its schema, refused with 400 MANIFEST_INVALID as distribution
 * 2.8 refuses it: one document is never readable as two kinds (the "type confusion" distribution fixed
 * in 2.8.0, GHSA-qq97-vm5h-rrhg), and a body that names its mediaType came with exactly that Content-Type
 * (spec "Pushing Manifests": clients MUST set it so). Beyond distribution: an index lists manifests only.
 */
export function checkPushedManifest(m: Manifest, contentType: string | undefined, what: string): void {
  const doc = (m.kind === 'index' ? m.index : m.image) as Record<string, unknown>
  const header = contentType?.split(';')[0]?.trim().toLowerCase()
  if (header && typeof doc.mediaType === 'string' && header !== doc.mediaType.toLowerCase()) {
    throw invalid(`${what}: Content-Type ${header} is not the manifest's mediaType ${doc.mediaType}`)
  }
  if (m.kind === 'index' && ('layers' in doc || 'config' in doc)) {
    throw invalid(`${what}: an index (manifests) that also has layers or config is ambiguous`)
  }
  if (m.kind === 'image' && 'manifests' in doc) {
    throw invalid(`${what}: an image manifest (layers) that also has manifests is ambiguous`)
  }
  if (m.kind === 'index') {
    const child = m.index.manifests.find((d) => !isManifestMediaType(d.mediaType))
    if (child) {
      throw invalid(`${what}: index lists ${child.digest} as ${child.mediaType}, which is not a manifest`)
    }
  }
}

const invalid = (message: string) => new ApiError('MANIFEST_INVALID', message)
