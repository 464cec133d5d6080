import type { KeyObject } from 'node:crypto'
import { FerryError } from '../errors.js'
// classic.js and key-set.js alone: the sign/ index pulls in the Sigstore libraries, which nothing here needs.
import { signClassicWith } from '../sign/classic.js'
import { type KeySet, signerOf, singleKeySet } from '../sign/key-set.js'
import { type Signer, toSigner } from '../sign/signer.js'
import { judgeSignature, type SignatureKey } from '../sign/trust.js'
import { METADATA_NAME, SIGNATURE_NAME } from './format.js'

/**
 * The bundle's own signature: ECDSA P-256 over SHA-256 of the exact ferry-bundle.json bytes, ASN.1 DER,
 * standard base64 without a trailing newline, in `ferry-bundle.json.sig`: the encoding of a detached
 * `cosign sign-blob --key` signature. Any tool can check an extracted bundle with the public key:
 *   base64 -d ferry-bundle.json.sig > sig.der
 *   openssl dgst -sha256 -verify NAME.pub -signature sig.der ferry-bundle.json
 * Since the metadata lists every blob digest and size and every index.json entry (names.ts), the
 * signature covers every byte of content and every name that leads to it.
 * Key files sign deterministically (RFC 6979); a token's ECDSA is randomised (`Signer.deterministic`):
 * two bundles of the same content signed by a token differ in this entry only.
 */
export async function signMetadata(metadata: Uint8Array, key: KeyObject | Signer): Promise<Buffer> {
  return Buffer.from(await signClassicWith(metadata, toSigner(key)), 'ascii')
}

export type SignatureState = 'verified' | 'unsigned' | 'not-checked'

export interface MetadataSignature {
  state: SignatureState
  /** The key that made the signature, when it was checked. */
  key?: SignatureKey
}

/** Throws VERIFY_FAILED when a key is given and the signature is absent or does not count (metadataSignature). */
export function checkMetadataSignature(
  archive: string,
  metadata: Uint8Array,
  signature: Buffer | undefined,
  publicKey: KeyObject | undefined,
): SignatureState {
  return metadataSignature(archive, metadata, signature, publicKey && singleKeySet(publicKey)).state
}

/**
 * The bundle's signature checked with `keys`: throws VERIFY_FAILED when keys are given and it is
 * absent, made with none of them, or made with a key the trust decision does not believe now (revoked,
 * outside its window), naming the key.
 */
export function metadataSignature(
  archive: string,
  metadata: Uint8Array,
  signature: Buffer | undefined,
  keys: KeySet | undefined,
  now: Date = new Date(),
): MetadataSignature {
  if (!keys) return { state: signature ? 'not-checked' : 'unsigned' }
  if (!signature) {
    throw new FerryError(
      'VERIFY_FAILED',
      `${archive}: the bundle is not signed (no ${SIGNATURE_NAME}), but a key was given`,
    )
  }
  const signer = signerOf(keys, metadata, signature.toString('ascii').trim())
  if (!signer) {
    throw new FerryError(
      'VERIFY_FAILED',
      `${archive}: the signature in ${SIGNATURE_NAME} does not verify ${METADATA_NAME} with the given key (tampered, or signed with another key)`,
    )
  }
  const judged = judgeSignature({ ok: true }, signer, keys, now)
  if (!judged.ok) throw new FerryError('VERIFY_FAILED', `${archive}: ${SIGNATURE_NAME}: ${judged.reason}`)
  return { state: 'verified', ...(judged.key ? { key: judged.key } : {}) }
}
