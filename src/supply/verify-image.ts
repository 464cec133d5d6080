import type { KeyObject } from 'node:crypto'
import { fetchManifestIfPresent } from '../content/present.js'
import type { ReadOnlyTarget } from '../content/target.js'
import { FerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { type KeySet, keyName, legacySbomTag, type SbomFormat, singleKeySet } from '../sign/index.js'
import { plural } from '../util/plural.js'
import { type AttachScheme, referrersScheme, sbomFormatOf } from './kinds.js'
import { type CheckContext, checkSignatures, type SignatureCheck } from './signatures.js'

export interface VerifyImageOptions {
  target: ReadOnlyTarget
  /** Tag or digest; the digest it names now is what must be signed. */
  reference: string
  /** The signer's public key (`loadPublicKey`): shorthand for `keys` holding this key alone. */
  publicKey?: KeyObject
  /**
   * The keys whose signatures count, each with its validity window, and the keys revoked: a signature
   * counts only when made with a key trusted now (sign/trust.ts). Either this or `publicKey`.
   */
  keys?: KeySet
  /** When the keys' windows are judged. Default: now. */
  now?: Date
  /** At least one SBOM must be attached, and signed with a key that signed the image. */
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
  /** One of `signatures` counts, made with a key whose signature of the image counts too. */
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

async function findSboms(
  ctx: CheckContext,
  digest: Digest,
  imageSigners: ReadonlySet<string>,
): Promise<SbomCheck[]> {
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
      const signed = signatures.some((c) => c.ok && imageSigners.has(c.key!.fingerprint))
      return { ...s, signed, signatures }
    }),
  )
}

function signatureRequirement(
  digest: Digest,
  signatures: SignatureCheck[],
  opts: VerifyImageOptions,
  keys: KeySet,
): Requirement {
  const good = signatures.filter((s) => s.ok)
  const annotated = opts.annotations && Object.keys(opts.annotations).length > 0
  const withAnnotations = annotated ? ' with the required annotations' : ''
  const given = keys.keys.length === 1 ? 'the given key' : 'the given keys'
  const keyAnd = annotated ? `${given} and the required annotations` : given
  if (good.length > 0) {
    const by = [...new Set(good.map((s) => keyName(s.key!)))].join(', ')
    const refused = signatures.filter((s) => !s.ok && s.key && s.key.status !== 'trusted')
    const notCounted = refused.length
      ? `; not counted: ${[...new Set(refused.map((s) => s.reason))].join('; ')}`
      : ''
    return {
      name: 'signature',
      ok: true,
      detail: `${good.length} of ${signatures.length} signatures verify${withAnnotations}, by ${by}${notCounted}`,
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
 * Offline verification with public keys: no transparency log, no TUF, nothing but the target. The
 * digest is resolved first; every signature found in either scheme is checked cryptographically, must
 * name that digest and counts only when its key is trusted now (not revoked, within its window).
 * `ok` only when at least one signature counts and every requirement holds.
 */
export async function verifyImage(opts: VerifyImageOptions): Promise<VerifyImageResult> {
  const { target } = opts
  const keys = opts.keys ?? (opts.publicKey && singleKeySet(opts.publicKey))
  if (!keys) throw new FerryError('USAGE', 'verifyImage needs a public key or a key set')
  const digest = (await target.resolve(opts.reference)).digest as Digest
  const ctx: CheckContext = {
    target,
    scheme: await referrersScheme(target),
    keys,
    now: opts.now ?? new Date(),
    annotations: opts.annotations,
  }
  const { signatures, skipped } = await checkSignatures(ctx, digest)
  const requirements = [signatureRequirement(digest, signatures, opts, keys)]
  const signers = new Set(signatures.filter((s) => s.ok).map((s) => s.key!.fingerprint))
  const sboms = opts.requireSbom ? await findSboms(ctx, digest, signers) : undefined
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
