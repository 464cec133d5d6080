import type { KeyObject } from 'node:crypto'
import { type Bundle, bundleToJSON } from '@sigstore/bundle'
import { DSSEBundleBuilder, type Signer as SigstoreSigner } from '@sigstore/sign'
import { FerryError } from '../errors.js'
import { type Digest, digestOf } from '../oci/digest.js'
import { MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { goDescriptor } from './ggcr-image.js'
import { goJson, sortedByGoKey } from './go-json.js'
import {
  COSIGN_SIGN_PREDICATE_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  type StatementInput,
  statementFor,
} from './in-toto.js'
import { publicKeyHint, publicKeyPem } from './keys.js'
import { type Signer, toSigner } from './signer.js'

/**
 * The newer cosign format: a Sigstore bundle v0.3 holding a DSSE envelope around an in-toto statement,
 * stored as an OCI 1.1 referrer of the image (cosign v3 `signDigestBundle`, `WriteAttestationNewBundleFormat`).
 */
export const BUNDLE_CONTENT_ANNOTATION = 'dev.sigstore.bundle.content'
export const BUNDLE_PREDICATE_TYPE_ANNOTATION = 'dev.sigstore.bundle.predicateType'
export const CREATED_ANNOTATION = 'org.opencontainers.image.created'

/** The image-spec v1.1 empty descriptor's content, `{}`. */
export const EMPTY_CONFIG_BYTES = new Uint8Array([0x7b, 0x7d])
export const EMPTY_CONFIG_DIGEST = digestOf(EMPTY_CONFIG_BYTES)

export interface SignedBundle {
  /** Serialised bundle, the layer blob to push. */
  bundleJson: string
  bundleBytes: Uint8Array
  /** The signed in-toto statement (the DSSE payload). */
  statement: Uint8Array
  predicateType: string
}

export interface SignBundleInput extends Omit<StatementInput, 'digest'> {
  digest: string
  /** An ECDSA P-256 private key (from `decryptPrivateKey`), or a signer (a key in a token). */
  key: KeyObject | Signer
}

/** A `@sigstore/sign` signer around ours; the hint is cosign's key id (base64 SHA-256 of the SPKI). */
function sigstoreSigner(signer: Signer): SigstoreSigner {
  const pub = signer.publicKey
  const material = { $case: 'publicKey' as const, publicKey: publicKeyPem(pub), hint: publicKeyHint(pub) }
  return { sign: async (data: Buffer) => ({ signature: await signer.sign(data), key: material }) }
}

export function serialiseBundle(bundle: Bundle, statement: Uint8Array, predicateType: string): SignedBundle {
  const bundleJson = JSON.stringify(bundleToJSON(bundle))
  return {
    bundleJson,
    bundleBytes: new Uint8Array(Buffer.from(bundleJson, 'utf8')),
    statement,
    predicateType,
  }
}

/** Sign `digest` with a key of our own into a v0.3 DSSE bundle; no transparency log, no network. */
export async function signBundle(input: SignBundleInput): Promise<SignedBundle> {
  const statement = statementFor(input)
  const builder = new DSSEBundleBuilder({ signer: sigstoreSigner(toSigner(input.key)), witnesses: [] })
  const bundle = await builder.create({ data: Buffer.from(statement), type: IN_TOTO_PAYLOAD_TYPE })
  return serialiseBundle(bundle, statement, input.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE)
}

export interface BundleReferrerInput {
  bundleBytes: Uint8Array
  /** The signed image as the registry describes it (HEAD): only mediaType, size and digest are used. */
  subject: Pick<Descriptor, 'mediaType' | 'size' | 'digest'>
  /** RFC 3339 UTC, seconds precision, as cosign writes it (see `createdNow`). */
  created: string
  predicateType?: string
  /**
   * Layer annotations. cosign releases up to v3.1 write none; later development versions add
   * `org.opencontainers.image.title: sha256-<hex>.sigstore.json`. Readers ignore them either way.
   */
  layerAnnotations?: Record<string, string>
}

export interface ReferrerManifest {
  manifestBytes: Uint8Array
  /** The 2-byte `{}` blob the config descriptor points at; upload it too. */
  configBytes: Uint8Array
  layerDigest: Digest
}

/** `created` as cosign formats it: RFC 3339, UTC, whole seconds. */
export function createdNow(now: Date = new Date()): string {
  return now.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

function bundleMediaTypeOf(bundleBytes: Uint8Array): string | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bundleBytes).toString('utf8'))
    return typeof doc?.mediaType === 'string' ? doc.mediaType : undefined
  } catch {
    return undefined
  }
}

/** The referrer manifest cosign v3 pushes (by digest) for a bundle, byte for byte. */
export function bundleReferrerManifest(input: BundleReferrerInput): ReferrerManifest {
  const mediaType = bundleMediaTypeOf(input.bundleBytes)
  // cosign's reader skips bundles older than v0.3 ("bundle version too old"), so never store one.
  if (mediaType !== MediaType.sigstoreBundleV03) {
    throw new FerryError(
      'USAGE',
      `bundle media type is ${mediaType ?? 'missing'}, expected ${MediaType.sigstoreBundleV03}`,
    )
  }
  const layerDigest = digestOf(input.bundleBytes)
  const layer: Descriptor = {
    mediaType: MediaType.sigstoreBundleV03,
    size: input.bundleBytes.byteLength,
    digest: layerDigest,
    ...(input.layerAnnotations ? { annotations: input.layerAnnotations } : {}),
  }
  const { mediaType: subjectType, size, digest } = input.subject
  // Go field order of cosign's `referrerManifest`: the embedded v1.Manifest, then artifactType.
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: goDescriptor({
      mediaType: MediaType.ociEmpty,
      size: EMPTY_CONFIG_BYTES.byteLength,
      digest: EMPTY_CONFIG_DIGEST,
      artifactType: MediaType.sigstoreBundleV03,
    }),
    layers: [goDescriptor(layer)],
    annotations: sortedByGoKey({
      [CREATED_ANNOTATION]: input.created,
      [BUNDLE_CONTENT_ANNOTATION]: 'dsse-envelope',
      [BUNDLE_PREDICATE_TYPE_ANNOTATION]: input.predicateType ?? COSIGN_SIGN_PREDICATE_TYPE,
    }),
    subject: goDescriptor({ mediaType: subjectType, size, digest }),
    artifactType: MediaType.sigstoreBundleV03,
  }
  return { manifestBytes: goJson(manifest), configBytes: new Uint8Array(EMPTY_CONFIG_BYTES), layerDigest }
}
