import { type BundleMetadata, type ImageRecord, metadataTotals } from './format.js'
import { readBundleMetadata } from './reader.js'

export interface BundleListing {
  file: string
  parts?: readonly string[]
  /** Bytes of the tar (all parts). */
  size: number
  name: string
  version: string
  created: string
  signed: boolean
  images: ImageRecord[]
  blobs: number
  blobBytes: number
  omitted: { blobs: number; bytes: number }
  base?: BundleMetadata['base']
  against?: BundleMetadata['against']
}

/**
 * `ferry bundle ls`: what the bundle says it holds, read from its first few KiB (ferry-bundle.json comes
 * before any blob). Nothing is hashed here: `bundle verify` is what proves the content.
 */
export async function listBundle(path: string): Promise<BundleListing> {
  const read = await readBundleMetadata(path)
  const m = read.metadata
  return {
    file: path,
    ...(read.parts ? { parts: read.parts } : {}),
    size: read.size,
    name: m.name,
    version: m.version,
    created: m.created,
    signed: read.signed,
    images: m.images,
    ...metadataTotals(m),
    ...(m.base ? { base: m.base } : {}),
    ...(m.against ? { against: m.against } : {}),
  }
}
