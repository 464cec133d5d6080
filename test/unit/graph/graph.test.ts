import { describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import { closure, discoverAttached, GraphReader, walkGraph } from '../../../src/graph/index.js'
import { descriptorOf } from '../../../src/oci/descriptor.js'
import type { Manifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import type { Descriptor } from '../../../src/oci/schemas.js'
import { cosignTag } from '../../../src/reference/grammar.js'
import {
  artifactFor,
  blobOf,
  indexOf,
  manifestOf,
  pushCosignStyleSignature,
  pushImage,
  putManifest,
  streamOf,
  syntheticImage,
} from '../../helpers/registry-fixtures.js'
import { tracking } from '../../helpers/tracking-target.js'

/** The graph of an image (index children, blobs, what is attached), walked through one cached reader. */

/** An SBOM attached to `subject`, stored by digest. */
async function attach(target: MemoryTarget, subject: Manifest, artifactType: string = MediaType.spdxJson) {
  const artifact = artifactFor(descriptorOf(subject), artifactType)
  await pushImage(target, artifact)
  return artifact.manifest
}

describe('walkGraph', () => {
  it('lists children before their index, each blob once, and reads each manifest once', async () => {
    const store = new MemoryTarget()
    const shared = blobOf('a base layer both platforms share')
    const images = ['amd64', 'arm64'].map((architecture) => {
      const own = syntheticImage({ layerSizes: [64], platform: { os: 'linux', architecture } })
      const doc = JSON.parse(Buffer.from(own.manifest.bytes).toString()) as { layers: Descriptor[] }
      return {
        ...own,
        layers: [shared, ...own.layers],
        manifest: manifestOf({ ...doc, layers: [shared.desc, ...doc.layers] }),
      }
    })
    for (const image of images) await pushImage(store, image)
    // The same child twice (an index may list one manifest under two platforms).
    const index = indexOf([
      { manifest: images[0]!.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: images[1]!.manifest, platform: { os: 'linux', architecture: 'arm64' } },
      { manifest: images[1]!.manifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    ])
    await putManifest(store, index, 'multi')
    const { target, calls } = tracking(store)

    const graph = await walkGraph(target, index)
    expect(graph.manifests.map((m) => m.digest)).toEqual([
      images[0]!.manifest.digest,
      images[1]!.manifest.digest,
      index.digest,
    ])
    expect(graph.blobs.size).toBe(5) // one shared layer, one own layer each, two configs
    expect(graph.blobs.has(shared.desc.digest)).toBe(true)
    expect(calls.count('fetchManifest', images[1]!.manifest.digest)).toBe(1)
    expect(calls.count('fetchManifest', index.digest)).toBe(0) // the root the caller holds is not read again
  })

  it('leaves foreign layers as references unless asked to include them', async () => {
    const store = new MemoryTarget()
    const config = blobOf('{}', MediaType.ociConfig)
    const foreign = { ...blobOf('a windows base layer').desc, mediaType: MediaType.dockerLayerForeign }
    const m = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: config.desc,
      layers: [foreign],
    })
    await store.pushBlob(config.desc, streamOf(config.bytes))
    await store.pushManifest(m)
    const plain = await walkGraph(store, m)
    expect([...plain.blobs.keys()]).toEqual([config.desc.digest])
    expect(plain.foreign.map((d) => d.digest)).toEqual([foreign.digest])
    const all = await walkGraph(store, m, { includeNondistributable: true })
    expect([...all.blobs.keys()].sort()).toEqual([config.desc.digest, foreign.digest].sort())
  })

  it('refuses a child whose size is not the one its index declares', async () => {
    const store = new MemoryTarget('memory:app')
    const image = syntheticImage()
    await pushImage(store, image)
    const wrong = { ...descriptorOf(image.manifest), size: image.manifest.bytes.byteLength + 1 }
    const index = manifestOf({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [wrong] })
    await store.pushManifest(index)
    await expect(walkGraph(store, index)).rejects.toMatchObject({
      code: 'SIZE_INVALID',
      message: expect.stringContaining(`memory:app@${image.manifest.digest}`),
    })
  })
})

describe('discoverAttached and closure', () => {
  it('follows what is attached to what is attached, each once, cosign tags included', async () => {
    const store = new MemoryTarget()
    const image = syntheticImage()
    await pushImage(store, image, 'v1')
    const sbom = await attach(store, image.manifest)
    const sbomSig = await attach(store, sbom, 'application/vnd.dev.sigstore.bundle.v0.3+json')
    const sig = await pushCosignStyleSignature(store, image.manifest)

    const found = await closure(store, image.manifest, { referrers: true })
    expect(found.attached.map((n) => [n.scheme, n.manifest.digest])).toEqual([
      ['referrer', sbom.digest],
      ['referrer', sbomSig.digest],
      ['cosign-tag', sig.digest],
    ])
    expect(found.attached[2]!.tag).toBe(cosignTag(image.manifest.digest, 'sig'))
    // Blobs of the image and of every attachment, each once (the two artifacts share the empty config).
    const expected = new Set(
      [image.manifest, sbom, sbomSig, sig]
        .flatMap((m) => (m.kind === 'image' ? [m.image.config, ...m.image.layers] : []))
        .map((d) => d.digest),
    )
    expect(new Set(found.blobs.keys())).toEqual(expected)
    expect(await closure(store, image.manifest)).toMatchObject({ attached: [], graphs: [] })
  })

  it('asks nothing about cosign tags a tag listing already shows absent', async () => {
    const image = syntheticImage()
    const store = new MemoryTarget()
    await pushImage(store, image, 'v1')
    const { target, calls } = tracking(store)

    await discoverAttached(target, [image.manifest.digest], { cosignTags: true })
    expect(calls.count('resolve')).toBe(3) // .sig, .att, .sbom: asked one by one

    calls.reset()
    const reader = new GraphReader(target)
    reader.knowTags(await target.listTags())
    await discoverAttached(reader, [image.manifest.digest], { cosignTags: true })
    expect(calls.count('resolve')).toBe(0)
  })

  it('shares one reader between walks: a manifest reached two ways is read once', async () => {
    const store = new MemoryTarget()
    const image = syntheticImage()
    await pushImage(store, image, 'v1')
    const sbom = await attach(store, image.manifest)
    const { target, calls } = tracking(store)
    const reader = new GraphReader(target)
    await closure(reader, image.manifest, { referrers: true })
    await closure(reader, image.manifest, { referrers: true })
    expect(calls.count('fetchManifest', sbom.digest)).toBe(1)
    expect(calls.count('referrers', image.manifest.digest)).toBe(1)
  })
})
