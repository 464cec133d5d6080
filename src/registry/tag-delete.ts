import { randomUUID } from 'node:crypto'
import { Readable } from 'node:stream'
import { parseManifest } from '../oci/manifest.js'
import { MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { hasBlob } from './blobs.js'
import type { RepoContext } from './context.js'
import { NOT_FOUND_ENTRY, registryError } from './errors.js'
import { deleteManifestRef, headManifest, pushManifest } from './manifests.js'
import { pushBlob } from './upload.js'

/** The OCI empty descriptor (image-spec v1.1, "Guidance for an Empty Descriptor"). */
const EMPTY: Descriptor = {
  mediaType: MediaType.ociEmpty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
}

/**
 * Untagging where the registry cannot delete a tag (distribution 2.x): point the tag at a manifest
 * of its own, unique to this call, then delete that manifest by digest. Whatever the tag named before
 * stays, reachable by digest and by its other tags.
 */
export async function deleteTagByReplacement(ctx: RepoContext, tag: string): Promise<void> {
  if (!(await headManifest(ctx, tag))) {
    throw registryError(`${ctx.name}:${tag}`, 404, '', NOT_FOUND_ENTRY.manifest)
  }
  if (!(await hasBlob(ctx, EMPTY))) await pushBlob(ctx, EMPTY, Readable.from([Buffer.from('{}')]))
  const doc = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: EMPTY,
    layers: [],
    annotations: { 'dev.ferry.untag': `${tag} ${randomUUID()}` },
  }
  const placeholder = parseManifest(Buffer.from(JSON.stringify(doc)), { subject: `${ctx.name}:${tag}` })
  await pushManifest(ctx, placeholder, tag)
  await deleteManifestRef(ctx, placeholder.digest)
}
