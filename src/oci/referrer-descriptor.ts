import { annotationsOf, artifactTypeOf, type Manifest } from './manifest.js'
import type { Descriptor } from './schemas.js'

/** The descriptor a referrers list carries for a manifest (spec: artifactType and annotations copied). */
export function referrerDescriptor(m: Manifest): Descriptor {
  const d: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.bytes.byteLength }
  const artifactType = artifactTypeOf(m)
  if (artifactType) d.artifactType = artifactType
  const annotations = annotationsOf(m)
  if (annotations && Object.keys(annotations).length > 0) d.annotations = annotations
  return d
}
