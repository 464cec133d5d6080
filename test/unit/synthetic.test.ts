import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { describe, expect, it } from 'vitest'
import type { Target } from '../../src/content/target.js'
import { digestOf, verifyingStream } from '../../src/oci/digest.js'
import type { Manifest } from '../../src/oci/manifest.js'
import type { Descriptor } from '../../src/oci/schemas.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'

/** Just enough of a Target to capture what the generator pushes; verifies every blob as it arrives. */
function captureTarget() {
  const blobs = new Map<string, Buffer>()
  const manifests: Manifest[] = []
  const target = {
    name: 'memory',
    hasBlob: async (d: Descriptor) => blobs.has(d.digest),
    pushBlob: async (d: Descriptor, body: Readable) => {
      const chunks: Buffer[] = []
      for await (const c of body.pipe(verifyingStream({ digest: d.digest, size: d.size }))) chunks.push(c)
      blobs.set(d.digest, Buffer.concat(chunks))
    },
    pushManifest: async (m: Manifest) => {
      manifests.push(m)
      return { subjectIndexed: true }
    },
  } as unknown as Target
  return { target, blobs, manifests }
}

describe('synthetic images', () => {
  it('are reproducible, verify, and hold valid tar layers', async () => {
    const a = captureTarget()
    const b = captureTarget()
    const platforms = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]
    const spec = { seed: 'demo', layers: 2, layerSize: 300_000 }
    const ia = await pushSyntheticIndex(a.target, spec, platforms)
    const ib = await pushSyntheticIndex(b.target, spec, platforms)
    expect(ia.digest).toBe(ib.digest)
    expect(a.manifests).toHaveLength(3)
    // 2 platforms × (2 layers + 1 config), all distinct
    expect(a.blobs.size).toBe(6)
    for (const [digest, bytes] of a.blobs) expect(digestOf(bytes)).toBe(digest)
    const layer = a.manifests[0]!.kind === 'image' ? a.manifests[0]!.image.layers[0]! : undefined
    const tarBytes = a.blobs.get(layer!.digest)!
    // ustar magic at offset 257, file content size in the header, and two zero blocks at the end
    expect(tarBytes.subarray(257, 262).toString()).toBe('ustar')
    expect(tarBytes.byteLength).toBeGreaterThan(300_000)
    const config = a.manifests[0]!.kind === 'image' ? a.manifests[0]!.image.config : undefined
    const parsed = JSON.parse(await text(Readable.from([a.blobs.get(config!.digest)!])))
    expect(parsed.rootfs.diff_ids).toEqual([layer!.digest, expect.any(String)])
    expect(parsed.architecture).toBe('amd64')
  })
})

describe('synthetic images with gzip layers', () => {
  it('are reproducible tar+gzip layers whose diff IDs are the uncompressed tars', async () => {
    const { gunzipSync } = await import('node:zlib')
    const { pushSyntheticImage } = await import('../../src/synthetic.js')
    const a = captureTarget()
    const b = captureTarget()
    const spec = { seed: 'gz', layers: 2, layerSize: 100_000, gzip: true }
    const ma = await pushSyntheticImage(a.target, spec)
    const mb = await pushSyntheticImage(b.target, spec)
    expect(ma.digest).toBe(mb.digest)
    if (ma.kind !== 'image') throw new Error('expected an image')
    const config = JSON.parse(a.blobs.get(ma.image.config.digest)!.toString()) as {
      rootfs: { diff_ids: string[] }
    }
    for (const [i, layer] of ma.image.layers.entries()) {
      expect(layer.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip')
      const tar = gunzipSync(a.blobs.get(layer.digest)!)
      expect(config.rootfs.diff_ids[i]).toBe(digestOf(tar))
    }
  })
})
