import { FerryError } from '../errors.js'
import { type Manifest, parseManifest } from '../oci/manifest.js'
import { formatPlatform, platformMatches } from '../oci/platform.js'
import type { Platform } from '../oci/schemas.js'

/** Annotation on a platform-filtered index naming the index it was cut from, so a re-sync can tell it is current. */
export const SOURCE_DIGEST_ANNOTATION = 'io.ferry.source.digest'

/**
 * Keeps only the children of an index that match one of `platforms`. When every child is kept the
 * source index is returned untouched (same bytes, same digest); otherwise a new index is written, which
 * by construction has a new digest.
 */
export function filterIndex(root: Manifest, platforms: readonly Platform[], subject: string): Manifest {
  if (root.kind !== 'index' || platforms.length === 0) return root
  const kept = root.index.manifests.filter((d) => platforms.some((p) => platformMatches(p, d.platform)))
  if (kept.length === 0) {
    const available = root.index.manifests
      .map((d) => (d.platform ? formatPlatform(d.platform) : '?'))
      .join(', ')
    throw new FerryError(
      'NOT_FOUND',
      `${subject}: no child matches ${platforms.map(formatPlatform).join(', ')} (available: ${available})`,
    )
  }
  if (kept.length === root.index.manifests.length) return root
  const annotations = { ...(root.index as { annotations?: Record<string, string> }).annotations }
  annotations[SOURCE_DIGEST_ANNOTATION] = root.digest
  const doc = { ...root.index, manifests: kept, annotations }
  return parseManifest(new TextEncoder().encode(JSON.stringify(doc)), {
    contentType: root.mediaType,
    subject,
  })
}
