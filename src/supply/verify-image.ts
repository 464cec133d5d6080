import type { KeyObject } from 'node:crypto'
import { fetchManifestIfPresent } from '../content/present.js'
import type { ReadOnlyTarget } from '../content/target.js'
import type { Digest } from '../oci/digest.js'
import { legacySbomTag, type SbomFormat } from '../sign/index.js'
import { plural } from '../util/plural.js'
import { type AttachScheme, referrersScheme, sbomFormatOf } from './kinds.js'
import { type CheckContext, checkSignatures, type SignatureCheck } from './signatures.js'

export interface VerifyImageOptions {
  target: ReadOnlyTarget
  /** Tag or digest; the digest it names now is what must be signed. */
  reference: string
  /** The signer's public key (`loadPublicKey`). */
  publicKey: KeyObject
  /** At least one SBOM must be attached, and signed with the same key. */
  requireSbom?: boolean
  /** Annotations the signer must have set (`sign -a k=v`): a signature without them does not count. */
  annotations?: Record<string, string>
}

export interface SbomCheck {
  scheme: AttachScheme
  /** The SBOM manifest: what its signatures must name. */
  digest: Digest
  format: SbomFormat
  tag?: string
  /** At least one of `signatures` verifies. */
  signed: boolean
  signatures: SignatureCheck[]
}

export interface Requirement {
  name: 'signature' | 'sbom'
  ok: boolean
  detail: string
}

export interface VerifyImageResult {
  name: string
  reference: string
  /** The digest verified: what the reference names now. */
  digest: Digest
  ok: boolean
  /** The first unmet requirement, one line; absent when ok. */
  reason?: string
  signatures: SignatureCheck[]
  sboms?: SbomCheck[]
  requirements: Requirement[]
  /** What an offline check with a key leaves unproven, over all signatures found. */
  notChecked: string[]
}

async function findSboms(ctx: CheckContext, digest: Digest): Promise<SbomCheck[]> {
  const found: Omit<SbomCheck, 'signed' | 'signatures'>[] = []
  for (const listed of await ctx.target.referrers(digest)) {
    const m = await fetchManifestIfPresent(ctx.target, listed.digest)
    const format = m && sbomFormatOf(m, listed)
    if (m && format) found.push({ scheme: ctx.scheme, digest: m.digest, format })
  }
  // cosign's deprecated `attach sbom`: one SBOM image under `sha256-HEX.sbom`.
  const tag = legacySbomTag(digest)
  const legacy = await fetchManifestIfPresent(ctx.target, tag)
  const legacyFormat = legacy && sbomFormatOf(legacy)
  if (legacy && legacyFormat)
    found.push({ scheme: 'cosign-tag', digest: legacy.digest, format: legacyFormat, tag })
  return Promise.all(
    found.map(async (s) => {
      // An SBOM's signatures name the SBOM manifest, and sign -a annotations are about the image.
      const { signatures } = await checkSignatures({ ...ctx, annotations: undefined }, s.digest)
      return { ...s, signed: signatures.some((c) => c.ok), signatures }
    }),
  )
}

function signatureRequirement(
  digest: Digest,
  signatures: SignatureCheck[],
  opts: VerifyImageOptions,
): Requirement {
  const good = signatures.filter((s) => s.ok).length
  const annotated = opts.annotations && Object.keys(opts.annotations).length > 0
  const withAnnotations = annotated ? ' with the required annotations' : ''
  const keyAnd = annotated ? 'the given key and the required annotations' : 'the given key'
  if (good > 0) {
    return {
      name: 'signature',
      ok: true,
      detail: `${good} of ${signatures.length} signatures verify${withAnnotations}`,
    }
  }
  if (signatures.length === 0) {
    return {
      name: 'signature',
      ok: false,
      detail: `no signature found for ${digest} (cosign .sig tag or bundle referrer)`,
    }
  }
  const reasons = [...new Set(signatures.map((s) => s.reason))].join('; ')
  return {
    name: 'signature',
    ok: false,
    detail: `none of ${signatures.length} signatures for ${digest} verifies with ${keyAnd}: ${reasons}`,
  }
}

function sbomRequirement(sboms: SbomCheck[]): Requirement {
  const signed = sboms.filter((s) => s.signed)
  if (signed.length)
    return { name: 'sbom', ok: true, detail: `${signed.length} of ${sboms.length} SBOMs signed with the key` }
  if (!sboms.length)
    return {
      name: 'sbom',
      ok: false,
      detail: 'no SBOM attached (SPDX or CycloneDX referrer, or cosign .sbom tag)',
    }
  return {
    name: 'sbom',
    ok: false,
    detail: `${plural(sboms.length, 'SBOM')} attached, none signed with the given key`,
  }
}

/**
 * Offline verification with a public key: no transparency log, no TUF, nothing but the target. The
 * digest is resolved first; every signature found in either scheme is checked cryptographically and
 * must name that digest. `ok` only when at least one signature verifies and every requirement holds.
 */
export async function verifyImage(opts: VerifyImageOptions): Promise<VerifyImageResult> {
  const { target } = opts
  const digest = (await target.resolve(opts.reference)).digest as Digest
  const ctx: CheckContext = {
    target,
    scheme: await referrersScheme(target),
    publicKey: opts.publicKey,
    annotations: opts.annotations,
  }
  const { signatures, skipped } = await checkSignatures(ctx, digest)
  const requirements = [signatureRequirement(digest, signatures, opts)]
  const sboms = opts.requireSbom ? await findSboms(ctx, digest) : undefined
  if (sboms) requirements.push(sbomRequirement(sboms))
  const all = [...signatures, ...(sboms ?? []).flatMap((s) => s.signatures)]
  const notChecked = [...new Set([...all.flatMap((s) => s.notChecked), ...skipped])]
  const unmet = requirements.find((r) => !r.ok)
  return {
    name: target.name,
    reference: opts.reference,
    digest,
    ok: !unmet,
    ...(unmet ? { reason: unmet.detail } : {}),
    signatures,
    ...(sboms ? { sboms } : {}),
    requirements,
    notChecked,
  }
}
