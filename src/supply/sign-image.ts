import type { KeyObject } from 'node:crypto'
import { fetchManifestIfPresent } from '../content/present.js'
import type { ReadOnlyTarget, Target } from '../content/target.js'
import { FerryError } from '../errors.js'
import { type Digest, digestOf } from '../oci/digest.js'
import { MediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { formatRepository, type Reference } from '../reference/index.js'
import {
  appendClassicSignature,
  bundleReferrerManifest,
  classicSignaturesOf,
  classicSignatureTag,
  EMPTY_CONFIG_DIGEST,
  type ImageBytes,
  type SignedBundle,
  type Signer,
  signBundle,
  signBundleKeyless,
  signClassicWith,
  simpleSigningPayload,
  toSigner,
} from '../sign/index.js'
import { createdTimestamp } from './annotations.js'
import { MAX_SIGNATURE_BLOB_BYTES, pushBytes, pushManifestBytes, readBlobBytes } from './content.js'

export type SignatureFormat = 'classic' | 'bundle' | 'both'

export interface SignImageOptions {
  target: Target
  /** Tag or digest; a tag is resolved first and the digest it names is what gets signed. */
  reference: string
  /**
   * An ECDSA P-256 private key (`loadSigningKey`) or a signer (`openSigner`: a key file or a PKCS#11
   * token). Either this or the three keyless fields.
   */
  key?: KeyObject | Signer
  /** Keyless (online only): Fulcio issues a certificate for the token's identity, Rekor logs the signature. */
  fulcioURL?: string
  rekorURL?: string
  /** An OIDC ID token; never logged or echoed. */
  identityToken?: string
  /** Default `classic` with a key (what cosign v2 and v3 both read), `bundle` keyless. */
  format?: SignatureFormat
  /** `-a k=v`: in the simple-signing payload's `optional`, on the in-toto subject of a bundle. */
  annotations?: Record<string, string>
  /** `critical.identity.docker-reference` of classic payloads (registry/repository). Default: the target's name. */
  dockerReference?: string
  /** RFC 3339 `org.opencontainers.image.created` of a bundle referrer. Default SOURCE_DATE_EPOCH, else now. */
  created?: string
}

export interface SignImageResult {
  name: string
  reference: string
  /** The manifest digest that was signed. */
  digest: Digest
  classic?: {
    tag: string
    /** The `.sig` manifest as it now stands. */
    manifest: Digest
    payload: Digest
    /** An equivalent signature was already there; nothing was written. */
    skipped: boolean
    /** Signatures the `.sig` image now holds. */
    signatures: number
  }
  bundle?: { manifest: Digest; bundle: Digest; keyless: boolean }
}

/** What cosign writes as the payload's docker-reference: the repository, Docker Hub as index.docker.io. */
export function cosignDockerReference(ref: Reference): string | undefined {
  if (ref.kind !== 'registry') return undefined
  return ref.registry === 'docker.io' ? `index.docker.io/${ref.repository}` : formatRepository(ref)
}

/** The `.sig` image currently under the tag, as bytes, or undefined when there is none yet. */
async function existingSignatureImage(target: ReadOnlyTarget, tag: string): Promise<ImageBytes | undefined> {
  const manifest = await fetchManifestIfPresent(target, tag)
  if (!manifest) return undefined
  if (manifest.kind !== 'image') {
    throw new FerryError(
      'MANIFEST_INVALID',
      `${target.name}:${tag}: not an image manifest, cannot add a signature`,
    )
  }
  const configBytes = await readBlobBytes(
    target,
    manifest.image.config,
    MAX_SIGNATURE_BLOB_BYTES,
    `${target.name}:${tag} config`,
  )
  return { manifestBytes: manifest.bytes, configBytes }
}

async function signClassicImage(opts: SignImageOptions, signer: Signer, digest: Digest) {
  const { target } = opts
  const tag = classicSignatureTag(digest)
  const payload = simpleSigningPayload({
    dockerReference: opts.dockerReference ?? target.name,
    digest,
    annotations: opts.annotations,
  })
  const existing = await existingSignatureImage(target, tag)
  const appended = appendClassicSignature(existing, {
    payload,
    signatureB64: await signClassicWith(payload, signer),
    publicKey: signer.publicKey,
  })
  if (!appended.skipped) {
    const [config, layer] = appended.blobs
    await pushBytes(target, MediaType.ociConfig, config!.digest, config!.bytes)
    await pushBytes(target, MediaType.cosignSimpleSigning, layer!.digest, layer!.bytes)
    // Read-modify-write like cosign, but the tag moves only from the image read: a signer that wrote in
    // between makes this one fail (CONFLICT) rather than lose its signature.
    const precondition = existing
      ? { ifMatch: digestOf(existing.manifestBytes) }
      : { ifAbsent: true as const }
    await pushManifestBytes(target, appended.manifestBytes, `${target.name}:${tag}`, tag, { precondition })
  }
  return {
    tag,
    manifest: digestOf(appended.manifestBytes),
    payload: digestOf(payload),
    skipped: appended.skipped,
    signatures: classicSignaturesOf(appended.manifestBytes).length,
  }
}

async function pushBundle(opts: SignImageOptions, signed: SignedBundle, subject: Descriptor) {
  const { target } = opts
  const referrer = bundleReferrerManifest({
    bundleBytes: signed.bundleBytes,
    subject,
    created: opts.created ?? createdTimestamp(),
    predicateType: signed.predicateType,
  })
  await pushBytes(target, MediaType.ociEmpty, EMPTY_CONFIG_DIGEST, referrer.configBytes)
  await pushBytes(target, MediaType.sigstoreBundleV03, referrer.layerDigest, signed.bundleBytes)
  // By digest only: the `subject` makes it a referrer (API, tag schema or layout index, per target).
  const m = await pushManifestBytes(target, referrer.manifestBytes, `${target.name}@${subject.digest} bundle`)
  return { manifest: m.digest, bundle: referrer.layerDigest }
}

function keylessInput(opts: SignImageOptions) {
  const given = [opts.fulcioURL, opts.rekorURL, opts.identityToken].filter((v) => v !== undefined).length
  if (given === 0) return undefined
  if (given !== 3) {
    throw new FerryError('USAGE', 'keyless signing needs a Fulcio URL, a Rekor URL and an identity token')
  }
  if (opts.key) throw new FerryError('USAGE', 'sign with a key or keyless, not both')
  return { fulcioURL: opts.fulcioURL!, rekorURL: opts.rekorURL!, identityToken: opts.identityToken! }
}

/**
 * Signs what `reference` names now: the digest is resolved first, and every signature written names
 * that digest, so a tag that moves later does not carry the signature along.
 * classic: one more layer on cosign's `sha256-HEX.sig` image (an equivalent existing signature is kept,
 * not duplicated). bundle: a Sigstore v0.3 bundle pushed as an OCI 1.1 referrer of the image.
 */
export async function signImage(opts: SignImageOptions): Promise<SignImageResult> {
  const keyless = keylessInput(opts)
  if (!keyless && !opts.key)
    throw new FerryError('USAGE', 'signing needs a private key or the keyless options')
  const format = opts.format ?? (keyless ? 'bundle' : 'classic')
  if (keyless && format !== 'bundle') {
    throw new FerryError('USAGE', 'keyless signing writes the bundle format only (--format bundle)')
  }
  const { target } = opts
  const resolved = await target.resolve(opts.reference)
  const digest = resolved.digest as Digest
  const subject = { mediaType: resolved.mediaType, size: resolved.size, digest }
  const result: SignImageResult = { name: target.name, reference: opts.reference, digest }
  const signer = opts.key ? toSigner(opts.key) : undefined
  if (signer && format !== 'bundle') result.classic = await signClassicImage(opts, signer, digest)
  if (format !== 'classic') {
    const statement = { digest, annotations: opts.annotations }
    const signed = keyless
      ? await signBundleKeyless({ ...statement, ...keyless })
      : await signBundle({ ...statement, key: signer! })
    result.bundle = { ...(await pushBundle(opts, signed, subject)), keyless: !!keyless }
  }
  return result
}
