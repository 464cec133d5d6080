import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { digestOf } from '../../src/oci/digest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { RegistryClient } from '../../src/registry/index.js'
import type { RegistryRepository } from '../../src/registry/repository.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { artifactFor, pushImage, syntheticImage } from '../helpers/registry-fixtures.js'

// What a misbehaving registry or a tampering middlebox would send cannot be had from distribution
// itself; the proxy rewrites its real answers.
describe('manifest answers are checked; the referrers API is used where a registry has it', () => {
  let reg: Distribution
  let proxy: FaultProxy
  let client: RegistryClient
  let repo: RegistryRepository
  const image = syntheticImage()

  beforeAll(async () => {
    reg = await startDistribution()
    proxy = await startFaultProxy(reg.url)
    client = new RegistryClient({ retry: { baseDelayMs: 5 } })
    repo = client.repository({ registry: proxy.host, repository: 'checks/app' })
    await pushImage(repo, image, 'v1')
  })
  afterEach(() => {
    proxy.setRule(undefined)
    proxy.seen.length = 0
  })
  afterAll(async () => {
    await client?.close()
    await proxy?.stop()
    await reg?.stop()
  })

  const onManifestGet = (fn: Parameters<FaultProxy['setRule']>[0]) => proxy.setRule(fn)

  it('refuses a manifest over 4 MiB by Content-Length and by counting a chunked body', async () => {
    const huge = Buffer.alloc(4 * 1024 * 1024 + 10, 0x20)
    for (const chunked of [false, true]) {
      onManifestGet((r) =>
        r.method === 'GET' && r.path.includes('/manifests/')
          ? {
              kind: 'rewrite',
              fn: (res) => ({
                ...res,
                headers: { ...res.headers, ...(chunked ? { 'transfer-encoding': 'chunked' } : {}) },
                body: huge,
              }),
            }
          : undefined,
      )
      await expect(repo.fetchManifest('v1')).rejects.toMatchObject({ code: 'MANIFEST_TOO_LARGE' })
    }
  })

  it('refuses bytes that do not hash to the digest asked for, or to the digest announced', async () => {
    proxy.setRule((r) =>
      r.method === 'GET' && r.path.includes('/manifests/') ? { kind: 'alter' } : undefined,
    )
    await expect(repo.fetchManifest(image.manifest.digest)).rejects.toMatchObject({ code: 'DIGEST_MISMATCH' })
    proxy.setRule((r) =>
      r.method === 'GET' && r.path.includes('/manifests/')
        ? {
            kind: 'rewrite',
            fn: (res) => ({
              ...res,
              headers: { ...res.headers, 'docker-content-digest': digestOf('other') },
            }),
          }
        : undefined,
    )
    const err = await repo.fetchManifest('v1').catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'DIGEST_MISMATCH' })
    expect((err as Error).message).toContain(`${proxy.host}/checks/app:v1`)
  })

  it('falls back to GET when HEAD names no digest', async () => {
    proxy.setRule((r) =>
      r.method === 'HEAD'
        ? {
            kind: 'rewrite',
            fn: (res) => ({ ...res, headers: { ...res.headers, 'docker-content-digest': undefined } }),
          }
        : undefined,
    )
    expect(await repo.resolve('v1')).toEqual({
      mediaType: MediaType.ociManifest,
      digest: image.manifest.digest,
      size: image.manifest.bytes.byteLength,
    })
    expect(proxy.seen.map((r) => r.method)).toEqual(['HEAD', 'GET'])
  })

  it('trusts OCI-Subject: no tag-schema index is written', async () => {
    const sbom = artifactFor(await repo.resolve('v1'), MediaType.spdxJson)
    proxy.setRule((r) =>
      r.method === 'PUT' && r.path.includes('/manifests/')
        ? {
            kind: 'rewrite',
            fn: (res) => ({ ...res, headers: { ...res.headers, 'oci-subject': image.manifest.digest } }),
          }
        : undefined,
    )
    await pushImage(repo, sbom)
    const tag = `sha256-${image.manifest.digest.slice(7)}`
    expect(proxy.seen.some((r) => r.path.includes(`/manifests/${tag}`))).toBe(false)
  })

  it('reads the referrers API, filtering by artifactType unless the registry says it did', async () => {
    const a = {
      mediaType: MediaType.ociManifest,
      digest: digestOf('a'),
      size: 1,
      artifactType: 'application/x-a',
    }
    const b = {
      mediaType: MediaType.ociManifest,
      digest: digestOf('b'),
      size: 1,
      artifactType: 'application/x-b',
    }
    let filtersApplied = false
    proxy.setRule((r) =>
      r.path.includes('/referrers/')
        ? {
            kind: 'status',
            status: 200,
            headers: {
              'content-type': MediaType.ociIndex,
              ...(filtersApplied ? { 'oci-filters-applied': 'artifactType' } : {}),
            },
            body: JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [a, b] }),
          }
        : undefined,
    )
    expect(await repo.referrersSupport()).toBe(true)
    expect(await repo.referrers(image.manifest.digest)).toEqual([a, b])
    expect(await repo.referrers(image.manifest.digest, { artifactType: 'application/x-a' })).toEqual([a])
    expect(proxy.seen.at(-1)!.path).toContain('artifactType=application%2Fx-a')
    filtersApplied = true
    expect(await repo.referrers(image.manifest.digest, { artifactType: 'application/x-a' })).toEqual([a, b])
  })

  it('writes the tag-schema index with If-Match and starts over on 412', async () => {
    // A fresh client: the one above learnt (from the emulated API) that this registry serves referrers.
    const fresh = new RegistryClient({ retry: { baseDelayMs: 5 } })
    const repo = fresh.repository({ registry: proxy.host, repository: 'checks/app' })
    const subject = await repo.resolve('v1')
    const first = artifactFor(subject, 'application/x-first')
    await pushImage(repo, first)
    const tag = `sha256-${subject.digest.slice(7)}`
    // Read, write, read back (distribution ignores If-Match: the read-back is what catches a lost write).
    expect(proxy.seen.filter((r) => r.method === 'GET' && r.path.endsWith(tag))).toHaveLength(2)
    const second = artifactFor(subject, 'application/x-second')
    let refused = 0
    proxy.setRule((r) =>
      r.method === 'PUT' && r.path.endsWith(`/manifests/${tag}`) && refused++ === 0
        ? {
            kind: 'status',
            status: 412,
            body: JSON.stringify({ errors: [{ code: 'PRECONDITION', message: 'etag changed' }] }),
          }
        : undefined,
    )
    proxy.seen.length = 0
    await pushImage(repo, second)
    const puts = proxy.seen.filter((r) => r.method === 'PUT' && r.path.endsWith(`/manifests/${tag}`))
    expect(puts).toHaveLength(2)
    // distribution sends an ETag with manifests; the client makes the write conditional on it.
    expect(
      puts.every((r) => typeof r.headers['if-match'] === 'string' && r.headers['if-match'].length > 0),
    ).toBe(true)
    // Read, 412, read again, write, read back.
    expect(proxy.seen.filter((r) => r.method === 'GET' && r.path.endsWith(`/manifests/${tag}`))).toHaveLength(
      3,
    )
    const types = (await repo.referrers(subject.digest as `sha256:${string}`)).map((d) => d.artifactType)
    expect(types).toEqual(['application/x-first', 'application/x-second'])
    await fresh.close()
  })
})
