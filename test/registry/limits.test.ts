import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushImage, syntheticImage } from '../helpers/registry-fixtures.js'

// The proxy holds every request 100 ms before handing it to the real registry, and counts how many
// it has open at once: what the registry would see from ferry under load.
describe('requests in flight per registry host', () => {
  let reg: Distribution
  let proxy: FaultProxy
  const image = syntheticImage()

  beforeAll(async () => {
    reg = await startDistribution()
    proxy = await startFaultProxy(reg.url)
    const client = new RegistryClient()
    await pushImage(client.repository({ registry: reg.host, repository: 'limits/app' }), image, 'v1')
    await client.close()
    proxy.setRule(() => ({ kind: 'hold', ms: 100 }))
  })
  afterAll(async () => {
    await proxy?.stop()
    await reg?.stop()
  })

  it.each([
    ['the default', undefined, 8],
    ['requestsPerHost: 3', 3, 3],
  ])('keeps %s of requests open to one host across repository handles', async (_, perHost, peak) => {
    const client = new RegistryClient(perHost ? { requestsPerHost: perHost } : {})
    try {
      proxy.resetPeak()
      const mark = proxy.seen.length
      // 24 reads at once, over three repository handles of the one client (as sync's copies hold).
      const repos = [1, 2, 3].map(() => client.repository({ registry: proxy.host, repository: 'limits/app' }))
      await Promise.all(Array.from({ length: 24 }, (_, i) => repos[i % 3]!.resolve('v1')))
      expect(proxy.seen.length - mark).toBe(24)
      expect(proxy.peak).toBe(peak)
    } finally {
      await client.close()
    }
  })
})
