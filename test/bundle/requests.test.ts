import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { loadBundleSpec } from '../../src/bundle/spec.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushCosignStyleSignature } from '../helpers/registry-fixtures.js'
import { countRequests } from '../helpers/request-count.js'
import { tempDir } from './helpers.js'

/**
 * What `bundle create` asks the source: each blob once (a config is read to plan the bundle and written
 * from those bytes, not fetched again), and no attachment tag the repository's listing shows absent.
 * The proxy (no faults) only counts. Twelve images share their two layers and differ by config; one
 * carries a cosign signature.
 */
const IMAGES = 12

describe('bundle create: requests', () => {
  let source: Distribution
  let proxy: FaultProxy
  let tmp: Awaited<ReturnType<typeof tempDir>>

  beforeAll(async () => {
    source = await startDistribution()
    proxy = await startFaultProxy(source.url)
    tmp = await tempDir('requests')
    const client = new RegistryClient()
    const repo = client.repository({ registry: source.host, repository: 'acme/app' })
    const layers = { seed: 'bundle-requests', layers: 2, layerSize: 4096 }
    for (let i = 0; i < IMAGES; i++) {
      const m = await pushSyntheticImage(repo, { ...layers, labels: { n: String(i) } }, `1.${i}.0`)
      if (i === 0) await pushCosignStyleSignature(repo, m)
    }
    await client.close()
  }, 120_000)
  afterAll(async () => {
    await proxy?.stop()
    await source?.stop()
    await tmp?.cleanup()
  })

  it('each blob fetched once; attachment tags asked only where listed', async () => {
    const specFile = join(tmp.dir, 'spec.yaml')
    await writeFile(
      specFile,
      [
        'name: app',
        'version: "1"',
        'images:',
        `  - ref: ${proxy.host}/acme/app`,
        '    tags: { semver: ">=1" }',
        '',
      ].join('\n'),
    )
    const result = await createBundle(testContext(), await loadBundleSpec(specFile), {
      output: join(tmp.dir, 'app.tar'),
    })
    expect(result.images).toHaveLength(IMAGES)
    const blobGets = proxy.seen.filter((r) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.path))
    const perBlob = new Map<string, number>()
    for (const r of blobGets) perBlob.set(r.path, (perBlob.get(r.path) ?? 0) + 1)
    // Two shared layers, twelve configs, and the signature's config and layer.
    expect(perBlob.size).toBe(2 + IMAGES + 2)
    expect([...perBlob].filter(([, n]) => n > 1)).toEqual([])
    // The listing; each image's manifest by tag; the signature (found in the listing) by HEAD, then GET;
    // the registry's referrers support probed once (distribution 2.8 has no API: the listing, which shows
    // no `sha256-HEX` index, then answers for every image).
    // Before: 3 cosign tags HEADed per image, and each config fetched twice.
    expect(countRequests(proxy.seen)).toEqual({
      'GET tags': 1,
      'GET manifest': IMAGES + 1,
      'HEAD manifest': 1,
      'GET referrers': 1,
      'GET blob': 2 + IMAGES + 2,
    })
  })
})
