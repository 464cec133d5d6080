import { createPublicKey, type KeyObject } from 'node:crypto'
import {
  type Bundle,
  type BundleWithDsseEnvelope,
  bundleFromJSON,
  isBundleWithDsseEnvelope,
} from '@sigstore/bundle'
import { dsse } from '@sigstore/core'
import { toSignedEntity, toTrustMaterial, type VerificationPolicy, Verifier } from '@sigstore/verify'
import { parseDigest } from '../oci/digest.js'
import { IN_TOTO_PAYLOAD_TYPE, parseStatement, statementNamesDigest, subjectDigests } from './in-toto.js'
import { failed, type VerifyReport } from './report.js'

/** A Sigstore trusted root (`trusted_root.json`, protobuf-specs `TrustedRoot`) as `@sigstore/verify` takes it. */
export type TrustedRoot = Parameters<typeof toTrustMaterial>[0]

export interface BundleReport extends VerifyReport {
  predicateType?: string
  /** The certificate identity, for keyless bundles. */
  signer?: { subjectAlternativeName?: string; issuer?: string }
}

export interface BundleCheckOptions {
  /** Require this predicate type (e.g. cosign's `https://sigstore.dev/cosign/sign/v1` for signatures). */
  predicateType?: string
}

const EMPTY_ROOT: TrustedRoot = {
  mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
  tlogs: [],
  certificateAuthorities: [],
  ctlogs: [],
  timestampAuthorities: [],
}

function decodeBundle(bundleJson: string | Uint8Array): { bundle?: BundleWithDsseEnvelope; reason?: string } {
  let bundle: Bundle
  try {
    const text = typeof bundleJson === 'string' ? bundleJson : Buffer.from(bundleJson).toString('utf8')
    bundle = bundleFromJSON(JSON.parse(text))
  } catch (err) {
    return { reason: `not a valid Sigstore bundle: ${err instanceof Error ? err.message : String(err)}` }
  }
  // cosign verify (`IntotoSubjectClaimVerifier`) wants a DSSE statement naming the image, not a bare signature.
  if (!isBundleWithDsseEnvelope(bundle))
    return { reason: 'bundle holds a message signature, not a DSSE envelope' }
  return { bundle }
}

/**
 * What a key-signed bundle's signature covers and the signature itself: DSSE's pre-authentication
 * encoding of the envelope's payload, and the (first) signature, base64. For finding which key made it;
 * undefined when the bundle does not decode or holds no DSSE signature.
 */
export function dsseSignature(
  bundleJson: string | Uint8Array,
): { message: Buffer; signatureB64: string } | undefined {
  const envelope = decodeBundle(bundleJson).bundle?.content.dsseEnvelope
  const signature = envelope?.signatures[0]
  if (!envelope || !signature) return undefined
  return {
    message: dsse.preAuthEncoding(envelope.payloadType, envelope.payload),
    signatureB64: signature.sig.toString('base64'),
  }
}

function runVerifier(verifier: Verifier, bundle: Bundle, policy?: VerificationPolicy) {
  try {
    const signer = verifier.verify(toSignedEntity(bundle), policy)
    return { signer }
  } catch (err) {
    const code = err && typeof err === 'object' && 'code' in err ? `${String(err.code)}: ` : ''
    return { reason: `${code}${err instanceof Error ? err.message : String(err)}` }
  }
}

function checkStatement(
  bundle: BundleWithDsseEnvelope,
  expectedDigest: string,
  opts: BundleCheckOptions,
  checked: string[],
  notChecked: string[],
): BundleReport {
  const envelope = bundle.content.dsseEnvelope
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    return failed(
      `DSSE payload type is "${envelope.payloadType}", not ${IN_TOTO_PAYLOAD_TYPE}`,
      checked,
      notChecked,
    )
  }
  const { statement, reason } = parseStatement(envelope.payload)
  if (!statement) return failed(reason!, checked, notChecked)
  if (opts.predicateType && statement.predicateType !== opts.predicateType) {
    const why = `predicate type is ${statement.predicateType}, expected ${opts.predicateType}`
    return { ...failed(why, checked, notChecked), predicateType: statement.predicateType }
  }
  if (!statementNamesDigest(statement, expectedDigest)) {
    const names = subjectDigests(statement).join(', ') || 'nothing'
    const why = `statement is about ${names}, not ${expectedDigest}`
    return { ...failed(why, checked, notChecked), predicateType: statement.predicateType }
  }
  checked.push(`in-toto statement subject names ${expectedDigest} (predicate ${statement.predicateType})`)
  return { ok: true, checked, notChecked, predicateType: statement.predicateType }
}

/**
 * Verify a bundle with a public key, offline: the DSSE signature with the key (the bundle's key hint is
 * not compared, as cosign ignores it with `--key`), then the statement's subject against `expectedDigest`.
 * Transparency-log entries and timestamps are not checked (no trusted root offline) and are reported so.
 */
export function verifyBundle(
  bundleJson: string | Uint8Array,
  publicKey: KeyObject,
  expectedDigest: string,
  opts: BundleCheckOptions = {},
): BundleReport {
  const expected = parseDigest(expectedDigest).digest
  const checked: string[] = []
  const notChecked: string[] = []
  const { bundle, reason } = decodeBundle(bundleJson)
  if (!bundle) return failed(reason!, checked, notChecked)
  const material = bundle.verificationMaterial
  if (material.content.$case !== 'publicKey') {
    return failed(
      'bundle is signed with a certificate; verify it against a trusted root',
      checked,
      notChecked,
    )
  }
  const tlogCount = material.tlogEntries.length
  const tsaCount = material.timestampVerificationData?.rfc3161Timestamps.length ?? 0
  notChecked.push(
    tlogCount
      ? `transparency log (${tlogCount} ${tlogCount === 1 ? 'entry' : 'entries'} present, not checked offline)`
      : 'transparency log (no entry recorded)',
  )
  if (tsaCount) notChecked.push(`RFC 3161 timestamps (${tsaCount} present, not checked offline)`)
  const keyOnly: Bundle = {
    ...bundle,
    verificationMaterial: {
      ...material,
      tlogEntries: [],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
  }
  const key = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey
  const trust = toTrustMaterial(EMPTY_ROOT, () => ({ publicKey: key, validFor: () => true }))
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 })
  const result = runVerifier(verifier, keyOnly)
  if (!result.signer)
    return failed(
      `signature does not verify with the given public key (${result.reason})`,
      checked,
      notChecked,
    )
  checked.push('DSSE signature over the statement with the given public key')
  return checkStatement(bundle, expected, opts, checked, notChecked)
}

export interface KeylessVerifyInput extends BundleCheckOptions {
  bundleJson: string | Uint8Array
  trustedRoot: TrustedRoot
  expectedDigest: string
  /** Expected certificate identity (SAN: e-mail or URI) and OIDC issuer; unchecked when absent, and reported so. */
  identity?: { subjectAlternativeName?: string; issuer?: string }
}

/**
 * Verify a keyless bundle against a trusted root held locally (no TUF, no network): certificate chain to
 * a trusted CA, an SCT, a transparency-log entry with the trusted log's key, the signature, the identity.
 */
export function verifyBundleKeyless(input: KeylessVerifyInput): BundleReport {
  const expected = parseDigest(input.expectedDigest).digest
  const checked: string[] = []
  const notChecked: string[] = []
  const { bundle, reason } = decodeBundle(input.bundleJson)
  if (!bundle) return failed(reason!, checked, notChecked)
  const { subjectAlternativeName, issuer } = input.identity ?? {}
  const policy: VerificationPolicy = {
    ...(subjectAlternativeName ? { subjectAlternativeName } : {}),
    ...(issuer ? { extensions: { issuer } } : {}),
  }
  const result = runVerifier(new Verifier(toTrustMaterial(input.trustedRoot)), bundle, policy)
  if (!result.signer)
    return failed(`bundle does not verify against the trusted root (${result.reason})`, checked, notChecked)
  checked.push(
    'certificate chains to a trusted CA, with an SCT from a trusted CT log',
    'transparency log entry signed by a trusted log, timestamp within the certificate validity',
    'DSSE signature over the statement with the certificate key',
  )
  if (subjectAlternativeName) checked.push(`certificate identity is ${subjectAlternativeName}`)
  else notChecked.push('certificate identity (none required)')
  if (issuer) checked.push(`OIDC issuer is ${issuer}`)
  else notChecked.push('OIDC issuer (none required)')
  const signer = {
    subjectAlternativeName: result.signer.identity?.subjectAlternativeName,
    issuer: result.signer.identity?.extensions?.issuer,
  }
  return { ...checkStatement(bundle, expected, input, checked, notChecked), signer }
}
