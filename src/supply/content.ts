import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { storeManifest, storeTagged } from '../content/store.js'
import type { ReadOnlyTarget, TagOptions, Target } from '../content/target.js'
import { FerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { type Manifest, parseManifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'

/**
 * Small-object plumbing for signatures and attachments: everything here fits in memory (payloads,
 * bundles, configs, SBOMs), so bytes are read and written whole, always through the target's verifying
 * paths.
 */

/** Signature payloads and bundles are a few KiB; anything far larger is not one and is not read. */
export const MAX_SIGNATURE_BLOB_BYTES = 4 * 1024 * 1024

/** A blob's bytes, refused before any transfer when the descriptor says it is over `limit`. */
export async function readBlobBytes(
  target: ReadOnlyTarget,
  desc: Descriptor,
  limit: number,
  what: string,
): Promise<Uint8Array> {
  if (desc.size > limit) {
    throw new FerryError(
      'UNSUPPORTED',
      `${what}: ${desc.size} bytes, over the ${limit}-byte limit for this kind`,
    )
  }
  // fetchBlob verifies size and digest as the bytes flow, so what comes back is what the digest names.
  return new Uint8Array(await buffer(await target.fetchBlob(desc)))
}

/** Uploads `bytes` unless the target already has them. */
export async function pushBytes(target: Target, mediaType: string, digest: Digest, bytes: Uint8Array) {
  const desc: Descriptor = { mediaType, digest, size: bytes.byteLength }
  if (await target.hasBlob(desc)) return
  await target.pushBlob(desc, Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]))
}

/** Pushes manifest bytes exactly as built (by digest, or also under `tag`); returns the parsed view. */
export async function pushManifestBytes(
  target: Target,
  bytes: Uint8Array,
  subject: string,
  tag?: string,
  opts?: TagOptions,
): Promise<Manifest> {
  const manifest = parseManifest(bytes, { subject })
  if (tag === undefined) await storeManifest(target, manifest)
  else await storeTagged(target, manifest, tag, opts)
  return manifest
}
