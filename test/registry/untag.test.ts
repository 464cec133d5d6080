import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { storeManifest } from '../../src/content/store.js'
import type { Digest } from '../../src/oci/digest.js'
import { RegistryClient } from '../../src/registry/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, faultTimes, startFaultProxy } from '../helpers/fault-proxy.js'
import { artifactFor, pushImage, streamOf, syntheticImage } from '../helpers/registry-fixtures.js'

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  )

describe('untag and delete on distribution 2.8', () => {
  let open: Distribution
  let closed: Distribution
  let proxy: FaultProxy
  let client: RegistryClient

  beforeAll(async () => {
    ;[open, closed] = await Promise.all([startDistribution(), startDistribution({ deletes: false })])
    proxy = await startFaultProxy(open.url)
    client = new RegistryClient({ retry: { baseDelayMs: 5, maxDelayMs: 20 } })
  })
  afterAll(async () => {
    await client?.close()
    await proxy?.stop()
    await Promise.all([open?.stop(), closed?.stop()])
  })

  it('probes which deletes are allowed without writing anything', async () => {
    const deletes = (host: string) => client.repository({ registry: host, repository: 'probe/app' }).deletes()
    expect(await deletes(open.host)).toEqual({ manifest: true, tag: false })
    expect(await deletes(closed.host)).toEqual({ manifest: false, tag: false })
    await expect(client.catalog(closed.host)).resolves.toEqual([])
  })

  it('refuses to untag where deletes are disabled, leaving the live tag where it was', async () => {
    const repo = client.repository({ registry: closed.host, repository: 'locked/app' })
    const image = syntheticImage()
    await pushImage(repo, image, 'live')
    expect(await code(repo.untag('live'))).toBe('UNSUPPORTED')
    expect((await repo.resolve('live')).digest).toBe(image.manifest.digest)
    expect(await repo.listTags()).toEqual(['live'])
    // 405 UNSUPPORTED from the registry is UNSUPPORTED, not a generic REGISTRY error.
    expect(await code(repo.deleteManifest(image.manifest.digest))).toBe('UNSUPPORTED')
  })

  it('puts the tag back when deleting the placeholder fails (injected 500)', async () => {
    const repo = client.repository({ registry: proxy.host, repository: 'undo/app' })
    const image = syntheticImage()
    await pushImage(repo, image, 'live')
    // distribution deletes manifests here, so only a fault can make the second step fail.
    proxy.setRule((r) =>
      r.method === 'DELETE' && /manifests\/sha256:/.test(r.path)
        ? { kind: 'status', status: 500 }
        : undefined,
    )
    expect(await code(repo.untag('live'))).toBe('REGISTRY')
    proxy.setRule(undefined)
    expect((await repo.resolve('live')).digest).toBe(image.manifest.digest)
  })

  it('takes a DELETE whose answer was lost, and whose retry meets 404, as done', async () => {
    const repo = client.repository({ registry: proxy.host, repository: 'lost/app' })
    const image = syntheticImage()
    await pushImage(repo, image, 'v1')
    proxy.setRule(faultTimes('DELETE', /manifests\/sha256:/, 1, { kind: 'lose-answer' }))
    await repo.deleteManifest(image.manifest.digest)
    proxy.setRule(undefined)
    expect(await repo.hasManifest(image.manifest.digest)).toBe(false)
    expect(
      proxy.seen.filter(
        (r) => r.method === 'DELETE' && /manifests\/sha256:/.test(r.path) && !r.path.includes('0000000000'),
      ),
    ).toHaveLength(2)
  })
})

describe('referrers on a registry without the API', () => {
  let reg: Distribution
  let client: RegistryClient

  beforeAll(async () => {
    reg = await startDistribution()
    client = new RegistryClient()
  })
  afterAll(async () => {
    await client?.close()
    await reg?.stop()
  })

  it('keeps every one of 8 parallel attaches (distribution ignores If-Match)', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'parallel/app' })
    const image = syntheticImage()
    await pushImage(repo, image, 'v1')
    const subject = await repo.resolve('v1')
    const artifacts = Array.from({ length: 8 }, (_, i) => artifactFor(subject, `application/x-kind-${i}`))
    for (const a of artifacts)
      for (const b of [a.config, ...a.layers]) await repo.pushBlob(b.desc, streamOf(b.bytes))
    await Promise.all(artifacts.map((a) => storeManifest(repo, a.manifest)))
    const listed = await repo.referrers(subject.digest as Digest)
    expect(listed.map((d) => d.digest).sort()).toEqual(artifacts.map((a) => a.manifest.digest).sort())
  })
})
