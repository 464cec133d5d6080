import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import { storeManifest, storeTagged } from '../../src/content/store.js'
import type { Target } from '../../src/content/target.js'
import { descriptorOf } from '../../src/oci/descriptor.js'
import { digestOf } from '../../src/oci/digest.js'
import { type Manifest, parseManifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import type { Descriptor, Platform } from '../../src/oci/schemas.js'

/** Small synthetic images for tests against any target: random layers, a config, a manifest, an index. */

export interface Blob {
  desc: Descriptor
  bytes: Buffer
}

export function blobOf(bytes: Buffer | string, mediaType: string = MediaType.ociLayerGzip): Blob {
  const buf = Buffer.from(bytes)
  return { desc: { mediaType, digest: digestOf(buf), size: buf.byteLength }, bytes: buf }
}

export const randomBlob = (size: number, mediaType?: string): Blob => blobOf(randomBytes(size), mediaType)

export function configBlob(platform: Platform = { os: 'linux', architecture: 'amd64' }, labels = {}): Blob {
  const doc = {
    ...platform,
    created: '2024-01-01T00:00:00Z',
    config: { Labels: labels },
    rootfs: { type: 'layers', diff_ids: [] },
  }
  // A random field keeps images from different tests from sharing a config digest.
  return blobOf(
    Buffer.from(JSON.stringify({ ...doc, id: randomBytes(8).toString('hex') })),
    MediaType.ociConfig,
  )
}

export interface Image {
  config: Blob
  layers: Blob[]
  manifest: Manifest
}

export function manifestOf(doc: object): Manifest {
  return parseManifest(Buffer.from(JSON.stringify(doc)))
}

export function syntheticImage(
  opts: {
    layerSizes?: number[]
    platform?: Platform
    subject?: Descriptor
    artifactType?: string
    annotations?: Record<string, string>
    /** Config labels (`config.Labels`), as Docker writes them. */
    labels?: Record<string, string>
    /** Gzip each layer, for tools that sniff layer bytes (skopeo rewrites a "gzip" layer that is not). */
    gzip?: boolean
  } = {},
): Image {
  const config = configBlob(opts.platform, opts.labels)
  const layers = (opts.layerSizes ?? [1024, 2048]).map((n) =>
    opts.gzip ? blobOf(gzipSync(randomBytes(n))) : randomBlob(n),
  )
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: config.desc,
    layers: layers.map((l) => l.desc),
  }
  if (opts.artifactType) doc.artifactType = opts.artifactType
  if (opts.subject) doc.subject = opts.subject
  if (opts.annotations) doc.annotations = opts.annotations
  return { config, layers, manifest: manifestOf(doc) }
}

/**
 * An OCI 1.1 artifact (e.g. an SBOM) pointing at `subject`: empty config, one layer — `payload`, or a
 * random JSON document. Without `annotations` the manifest carries none.
 */
export function artifactFor(
  subject: Descriptor,
  artifactType: string,
  annotations?: Record<string, string>,
  payload: Blob = blobOf(JSON.stringify({ sbom: randomBytes(8).toString('hex') }), 'application/json'),
): Image {
  const config = blobOf('{}', MediaType.ociEmpty)
  const doc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType,
    config: config.desc,
    layers: [payload.desc],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  }
  if (annotations) doc.annotations = annotations
  return { config, layers: [payload], manifest: manifestOf(doc) }
}

export function indexOf(children: { manifest: Manifest; platform: Platform }[]): Manifest {
  return manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: children.map((c) => ({
      mediaType: c.manifest.mediaType,
      digest: c.manifest.digest,
      size: c.manifest.bytes.byteLength,
      platform: c.platform,
    })),
  })
}

/** A stream of `bytes` in pieces of `piece` bytes, as a file or socket would deliver them. */
export function streamOf(bytes: Buffer, piece = 64 * 1024): Readable {
  const parts: Buffer[] = []
  for (let i = 0; i < bytes.length; i += piece) parts.push(bytes.subarray(i, i + piece))
  return Readable.from(parts.length ? parts : [Buffer.alloc(0)])
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const chunk of stream) parts.push(chunk as Buffer)
  return Buffer.concat(parts)
}

/** Blobs first, then the manifest (a referrer listed under its subject), then the tag. */
export async function pushImage(target: Target, image: Image, tag?: string): Promise<void> {
  for (const b of [image.config, ...image.layers]) await target.pushBlob(b.desc, streamOf(b.bytes))
  await putManifest(target, image.manifest, tag)
}

/** What `pushManifest(m, tag)` did before names and referrers became their own operations. */
export async function putManifest(target: Target, m: Manifest, tag?: string): Promise<void> {
  if (tag === undefined) await storeManifest(target, m)
  else await storeTagged(target, m, tag)
}

/** Pushes an artifact whose one layer is `content`, typed `artifactType`, with `subject` as its subject. */
export async function pushArtifact(
  target: Target,
  subject: Manifest,
  artifactType: string,
  content: string,
  tag?: string,
): Promise<Manifest> {
  const artifact = artifactFor(
    descriptorOf(subject, { artifactType: 'referrers' }),
    artifactType,
    { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
    blobOf(content, artifactType),
  )
  await pushImage(target, artifact, tag)
  return artifact.manifest
}

/** A manifest shaped like cosign's `.sig` image, pushed under `sha256-HEX.sig` (no subject: tag-attached). */
export async function pushCosignStyleSignature(target: Target, subject: Manifest): Promise<Manifest> {
  const payload = blobOf(
    JSON.stringify({ critical: { image: { 'docker-manifest-digest': subject.digest } }, optional: null }),
    MediaType.cosignSimpleSigning,
  )
  const config = blobOf('{"architecture":"","os":"","config":{}}', MediaType.ociConfig)
  const manifest = manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: config.desc,
    layers: [{ ...payload.desc, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==' } }],
  })
  await pushImage(target, { config, layers: [payload], manifest }, `${subject.digest.replace(':', '-')}.sig`)
  return manifest
}
