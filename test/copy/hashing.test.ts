import { Hash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Manifest } from '../../src/oci/manifest.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { copyReference } from '../../src/targets/copy-reference.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

/** Bytes passed to any SHA-256/512 hash in this process while `fn` runs. */
async function bytesHashed(fn: () => Promise<unknown>): Promise<number> {
  const update = Hash.prototype.update
  let n = 0
  Hash.prototype.update = function (this: Hash, data: unknown, ...rest: unknown[]) {
    n += typeof data === 'string' ? Buffer.byteLength(data) : (data as Uint8Array).byteLength
    return (update as (...a: unknown[]) => Hash).call(this, data, ...rest)
  } as typeof update
  try {
    await fn()
  } finally {
    Hash.prototype.update = update
  }
  return n
}

const blobBytes = (m: Manifest) =>
  m.kind === 'image' ? m.image.config.size + m.image.layers.reduce((a, l) => a + l.size, 0) : 0

// Hashing is the largest CPU item of a big copy (bench/README.md): every Target verifies what it stores,
// so the source's bytes need no second hash on the way.
describe('copy hashes each blob byte once', () => {
  let source: Distribution
  let destination: Distribution
  let image: Manifest
  let dir: string
  const run = { journal: false as const }

  beforeAll(async () => {
    ;[source, destination] = await Promise.all([startDistribution(), startDistribution()])
    const client = new RegistryClient()
    // 3 MiB layers go up in PATCHes (over the 1 MiB whole-upload limit), the config whole.
    image = await pushSyntheticImage(
      client.repository({ registry: source.host, repository: 'hash/app' }),
      { seed: 'hash-once', layers: 2, layerSize: 3 * 1024 * 1024 },
      '1.0',
    )
    await client.close()
    dir = await mkdtemp(join(tmpdir(), 'ferry-hash-once-'))
  })
  afterAll(async () => {
    await Promise.all([source?.stop(), destination?.stop()])
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  // Manifests are hashed as well (a few KiB, each more than once); blobs must not be hashed twice.
  const once = (hashed: number) => {
    expect(hashed).toBeGreaterThanOrEqual(blobBytes(image))
    expect(hashed).toBeLessThan(blobBytes(image) + 256 * 1024)
  }

  it('registry to registry', async () => {
    once(
      await bytesHashed(() =>
        copyReference(testContext(), `${source.host}/hash/app:1.0`, `${destination.host}/r2r/app:1.0`, run),
      ),
    )
  })

  it('registry into an OCI layout, and from it into a registry', async () => {
    const layout = `oci:${join(dir, 'layout')}:app`
    once(await bytesHashed(() => copyReference(testContext(), `${source.host}/hash/app:1.0`, layout, run)))
    once(
      await bytesHashed(() => copyReference(testContext(), layout, `${destination.host}/l2r/app:1.0`, run)),
    )
  })
})
