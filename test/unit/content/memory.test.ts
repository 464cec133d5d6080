import { buffer } from 'node:stream/consumers'
import { describe, expect, it } from 'vitest'
import { canMount, canReadFrom, canResumePush } from '../../../src/content/capabilities.js'
import { MemoryTarget } from '../../../src/content/memory.js'
import { storeManifest } from '../../../src/content/store.js'
import { MediaType } from '../../../src/oci/media-types.js'
import {
  artifactFor,
  blobOf,
  indexOf,
  manifestOf,
  pushImage,
  streamOf,
  syntheticImage,
} from '../../helpers/registry-fixtures.js'
import { tracking } from '../../helpers/tracking-target.js'

/** What MemoryTarget adds to the shared contract (test/helpers/target-contract.ts): a registry's strictness. */

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  )

describe('MemoryTarget', () => {
  it('refuses a manifest while a blob or child it names is missing, as a registry does', async () => {
    const target = new MemoryTarget()
    const image = syntheticImage()
    expect(await code(target.pushManifest(image.manifest))).toBe('NOT_FOUND')
    expect(await code(target.tag(image.manifest, 'v1'))).toBe('NOT_FOUND')
    expect(await target.listTags()).toEqual([])
    await pushImage(target, image)
    const index = indexOf([
      { manifest: syntheticImage().manifest, platform: { os: 'linux', architecture: 'arm64' } },
    ])
    expect(await code(target.pushManifest(index))).toBe('NOT_FOUND')
    expect(await target.hasManifest(index.digest)).toBe(false)
  })

  it('takes a foreign layer as the reference it is, without its bytes', async () => {
    const target = new MemoryTarget()
    const config = blobOf('{}', MediaType.ociConfig)
    const foreign = { ...blobOf('windows base layer').desc, mediaType: MediaType.dockerLayerForeign }
    const manifest = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: config.desc,
      layers: [foreign],
    })
    await target.pushBlob(config.desc, streamOf(config.bytes))
    await target.pushManifest(manifest)
    expect(await target.hasManifest(manifest.digest)).toBe(true)
  })

  it('refuses manifest bytes that do not hash to their digest', async () => {
    const target = new MemoryTarget()
    const image = syntheticImage()
    await pushImage(target, image)
    const forged = { ...image.manifest, digest: syntheticImage().manifest.digest }
    expect(await code(target.pushManifest(forged))).toBe('DIGEST_MISMATCH')
    expect(await target.hasManifest(forged.digest)).toBe(false)
  })

  it('checks a blob read against the descriptor asked with, as it flows', async () => {
    const target = new MemoryTarget()
    const blob = blobOf('some bytes')
    await target.pushBlob(blob.desc, streamOf(blob.bytes))
    await expect(buffer(await target.fetchBlob({ ...blob.desc, size: 3 }))).rejects.toMatchObject({
      code: 'SIZE_INVALID',
    })
    expect(await code(target.fetchBlob(blobOf('absent').desc))).toBe('NOT_FOUND')
  })

  it('does not read a body for a blob it already holds', async () => {
    const target = new MemoryTarget()
    const blob = blobOf('held')
    await target.pushBlob(blob.desc, streamOf(blob.bytes))
    const again = streamOf(blob.bytes)
    await target.pushBlob(blob.desc, again)
    expect(again.destroyed).toBe(true)
  })

  it('lists a referrer from the moment it is stored: no referrers index to maintain', async () => {
    const target = new MemoryTarget()
    const image = syntheticImage()
    await pushImage(target, image, 'v1')
    const { mediaType, digest } = image.manifest
    const sig = artifactFor(
      { mediaType, digest, size: image.manifest.bytes.byteLength },
      'application/example',
    )
    for (const b of [sig.config, ...sig.layers]) await target.pushBlob(b.desc, streamOf(b.bytes))
    expect(await target.pushManifest(sig.manifest)).toEqual({ subjectIndexed: true })
    expect((await target.referrers(digest)).map((d) => d.digest)).toEqual([sig.manifest.digest])
  })

  it('stops at once when the signal has fired', async () => {
    const target = new MemoryTarget()
    const signal = AbortSignal.abort(new Error('interrupted'))
    await expect(target.listTags({ signal })).rejects.toThrow('interrupted')
    await expect(target.pushManifest(syntheticImage().manifest, { signal })).rejects.toThrow('interrupted')
  })

  it('has none of the optional capabilities: it mounts, seeks and resumes nothing', () => {
    const target = new MemoryTarget()
    expect([canMount(target), canReadFrom(target), canResumePush(target)]).toEqual([false, false, false])
  })
})

describe('tracking wrapper', () => {
  it('logs each call with its digest or reference, and not the wrapped target’s own inner calls', async () => {
    const { target, calls } = tracking(new MemoryTarget('memory:t'))
    const image = syntheticImage()
    await pushImage(target, image)
    await target.tag(image.manifest, 'v1')
    await target.fetchManifest('v1')
    // storeManifest is the caller's protocol: one pushManifest, no addReferrer for a self-indexing store.
    await storeManifest(target, image.manifest)
    expect(calls.keys('pushBlob')).toEqual([
      image.config.desc.digest,
      ...image.layers.map((l) => l.desc.digest),
    ])
    expect(calls.count('pushManifest', image.manifest.digest)).toBe(2)
    expect(calls.count('addReferrer')).toBe(0)
    expect(calls.keys('tag')).toEqual(['v1'])
    expect(calls.keys('fetchManifest')).toEqual(['v1'])
    // pushBlob asks hasBlob of itself: that stays inside the target.
    expect(calls.count('hasBlob')).toBe(0)
    expect(calls.positions('tag')[0]).toBeGreaterThan(calls.positions('pushManifest')[0]!)
    expect(calls.calls.every((c) => c.target === 'memory:t')).toBe(true)
  })
})
