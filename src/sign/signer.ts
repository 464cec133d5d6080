import { createHash, createPublicKey, KeyObject, sign } from 'node:crypto'
import { p256 } from '@noble/curves/p256'
import { FerryError } from '../errors.js'

/**
 * A private key that signs, wherever it lives: a cosign key file decrypted in memory, or a key in a
 * PKCS#11 token that never leaves it. Every signing path (classic `.sig`, Sigstore bundle, bundle
 * metadata, ledger checkpoint) takes one, so the formats are the same whichever key signs.
 */
export interface Signer {
  /** The public half: key ids, cosign's duplicate check, the bundle's verification material. */
  readonly publicKey: KeyObject
  /** ECDSA P-256 over SHA-256 of `data`, ASN.1 DER: Go's `ecdsa.SignASN1`, what cosign writes. */
  sign(data: Uint8Array): Promise<Buffer>
  /**
   * Whether signing the same bytes twice gives the same signature: true for key files (RFC 6979), false
   * for a token's ECDSA, which is randomised, so a signed bundle's sha256 changes between runs; callers
   * say so.
   */
  readonly deterministic: boolean
  /** Releases what the key holds: a token session logs out and closes (signing after it fails). */
  close(): Promise<void>
}

/**
 * ECDSA P-256 over SHA-256 with a key in memory, DER: the one place file keys sign. The nonce is RFC 6979's
 * (derived from the key and the digest), so the same key and bytes always give the same signature and a
 * signed bundle is byte-reproducible. Node's crypto has no deterministic ECDSA; @noble/curves (audited,
 * no dependencies) does. Verifiers cannot tell the difference: a deterministic signature is an ordinary
 * ECDSA signature, and randomised ones made before still verify. S is left as computed (no low-S
 * normalisation), as Go's `ecdsa.SignASN1` leaves it. Other key types (RSA PKCS#1 v1.5 is deterministic
 * already) sign with Node.
 */
export function signWithKeyObject(data: Uint8Array, key: KeyObject): Buffer {
  const scalar = p256Scalar(key)
  if (!scalar) return sign('sha256', data, key)
  const digest = createHash('sha256').update(data).digest()
  return Buffer.from(p256.sign(digest, scalar, { lowS: false, prehash: false }).toDERRawBytes())
}

/** The private scalar of a P-256 key, or undefined for any other key. */
function p256Scalar(key: KeyObject): Uint8Array | undefined {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    return undefined
  const d = key.export({ format: 'jwk' }).d
  return d ? Buffer.from(d, 'base64url') : undefined
}

/** A key decrypted from a cosign key file (`decryptPrivateKey`, `loadSigningKey`). */
export function fileSigner(key: KeyObject): Signer {
  if (key.type !== 'private') throw new FerryError('USAGE', 'signing needs a private key')
  const publicKey = createPublicKey(key)
  return {
    publicKey,
    sign: async (data) => signWithKeyObject(data, key),
    deterministic: p256Scalar(key) !== undefined || key.asymmetricKeyType === 'rsa',
    close: async () => {},
  }
}

/** Library entry points take a key object (as before signers existed) or any signer. */
export function toSigner(key: KeyObject | Signer): Signer {
  return key instanceof KeyObject ? fileSigner(key) : key
}
