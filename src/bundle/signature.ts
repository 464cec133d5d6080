import type { KeyObject } from 'node:crypto'
import { FerryError } from '../errors.js'
// classic.js alone: the sign/ index pulls in the Sigstore libraries, which nothing here needs.
import { signClassicWith, verifyClassicLayer } from '../sign/classic.js'
import { type Signer, toSigner } from '../sign/signer.js'
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

/** Throws VERIFY_FAILED when a key is given and the signature is absent or does not verify. */
export function checkMetadataSignature(
  archive: string,
  metadata: Uint8Array,
  signature: Buffer | undefined,
  publicKey: KeyObject | undefined,
): SignatureState {
  if (!publicKey) return signature ? 'not-checked' : 'unsigned'
  if (!signature) {
    throw new FerryError(
      'VERIFY_FAILED',
      `${archive}: the bundle is not signed (no ${SIGNATURE_NAME}), but a key was given`,
    )
  }
  if (!verifyClassicLayer(metadata, signature.toString('ascii').trim(), publicKey)) {
    throw new FerryError(
      'VERIFY_FAILED',
      `${archive}: the signature in ${SIGNATURE_NAME} does not verify ${METADATA_NAME} with the given key (tampered, or signed with another key)`,
    )
  }
  return 'verified'
}
