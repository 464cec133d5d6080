import { createPublicKey, KeyObject, sign } from 'node:crypto'
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
   * Whether signing the same bytes twice gives the same signature. Node's ECDSA and a token's are
   * randomised, so a signed bundle's sha256 changes between runs; callers say so.
   */
  readonly deterministic: boolean
  /** Releases what the key holds: a token session logs out and closes (signing after it fails). */
  close(): Promise<void>
}

/** ECDSA (or RSA) over SHA-256 with a key in memory, DER: the one place file keys sign. */
export function signWithKeyObject(data: Uint8Array, key: KeyObject): Buffer {
  return sign('sha256', data, key)
}

/** A key decrypted from a cosign key file (`decryptPrivateKey`, `loadSigningKey`). */
export function fileSigner(key: KeyObject): Signer {
  if (key.type !== 'private') throw new FerryError('USAGE', 'signing needs a private key')
  const publicKey = createPublicKey(key)
  return {
    publicKey,
    sign: async (data) => signWithKeyObject(data, key),
    deterministic: false,
    close: async () => {},
  }
}

/** Library entry points take a key object (as before signers existed) or any signer. */
export function toSigner(key: KeyObject | Signer): Signer {
  return key instanceof KeyObject ? fileSigner(key) : key
}
