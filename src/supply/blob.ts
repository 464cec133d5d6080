import type { KeyObject } from 'node:crypto'
import { FerryError } from '../errors.js'
import { digestOf } from '../oci/digest.js'
// classic.js alone: the sign/ index pulls in the Sigstore libraries, which a blob signature never needs.
import { signClassicWith, verifyClassicLayer } from '../sign/classic.js'
import type { Signer } from '../sign/signer.js'
import { KEY_FILE_MAX_BYTES, readInputFile } from './files.js'

/**
 * Detached signatures of files in `cosign sign-blob --key` format: ECDSA P-256 over SHA-256 of the file's
 * exact bytes, ASN.1 DER, standard base64 (the encoding of `ferry-bundle.json.sig` and of cosign's `.sig`
 * layers; the same functions sign and check all three). cosign verifies it with `cosign verify-blob --key
 * NAME.pub --signature FILE.sig FILE`, and so does openssl alone:
 *   openssl dgst -sha256 -verify NAME.pub -signature <(base64 -d FILE.sig) FILE
 * The file is read whole, as cosign reads it.
 */
export interface BlobSignature {
  /** `sha256:<hex>` of the bytes signed or checked. */
  digest: string
  /** The base64 signature, without a newline. */
  signature: string
}

export async function signBlob(path: string, signer: Signer): Promise<BlobSignature> {
  const bytes = await readInputFile(path, 'file')
  return { digest: digestOf(bytes), signature: await signClassicWith(bytes, signer) }
}

/**
 * Checks `signaturePath` (base64, surrounding whitespace ignored) over the file with the public key.
 * A signature that does not verify, or is not base64 at all, is VERIFY_FAILED naming both files.
 */
export async function verifyBlob(
  path: string,
  signaturePath: string,
  publicKey: KeyObject,
): Promise<BlobSignature> {
  // A signature is ~100 bytes; the key-file cap keeps a wrong path (a device, a huge file) from being read.
  const sigBytes = await readInputFile(signaturePath, 'signature', { maxBytes: KEY_FILE_MAX_BYTES })
  const signature = Buffer.from(sigBytes).toString('ascii').trim()
  const bytes = await readInputFile(path, 'file')
  if (!verifyClassicLayer(bytes, signature, publicKey)) {
    throw new FerryError(
      'VERIFY_FAILED',
      `${path}: the signature in ${signaturePath} does not verify it with the given key (tampered, or signed with another key)`,
    )
  }
  return { digest: digestOf(bytes), signature }
}
