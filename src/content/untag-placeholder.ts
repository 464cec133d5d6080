import { randomUUID } from 'node:crypto'
import { annotationsOf, type Manifest } from '../oci/manifest.js'
import { MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'

/**
 * Ferry's untag placeholder. A registry that deletes manifests only by digest (distribution 2.x) is
 * untagged by pointing the tag at an empty manifest of its own and deleting that by digest. A run killed
 * between the two leaves the tag on the placeholder: whoever meets it later (the next untag, a retention
 * plan, a restore) recognises it here and treats the tag as one being removed, not as an image.
 */

/** The OCI empty descriptor (image-spec v1.1, "Guidance for an Empty Descriptor"): the placeholder's config. */
export const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: MediaType.ociEmpty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
}
export const EMPTY_BYTES = Buffer.from('{}')

/** Names the tag being removed and a nonce, so that each untag's placeholder has a digest of its own. */
export const UNTAG_ANNOTATION = 'dev.ferry.untag'

/** The placeholder manifest's bytes for untagging `tag`; unique per call. */
export function untagPlaceholderBytes(tag: string): Buffer {
  const doc = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: EMPTY_DESCRIPTOR,
    layers: [],
    annotations: { [UNTAG_ANNOTATION]: `${tag} ${randomUUID()}` },
  }
  return Buffer.from(JSON.stringify(doc))
}

/** Whether `m` is a placeholder ferry pushed to untag a tag: no layers, the empty config, the annotation. */
export function isUntagPlaceholder(m: Manifest): boolean {
  if (m.kind !== 'image' || m.mediaType !== MediaType.ociManifest) return false
  const image = m.image
  return (
    image.layers.length === 0 &&
    image.config.digest === EMPTY_DESCRIPTOR.digest &&
    typeof annotationsOf(m)?.[UNTAG_ANNOTATION] === 'string'
  )
}
