import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Digest } from '../../src/oci/digest.js'
import { RegistryClient } from '../../src/registry/index.js'
import type { RegistryRepository } from '../../src/registry/repository.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, faultTimes, type Rule, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushImage, randomBlob, readAll, streamOf, syntheticImage } from '../helpers/registry-fixtures.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { captureLogger } from './log-capture.js'

// The budget is one per operation, whichever layer spends it: the HTTP layer's retries, a download's
// Range resumption, an upload's PATCH loop and a token fetch all draw on it, so a registry that never
// recovers gets `attempts` requests, not attempts × attempts. The fault proxy answers 503 (or drops the
// connection) itself, in front of the real registry: injected faults, which no real registry on loopback
// produces on demand.
const ATTEMPTS = 3
const retry = { attempts: ATTEMPTS, baseDelayMs: 1, maxDelayMs: 5, maxElapsedMs: 10_000 }
const always =
  (method: string, path: RegExp, fault: ReturnType<Rule> = { kind: 'status', status: 503 }): Rule =>
  (r) =>
    r.method === method && path.test(r.path) ? fault : undefined

describe('a registry that always answers 503 gets exactly the configured attempts', () => {
  let reg: Distribution
  let proxy: FaultProxy
  let client: RegistryClient
  let repo: RegistryRepository
  const log = captureLogger()
  const image = syntheticImage({ layerSizes: [250_000] })
  const count = (method: string, path: RegExp) =>
    proxy.seen.filter((r) => r.method === method && path.test(r.path)).length

  beforeAll(async () => {
    reg = await startDistribution()
    proxy = await startFaultProxy(reg.url)
    client = new RegistryClient({ logger: log, chunkSize: 100_000, retry })
    repo = client.repository({ registry: proxy.host, repository: 'budget/app' })
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

  it('manifest GET', async () => {
    proxy.setRule(always('GET', /manifests\/v1/))
    await expect(repo.fetchManifest('v1')).rejects.toMatchObject({ status: 503 })
    expect(count('GET', /manifests\/v1/)).toBe(ATTEMPTS)
  })

  it('manifest PUT', async () => {
    proxy.setRule(always('PUT', /manifests\//))
    await expect(repo.tag(image.manifest, 'put-503')).rejects.toMatchObject({ status: 503 })
    expect(count('PUT', /manifests\/put-503/)).toBe(ATTEMPTS)
  })

  it('blob GET', async () => {
    proxy.setRule(always('GET', /blobs\/sha256/))
    await expect(repo.fetchBlob(image.layers[0]!.desc)).rejects.toMatchObject({ status: 503 })
    expect(count('GET', /blobs\/sha256/)).toBe(ATTEMPTS)
  })

  it('blob upload: the POST that opens the session', async () => {
    proxy.setRule(always('POST', /blobs\/uploads/))
    const blob = randomBlob(5_000)
    await expect(repo.pushBlob(blob.desc, streamOf(blob.bytes))).rejects.toMatchObject({ status: 503 })
    expect(count('POST', /blobs\/uploads/)).toBe(ATTEMPTS)
  })

  it('blob upload: a PATCH, its chunk held in memory', async () => {
    proxy.setRule(always('PATCH', /blobs\/uploads/))
    const blob = randomBlob(250_000)
    await expect(repo.pushBlob(blob.desc, streamOf(blob.bytes))).rejects.toMatchObject({ status: 503 })
    expect(count('PATCH', /blobs\/uploads/)).toBe(ATTEMPTS)
  })

  it('blob upload: a PATCH streamed from a source that can be read again', async () => {
    proxy.setRule(always('PATCH', /blobs\/uploads/))
    const blob = randomBlob(250_000)
    const reopen = async (offset: number) => streamOf(blob.bytes.subarray(offset))
    await expect(repo.pushBlob(blob.desc, streamOf(blob.bytes), { reopen })).rejects.toMatchObject({
      status: 503,
    })
    expect(count('PATCH', /blobs\/uploads/)).toBe(ATTEMPTS)
  })

  it('blob upload: the PUT that commits a whole small blob', async () => {
    proxy.setRule(always('PUT', /blobs\/uploads/))
    const blob = randomBlob(5_000)
    await expect(repo.pushBlob(blob.desc, streamOf(blob.bytes))).rejects.toMatchObject({ status: 503 })
    expect(count('PUT', /blobs\/uploads/)).toBe(ATTEMPTS)
  })

  it('blob upload: the PUT that commits a chunked upload', async () => {
    proxy.setRule(always('PUT', /blobs\/uploads/))
    const blob = randomBlob(250_000)
    await expect(repo.pushBlob(blob.desc, streamOf(blob.bytes))).rejects.toMatchObject({ status: 503 })
    expect(count('PUT', /blobs\/uploads/)).toBe(ATTEMPTS)
  })

  it('tags list', async () => {
    proxy.setRule(always('GET', /tags\/list/))
    await expect(repo.listTags()).rejects.toMatchObject({ status: 503 })
    expect(count('GET', /tags\/list/)).toBe(ATTEMPTS)
  })

  it('referrers list', async () => {
    proxy.setRule(always('GET', /referrers\//))
    await expect(repo.referrers(image.manifest.digest as Digest)).rejects.toMatchObject({ status: 503 })
    expect(count('GET', /referrers\//)).toBe(ATTEMPTS)
  })

  it('a 503 and then a 200 is two requests', async () => {
    proxy.setRule(faultTimes('GET', /manifests\/v1/, 1, { kind: 'status', status: 503 }))
    expect((await repo.fetchManifest('v1')).digest).toBe(image.manifest.digest)
    expect(count('GET', /manifests\/v1/)).toBe(2)
    // One form for every retry line: what, why, which try, how long.
    expect(log.lines).toContainEqual(
      expect.stringMatching(/^GET \S+manifests\/v1: HTTP 503, retry 2 of 3 in \d+ ms$/),
    )
  })

  // Where a failed write may have landed, the check is one read, not a loop of its own.
  it('manifest PUT on a link that drops every connection: one HEAD per PUT', async () => {
    proxy.setRule(() => ({ kind: 'reset' }))
    await expect(repo.tag(image.manifest, 'put-reset')).rejects.toMatchObject({ code: 'NETWORK' })
    expect(count('PUT', /manifests\/put-reset/)).toBe(ATTEMPTS)
    expect(count('HEAD', /manifests\/put-reset/)).toBe(ATTEMPTS)
  })

  it('blob upload POST on a link that drops every connection: a new session is one more try, not another loop', async () => {
    proxy.setRule(always('POST', /blobs\/uploads/, { kind: 'reset' }))
    const blob = randomBlob(5_000)
    await expect(repo.pushBlob(blob.desc, streamOf(blob.bytes))).rejects.toMatchObject({ code: 'NETWORK' })
    expect(count('POST', /blobs\/uploads/)).toBe(ATTEMPTS)
  })

  it('a manifest GET whose connections die now before the answer, now in its body', async () => {
    let n = 0
    proxy.setRule((r) =>
      r.method === 'GET' && /manifests\/v1/.test(r.path)
        ? n++ % 2 === 0
          ? { kind: 'reset' }
          : { kind: 'cut', after: 10 }
        : undefined,
    )
    await expect(repo.fetchManifest('v1')).rejects.toMatchObject({ code: 'NETWORK' })
    expect(count('GET', /manifests\/v1/)).toBe(ATTEMPTS)
  })

  it('a blob GET resumed with Range, its reopenings refused: one budget for both', async () => {
    let n = 0
    proxy.setRule((r) => {
      if (r.method !== 'GET' || !/blobs\/sha256/.test(r.path)) return undefined
      n++
      if (n === 1) return { kind: 'cut', after: 1000 }
      return n % 2 === 0 ? { kind: 'reset' } : { kind: 'cut', after: 0 }
    })
    const stream = await repo.fetchBlob(image.layers[0]!.desc)
    await expect(readAll(stream)).rejects.toMatchObject({ code: 'NETWORK' })
    // The first 1000 bytes renew the budget, the connection that brought them counting as its first try;
    // then the budget's other tries, resumptions and the HTTP layer's retries of them alike.
    expect(count('GET', /blobs\/sha256/)).toBe(ATTEMPTS)
  })
})

describe('a token service that always fails', () => {
  let tokens: TokenServer
  let proxy: FaultProxy
  let reg: Distribution

  beforeAll(async () => {
    tokens = await startTokenServer({ service: 'ferry-registry', users: {} })
    const realm = new URL(tokens.realm)
    proxy = await startFaultProxy(realm.origin)
    reg = await startDistribution({
      token: {
        realm: `${proxy.url}${realm.pathname}`,
        service: tokens.service,
        issuer: tokens.issuer,
        rootCertBundle: tokens.rootCertBundle,
      },
    })
  })
  afterEach(() => {
    proxy.setRule(undefined)
    proxy.seen.length = 0
  })
  afterAll(async () => {
    await reg?.stop()
    await proxy?.stop()
    await tokens?.stop()
  })

  const fetchWith = async (rule: Rule) => {
    proxy.setRule(rule)
    const client = new RegistryClient({ retry })
    try {
      return await client
        .repository({ registry: reg.host, repository: 'budget/app' })
        .fetchManifest('v1')
        .catch((e: unknown) => e)
    } finally {
      await client.close()
    }
  }

  it('answering 503 gets exactly the configured attempts', async () => {
    expect(await fetchWith(() => ({ kind: 'status', status: 503 }))).toMatchObject({ code: 'REGISTRY' })
    expect(proxy.seen).toHaveLength(ATTEMPTS)
  })

  it('dropping every connection gets exactly the configured attempts', async () => {
    expect(await fetchWith(() => ({ kind: 'reset' }))).toMatchObject({ code: 'NETWORK' })
    expect(proxy.seen).toHaveLength(ATTEMPTS)
  })
})
