import { annotationsOf, artifactTypeOf, type Manifest } from './manifest.js'
import type { Descriptor } from './schemas.js'

export interface DescriptorOfOptions {
  /**
   * Which artifactType the descriptor carries. Default: none.
   * - `own`: the manifest's own `artifactType` field, as index.json records it (image-spec image-layout).
   * - `referrers`: as a referrers list carries it: the manifest's `artifactType`, else an image's config
   *   media type (distribution-spec, "Listing Referrers").
   */
  artifactType?: 'own' | 'referrers'
  /**
   * Annotations to carry, left out when empty. `own`: the manifest's own, as a referrers list copies
   * them; or the record to set (an index.json entry's ref name and subject).
   */
  annotations?: 'own' | Readonly<Record<string, string>>
}

// Docker manifests declare neither field; the loose schemas keep whatever the document carried.
function ownArtifactType(m: Manifest): string | undefined {
  const doc = (m.kind === 'index' ? m.index : m.image) as { artifactType?: unknown }
  return typeof doc.artifactType === 'string' ? doc.artifactType : undefined
}

/**
 * The descriptor that points at `m`: its media type, digest and size in bytes (of the exact bytes, never
 * a re-serialisation), in that key order, then artifactType and annotations when asked for.
 */
export function descriptorOf(m: Manifest, opts: DescriptorOfOptions = {}): Descriptor {
  const d: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.byteLength }
  const artifactType =
    opts.artifactType === 'own' ? ownArtifactType(m) : opts.artifactType ? artifactTypeOf(m) : undefined
  if (artifactType) d.artifactType = artifactType
  const annotations = opts.annotations === 'own' ? annotationsOf(m) : opts.annotations
  if (annotations && Object.keys(annotations).length > 0) d.annotations = { ...annotations }
  return d
}
