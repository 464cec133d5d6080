import type { KeyObject } from 'node:crypto'
import { type BundleMetadata, type ImageRecord, metadataTotals } from './format.js'
import { readBundleMetadata } from './reader.js'
import { checkMetadataSignature, type SignatureState } from './signature.js'

export interface BundleListing {
  file: string
  parts?: readonly string[]
  /** Bytes of the tar (all parts). */
  size: number
  name: string
  version: string
  created: string
  /** The release counter `bundle create --sequence` recorded, when it did. */
  sequence?: number
  /** A signature entry is present (proves nothing by itself: see `signature`). */
  signed: boolean
  /** 'verified' only with a public key; a signature that fails to verify throws VERIFY_FAILED instead. */
  signature: SignatureState
  images: ImageRecord[]
  blobs: number
  blobBytes: number
  omitted: { blobs: number; bytes: number }
  base?: BundleMetadata['base']
  against?: BundleMetadata['against']
}

/**
 * `ferry bundle ls`: what the bundle says it holds, read from its first few KiB (ferry-bundle.json comes
 * before any blob). Nothing is hashed here: `bundle verify` is what proves the content. With a public key the
 * signature over ferry-bundle.json is checked, so a listing never calls a bundle signed when it is not.
 */
export async function listBundle(path: string, opts: { publicKey?: KeyObject } = {}): Promise<BundleListing> {
  const read = await readBundleMetadata(path)
  const signature = checkMetadataSignature(read.name, read.metadataBytes, read.signature, opts.publicKey)
  const m = read.metadata
  return {
    file: path,
    ...(read.parts ? { parts: read.parts } : {}),
    size: read.size,
    name: m.name,
    version: m.version,
    created: m.created,
    ...(m.sequence === undefined ? {} : { sequence: m.sequence }),
    signed: read.signed,
    signature,
    images: m.images,
    ...metadataTotals(m),
    ...(m.base ? { base: m.base } : {}),
    ...(m.against ? { against: m.against } : {}),
  }
}
