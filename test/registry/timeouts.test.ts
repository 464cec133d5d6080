import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient, type RegistryOptions } from '../../src/registry/index.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushImage, readAll, syntheticImage } from '../helpers/registry-fixtures.js'

// A registry that crawls or goes silent, made real by the fault proxy in front of distribution.
describe('idle timeout and low-speed limit', { timeout: 120_000 }, () => {
  let reg: Distribution
  let proxy: FaultProxy
  const image = syntheticImage({ layerSizes: [40_000] })
  const layer = image.layers[0]!.desc
  const blobGet = (r: { method: string; path: string }) =>
    r.method === 'GET' && /\/blobs\/sha256:/.test(r.path)
  const client = (limits: RegistryOptions['limits']) =>
    new RegistryClient({ limits, retry: { attempts: 2, baseDelayMs: 10, maxDelayMs: 20 } })

  beforeAll(async () => {
    reg = await startDistribution()
    proxy = await startFaultProxy(reg.url)
    const c = new RegistryClient()
    await pushImage(c.repository({ registry: reg.host, repository: 'slow/app' }), image, 'v1')
    await c.close()
  })
  afterEach(() => proxy.setRule(undefined))
  afterAll(async () => {
    await proxy?.stop()
    await reg?.stop()
  })

  it('fails a blob served at 20 bytes/s with a NETWORK error naming the registry', async () => {
    proxy.setRule((r) => (blobGet(r) ? { kind: 'trickle', bytesPerSecond: 20 } : undefined))
    const c = client({ lowSpeedBytes: 1000, lowSpeedWindowMs: 1000 })
    const started = Date.now()
    try {
      const repo = c.repository({ registry: proxy.host, repository: 'slow/app' })
      await expect(readAll(await repo.fetchBlob(layer))).rejects.toMatchObject({
        code: 'NETWORK',
        message: expect.stringMatching(
          new RegExp(
            `${proxy.host}: transfer too slow: \\d+ bytes in 1 s, under the low-speed limit of 1000 bytes per 1 s`,
          ),
        ),
      })
    } finally {
      await c.close()
    }
    // One window, not a resumption per window: a crawl that makes progress would otherwise never end.
    expect(Date.now() - started).toBeLessThan(5000)
    expect(proxy.seen.filter(blobGet)).toHaveLength(1)
  })

  it('lets a slow but steady download through', async () => {
    proxy.seen.length = 0
    proxy.setRule((r) => (blobGet(r) ? { kind: 'trickle', bytesPerSecond: 20_000 } : undefined))
    const c = client({ lowSpeedBytes: 1000, lowSpeedWindowMs: 1000 })
    try {
      const bytes = await readAll(
        await c.repository({ registry: proxy.host, repository: 'slow/app' }).fetchBlob(layer),
      )
      expect(bytes.length).toBe(40_000)
    } finally {
      await c.close()
    }
  })

  it('fails a silent registry after the idle timeout, not after 300 s', async () => {
    proxy.setRule((r) => (r.path.includes('/manifests/') ? { kind: 'hold', ms: 60_000 } : undefined))
    const c = client({ idleTimeoutMs: 500 })
    const started = Date.now()
    try {
      await expect(
        c.repository({ registry: proxy.host, repository: 'slow/app' }).fetchManifest('v1'),
      ).rejects.toMatchObject({
        code: 'NETWORK',
        message: expect.stringContaining(
          `${proxy.host}: no answer within the idle timeout (UND_ERR_HEADERS_TIMEOUT)`,
        ),
      })
    } finally {
      await c.close()
    }
    expect(Date.now() - started).toBeLessThan(5000)
  })

  it('a sync stuck on a crawling registry fails and releases its lock', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-slow-sync-'))
    try {
      const spec = join(dir, 'mirror.yaml')
      await writeFile(
        spec,
        `version: 1\ntarget: ${reg.host}/mirror\nimages:\n  - source: ${proxy.host}/slow/app:v1\n`,
      )
      proxy.setRule((r) => (blobGet(r) ? { kind: 'trickle', bytesPerSecond: 5 } : undefined))
      const env = {
        XDG_STATE_HOME: join(dir, 'state'),
        FERRY_REGISTRY_LOW_SPEED_LIMIT: '500',
        FERRY_REGISTRY_LOW_SPEED_TIME: '1',
      }
      const stuck = await ferry(['sync', spec], { env })
      // One image failed: sync's exit code 1, the image's row names the registry and the reason.
      expect(stuck.code).toBe(1)
      expect(stuck.stdout).toMatch(
        new RegExp(`^failed .*slow/app:v1 .* ${proxy.host}: transfer too slow`, 'm'),
      )
      expect(await readdir(join(dir, 'state', 'ferry', 'locks'))).toEqual([])
      proxy.setRule(undefined)
      const again = await ferry(['sync', spec], { env })
      expect([again.code, again.stderr]).toEqual([0, ''])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
