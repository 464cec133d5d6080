import type { KeyObject } from 'node:crypto'
import { isFerryError } from '../errors.js'
import { digestOf, parseDigest } from '../oci/digest.js'
import { CERTIFICATE_ANNOTATION, REKOR_BUNDLE_ANNOTATION, verifyClassicLayer } from './classic.js'
import { failed, type VerifyReport } from './report.js'
import { parseSimpleSigningPayload, type SimpleSigningClaims } from './simple-signing.js'

export interface ClassicVerifyInput {
  /** The layer blob (simple-signing payload) as fetched. */
  payload: Uint8Array
  signatureB64: string
  publicKey: KeyObject
  /** The digest the signature must be about (the image or index that was asked for). */
  expectedDigest: string
  /** The layer descriptor's digest, when the payload came from a registry: the bytes must match it. */
  layerDigest?: string
  /** The layer's annotations, to report what an offline key check leaves out. */
  layerAnnotations?: Record<string, string>
  /** Annotations the signer must have set (`cosign verify -a k=v`). */
  requiredAnnotations?: Record<string, string>
}

/**
 * cosign's check of a classic signature with a key (`verifyOCISignature` + `SimpleClaimVerifier`): the
 * signature over the payload bytes, then the payload's manifest digest and required annotations.
 * `docker-reference` is not compared, as cosign does not either.
 */
export function verifyClassicSignature(
  input: ClassicVerifyInput,
): VerifyReport & { claims?: SimpleSigningClaims } {
  const expected = parseDigest(input.expectedDigest).digest
  const checked: string[] = []
  const notChecked = ['docker-reference in the payload (not part of the check, as in cosign)']
  const annotations = input.layerAnnotations ?? {}
  if (annotations[CERTIFICATE_ANNOTATION])
    notChecked.push('signing certificate and its chain (a key was given)')
  notChecked.push(
    annotations[REKOR_BUNDLE_ANNOTATION]
      ? 'transparency log (1 entry present, not checked offline)'
      : 'transparency log (no entry recorded)',
  )

  if (input.layerDigest) {
    const { algorithm } = parseDigest(input.layerDigest)
    if (digestOf(input.payload, algorithm) !== input.layerDigest) {
      return failed(`payload bytes do not match layer digest ${input.layerDigest}`, checked, notChecked)
    }
    checked.push(`payload bytes match layer digest ${input.layerDigest}`)
  }
  if (!verifyClassicLayer(input.payload, input.signatureB64, input.publicKey)) {
    return failed('signature does not verify with the given public key', checked, notChecked)
  }
  checked.push('ECDSA/SHA-256 signature over the payload with the given public key')

  let claims: SimpleSigningClaims
  try {
    claims = parseSimpleSigningPayload(input.payload)
  } catch (err) {
    if (isFerryError(err)) return failed(err.message, checked, notChecked)
    throw err
  }
  if (claims.digest !== expected) {
    return failed(`signature is for ${claims.digest}, not ${expected}`, checked, notChecked)
  }
  checked.push(`payload names manifest digest ${expected}`)
  for (const [k, v] of Object.entries(input.requiredAnnotations ?? {})) {
    if (claims.annotations[k] !== v) {
      return failed(`payload annotation ${k} is not "${v}"`, checked, notChecked)
    }
  }
  if (input.requiredAnnotations && Object.keys(input.requiredAnnotations).length) {
    checked.push(`payload annotations ${Object.keys(input.requiredAnnotations).sort().join(', ')}`)
  }
  return { ok: true, checked, notChecked, claims }
}
