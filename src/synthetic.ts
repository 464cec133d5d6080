import { createCipheriv, createHash } from 'node:crypto'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGzip } from 'node:zlib'
import tar from 'tar-stream'
import { storeManifest, storeTagged } from './content/store.js'
import type { Target } from './content/target.js'
import { descriptorOf } from './oci/descriptor.js'
import { type Digest, Hasher } from './oci/digest.js'
import { type Manifest, parseManifest } from './oci/manifest.js'
import { MediaType } from './oci/media-types.js'
import type { Descriptor, Platform } from './oci/schemas.js'

/**
 * Real, valid images made from nothing (no Docker, no network): each layer is a tar (uncompressed, or
 * gzipped with `gzip`) holding one file of seeded pseudo-random bytes. The same seed always makes the same bytes, so a
 * layer is streamed twice — once to learn its digest, once to push it — and never held in memory.
 */
export interface SyntheticImage {
  seed: string
  layers: number
  /** Bytes of file content per layer (the tar adds headers and padding). */
  layerSize: number
  platform?: Platform
  labels?: Record<string, string>
  created?: string
  /**
   * Gzip each layer (`tar+gzip`, as registries mostly hold): a tool that compresses uncompressed layers
   * on the way (skopeo without --preserve-digests) then copies the same bytes as one that does not.
   */
  gzip?: boolean
}

const FIXED_MTIME = new Date('2024-01-01T00:00:00Z')

/** Incompressible bytes from AES-CTR over zeros, keyed by the seed: fast and reproducible. */
function seededBytes(seed: string, size: number): Readable {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16)
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16))
  const zeros = Buffer.alloc(1024 * 1024)
  let left = size
  return new Readable({
    read() {
      if (left === 0) return void this.push(null)
      const n = Math.min(left, zeros.length)
      left -= n
      this.push(cipher.update(zeros.subarray(0, n)))
    },
  })
}

function layerTar(seed: string, size: number): Readable {
  const pack = tar.pack()
  const entry = pack.entry(
    { name: `data-${seed}.bin`, size, mtime: FIXED_MTIME, mode: 0o644, uid: 0, gid: 0 },
    (err) => {
      if (err) pack.destroy(err)
      else pack.finalize()
    },
  )
  seededBytes(seed, size).pipe(entry)
  // tar-stream's streams are streamx, not node streams; iterate them to get a node Readable with backpressure.
  return Readable.from(pack, { objectMode: false })
}

function gzipped(source: Readable): Readable {
  const gzip = createGzip({ level: 1 })
  source.on('error', (err) => gzip.destroy(err))
  return source.pipe(gzip)
}

async function describeStream(make: () => Readable, mediaType: string): Promise<Descriptor> {
  const hasher = new Hasher()
  await pipeline(
    make(),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        hasher.update(chunk)
        cb()
      },
    }),
  )
  return { mediaType, digest: hasher.digest(), size: hasher.size }
}

async function pushBytes(target: Target, bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
  const hasher = new Hasher()
  hasher.update(bytes)
  const desc = { mediaType, digest: hasher.digest(), size: bytes.byteLength }
  await target.pushBlob(desc, Readable.from([bytes]))
  return desc
}

const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))

/** Pushes the image's blobs and manifest (untagged unless `tag`) and returns the manifest. */
export async function pushSyntheticImage(
  target: Target,
  spec: SyntheticImage,
  tag?: string,
): Promise<Manifest> {
  const layers: Descriptor[] = []
  const diffIds: Digest[] = []
  for (let i = 0; i < spec.layers; i++) {
    const seed = `${spec.seed}/${i}`
    const tarDesc = await describeStream(() => layerTar(seed, spec.layerSize), MediaType.ociLayer)
    // zlib's output is a function of its input and level alone (the gzip header's mtime is 0).
    const make = spec.gzip
      ? () => gzipped(layerTar(seed, spec.layerSize))
      : () => layerTar(seed, spec.layerSize)
    const desc = spec.gzip ? await describeStream(make, MediaType.ociLayerGzip) : tarDesc
    if (!(await target.hasBlob(desc))) await target.pushBlob(desc, make())
    layers.push(desc)
    diffIds.push(tarDesc.digest as Digest) // the diff ID is the uncompressed tar's digest
  }
  const platform = spec.platform ?? { os: 'linux', architecture: 'amd64' }
  const config = {
    created: spec.created ?? FIXED_MTIME.toISOString(),
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Labels: spec.labels ?? {}, Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
    history: layers.map(() => ({ created: FIXED_MTIME.toISOString(), created_by: 'ferry synthetic layer' })),
  }
  const configDesc = await pushBytes(target, encode(config), MediaType.ociConfig)
  const manifest = parseManifest(
    encode({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDesc, layers }),
  )
  await put(target, manifest, tag)
  return manifest
}

/** One synthetic image per platform, under an OCI index. */
export async function pushSyntheticIndex(
  target: Target,
  spec: Omit<SyntheticImage, 'platform'>,
  platforms: Platform[],
  tag?: string,
): Promise<Manifest> {
  const manifests: Descriptor[] = []
  for (const platform of platforms) {
    const seed = `${spec.seed}/${platform.os}/${platform.architecture}/${platform.variant ?? ''}`
    const child = await pushSyntheticImage(target, { ...spec, seed, platform })
    manifests.push({
      ...descriptorOf(child),
      platform,
    })
  }
  const index = parseManifest(encode({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests }))
  await put(target, index, tag)
  return index
}

const put = (target: Target, m: Manifest, tag: string | undefined) =>
  tag === undefined ? storeManifest(target, m) : storeTagged(target, m, tag)
