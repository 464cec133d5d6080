import { fetchManifestIfPresent } from '../content/present.js'
import type { ReadOnlyTarget } from '../content/target.js'
import { isFerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { annotationsOf, type Manifest } from '../oci/manifest.js'
import { MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import {
  BUNDLE_PREDICATE_TYPE_ANNOTATION,
  COSIGN_SIGN_PREDICATE_TYPE,
  candidateKeys,
  classicSignaturesOf,
  classicSignatureTag,
  dsseSignature,
  type HeldKey,
  judgeSignature,
  type KeySet,
  type SignatureKey,
  signerOf,
  type VerifyReport,
  verifyBundle,
  verifyClassicSignature,
} from '../sign/index.js'
import { bundleSubjectAnnotations, missingAnnotation } from './bundle-claims.js'
import { MAX_SIGNATURE_BLOB_BYTES, readBlobBytes } from './content.js'
import { type AttachScheme, bundleLayerOf, type ReferrersScheme } from './kinds.js'

export interface SignatureCheck {
  scheme: AttachScheme
  /** cosign's `.sig` layer, or a Sigstore bundle referrer. */
  format: 'classic' | 'bundle'
  /** The digest the signature must name (the image, or an SBOM manifest). */
  subject: Digest
  /** The `.sig` manifest, or the bundle's referrer manifest. */
  manifest: Digest
  /** The payload or bundle blob. */
  layer?: Digest
  tag?: string
  /** It verifies, names `subject` and was made with a key trusted now (sign/trust.ts): it counts. */
  ok: boolean
  reason?: string
  /** The key that made it, when the verification knows it: trusted, or why not (revoked, expired…). */
  key?: SignatureKey
  checked: string[]
  notChecked: string[]
}

export interface CheckContext {
  target: ReadOnlyTarget
  scheme: ReferrersScheme
  /** The keys to check with and the trust decision's input: windows and revocations. */
  keys: KeySet
  /** When key windows are judged. */
  now: Date
  /** Annotations every signature must carry (`-a k=v` at signing). */
  annotations?: Record<string, string>
}

export interface SubjectSignatures {
  signatures: SignatureCheck[]
  /** Attached things that look like signatures but were deliberately not evaluated, with why. */
  skipped: string[]
}

type Base = Omit<SignatureCheck, keyof VerifyReport | 'key'>

const failure = (base: Base, reason: string): SignatureCheck => ({
  ...base,
  ok: false,
  reason,
  checked: [],
  notChecked: [],
})

async function readOrFail(ctx: CheckContext, desc: Descriptor, what: string) {
  try {
    return { bytes: await readBlobBytes(ctx.target, desc, MAX_SIGNATURE_BLOB_BYTES, what) }
  } catch (err) {
    // A blob that is missing, truncated or does not hash to its digest fails this signature, not the run.
    if (isFerryError(err)) return { reason: err.message }
    throw err
  }
}

async function classicChecks(ctx: CheckContext, subject: Digest): Promise<SignatureCheck[]> {
  const tag = classicSignatureTag(subject)
  const m = await fetchManifestIfPresent(ctx.target, tag)
  if (!m) return []
  const base: Base = { scheme: 'cosign-tag', format: 'classic', subject, manifest: m.digest, tag }
  let layers: ReturnType<typeof classicSignaturesOf>
  try {
    layers = classicSignaturesOf(m.bytes)
  } catch (err) {
    if (isFerryError(err)) return [failure(base, `${tag}: ${err.message}`)]
    throw err
  }
  if (layers.length === 0) return [failure(base, `${tag} holds no simple-signing layer`)]
  const out: SignatureCheck[] = []
  for (const l of layers) {
    const layerBase = { ...base, layer: l.layerDigest }
    if (!l.signatureB64) {
      out.push(failure(layerBase, 'layer carries no signature annotation'))
      continue
    }
    const desc = { mediaType: MediaType.cosignSimpleSigning, digest: l.layerDigest, size: l.size }
    const read = await readOrFail(ctx, desc, `${ctx.target.name}:${tag} payload ${l.layerDigest}`)
    if (!read.bytes) {
      out.push(failure(layerBase, read.reason!))
      continue
    }
    const signer = signerOf(ctx.keys, read.bytes, l.signatureB64)
    const publicKey = signer?.key ?? candidateKeys(ctx.keys)[0]?.key
    if (!publicKey) {
      out.push(failure(layerBase, 'no public key to verify with'))
      continue
    }
    const report = verifyClassicSignature({
      payload: read.bytes,
      signatureB64: l.signatureB64,
      publicKey,
      expectedDigest: subject,
      layerDigest: l.layerDigest,
      layerAnnotations: l.annotations,
      requiredAnnotations: ctx.annotations,
    })
    const { claims: _claims, ...rest } = report
    out.push(judged(ctx, { ...layerBase, ...rest }, signer))
  }
  return out
}

/** The check with the trust decision applied: a signature by a revoked or expired key does not count. */
function judged(ctx: CheckContext, check: SignatureCheck, signer: HeldKey | undefined): SignatureCheck {
  const { ok, reason, key } = judgeSignature(check, signer, ctx.keys, ctx.now)
  const { reason: _reason, ...rest } = check
  return { ...rest, ok, ...(reason === undefined ? {} : { reason }), ...(key ? { key } : {}) }
}

async function bundleCheck(ctx: CheckContext, subject: Digest, m: Manifest): Promise<SignatureCheck> {
  const layer = bundleLayerOf(m)!
  const base: Base = {
    scheme: ctx.scheme,
    format: 'bundle',
    subject,
    manifest: m.digest,
    layer: layer.digest as Digest,
  }
  const read = await readOrFail(ctx, layer, `${ctx.target.name}@${m.digest} bundle`)
  if (!read.bytes) return failure(base, read.reason!)
  const signed = dsseSignature(read.bytes)
  const signer = signed && signerOf(ctx.keys, signed.message, signed.signatureB64)
  const publicKey = signer?.key ?? candidateKeys(ctx.keys)[0]?.key
  if (!publicKey) return failure(base, 'no public key to verify with')
  const report = verifyBundle(read.bytes, publicKey, subject, {
    predicateType: COSIGN_SIGN_PREDICATE_TYPE,
  })
  const { predicateType: _p, signer: _s, ...rest } = report
  const result: SignatureCheck = { ...base, ...rest }
  if (result.ok && ctx.annotations && Object.keys(ctx.annotations).length) {
    const missing = missingAnnotation(bundleSubjectAnnotations(read.bytes, subject), ctx.annotations)
    if (missing) {
      result.ok = false
      result.reason = `statement annotation ${missing} is not "${ctx.annotations[missing]}"`
    } else {
      result.checked.push(`statement annotations ${Object.keys(ctx.annotations).sort().join(', ')}`)
    }
  }
  return judged(ctx, result, signer)
}

/**
 * Every signature on `subject` in both schemes, each checked offline with the key that made it (the
 * first of the set it verifies with) and judged by the trust decision: cosign's `.sig` tag (every
 * layer) and Sigstore bundle referrers. Bundles with another predicate (attestations) are not
 * signatures of the image and are listed as skipped.
 */
export async function checkSignatures(ctx: CheckContext, subject: Digest): Promise<SubjectSignatures> {
  const signatures = await classicChecks(ctx, subject)
  const skipped: string[] = []
  for (const listed of await ctx.target.referrers(subject)) {
    const m = await fetchManifestIfPresent(ctx.target, listed.digest)
    if (!m || !bundleLayerOf(m)) continue
    // The annotation is unsigned, so it only routes; the signed statement's predicate is checked below.
    const predicate = annotationsOf(m)?.[BUNDLE_PREDICATE_TYPE_ANNOTATION]
    if (predicate && predicate !== COSIGN_SIGN_PREDICATE_TYPE) {
      skipped.push(
        `attestation ${m.digest} (predicate ${predicate}) is not a signature and was not evaluated`,
      )
      continue
    }
    signatures.push(await bundleCheck(ctx, subject, m))
  }
  return { signatures, skipped }
}
