import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import type { RegistryRepository } from '../../src/registry/repository.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, faultOnNth, faultTimes, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushImage, randomBlob, readAll, streamOf, syntheticImage } from '../helpers/registry-fixtures.js'
import { captureLogger } from './log-capture.js'

// Real networks fail at random; the fault proxy makes each failure happen on purpose, in front of
// the real registry, so the client's answer to it can be counted.
describe('retries, resumption and verification under injected faults', () => {
  let reg: Distribution
  let proxy: FaultProxy
  let client: RegistryClient
  let repo: RegistryRepository
  const log = captureLogger()
  const image = syntheticImage({ layerSizes: [300_000] })
  const count = (method: string, path: RegExp) =>
    proxy.seen.filter((r) => r.method === method && path.test(r.path)).length

  beforeAll(async () => {
    reg = await startDistribution()
    proxy = await startFaultProxy(reg.url)
    client = new RegistryClient({
      logger: log,
      chunkSize: 100_000,
      retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 50, maxElapsedMs: 10_000 },
    })
    repo = client.repository({ registry: proxy.host, repository: 'faults/app' })
    await pushImage(repo, image, 'v1')
  })
  afterEach(() => {
    proxy.setRule(undefined)
    proxy.seen.length = 0
    log.clear()
  })
  afterAll(async () => {
    await client?.close()
    await proxy?.stop()
    await reg?.stop()
  })

  it('retries a GET after a connection reset', async () => {
    proxy.setRule(faultTimes('GET', /manifests\/v1/, 2, { kind: 'reset' }))
    expect((await repo.fetchManifest('v1')).digest).toBe(image.manifest.digest)
    expect(count('GET', /manifests\/v1/)).toBe(3)
    expect(log.lines.some((l) => /retry 2/.test(l))).toBe(true)
  })

  it('retries 503 and 500 on reads, not 500 on a manifest PUT', async () => {
    proxy.setRule(faultTimes('HEAD', /manifests\/v1/, 2, { kind: 'status', status: 503 }))
    expect((await repo.resolve('v1')).digest).toBe(image.manifest.digest)
    expect(count('HEAD', /manifests\/v1/)).toBe(3)
    proxy.setRule(faultTimes('GET', /manifests\/v1/, 1, { kind: 'status', status: 500 }))
    await repo.fetchManifest('v1')
    expect(count('GET', /manifests\/v1/)).toBe(2)
    proxy.setRule(faultTimes('PUT', /manifests\/v2/, 1, { kind: 'status', status: 500 }))
    await expect(repo.tag(image.manifest, 'v2')).rejects.toMatchObject({ code: 'REGISTRY' })
    expect(count('PUT', /manifests\/v2/)).toBe(1)
  })

  it('honours Retry-After on 429', async () => {
    proxy.setRule(
      faultTimes('GET', /manifests\/v1/, 1, { kind: 'status', status: 429, headers: { 'retry-after': '1' } }),
    )
    const started = Date.now()
    await repo.fetchManifest('v1')
    const elapsed = Date.now() - started
    expect(elapsed).toBeGreaterThanOrEqual(950)
    expect(elapsed).toBeLessThan(5000)
    expect(count('GET', /manifests\/v1/)).toBe(2)
    expect(log.lines.some((l) => /429.*Retry-After/.test(l))).toBe(true)
  })

  it('gives up after the attempt bound, naming the host', async () => {
    proxy.setRule(() => ({ kind: 'reset' }))
    const err = await repo.fetchManifest('v1').catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NETWORK' })
    expect((err as Error).message).toContain(proxy.host)
    expect(count('GET', /manifests\/v1/)).toBe(4)
    proxy.setRule(() => ({ kind: 'status', status: 429, headers: { 'retry-after': '3600' } }))
    await expect(repo.fetchManifest('v1')).rejects.toMatchObject({ code: 'TOO_MANY_REQUESTS' })
  })

  it('resumes a blob download cut halfway with Range, and still verifies', async () => {
    const layer = image.layers[0]!
    proxy.setRule(faultTimes('GET', /blobs\/sha256/, 1, { kind: 'cut', after: 120_000 }))
    expect(await readAll(await repo.fetchBlob(layer.desc))).toEqual(layer.bytes)
    const gets = proxy.seen.filter((r) => r.method === 'GET' && /blobs\/sha256/.test(r.path))
    expect(gets).toHaveLength(2)
    expect(gets[0]!.headers.range).toBeUndefined()
    expect(gets[1]!.headers.range).toMatch(/^bytes=\d+-$/)
    expect(Number(/\d+/.exec(gets[1]!.headers.range!)![0])).toBeGreaterThan(0)
  })

  it('refuses an altered blob with DIGEST_MISMATCH', async () => {
    proxy.setRule(faultTimes('GET', /blobs\/sha256/, 1, { kind: 'alter' }))
    const stream = await repo.fetchBlob(image.layers[0]!.desc)
    await expect(readAll(stream)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' })
  })

  it('gives up resuming after the bound of tries without progress', async () => {
    let gets = 0
    proxy.setRule((r) =>
      r.method === 'GET' && /blobs\/sha256/.test(r.path)
        ? { kind: 'cut', after: gets++ ? 0 : 1000 }
        : undefined,
    )
    const stream = await repo.fetchBlob(image.layers[0]!.desc)
    await expect(readAll(stream)).rejects.toMatchObject({ code: 'NETWORK' })
    // 1000 bytes renew the budget once; then the retries of a budget of 4 tries, none delivering a byte.
    expect(count('GET', /blobs\/sha256/)).toBe(4)
  })

  it('finishes a download cut again and again past the whole retry budget, as long as bytes arrive', async () => {
    // The budget is 400 ms and 3 tries; every connection stalls 250 ms after 50 kB and then dies, so
    // the 300 kB layer takes six connections and about 1.5 s. Only a budget renewed by progress survives.
    const budget = { attempts: 3, baseDelayMs: 5, maxDelayMs: 10, maxElapsedMs: 400 }
    const slow = new RegistryClient({ logger: log, retry: budget })
    try {
      proxy.setRule((r) =>
        r.method === 'GET' && /blobs\/sha256/.test(r.path)
          ? { kind: 'cut', after: 50_000, afterMs: 250 }
          : undefined,
      )
      const layer = image.layers[0]!
      const started = Date.now()
      expect(
        await readAll(
          await slow.repository({ registry: proxy.host, repository: 'faults/app' }).fetchBlob(layer.desc),
        ),
      ).toEqual(layer.bytes)
      expect(Date.now() - started).toBeGreaterThan(3 * budget.maxElapsedMs)
      const gets = proxy.seen.filter((r) => r.method === 'GET' && /blobs\/sha256/.test(r.path))
      expect(gets.map((r) => r.headers.range)).toEqual([
        undefined,
        ...[1, 2, 3, 4, 5].map((i) => `bytes=${i * 50_000}-`),
      ])
      // The same link delivering nothing runs out of the same budget after 3 tries.
      proxy.seen.length = 0
      proxy.setRule((r) =>
        r.method === 'GET' && /blobs\/sha256/.test(r.path)
          ? { kind: 'cut', after: 0, afterMs: 50 }
          : undefined,
      )
      const stuck = await slow
        .repository({ registry: proxy.host, repository: 'faults/app' })
        .fetchBlob(layer.desc)
      await expect(readAll(stuck)).rejects.toMatchObject({ code: 'NETWORK' })
      expect(count('GET', /blobs\/sha256/)).toBe(3)
    } finally {
      await slow.close()
    }
  })

  it('does not re-PUT a manifest whose answer was lost but which was stored', async () => {
    const other = syntheticImage()
    for (const b of [other.config, ...other.layers]) await repo.pushBlob(b.desc, streamOf(b.bytes))
    proxy.setRule(faultTimes('PUT', /manifests\/lost/, 1, { kind: 'lose-answer' }))
    await repo.tag(other.manifest, 'lost')
    expect(count('PUT', /manifests\/lost/)).toBe(1)
    expect(count('HEAD', /manifests\/lost/)).toBe(1)
    expect((await repo.resolve('lost')).digest).toBe(other.manifest.digest)
  })

  it('re-PUTs a manifest that never reached the registry', async () => {
    proxy.setRule(faultTimes('PUT', /manifests\/retried/, 1, { kind: 'reset' }))
    await repo.tag(image.manifest, 'retried')
    expect(count('PUT', /manifests\/retried/)).toBe(2)
    expect(count('HEAD', /manifests\/retried/)).toBe(1)
    expect((await repo.resolve('retried')).digest).toBe(image.manifest.digest)
  })

  it('finishes a monolithic upload whose final PUT answer was lost, without sending it again', async () => {
    const blob = randomBlob(5_000)
    proxy.setRule(faultTimes('PUT', /blobs\/uploads/, 1, { kind: 'lose-answer' }))
    await repo.pushBlob(blob.desc, streamOf(blob.bytes))
    expect(count('PUT', /blobs\/uploads/)).toBe(1)
    expect(count('HEAD', /blobs\/sha256/)).toBe(1)
    expect(await readAll(await repo.fetchBlob(blob.desc))).toEqual(blob.bytes)
  })

  it('resumes a chunked upload from the offset the registry reports after a failed PATCH', async () => {
    const blob = randomBlob(350_000)
    let patches = 0
    proxy.setRule((r) => (r.method === 'PATCH' && ++patches === 2 ? { kind: 'reset' } : undefined))
    await repo.pushBlob(blob.desc, streamOf(blob.bytes, 32 * 1024))
    expect(count('PATCH', /blobs\/uploads/)).toBe(5)
    expect(count('GET', /blobs\/uploads/)).toBe(1)
    expect(count('POST', /blobs\/uploads/)).toBe(1)
    expect(log.lines.some((l) => /registry holds 100000 bytes/.test(l))).toBe(true)
    expect(await readAll(await repo.fetchBlob(blob.desc))).toEqual(blob.bytes)
  })

  it('continues a resumed session that the registry then loses in a new session from byte 0, verified whole', async () => {
    const blob = randomBlob(350_000)
    let session: { location: string; offset: number } | undefined
    // First run: the link dies for good after two chunks.
    let patches = 0
    proxy.setRule((r) => (r.method === 'PATCH' && ++patches > 2 ? { kind: 'reset' } : undefined))
    await expect(
      repo.pushBlob(blob.desc, streamOf(blob.bytes), { onSession: (s) => (session = s) }),
    ).rejects.toMatchObject({ code: 'NETWORK' })
    expect(session?.offset).toBe(200_000)
    // Second run: the first PATCH delivers 30 kB and is cut; distribution drops the session.
    proxy.seen.length = 0
    proxy.setRule(faultOnNth('PATCH', /blobs\/uploads/, 1, { kind: 'cut-request', after: 30_000 }))
    const reads: number[] = []
    await repo.pushBlobFrom(blob.desc, session!.location, 200_000, streamOf(blob.bytes.subarray(200_000)), {
      reopen: async (offset) => {
        reads.push(offset)
        return streamOf(blob.bytes.subarray(offset))
      },
    })
    expect(reads).toEqual([0])
    expect(count('POST', /blobs\/uploads/)).toBe(1)
    expect(proxy.seen.filter((r) => r.method === 'PATCH').map((r) => r.headers['content-range'])).toEqual([
      '200000-299999',
      '0-99999',
      '100000-199999',
      '200000-299999',
      '300000-349999',
    ])
    expect(log.lines.some((l) => l.includes('lost the upload session, starting a new one from byte 0'))).toBe(
      true,
    )
    expect(await readAll(await repo.fetchBlob(blob.desc))).toEqual(blob.bytes)
  })

  it('restarts a chunked upload whose first PATCH was applied but unanswered', async () => {
    const blob = randomBlob(250_000)
    proxy.setRule(faultTimes('PATCH', /blobs\/uploads/, 1, { kind: 'lose-answer' }))
    await repo.pushBlob(blob.desc, streamOf(blob.bytes))
    expect(await readAll(await repo.fetchBlob(blob.desc))).toEqual(blob.bytes)
  })
})
