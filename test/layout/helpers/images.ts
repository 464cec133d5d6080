import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import { gzipSync } from 'node:zlib'
import type { Target } from '../../../src/content/target.js'
import { digestOf } from '../../../src/oci/digest.js'
import { describeManifest, type Manifest, parseManifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import type { Descriptor } from '../../../src/oci/schemas.js'

export interface TestBlob {
  desc: Descriptor
  bytes: Buffer
}

export interface TestImage {
  manifest: Manifest
  blobs: TestBlob[]
}

export function blobOf(bytes: Buffer | string, mediaType: string): TestBlob {
  const buf = Buffer.from(bytes)
  return { desc: { mediaType, digest: digestOf(buf), size: buf.byteLength }, bytes: buf }
}

export const manifestOf = (doc: object): Manifest => parseManifest(Buffer.from(JSON.stringify(doc)))

export interface ImageOptions {
  os?: string
  architecture?: string
  /** Gzip-compressed random bytes of this size; stands in for a layer tarball. */
  layerBytes?: number
  annotations?: Record<string, string>
}

export function makeImage(opts: ImageOptions = {}): TestImage {
  const layer = blobOf(gzipSync(randomBytes(opts.layerBytes ?? 2048)), MediaType.ociLayerGzip)
  const config = blobOf(
    JSON.stringify({
      architecture: opts.architecture ?? 'amd64',
      os: opts.os ?? 'linux',
      config: { Labels: { nonce: randomBytes(8).toString('hex') } },
      rootfs: { type: 'layers', diff_ids: [digestOf(randomBytes(16))] },
    }),
    MediaType.ociConfig,
  )
  const manifest = manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: config.desc,
    layers: [layer.desc],
    ...(opts.annotations && { annotations: opts.annotations }),
  })
  return { manifest, blobs: [config, layer] }
}

/** A multi-arch index over images built for each `os/arch`. */
export function makeIndex(platforms: string[]): { index: Manifest; children: TestImage[] } {
  const children = platforms.map((p) => {
    const [os, architecture] = p.split('/') as [string, string]
    return makeImage({ os, architecture })
  })
  const index = manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: children.map((c, i) => {
      const [os, architecture] = platforms[i]!.split('/') as [string, string]
      const { mediaType, digest, size } = describeManifest(c.manifest)
      return { mediaType, digest, size, platform: { architecture, os } }
    }),
  })
  return { index, children }
}

/** An OCI 1.1 artifact (empty config, one payload layer) whose subject is `subject`. */
export function makeArtifact(
  subject: Descriptor,
  artifactType: string,
  annotations?: Record<string, string>,
) {
  const empty = blobOf('{}', MediaType.ociEmpty)
  const payload = blobOf(JSON.stringify({ nonce: randomBytes(8).toString('hex') }), 'application/json')
  const manifest = manifestOf({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType,
    config: empty.desc,
    layers: [payload.desc],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(annotations && { annotations }),
  })
  return { manifest, blobs: [empty, payload] }
}

export async function pushImage(target: Target, image: TestImage, tag?: string): Promise<void> {
  for (const b of image.blobs) await target.pushBlob(b.desc, Readable.from([b.bytes]))
  await target.pushManifest(image.manifest, tag)
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}
