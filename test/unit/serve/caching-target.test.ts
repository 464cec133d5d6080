import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import { isFerryError } from '../../../src/errors.js'
import { OciLayout } from '../../../src/layout/index.js'
import { silentLogger } from '../../../src/log.js'
import type { Digest } from '../../../src/oci/digest.js'
import { BlobFlights } from '../../../src/serve/upstream/blob-flights.js'
import { CacheState } from '../../../src/serve/upstream/cache-state.js'
import { CacheStats } from '../../../src/serve/upstream/cache-stats.js'
import { CachingTarget } from '../../../src/serve/upstream/caching-target.js'
import { Eviction } from '../../../src/serve/upstream/eviction.js'
import { pushImage, readAll, syntheticImage } from '../../helpers/registry-fixtures.js'
import { tracking } from '../../helpers/tracking-target.js'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

/**
 * The pull-through cache's target over any upstream ReadOnlyTarget (here memory, its calls counted) and a
 * layout in a temp directory as the cache: what serve --upstream reads each repository through.
 */
async function composed() {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-caching-target-'))
  dirs.push(dir)
  const layout = await OciLayout.open(dir, { create: true })
  const state = await CacheState.open(dir, silentLogger)
  const stats = new CacheStats()
  const eviction = new Eviction(layout, state, {}, silentLogger, stats)
  const flights = new BlobFlights(layout, stats, eviction, silentLogger)
  const parts = { layout, state, flights, stats, ttlMs: 60_000, logger: silentLogger }
  const upstream = new MemoryTarget('upstream/team/app')
  const image = syntheticImage({ layerSizes: [300_000, 2048] })
  await pushImage(upstream, image, '1.0')
  const { target, calls } = tracking(upstream)
  const cached = (key = 'up/team/app') => new CachingTarget(target, parts, key)
  return { layout, state, flights, image, calls, cached }
}

describe('CachingTarget: an upstream target composed with a layout as its cache', () => {
  it('reads upstream once, storing what passes; after that the cache answers and upstream is not asked', async () => {
    const { layout, flights, image, calls, cached } = await composed()
    const target = cached()
    const m = await target.fetchManifest('1.0')
    expect(m.digest).toBe(image.manifest.digest)
    for (const b of [image.config, ...image.layers]) {
      expect((await readAll(await target.fetchBlob(b.desc))).equals(b.bytes)).toBe(true)
      // The reader's last byte came once the bytes verified; the store has them once renamed into place.
      await flights.settled()
      expect(await layout.hasBlob(b.desc.digest as Digest)).toBe(true)
    }
    expect(calls.count('fetchManifest')).toBe(1)
    expect(calls.count('fetchBlob')).toBe(1 + image.layers.length)
    calls.reset()
    // Within the TTL, the tag, the manifest and every blob come from the cache.
    expect((await target.fetchManifest('1.0')).digest).toBe(image.manifest.digest)
    expect((await target.resolve(image.manifest.digest)).size).toBe(image.manifest.bytes.byteLength)
    for (const b of [image.config, ...image.layers]) {
      expect((await readAll(await target.fetchBlob(b.desc))).equals(b.bytes)).toBe(true)
    }
    expect(calls.calls).toEqual([])
  })

  it('shares one upstream read among concurrent readers of a blob, each given every byte', async () => {
    const { image, calls, cached } = await composed()
    const target = cached()
    await target.fetchManifest('1.0')
    const layer = image.layers[0]!
    const got = await Promise.all(
      Array.from({ length: 4 }, async () => readAll(await target.fetchBlob(layer.desc))),
    )
    for (const bytes of got) expect(bytes.equals(layer.bytes)).toBe(true)
    expect(calls.count('fetchBlob', layer.desc.digest)).toBe(1)
  })

  it('gives a blob the size only a manifest of its own repository states', async () => {
    const { image, cached } = await composed()
    await cached().fetchManifest('1.0')
    const layer = image.layers[0]!.desc
    expect(cached().blobSize(layer.digest as Digest)).toBe(layer.size)
    expect(cached('up/other/app').blobSize(layer.digest as Digest)).toBeUndefined()
  })

  it('says NOT_FOUND, naming upstream, for what upstream does not have; nothing is recorded', async () => {
    const { state, cached } = await composed()
    const err = await cached()
      .fetchManifest('nope')
      .catch((e: unknown) => e)
    expect(isFerryError(err, 'NOT_FOUND')).toBe(true)
    expect((err as Error).message).toBe('upstream/team/app:nope: not found upstream')
    expect(state.tagKeys()).toEqual([])
  })
})
