import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import type { ReadOnlyTarget } from '../../../src/content/target.js'
import { isFerryError } from '../../../src/errors.js'
import {
  type Attached,
  discoverAttached,
  flattenAttached,
  GraphReader,
  type OnMissing,
  walkGraph,
} from '../../../src/graph/index.js'
import { OciLayout } from '../../../src/layout/index.js'
import { descriptorOf } from '../../../src/oci/descriptor.js'
import type { Digest } from '../../../src/oci/digest.js'
import { childrenOf, type Manifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import type { Descriptor } from '../../../src/oci/schemas.js'
import { cosignTag } from '../../../src/reference/grammar.js'
import {
  artifactFor,
  type Image,
  indexOf,
  manifestOf,
  pushCosignStyleSignature,
  pushImage,
  putManifest,
  syntheticImage,
} from '../../helpers/registry-fixtures.js'
import { tracking } from '../../helpers/tracking-target.js'

/** The walk's hooks, as oras-go's CopyGraphOptions has them: what to follow, and what to do about what is missing. */

type Report = { digest: string; from: string | undefined; kind: string; code: string | undefined }

/** An onMissing that collects what it is told, and the reports it made. */
function collecting(): { onMissing: OnMissing; reports: Report[] } {
  const reports: Report[] = []
  const onMissing: OnMissing = (desc, from, { kind, error }) => {
    reports.push({ digest: desc.digest, from, kind, code: isFerryError(error) ? error.code : undefined })
  }
  return { onMissing, reports }
}

const digests = (ms: readonly Manifest[]) => ms.map((m) => m.digest)
const blobDigests = (m: Manifest) => childrenOf(m).blobs.map((b) => b.digest)

describe('walkGraph hooks', () => {
  let store: MemoryTarget
  let amd: Image
  let arm: Image
  let index: Manifest

  beforeAll(async () => {
    store = new MemoryTarget('memory:app')
    ;[amd, arm] = ['amd64', 'arm64'].map((architecture) =>
      syntheticImage({ platform: { os: 'linux', architecture } }),
    ) as [Image, Image]
    for (const image of [amd, arm]) await pushImage(store, image)
    index = indexOf([
      { manifest: amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
    ])
    await putManifest(store, index, 'multi')
  })

  it('successors: a filter of the default walks only what it keeps, and never reads the rest', async () => {
    const { target, calls } = tracking(store)
    const all = await walkGraph(target, index)
    expect(digests(all.manifests)).toEqual([amd.manifest.digest, arm.manifest.digest, index.digest])

    calls.reset()
    const amdOnly = await walkGraph(target, index, {
      successors: (m) => {
        const { manifests, blobs } = childrenOf(m)
        return { manifests: manifests.filter((d) => d.platform?.architecture === 'amd64'), blobs }
      },
    })
    expect(digests(amdOnly.manifests)).toEqual([amd.manifest.digest, index.digest])
    expect([...amdOnly.blobs.keys()].sort()).toEqual(blobDigests(amd.manifest).sort())
    expect(calls.count('fetchManifest', arm.manifest.digest)).toBe(0)
  })

  it('successors: the default never follows subject (a walk goes down from an artifact, not up)', async () => {
    const sbom = artifactFor(descriptorOf(index), MediaType.spdxJson)
    await pushImage(store, sbom)
    const graph = await walkGraph(store, sbom.manifest)
    expect(digests(graph.manifests)).toEqual([sbom.manifest.digest])
  })

  it('onMissing: a missing child and a wrong-sized one are reported with their index, the rest still walked', async () => {
    const gone = syntheticImage()
    const wrongSize = { ...descriptorOf(arm.manifest), size: arm.manifest.bytes.byteLength + 1 }
    const broken = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [descriptorOf(gone.manifest), wrongSize, descriptorOf(amd.manifest)],
    })
    // No store takes such an index; the walk is handed it as a root, as a damaged source would give it.
    await expect(walkGraph(store, broken)).rejects.toMatchObject({ code: 'NOT_FOUND' })

    const { onMissing, reports } = collecting()
    const graph = await walkGraph(store, broken, { onMissing })
    expect(reports).toEqual([
      { digest: gone.manifest.digest, from: broken.digest, kind: 'manifest', code: 'NOT_FOUND' },
      { digest: arm.manifest.digest, from: broken.digest, kind: 'manifest', code: 'SIZE_INVALID' },
    ])
    expect(digests(graph.manifests)).toEqual([amd.manifest.digest, broken.digest])
    expect([...graph.blobs.keys()].sort()).toEqual(blobDigests(amd.manifest).sort())
  })

  it('onMissing: roots given as descriptors are read and reported too, each digest once', async () => {
    const gone = syntheticImage().manifest
    const { onMissing, reports } = collecting()
    const roots: Descriptor[] = [
      descriptorOf(gone),
      descriptorOf(index),
      descriptorOf(gone),
      descriptorOf(amd.manifest),
    ]
    const graph = await walkGraph(store, roots, { onMissing })
    expect(reports).toEqual([{ digest: gone.digest, from: undefined, kind: 'manifest', code: 'NOT_FOUND' }])
    // amd is walked once, under the index, though it is also a root.
    expect(digests(graph.manifests)).toEqual([amd.manifest.digest, arm.manifest.digest, index.digest])
  })

  it('reads an array of roots at once (a server walks every index.json entry), still bounded by the reader', async () => {
    const images = Array.from({ length: 12 }, (_, i) => syntheticImage({ layerSizes: [8 + i] }))
    for (const image of images) await pushImage(store, image)
    let inFlight = 0
    let most = 0
    // A store that takes a while to answer, so reads that overlap show.
    const slow: ReadOnlyTarget = new Proxy(store, {
      get: (t, prop, receiver) =>
        prop === 'fetchManifest'
          ? async (...args: Parameters<MemoryTarget['fetchManifest']>) => {
              most = Math.max(most, ++inFlight)
              await new Promise((resolve) => setTimeout(resolve, 5))
              inFlight--
              return t.fetchManifest(...args)
            }
          : Reflect.get(t, prop, receiver),
    })
    const graph = await walkGraph(
      new GraphReader(slow, { concurrency: 4 }),
      images.map((i) => descriptorOf(i.manifest)),
    )
    expect(digests(graph.manifests)).toEqual(images.map((i) => i.manifest.digest))
    expect(most).toBe(4)
  })
})

describe('walkGraph checkBlobs', () => {
  let dir: string
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  it('asks for each blob once and reports a missing one with every manifest that names it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-hooks-'))
    const layout = await OciLayout.open(join(dir, 'layout'), { create: true })
    const target = layout.target()
    const a = syntheticImage({ platform: { os: 'linux', architecture: 'amd64' } })
    // b shares a's first layer.
    const b = syntheticImage()
    const bShared: Image = {
      config: b.config,
      layers: [a.layers[0]!, ...b.layers],
      manifest: manifestOf({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: b.config.desc,
        layers: [a.layers[0]!.desc, ...b.layers.map((l) => l.desc)],
      }),
    }
    for (const image of [a, bShared]) await pushImage(target, image)
    const index = indexOf([
      { manifest: a.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: bShared.manifest, platform: { os: 'linux', architecture: 'arm64' } },
    ])
    await putManifest(target, index, 'multi')
    const shared = a.layers[0]!.desc.digest as Digest
    await rm(layout.blobPath(shared))

    const { target: tracked, calls } = tracking(target)
    const unchecked = await walkGraph(tracked, index)
    expect(unchecked.blobs.has(shared)).toBe(true)
    expect(calls.count('hasBlob')).toBe(0)

    const { onMissing, reports } = collecting()
    await walkGraph(tracked, index, { checkBlobs: true, onMissing })
    expect(reports).toEqual([
      { digest: shared, from: a.manifest.digest, kind: 'blob', code: 'NOT_FOUND' },
      { digest: shared, from: bShared.manifest.digest, kind: 'blob', code: 'NOT_FOUND' },
    ])
    expect(calls.count('hasBlob', shared)).toBe(1)
    await expect(walkGraph(target, index, { checkBlobs: true })).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(shared),
    })
  })
})

describe('discoverAttached', () => {
  it('finds referrers and all three cosign tags, recursively, in the order listed', async () => {
    const store = new MemoryTarget()
    const image = syntheticImage()
    await pushImage(store, image, 'v1')
    const sbom = artifactFor(descriptorOf(image.manifest), MediaType.spdxJson)
    await pushImage(store, sbom)
    const onSbom = artifactFor(descriptorOf(sbom.manifest), MediaType.sigstoreBundleV03)
    await pushImage(store, onSbom)
    const sig = await pushCosignStyleSignature(store, image.manifest)
    const att = syntheticImage({ layerSizes: [16] })
    await pushImage(store, att, cosignTag(image.manifest.digest, 'att'))
    const legacySbom = syntheticImage({ layerSizes: [16] })
    await pushImage(store, legacySbom, cosignTag(image.manifest.digest, 'sbom'))

    const nodes = flattenAttached(
      await discoverAttached(store, [image.manifest.digest], { cosignTags: true }),
    )
    const shape = (n: Attached) => [n.scheme, n.descriptor.digest, n.subject, n.missing ? undefined : n.tag]
    expect(nodes.map(shape)).toEqual([
      ['referrer', sbom.manifest.digest, image.manifest.digest, undefined],
      ['referrer', onSbom.manifest.digest, sbom.manifest.digest, undefined],
      ['cosign-tag', sig.digest, image.manifest.digest, cosignTag(image.manifest.digest, 'sig')],
      ['cosign-tag', att.manifest.digest, image.manifest.digest, cosignTag(image.manifest.digest, 'att')],
      [
        'cosign-tag',
        legacySbom.manifest.digest,
        image.manifest.digest,
        cosignTag(image.manifest.digest, 'sbom'),
      ],
    ])
    // A referrer is described as listed (artifactType, annotations); a cosign tag by its own manifest.
    expect(nodes[0]!.descriptor.artifactType).toBe(MediaType.spdxJson)
    expect(nodes[2]!.descriptor).toEqual(descriptorOf(sig))

    const typed = flattenAttached(
      await discoverAttached(store, [image.manifest.digest], {
        cosignTags: true,
        artifactType: MediaType.spdxJson,
      }),
    )
    expect(typed.map((n) => n.descriptor.digest)).toEqual([sbom.manifest.digest])
  })

  it('onMissing: a listed referrer whose manifest is gone is reported and kept as missing, in its place', async () => {
    const store = new MemoryTarget()
    const image = syntheticImage()
    await pushImage(store, image, 'v1')
    const first = artifactFor(descriptorOf(image.manifest), MediaType.spdxJson)
    const gone = artifactFor(descriptorOf(image.manifest), MediaType.cyclonedxJson)
    const last = artifactFor(descriptorOf(image.manifest), MediaType.sigstoreBundleV03)
    for (const a of [first, gone, last]) await pushImage(store, a)
    // The order a registry listed them in, before `gone` was deleted under the listing.
    const listing = [first, gone, last].map((a) => descriptorOf(a.manifest, { artifactType: 'referrers' }))
    await store.deleteManifest(gone.manifest.digest)
    const stale: ReadOnlyTarget = new Proxy(store, {
      get: (t, prop, receiver) =>
        prop === 'referrers'
          ? async (subject: Digest) => (subject === image.manifest.digest ? listing : [])
          : Reflect.get(t, prop, receiver),
    })
    await expect(discoverAttached(stale, [image.manifest.digest])).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })

    const { onMissing, reports } = collecting()
    const nodes = await discoverAttached(stale, [image.manifest.digest], { onMissing })
    expect(nodes.map((n) => [n.descriptor.digest, n.missing ?? false])).toEqual([
      [first.manifest.digest, false],
      [gone.manifest.digest, true],
      [last.manifest.digest, false],
    ])
    expect(reports).toEqual([
      { digest: gone.manifest.digest, from: image.manifest.digest, kind: 'manifest', code: 'NOT_FOUND' },
    ])
  })
})
