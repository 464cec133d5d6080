import { pipeline, Readable } from 'node:stream'
import { beforeEach, describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import type { ReadOnlyTarget } from '../../../src/content/target.js'
import { copyImage } from '../../../src/copy/copy.js'
import { verifyingStream } from '../../../src/oci/digest.js'
import { childrenOf, type Manifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import type { Descriptor } from '../../../src/oci/schemas.js'
import { cosignTag } from '../../../src/reference/grammar.js'
import { pushSyntheticIndex } from '../../../src/synthetic.js'
import { pushArtifact, pushCosignStyleSignature } from '../../helpers/registry-fixtures.js'
import { CallLog, tracking } from '../../helpers/tracking-target.js'

/**
 * Copy between two stores in memory, every call counted (test/helpers/tracking-target.ts): what a copy
 * reads, skips and writes, and in which order. What only a registry shows (mounts, the tag schema, what
 * skopeo reads back) is in test/copy/copy.test.ts.
 */

const platforms = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
]

const WRITES = ['pushBlob', 'pushManifest', 'tag', 'untag', 'addReferrer', 'deleteManifest']

const children = (m: Manifest): Descriptor[] => childrenOf(m).manifests

describe('copy between stores', () => {
  let source: MemoryTarget
  let index: Manifest
  /** Child manifests of the index by architecture, with their blobs. */
  let child: Record<string, { manifest: Manifest; blobs: string[] }>

  beforeEach(async () => {
    source = new MemoryTarget('memory:src')
    index = await pushSyntheticIndex(source, { seed: 'copy', layers: 3, layerSize: 20_000 }, platforms, '1.0')
    child = {}
    for (const d of children(index)) {
      const manifest = await source.fetchManifest(d.digest)
      child[d.platform!.architecture] = { manifest, blobs: childrenOf(manifest).blobs.map((b) => b.digest) }
    }
  })

  it('copies blobs, then the children, then the index under its tag, and the tag last', async () => {
    const { target: destination, calls } = tracking(new MemoryTarget('memory:dst'))
    const result = await copyImage(source, '1.0', destination, '1.0')
    expect(result.blobs).toMatchObject({ copied: 8, skipped: 0 }) // 2 × (3 layers + config)
    expect(result.manifests.pushed).toBe(3)
    expect(Buffer.from((await destination.fetchManifest('1.0')).bytes)).toEqual(Buffer.from(index.bytes))

    const writes = calls.calls.filter((c) => WRITES.includes(c.method))
    expect(writes.map((c) => c.method)).toEqual([
      ...Array(8).fill('pushBlob'),
      'pushManifest',
      'pushManifest',
      'tag',
    ])
    expect(calls.keys('pushManifest').sort()).toEqual(
      children(index)
        .map((d) => d.digest)
        .sort(),
    )
    expect(calls.keys('tag')).toEqual(['1.0'])
  })

  it('skips everything on a second run: no blob read from the source, nothing written', async () => {
    const destination = new MemoryTarget('memory:dst')
    await copyImage(source, '1.0', destination, '1.0')
    const log = new CallLog()
    const again = await copyImage(
      tracking(source, log).target,
      '1.0',
      tracking(destination, log).target,
      '1.0',
    )
    expect(again.blobs).toMatchObject({ copied: 0, skipped: 8 })
    expect(again.manifests.pushed).toBe(0)
    expect(again.bytes).toBe(0)
    expect(log.count('fetchBlob')).toBe(0)
    expect(log.calls.filter((c) => WRITES.includes(c.method))).toEqual([])
  })

  it('reads from the source only the blobs the destination lacks', async () => {
    const destination = new MemoryTarget('memory:dst')
    // One platform is there already (copied by digest, untagged).
    await copyImage(source, child.amd64!.manifest.digest, destination, undefined)
    const log = new CallLog()
    const result = await copyImage(
      tracking(source, log).target,
      '1.0',
      tracking(destination, log).target,
      '1.0',
    )
    expect(result.blobs).toMatchObject({ copied: 4, skipped: 4 })
    expect(log.keys('fetchBlob').sort()).toEqual([...child.arm64!.blobs].sort())
    expect(log.keys('pushBlob').sort()).toEqual([...child.arm64!.blobs].sort())
    expect(log.keys('pushManifest')).toEqual([child.arm64!.manifest.digest])
  })

  it('copies one platform as its own manifest, digest unchanged, and reads nothing of the others', async () => {
    const { target: from, calls } = tracking(source)
    const destination = new MemoryTarget('memory:dst')
    const result = await copyImage(from, '1.0', destination, '1.0', {
      platforms: [{ os: 'linux', architecture: 'amd64' }],
      platformImage: true,
    })
    expect([result.filtered, result.platformChild]).toEqual([true, true])
    expect(result.destination.digest).toBe(child.amd64!.manifest.digest)
    expect((await destination.fetchManifest('1.0')).kind).toBe('image')
    expect(calls.count('fetchManifest', child.arm64!.manifest.digest)).toBe(0)
    expect(calls.keys('fetchBlob').sort()).toEqual([...child.amd64!.blobs].sort())
  })

  it('filters platforms into a new one-child index for a caller that asks for the index', async () => {
    const destination = new MemoryTarget('memory:dst')
    const result = await copyImage(source, '1.0', destination, '1.0', {
      platforms: [{ os: 'linux', architecture: 'amd64' }],
    })
    expect([result.filtered, result.platformChild]).toEqual([true, false])
    expect(result.destination.digest).not.toBe(index.digest)
    const copied = await destination.fetchManifest('1.0')
    expect(children(copied).map((d) => d.platform?.architecture)).toEqual(['amd64'])
    expect(await destination.hasManifest(child.arm64!.manifest.digest)).toBe(false)
  })

  it('copies by digest without writing any tag', async () => {
    const { target: destination, calls } = tracking(new MemoryTarget('memory:dst'))
    const result = await copyImage(source, index.digest, destination, undefined)
    expect(result.destination.tag).toBeUndefined()
    expect(await destination.hasManifest(index.digest)).toBe(true)
    expect(await destination.listTags()).toEqual([])
    expect(calls.count('tag')).toBe(0)
  })

  it('carries referrers and cosign signature tags with referrers, before the tag; neither without', async () => {
    const sbom = await pushArtifact(source, index, MediaType.spdxJson, '{"spdxVersion":"SPDX-2.3"}')
    const sig = await pushCosignStyleSignature(source, index)

    const plain = new MemoryTarget('memory:plain')
    expect((await copyImage(source, '1.0', plain, '1.0')).referrers).toBe(0)
    expect(await plain.referrers(index.digest)).toEqual([])
    expect(await plain.listTags()).toEqual(['1.0'])

    const { target: destination, calls } = tracking(new MemoryTarget('memory:dst'))
    const result = await copyImage(source, '1.0', destination, '1.0', { referrers: true })
    expect(result.referrers).toBe(2)
    const listed = await destination.referrers(index.digest)
    expect(listed.map((d) => [d.digest, d.artifactType])).toEqual([[sbom.digest, MediaType.spdxJson]])
    expect((await destination.resolve(cosignTag(index.digest, 'sig'))).digest).toBe(sig.digest)
    // The index goes in by digest first, so that what is attached to it lands before the tag names it.
    const writes = calls.calls.filter((c) => WRITES.includes(c.method))
    expect(writes.at(-1)).toMatchObject({ method: 'tag', key: '1.0' })
    expect(calls.positions('pushManifest', index.digest)[0]).toBeLessThan(
      calls.positions('pushManifest', sbom.digest)[0]!,
    )
  })

  it('aborts on a corrupted source blob, names it, and writes no tag', async () => {
    const layer = child.arm64!.blobs.at(-1)!
    const { target: destination, calls } = tracking(new MemoryTarget('memory:dst'))
    await expect(copyImage(corrupted(source, layer), '1.0', destination, '1.0')).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining(layer),
    })
    expect(calls.count('tag')).toBe(0)
    expect(calls.count('pushManifest')).toBe(0)
    expect(await destination.listTags()).toEqual([])
  })

  it('refuses a source that is no longer the digest expected, before writing anything', async () => {
    const { target: destination, calls } = tracking(new MemoryTarget('memory:dst'))
    const copy = copyImage(source, '1.0', destination, '1.0', { expectDigest: child.amd64!.manifest.digest })
    await expect(copy).rejects.toMatchObject({ code: 'CONFLICT' })
    expect(calls.calls.filter((c) => WRITES.includes(c.method))).toEqual([])
  })
})

/**
 * `inner` as a store whose bytes for one blob went bad (a disk that rots): reads of that blob fail as
 * they flow, as every backend's verifying read does. An in-process fake, since no real store corrupts
 * itself on cue.
 */
function corrupted<T extends ReadOnlyTarget>(inner: T, digest: string): T {
  return new Proxy(inner, {
    get(t, prop, receiver) {
      if (prop === 'fetchBlob') {
        return async (desc: Descriptor) => {
          if (desc.digest !== digest) return t.fetchBlob(desc)
          const rotten = Readable.from([Buffer.alloc(desc.size, 7)])
          return pipeline(rotten, verifyingStream({ ...desc, subject: `${t.name}@${desc.digest}` }), () => {})
        }
      }
      const value = Reflect.get(t, prop, receiver)
      return typeof value === 'function' ? value.bind(t) : value
    },
  })
}
