import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { digestOf } from '../../src/oci/digest.js'
import { type Manifest, parseManifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import type { Descriptor, Platform } from '../../src/oci/schemas.js'

/** Small synthetic images for registry tests: random layers, a config, a manifest, an index. */

export interface Blob {
  desc: Descriptor
  bytes: Buffer
}

export function blobOf(bytes: Buffer, mediaType: string = MediaType.ociLayerGzip): Blob {
  return { desc: { mediaType, digest: digestOf(bytes), size: bytes.length }, bytes }
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
  } = {},
): Image {
  const config = configBlob(opts.platform)
  const layers = (opts.layerSizes ?? [1024, 2048]).map((n) => randomBlob(n))
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

/** An artifact (e.g. an SBOM) pointing at `subject`: empty config, one JSON layer. */
export function artifactFor(
  subject: Descriptor,
  artifactType: string,
  annotations: Record<string, string> = {},
): Image {
  const config = blobOf(Buffer.from('{}'), MediaType.ociEmpty)
  const layer = blobOf(
    Buffer.from(JSON.stringify({ sbom: randomBytes(8).toString('hex') })),
    'application/json',
  )
  const manifest = manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType,
    config: config.desc,
    layers: [layer.desc],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  })
  return { config, layers: [layer], manifest }
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

/** Anything with pushBlob/pushManifest (a Target). */
interface Pushable {
  pushBlob(desc: Descriptor, body: Readable): Promise<void>
  pushManifest(m: Manifest, tag?: string): Promise<void>
}

export async function pushImage(target: Pushable, image: Image, tag?: string): Promise<void> {
  for (const b of [image.config, ...image.layers]) await target.pushBlob(b.desc, streamOf(b.bytes))
  await target.pushManifest(image.manifest, tag)
}
