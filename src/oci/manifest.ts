import { FerryError } from '../errors.js'
import { type Digest, digestOf, parseDigest } from './digest.js'
import { isImageMediaType, isIndexMediaType, MediaType, SCHEMA1_MEDIA_TYPES } from './media-types.js'
import {
  type Descriptor,
  type DockerManifest,
  type DockerManifestList,
  dockerManifestListSchema,
  dockerManifestSchema,
  type ImageIndex,
  type ImageManifest,
  imageIndexSchema,
  imageManifestSchema,
} from './schemas.js'

/** Registries commonly refuse larger manifests; the distribution spec suggests 4 MiB as the floor. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024

export type IndexLike = ImageIndex | DockerManifestList
export type ImageLike = ImageManifest | DockerManifest

/** A manifest as received: its exact bytes (the truth), their digest, and the parsed view. */
export type Manifest = {
  readonly bytes: Uint8Array
  readonly digest: Digest
  readonly mediaType: string
} & (
  | { readonly kind: 'index'; readonly index: IndexLike }
  | { readonly kind: 'image'; readonly image: ImageLike }
)

export interface ParseManifestOptions {
  /** The Content-Type the bytes came with; the document's own `mediaType` wins when present. */
  contentType?: string
  /** When the bytes were asked for by digest, they must hash to it. */
  expectedDigest?: string
  /** For error messages. */
  subject?: string
}

function decodeJson(bytes: Uint8Array, subject: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'))
  } catch {
    throw new FerryError('MANIFEST_INVALID', `${subject}: manifest is not valid JSON`)
  }
}

function mediaTypeOf(doc: unknown, contentType: string | undefined): string | undefined {
  if (doc && typeof doc === 'object' && 'mediaType' in doc && typeof doc.mediaType === 'string') {
    return doc.mediaType
  }
  const header = contentType?.split(';')[0]?.trim()
  if (header && (isIndexMediaType(header) || isImageMediaType(header))) return header
  // The OCI spec lets mediaType be omitted; fall back on the shape of the document.
  if (doc && typeof doc === 'object') {
    if ('manifests' in doc) return MediaType.ociIndex
    if ('config' in doc && 'layers' in doc) return MediaType.ociManifest
    if ('schemaVersion' in doc && doc.schemaVersion === 1) return MediaType.dockerManifestV1Signed
  }
  return header
}

export function parseManifest(bytes: Uint8Array, opts: ParseManifestOptions = {}): Manifest {
  const subject = opts.subject ?? 'manifest'
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new FerryError(
      'MANIFEST_TOO_LARGE',
      `${subject}: manifest is ${bytes.byteLength} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
    )
  }
  const algorithm = opts.expectedDigest ? parseDigest(opts.expectedDigest).algorithm : 'sha256'
  const digest = digestOf(bytes, algorithm)
  if (opts.expectedDigest && digest !== opts.expectedDigest) {
    throw new FerryError('DIGEST_MISMATCH', `${subject}: manifest content digest is ${digest}`)
  }
  const doc = decodeJson(bytes, subject)
  const mediaType = mediaTypeOf(doc, opts.contentType)
  if (mediaType && SCHEMA1_MEDIA_TYPES.includes(mediaType)) {
    throw new FerryError(
      'UNSUPPORTED',
      `${subject}: Docker schema 1 manifests are not supported (deprecated, cannot be copied by digest); rebuild or re-push the image with a current client`,
    )
  }
  const schema =
    mediaType === MediaType.dockerManifestList
      ? dockerManifestListSchema
      : mediaType === MediaType.dockerManifest
        ? dockerManifestSchema
        : mediaType === MediaType.ociIndex
          ? imageIndexSchema
          : mediaType === MediaType.ociManifest
            ? imageManifestSchema
            : undefined
  if (!mediaType || !schema) {
    throw new FerryError('MANIFEST_INVALID', `${subject}: unsupported manifest media type "${mediaType}"`)
  }
  const parsed = schema.safeParse(doc)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : ''
    throw new FerryError('MANIFEST_INVALID', `${subject}: invalid ${mediaType}${where}: ${issue?.message}`)
  }
  return isIndexMediaType(mediaType)
    ? { bytes, digest, mediaType, kind: 'index', index: parsed.data as IndexLike }
    : { bytes, digest, mediaType, kind: 'image', image: parsed.data as ImageLike }
}

// Docker manifests declare none of these fields; reading them through the OCI shape is safe because
// the loose schemas keep whatever the document carried, and zod already checked the OCI-typed ones.
function ociView(m: Manifest): Partial<Pick<ImageManifest, 'artifactType' | 'subject' | 'annotations'>> {
  return (m.kind === 'index' ? m.index : m.image) as ImageManifest
}

/** Per the referrers spec: the manifest's artifactType, else (for an image manifest) its config media type. */
export function artifactTypeOf(m: Manifest): string | undefined {
  const own = ociView(m).artifactType
  if (own) return own
  return m.kind === 'image' ? m.image.config.mediaType : undefined
}

export function subjectOf(m: Manifest): Descriptor | undefined {
  return ociView(m).subject
}

export function annotationsOf(m: Manifest): Record<string, string> | undefined {
  return ociView(m).annotations
}

/** Child manifests of an index, or config then layers of an image. */
export function childrenOf(m: Manifest): { manifests: Descriptor[]; blobs: Descriptor[] } {
  if (m.kind === 'index') return { manifests: [...m.index.manifests], blobs: [] }
  return { manifests: [], blobs: [m.image.config, ...m.image.layers] }
}
