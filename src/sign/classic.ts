import { type KeyObject, verify } from 'node:crypto'
import { FerryError } from '../errors.js'
import { type Digest, digestOf } from '../oci/digest.js'
import { parseManifest } from '../oci/manifest.js'
import { MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { cosignTag } from '../reference/grammar.js'
import { MAX_SIGNATURE_LAYERS, SIGNATURE_ANNOTATION } from './classic-layers.js'
import { appendLayers, type ImageBytes } from './ggcr-image.js'
import { decodeStdBase64 } from './pem.js'
import { type Signer, signWithKeyObject } from './signer.js'

export {
  CERTIFICATE_ANNOTATION,
  MAX_SIGNATURE_LAYERS,
  REKOR_BUNDLE_ANNOTATION,
  SIGNATURE_ANNOTATION,
} from './classic-layers.js'

export const classicSignatureTag = (digest: string): string => cosignTag(digest, 'sig')

/** ECDSA over SHA-256 of the raw payload, ASN.1 DER, standard base64: what cosign writes. */
export async function signClassicWith(payload: Uint8Array, signer: Signer): Promise<string> {
  return (await signer.sign(payload)).toString('base64')
}

/** `signClassicWith` for a key in memory, synchronously. */
export function signClassic(payload: Uint8Array, key: KeyObject): string {
  return signWithKeyObject(payload, key).toString('base64')
}

/** Does `signatureB64` verify over `payload` with `publicKey`? Malformed input is simply `false`. */
export function verifyClassicLayer(payload: Uint8Array, signatureB64: string, publicKey: KeyObject): boolean {
  const sig = decodeStdBase64(signatureB64)
  if (!sig || sig.byteLength === 0) return false
  try {
    // Ed25519 signs the message itself; every other key type cosign accepts hashes with SHA-256.
    const algorithm = publicKey.asymmetricKeyType === 'ed25519' ? null : 'sha256'
    return verify(algorithm, payload, publicKey, sig)
  } catch {
    return false
  }
}

export interface ClassicLayerInput {
  payload: Uint8Array
  signatureB64: string
  /** Other layer annotations (certificate, chain, Rekor bundle, ...); the signature annotation is added. */
  annotations?: Record<string, string>
  /**
   * The signer's public key, for cosign's duplicate check: an existing layer with the same payload and
   * annotations whose signature verifies with this key makes the new one redundant. Without it only a
   * byte-identical signature counts as a duplicate.
   */
  publicKey?: KeyObject
}

export interface AppendResult extends ImageBytes {
  /** Blobs the new manifest references that the registry may not have yet (config, payload). */
  blobs: { digest: Digest; bytes: Uint8Array }[]
  /** True when an equivalent signature was already there; the bytes are then the existing ones. */
  skipped: boolean
}

function isDuplicate(existingLayers: Descriptor[], layer: ClassicLayerInput, payloadDigest: Digest): boolean {
  const wanted = Object.entries(layer.annotations ?? {}).filter(([k]) => k !== SIGNATURE_ANNOTATION)
  return existingLayers.some((l) => {
    const annotations = l.annotations ?? {}
    const existingSig = annotations[SIGNATURE_ANNOTATION] ?? ''
    if (l.mediaType !== MediaType.cosignSimpleSigning || l.digest !== payloadDigest || !existingSig)
      return false
    if (!wanted.every(([k, v]) => annotations[k] === v)) return false
    return layer.publicKey
      ? verifyClassicLayer(layer.payload, existingSig, layer.publicKey)
      : existingSig === layer.signatureB64
  })
}

function imageLayers(manifestBytes: Uint8Array): Descriptor[] {
  const m = parseManifest(manifestBytes, { subject: 'signature image' })
  if (m.kind !== 'image')
    throw new FerryError('MANIFEST_INVALID', 'signature image: expected an image manifest')
  return m.image.layers
}

/**
 * Add one signature layer to the `.sig` image (`existing` as read from the registry, or undefined when
 * the tag does not exist yet). Read-modify-write like cosign: two concurrent signers can lose one write.
 */
export function appendClassicSignature(
  existing: ImageBytes | undefined,
  layer: ClassicLayerInput,
): AppendResult {
  const payloadDigest = digestOf(layer.payload)
  const existingLayers = existing ? imageLayers(existing.manifestBytes) : []
  if (existing && isDuplicate(existingLayers, layer, payloadDigest)) {
    return { ...existing, blobs: [], skipped: true }
  }
  if (existingLayers.length >= MAX_SIGNATURE_LAYERS) {
    throw new FerryError(
      'UNSUPPORTED',
      `signature image already holds ${existingLayers.length} layers, the most cosign reads; remove old signatures first`,
    )
  }
  const annotations = { ...layer.annotations, [SIGNATURE_ANNOTATION]: layer.signatureB64 }
  const image = appendLayers(
    existing,
    [
      {
        mediaType: MediaType.cosignSimpleSigning,
        digest: payloadDigest,
        size: layer.payload.byteLength,
        annotations,
      },
    ],
    'signature image',
  )
  return {
    ...image,
    blobs: [
      { digest: digestOf(image.configBytes), bytes: image.configBytes },
      { digest: payloadDigest, bytes: layer.payload },
    ],
    skipped: false,
  }
}

export interface ClassicSignatureLayer {
  layerDigest: Digest
  size: number
  /** Empty when the layer carries none (cosign writes "" for attestations). */
  signatureB64: string
  annotations: Record<string, string>
}

/** The simple-signing layers of a `.sig` manifest, in order; other layers are ignored. */
export function classicSignaturesOf(manifestBytes: Uint8Array): ClassicSignatureLayer[] {
  const m = parseManifest(manifestBytes, { subject: 'signature image' })
  if (m.kind !== 'image')
    throw new FerryError('MANIFEST_INVALID', 'signature image: expected an image manifest')
  return m.image.layers
    .filter((l) => l.mediaType === MediaType.cosignSimpleSigning)
    .map((l) => ({
      layerDigest: l.digest as Digest,
      size: l.size,
      signatureB64: l.annotations?.[SIGNATURE_ANNOTATION] ?? '',
      annotations: { ...l.annotations },
    }))
}
