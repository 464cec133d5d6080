import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { OciLayout } from '../../../src/layout/index.js'
import { silentLogger } from '../../../src/log.js'
import type { Digest } from '../../../src/oci/digest.js'
import { CacheState } from '../../../src/serve/upstream/cache-state.js'
import { CacheStats } from '../../../src/serve/upstream/cache-stats.js'
import { Eviction } from '../../../src/serve/upstream/eviction.js'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true })
})

/** A cache of two images of one 1000-byte layer each (manifests of 100 bytes), over a 1500-byte limit. */
async function fullCache(inUseMs?: number) {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-eviction-'))
  dirs.push(dir)
  const layout = await OciLayout.open(dir, { create: true })
  const put = async (text: string, size: number) => {
    const bytes = Buffer.alloc(size, text)
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}` as Digest
    await mkdir(dirname(layout.blobPath(digest)), { recursive: true })
    await writeFile(layout.blobPath(digest), bytes)
    return digest
  }
  const state = await CacheState.open(dir, silentLogger)
  const image = async (name: string, pulled: number) => {
    const layer = await put(`${name}-layer`, 1000)
    const manifest = await put(`${name}-manifest`, 100)
    state.setManifest(manifest, { mediaType: 'x', blobs: { [layer]: 1000 }, manifests: [] }, `up/${name}`)
    state.touch(manifest, pulled)
    state.touch(layer, pulled)
    return { manifest, layer }
  }
  const now = Date.now()
  const a = await image('a', now - 60_000)
  const b = await image('b', now - 30_000)
  const eviction = new Eviction(layout, state, { maxBytes: 1500, inUseMs }, silentLogger, new CacheStats())
  const stored = async () => (await readdir(join(dir, 'blobs', 'sha256'))).map((h) => `sha256:${h}`)
  return { state, eviction, a, b, now, stored }
}

describe('cache eviction under --cache-max-size', () => {
  it('keeps a manifest served within the in-use window, though the cache stays over its limit', async () => {
    const { state, eviction, a, b, now, stored } = await fullCache()
    await eviction.sweep(now)
    expect(state.manifest(a.manifest)).toBeDefined()
    expect(state.manifest(b.manifest)).toBeDefined()
    expect(await stored()).toHaveLength(4)
    // Past the window, the least recently pulled goes, and its blobs with it.
    await eviction.sweep(now + 10 * 60_000)
    expect(state.manifest(a.manifest)).toBeUndefined()
    expect(state.manifest(b.manifest)).toBeDefined()
    expect(await stored()).toEqual(expect.not.arrayContaining([a.manifest, a.layer]))
  })

  it('keeps a manifest one of whose blobs a client is reading, however long ago it was served', async () => {
    const { state, eviction, a, b, now } = await fullCache(0)
    // a was served before b: without the read, a would go first.
    const release = eviction.reading(a.layer)
    await eviction.sweep(now)
    release()
    expect(state.manifest(a.manifest)).toBeDefined()
    expect(state.manifest(b.manifest)).toBeUndefined()
  })
})
