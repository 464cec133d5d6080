import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Manifest } from '../../src/oci/manifest.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { copyReference } from '../../src/targets/copy-reference.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, faultTimes, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushImage, syntheticImage } from '../helpers/registry-fixtures.js'

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  )

// The proxy injects what a real network does to long transfers (connections cut mid-body); no real
// part produces that on demand on loopback.
describe('copy under faults', () => {
  let source: Distribution
  let destination: Distribution
  let proxy: FaultProxy
  let image: Manifest
  const fast = { retry: { attempts: 3, baseDelayMs: 5, maxDelayMs: 20 } }

  beforeAll(async () => {
    ;[source, destination] = await Promise.all([startDistribution(), startDistribution()])
    proxy = await startFaultProxy(source.url)
    const client = new RegistryClient()
    image = await pushSyntheticImage(
      client.repository({ registry: source.host, repository: 'big/app' }),
      { seed: 'faults', layers: 3, layerSize: 3 * 1024 * 1024 },
      '1.0',
    )
    await client.close()
  })
  afterAll(async () => {
    await proxy?.stop()
    await Promise.all([source?.stop(), destination?.stop()])
  })

  it('resumes a blob cut halfway with Range, within the run', async () => {
    const layer = image.kind === 'image' ? image.image.layers[0]!.digest : ''
    proxy.setRule(faultTimes('GET', new RegExp(`/blobs/${layer}$`), 1, { kind: 'cut', after: 1024 * 1024 }))
    const result = await copyReference(
      testContext(fast),
      `${proxy.host}/big/app:1.0`,
      `${destination.host}/resumed/app:1.0`,
    )
    expect(result.destination.digest).toBe(image.digest)
    const ranged = proxy.seen.filter((r) => r.method === 'GET' && r.path.endsWith(layer) && r.headers.range)
    expect(ranged.map((r) => r.headers.range)).toEqual(['bytes=1048576-'])
  })

  it('tags nothing when a blob keeps failing, and a rerun completes with what was copied kept', async () => {
    // Every read of one layer dies before a byte arrives: no progress, so the budget runs out.
    const layer = image.kind === 'image' ? image.image.layers[0]!.digest : ''
    proxy.setRule(faultTimes('GET', new RegExp(`/blobs/${layer}$`), 1000, { kind: 'cut', after: 0 }))
    const dst = `${destination.host}/cut/app:1.0`
    await expect(copyReference(testContext(fast), `${proxy.host}/big/app:1.0`, dst)).rejects.toMatchObject({
      code: 'NETWORK',
    })
    const client = new RegistryClient()
    await expect(
      client.repository({ registry: destination.host, repository: 'cut/app' }).resolve('1.0'),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    proxy.setRule(undefined)
    const rerun = await copyReference(testContext(fast), `${proxy.host}/big/app:1.0`, dst)
    expect(rerun.destination.digest).toBe(image.digest)
    expect(
      (await client.repository({ registry: destination.host, repository: 'cut/app' }).resolve('1.0')).digest,
    ).toBe(image.digest)
    await client.close()
  })

  it('continues an upload whose connection dies mid-chunk from the registry offset, re-reading the source', async () => {
    const sink = await startFaultProxy(destination.url)
    try {
      const layer = image.kind === 'image' ? image.image.layers[0]!.digest : ''
      let patches = 0
      sink.setRule((r) => (r.method === 'PATCH' && ++patches === 2 ? { kind: 'reset' } : undefined))
      proxy.setRule(undefined)
      proxy.seen.length = 0
      const result = await copyReference(
        testContext({ ...fast, chunkSize: 1024 * 1024 }),
        `${proxy.host}/big/app:1.0`,
        `${sink.host}/midway/app:1.0`,
        { concurrency: 1, journal: false },
      )
      expect(result.destination.digest).toBe(image.digest)
      // The second PATCH died; the registry was asked where it stood, and the source re-read with Range.
      expect(sink.seen.filter((r) => r.method === 'GET' && r.path.includes('/blobs/uploads/')).length).toBe(1)
      const reread = proxy.seen.filter((r) => r.method === 'GET' && r.headers.range)
      expect(reread.map((r) => r.headers.range)).toEqual(['bytes=1048576-'])
      expect(reread[0]?.path.endsWith(layer)).toBe(true)
    } finally {
      await sink.stop()
    }
  })

  it('refuses a blob whose bytes were altered in transit, naming it', async () => {
    proxy.setRule(faultTimes('GET', /\/blobs\/sha256:/, 1000, { kind: 'alter' }))
    await expect(
      copyReference(testContext(fast), `${proxy.host}/big/app:1.0`, `${destination.host}/altered/app:1.0`),
    ).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      // The destination's check found it, on bytes straight from the source: the source's content.
      side: 'source',
      operation: 'fetchBlob',
      message: expect.stringMatching(
        new RegExp(`the source blob ${proxy.host}/big/app@sha256:[0-9a-f]{64}: `),
      ),
    })
    const client = new RegistryClient()
    await expect(
      client.repository({ registry: destination.host, repository: 'altered/app' }).resolve('1.0'),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    })
    await client.close()
    proxy.setRule(undefined)
  })
})

// A tag that moves between the HEAD and the GET of one copy; the proxy rewrites the HEAD's answer.
describe('copy SRC:TAG DST@DIGEST', () => {
  let reg: Distribution
  let proxy: FaultProxy
  let client: RegistryClient

  beforeAll(async () => {
    reg = await startDistribution()
    proxy = await startFaultProxy(reg.url)
    client = new RegistryClient()
  })
  afterAll(async () => {
    await client?.close()
    await proxy?.stop()
    await reg?.stop()
  })

  it('checks the digest on the bytes it copies, so a tag that moves meanwhile is refused', async () => {
    const src = client.repository({ registry: reg.host, repository: 'moving/app' })
    const [old, moved] = [syntheticImage(), syntheticImage()]
    await pushImage(src, old, 'old')
    await pushImage(src, moved, 'v1')
    // The tag moved between a HEAD and the GET: the HEAD (rewritten here) still names the old digest.
    proxy.setRule((r) =>
      r.method === 'HEAD' && r.path.endsWith('/manifests/v1')
        ? {
            kind: 'rewrite',
            fn: (res) => ({
              ...res,
              headers: { ...res.headers, 'docker-content-digest': old.manifest.digest },
            }),
          }
        : undefined,
    )
    const copy = copyReference(
      testContext({ client }),
      `${proxy.host}/moving/app:v1`,
      `${reg.host}/moving/copy@${old.manifest.digest}`,
    )
    expect(await code(copy)).toBe('CONFLICT')
    expect(
      await client
        .repository({ registry: reg.host, repository: 'moving/copy' })
        .hasManifest(moved.manifest.digest),
    ).toBe(false)
  })
})
