import type { KeyObject } from 'node:crypto'
import { fetchManifestIfPresent } from '../content/present.js'
import type { ReadOnlyTarget } from '../content/target.js'
import type { Digest } from '../oci/digest.js'
import type { ProgressSink } from '../progress.js'
import { cosignTag } from '../reference/grammar.js'
import { type KeySet, singleKeySet } from '../sign/key-set.js'
import type { SignatureKey } from '../sign/trust.js'
import { sbomFormatOf } from '../supply/kinds.js'
import { type BundleMetadata, metadataTotals } from './format.js'
import { checkImageNames } from './names.js'
import { BundleReader } from './reader.js'
import type { SignatureState } from './signature.js'

export interface VerifyBundleOptions {
  /** Checks the bundle's signature and each image's own signatures (cosign .sig tags and Sigstore bundle referrers). */
  publicKey?: KeyObject
  /**
   * As `publicKey`, with several keys and the trust decision: a signature (the bundle's, an image's)
   * made with a revoked key, or a key outside its window, does not count.
   */
  keys?: KeySet
  /** Each image must carry an SBOM (signed with a key when keys are given). */
  requireSbom?: boolean
  /** The verifying pass (phase `verify`). */
  progress?: ProgressSink
}

export interface ImageCheck {
  name: 'content' | 'signature' | 'sbom'
  ok: boolean
  detail: string
}

export interface ImageVerification {
  source: string
  digest: Digest
  ok: boolean
  checks: ImageCheck[]
}

export interface BundleVerifyReport {
  file: string
  parts?: readonly string[]
  name: string
  version: string
  created: string
  sequence?: number
  /** `verified` with a key; `not-checked` when signed but no key was given; `unsigned`. */
  signature: SignatureState
  /** The key the bundle's signature verified with. */
  signer?: SignatureKey
  blobs: number
  bytes: number
  omitted: { blobs: number; bytes: number }
  base?: BundleMetadata['base']
  images: ImageVerification[]
  ok: boolean
}

/**
 * `ferry bundle verify`: the verifying pass (every blob's size and digest, reachability from index.json,
 * ferry-bundle.json against the layout, the bundle signature with a key) throws on the first broken
 * thing, since nothing in such a bundle can be trusted. Per-image supply-chain checks then run offline
 * against the bundle itself and give one row per image; `ok` is false when any row fails.
 */
export async function verifyBundleFile(
  path: string,
  opts: VerifyBundleOptions = {},
): Promise<BundleVerifyReport> {
  const keys = opts.keys ?? (opts.publicKey && singleKeySet(opts.publicKey))
  const bundle = await BundleReader.open(path, { keys, progress: opts.progress })
  try {
    checkImageNames(path, bundle.metadata)
    const images: ImageVerification[] = []
    for (const image of bundle.metadata.images) {
      const target = bundle.target(image.repository)
      const checks: ImageCheck[] = [
        { name: 'content', ok: true, detail: `${image.blobCount} blobs verified or accounted for` },
      ]
      if (keys) {
        // Loaded only when asked for: it brings the Sigstore verification libraries along.
        const { verifyImage } = await import('../supply/verify-image.js')
        const result = await verifyImage({
          target,
          reference: image.digest,
          keys,
          requireSbom: opts.requireSbom,
        })
        for (const r of result.requirements) checks.push({ name: r.name, ok: r.ok, detail: r.detail })
      } else if (opts.requireSbom) {
        checks.push(await sbomPresent(target, image.digest))
      }
      images.push({ source: image.source, digest: image.digest, ok: checks.every((c) => c.ok), checks })
    }
    const m = bundle.metadata
    const totals = metadataTotals(m)
    return {
      file: path,
      ...(bundle.parts ? { parts: bundle.parts } : {}),
      name: m.name,
      version: m.version,
      created: m.created,
      ...(m.sequence === undefined ? {} : { sequence: m.sequence }),
      signature: bundle.signature,
      ...(bundle.signer ? { signer: bundle.signer } : {}),
      blobs: totals.blobs,
      bytes: totals.blobBytes,
      omitted: totals.omitted,
      ...(m.base ? { base: m.base } : {}),
      images,
      ok: images.every((i) => i.ok),
    }
  } finally {
    await bundle.close()
  }
}

/** Without a key an SBOM can only be shown to be there: a referrer or cosign's `.sbom` tag in SPDX/CycloneDX. */
async function sbomPresent(target: ReadOnlyTarget, digest: Digest): Promise<ImageCheck> {
  for (const listed of await target.referrers(digest)) {
    const m = await fetchManifestIfPresent(target, listed.digest)
    const format = m && sbomFormatOf(m, listed)
    if (format)
      return {
        name: 'sbom',
        ok: true,
        detail: `${format} SBOM attached (${listed.digest}); not signature-checked without --key`,
      }
  }
  const legacy = await fetchManifestIfPresent(target, cosignTag(digest, 'sbom'))
  const format = legacy && sbomFormatOf(legacy)
  if (format)
    return {
      name: 'sbom',
      ok: true,
      detail: `${format} SBOM under ${cosignTag(digest, 'sbom')}; not signature-checked without --key`,
    }
  return {
    name: 'sbom',
    ok: false,
    detail: 'no SBOM attached (SPDX or CycloneDX referrer, or cosign .sbom tag)',
  }
}
