import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import type { OperationOptions, Target } from '../content/target.js'
import { FerryError } from '../errors.js'
import { type Digest, digestOf } from '../oci/digest.js'
import { type Manifest, parseManifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'
import { parseAttachmentTag } from '../reference/grammar.js'
import { MAX_SIGNATURE_LAYERS, SIGNATURE_ANNOTATION } from '../sign/classic-layers.js'
import { appendLayers } from '../sign/ggcr-image.js'

/** Signature and attestation images are a few KiB; a config far larger is not one. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024

// One signature is one layer: the same payload signed again (another key) is another signature.
const layerKey = (l: Descriptor) => `${l.digest} ${l.annotations?.[SIGNATURE_ANNOTATION] ?? ''}`

/**
 * The destination's cosign image (`existing`, under `tag`) with the source's layers it lacks appended,
 * as cosign itself appends: undefined when the destination already holds every source layer. `.sig` and
 * `.att` are merged this way; `.sbom` holds one SBOM and the source's replaces it.
 */
export async function mergeCosignTag(
  destination: Target,
  tag: string,
  existing: Digest,
  incoming: Manifest,
  opts: OperationOptions = {},
): Promise<Manifest | undefined> {
  const kind = parseAttachmentTag(tag)?.kind
  if (kind !== 'sig' && kind !== 'att') return incoming
  const what = `${destination.name}:${tag}`
  const current = await destination.fetchManifest(existing, opts)
  if (current.kind !== 'image' || incoming.kind !== 'image') {
    throw new FerryError('MANIFEST_INVALID', `${what}: a cosign ${kind} tag must name an image manifest`)
  }
  const have = new Set(current.image.layers.map(layerKey))
  const missing = incoming.image.layers.filter((l) => !have.has(layerKey(l)))
  if (missing.length === 0) return undefined
  if (current.image.layers.length + missing.length > MAX_SIGNATURE_LAYERS) {
    throw new FerryError(
      'UNSUPPORTED',
      `${what}: merging would hold ${current.image.layers.length + missing.length} layers, more than cosign reads`,
    )
  }
  const config = current.image.config
  if (config.size > MAX_CONFIG_BYTES)
    throw new FerryError('UNSUPPORTED', `${what}: config is ${config.size} bytes`)
  const configBytes = new Uint8Array(await buffer(await destination.fetchBlob(config, opts)))
  const merged = appendLayers({ manifestBytes: current.bytes, configBytes }, missing, what)
  const mergedConfig: Descriptor = {
    mediaType: config.mediaType,
    digest: digestOf(merged.configBytes),
    size: merged.configBytes.byteLength,
  }
  if (!(await destination.hasBlob(mergedConfig, opts))) {
    await destination.pushBlob(mergedConfig, Readable.from([Buffer.from(merged.configBytes)]), opts)
  }
  return parseManifest(merged.manifestBytes, { subject: what })
}
