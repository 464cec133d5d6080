import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto'
import { p256 } from '@noble/curves/p256'

// DER SubjectPublicKeyInfo of an uncompressed P-256 point: this prefix, then the 65 point bytes.
const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex')

/**
 * Which of `fingerprints` made an ECDSA P-256 / SHA-256 signature over `message`, without its public key
 * file: the candidate keys are recovered from the signature (SEC 1 §4.1.6) and the one whose fingerprint
 * is listed, and which verifies, is it. This is how a signature by a key revoked by fingerprint alone is
 * named as revoked. Undefined: none of them (or not a P-256 signature: other key types cannot be
 * recovered, and are recognised only with their public key).
 */
export function recoverSigner(
  message: Uint8Array,
  derSignature: Uint8Array,
  fingerprints: ReadonlySet<string>,
): { fingerprint: string; key: KeyObject } | undefined {
  if (fingerprints.size === 0) return undefined
  let signature: ReturnType<typeof p256.Signature.fromDER>
  try {
    signature = p256.Signature.fromDER(derSignature)
  } catch {
    return undefined
  }
  const digest = createHash('sha256').update(message).digest()
  for (const bit of [0, 1]) {
    let spki: Buffer
    try {
      const point = signature.addRecoveryBit(bit).recoverPublicKey(digest)
      spki = Buffer.concat([P256_SPKI_PREFIX, point.toRawBytes(false)])
    } catch {
      continue
    }
    const fingerprint = `sha256:${createHash('sha256').update(spki).digest('hex')}`
    if (!fingerprints.has(fingerprint)) continue
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' })
    if (verify('sha256', message, key, derSignature)) return { fingerprint, key }
  }
  return undefined
}
