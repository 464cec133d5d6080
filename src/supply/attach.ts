import type { KeyObject } from 'node:crypto'
import type { Target } from '../content/target.js'
import { FerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { MediaType } from '../oci/media-types.js'
import {
  artifactReferrerManifest,
  detectSbomFormat,
  EMPTY_CONFIG_DIGEST,
  type ReferrerManifest,
  SBOM_MEDIA_TYPES,
  type SbomFormat,
  type Signer,
  sbomReferrerManifest,
} from '../sign/index.js'
import { checkMediaType, createdTimestamp } from './annotations.js'
import { pushBytes, pushManifestBytes } from './content.js'
import { type SignImageResult, signImage } from './sign-image.js'

const TITLE_ANNOTATION = 'org.opencontainers.image.title'

interface AttachCommon {
  target: Target
  /** Tag or digest of the image; resolved first, the referrer names the digest. */
  reference: string
  bytes: Uint8Array
  /** Manifest annotations (listed with the referrer by the referrers API). */
  annotations?: Record<string, string>
  /** File name for the layer's `org.opencontainers.image.title`, so that `oras pull` names the file. */
  title?: string
  /** RFC 3339 `org.opencontainers.image.created`. Default SOURCE_DATE_EPOCH, else now. */
  created?: string
  /**
   * Signs the new referrer right away, as `signImage({ reference: digest, key })` would (classic `.sig`),
   * so that `verify --require-sbom` accepts it. Default: unsigned.
   */
  key?: KeyObject | Signer
  /** The classic payload's docker-reference when signing. Default: the target's name. */
  dockerReference?: string
}

export interface AttachSbomOptions extends AttachCommon {
  /** The format the caller expects; the content decides, and a mismatch is refused. */
  format?: SbomFormat
}

export interface AttachArtifactOptions extends AttachCommon {
  artifactType: string
  /** Default: the artifact type. */
  layerMediaType?: string
}

export interface AttachResult {
  name: string
  reference: string
  /** The image the artifact is attached to. */
  subject: Digest
  /** The referrer manifest: sign it in turn with `signImage({ reference: digest })`. */
  digest: Digest
  artifactType: string
  layer: { mediaType: string; digest: Digest; size: number }
  format?: SbomFormat
  /** With `key`: the signature written for the referrer. */
  signature?: SignImageResult
}

type Build = (subject: { mediaType: string; size: number; digest: Digest }) => {
  referrer: ReferrerManifest
  artifactType: string
  layerMediaType: string
}

async function attach(opts: AttachCommon, build: Build): Promise<Omit<AttachResult, 'format'>> {
  const { target } = opts
  const resolved = await target.resolve(opts.reference)
  const subject = { mediaType: resolved.mediaType, size: resolved.size, digest: resolved.digest as Digest }
  const { referrer, artifactType, layerMediaType } = build(subject)
  await pushBytes(target, MediaType.ociEmpty, EMPTY_CONFIG_DIGEST, referrer.configBytes)
  await pushBytes(target, layerMediaType, referrer.layerDigest, opts.bytes)
  const m = await pushManifestBytes(
    target,
    referrer.manifestBytes,
    `${target.name}@${subject.digest} ${artifactType}`,
  )
  const signature = opts.key
    ? await signImage({ target, reference: m.digest, key: opts.key, dockerReference: opts.dockerReference })
    : undefined
  return {
    name: target.name,
    reference: opts.reference,
    subject: subject.digest,
    digest: m.digest,
    artifactType,
    layer: { mediaType: layerMediaType, digest: referrer.layerDigest, size: opts.bytes.byteLength },
    ...(signature ? { signature } : {}),
  }
}

function common(opts: AttachCommon) {
  return {
    bytes: opts.bytes,
    annotations: opts.annotations,
    created: opts.created ?? createdTimestamp(),
    ...(opts.title ? { layerAnnotations: { [TITLE_ANNOTATION]: opts.title } } : {}),
  }
}

/**
 * Attaches an SPDX or CycloneDX JSON SBOM as an OCI 1.1 referrer of the image: artifactType and layer
 * type are the format's IANA media type, the config is the empty descriptor (image-spec v1.1 artifacts).
 */
export async function attachSbom(opts: AttachSbomOptions): Promise<AttachResult> {
  const detected = detectSbomFormat(opts.bytes, opts.title ?? 'SBOM')
  if (opts.format && opts.format !== detected) {
    throw new FerryError('USAGE', `${opts.title ?? 'SBOM'} is ${detected}, not ${opts.format} as requested`)
  }
  const type = SBOM_MEDIA_TYPES[detected]
  const result = await attach(opts, (subject) => ({
    referrer: sbomReferrerManifest({ ...common(opts), subject, format: detected }),
    artifactType: type,
    layerMediaType: type,
  }))
  return { ...result, format: detected }
}

/** Attaches any content as an OCI 1.1 artifact referrer (`oras attach` style). */
export async function attachArtifact(opts: AttachArtifactOptions): Promise<AttachResult> {
  const artifactType = checkMediaType(opts.artifactType, 'artifact type')
  const layerMediaType = checkMediaType(opts.layerMediaType ?? artifactType, 'layer media type')
  return attach(opts, (subject) => ({
    referrer: artifactReferrerManifest({ ...common(opts), subject, artifactType, layerMediaType }),
    artifactType,
    layerMediaType,
  }))
}
