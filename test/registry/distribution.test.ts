import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isFerryError } from '../../src/errors.js'
import { MediaType } from '../../src/oci/media-types.js'
import { RegistryError } from '../../src/registry/errors.js'
import { RegistryClient } from '../../src/registry/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type SeenRequest, startFaultProxy, type Upstream } from '../helpers/fault-proxy.js'
import {
  artifactFor,
  indexOf,
  pushImage,
  putManifest,
  randomBlob,
  readAll,
  streamOf,
  syntheticImage,
} from '../helpers/registry-fixtures.js'
import { captureLogger } from './log-capture.js'

/** The spec's tag pagination (`n`, `last`, `Link: <…>; rel="next"`) applied to a complete answer. */
function pageTags(res: Upstream, req: SeenRequest): Upstream {
  const url = new URL(req.path, 'http://x')
  const n = Number(url.searchParams.get('n') ?? 1000)
  const last = url.searchParams.get('last') ?? ''
  const doc = JSON.parse(res.body.toString()) as { name: string; tags: string[] }
  const rest = doc.tags.sort().filter((t) => t > last)
  const page = rest.slice(0, n)
  const headers = { ...res.headers }
  if (rest.length > n) {
    headers.link = `</v2/${doc.name}/tags/list?n=${n}&last=${page[page.length - 1]}>; rel="next"`
  }
  return { ...res, headers, body: Buffer.from(JSON.stringify({ name: doc.name, tags: page })) }
}

describe('registry client against distribution', () => {
  let reg: Distribution
  let client: RegistryClient
  const log = captureLogger()

  beforeAll(async () => {
    reg = await startDistribution()
    client = new RegistryClient({ logger: log, chunkSize: 64 * 1024 })
  })
  afterAll(async () => {
    await client?.close()
    await reg?.stop()
  })

  it('pushes a small blob monolithically and reads it back verified', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'team/blobs' })
    const blob = randomBlob(10_000)
    log.clear()
    await repo.pushBlob(blob.desc, streamOf(blob.bytes))
    expect(log.requests(/^PATCH /)).toHaveLength(0)
    expect(log.requests(/^PUT .*digest=/)).toHaveLength(1)
    expect(await repo.hasBlob(blob.desc)).toBe(true)
    expect(await readAll(await repo.fetchBlob(blob.desc))).toEqual(blob.bytes)
  })

  it('pushes a large blob in chunks, one PATCH per chunk', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'team/blobs' })
    const blob = randomBlob(64 * 1024 * 3 + 100)
    log.clear()
    await repo.pushBlob(blob.desc, streamOf(blob.bytes, 10_000))
    expect(log.requests(/^PATCH /)).toHaveLength(4)
    expect(log.requests(/^PUT .*digest=/)).toHaveLength(1)
    expect(await readAll(await repo.fetchBlob(blob.desc))).toEqual(blob.bytes)
  })

  it('refuses a stream whose bytes do not match the descriptor, before committing', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'team/blobs' })
    const blob = randomBlob(1000)
    const other = randomBlob(1000)
    await expect(repo.pushBlob(blob.desc, streamOf(other.bytes))).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
    })
    await expect(repo.pushBlob(blob.desc, streamOf(blob.bytes.subarray(0, 999)))).rejects.toMatchObject({
      code: 'SIZE_INVALID',
    })
    expect(await repo.hasBlob(blob.desc)).toBe(false)
    // A chunked upload from a short stream: the half-made session is cancelled.
    const big = randomBlob(200_000)
    log.clear()
    await expect(repo.pushBlob(big.desc, streamOf(big.bytes.subarray(0, 150_000)))).rejects.toMatchObject({
      code: 'SIZE_INVALID',
    })
    // Two full chunks go out; the short third is refused before it is sent.
    expect(log.requests(/^PATCH /)).toHaveLength(2)
    expect(log.requests(/^DELETE .*blobs\/uploads/)).toHaveLength(1)
    expect(log.requests(/^PUT /)).toHaveLength(0)
  })

  it('pushes and pulls an image by tag and digest, exact bytes', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'team/app' })
    const image = syntheticImage()
    await pushImage(repo, image, '1.0')
    const byTag = await repo.fetchManifest('1.0')
    expect(Buffer.from(byTag.bytes)).toEqual(Buffer.from(image.manifest.bytes))
    expect(byTag.digest).toBe(image.manifest.digest)
    const byDigest = await repo.fetchManifest(image.manifest.digest)
    expect(byDigest.kind).toBe('image')
    const desc = await repo.resolve('1.0')
    expect(desc).toEqual({
      mediaType: MediaType.ociManifest,
      digest: image.manifest.digest,
      size: image.manifest.bytes.byteLength,
    })
    expect(await repo.hasManifest(image.manifest.digest)).toBe(true)
  })

  it('pushes and pulls an index with two children', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'team/multi' })
    const amd = syntheticImage({ platform: { os: 'linux', architecture: 'amd64' } })
    const arm = syntheticImage({ platform: { os: 'linux', architecture: 'arm64' } })
    await pushImage(repo, amd)
    await pushImage(repo, arm)
    const index = indexOf([
      { manifest: amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
    ])
    await putManifest(repo, index, 'latest')
    const got = await repo.fetchManifest('latest')
    expect(got.kind).toBe('index')
    expect(got.digest).toBe(index.digest)
    if (got.kind !== 'index') throw new Error('not an index')
    expect(got.index.manifests.map((m) => m.digest)).toEqual([amd.manifest.digest, arm.manifest.digest])
    expect((await repo.resolve('latest')).mediaType).toBe(MediaType.ociIndex)
  })

  it('mounts a blob across repositories without uploading it', async () => {
    const src = client.repository({ registry: reg.host, repository: 'mount/src' })
    const dst = client.repository({ registry: reg.host, repository: 'mount/dst' })
    const blob = randomBlob(200_000)
    await src.pushBlob(blob.desc, streamOf(blob.bytes))
    log.clear()
    expect(await dst.mountBlob(blob.desc, src)).toBe(true)
    expect(log.requests(/^POST .*mount=/)).toHaveLength(1)
    expect(log.requests(/^(PATCH|PUT) /)).toHaveLength(0)
    expect(await dst.hasBlob(blob.desc)).toBe(true)
  })

  it('reports false (and leaves no upload) when the source does not have the blob', async () => {
    const src = client.repository({ registry: reg.host, repository: 'mount/src' })
    const dst = client.repository({ registry: reg.host, repository: 'mount/dst2' })
    const blob = randomBlob(100)
    log.clear()
    expect(await dst.mountBlob(blob.desc, src)).toBe(false)
    // distribution answers 202 with an upload session; it is cancelled.
    expect(log.requests(/^DELETE .*blobs\/uploads/)).toHaveLength(1)
    expect(await dst.hasBlob(blob.desc)).toBe(false)
  })

  it('lists tags, following Link pagination', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'team/tags' })
    const image = syntheticImage()
    await pushImage(repo, image)
    for (const t of ['a', 'b', 'c', 'd', 'e']) await putManifest(repo, image.manifest, t)
    // distribution 2.8 ignores `n` on tags/list and sends everything at once.
    expect((await repo.listTags({ pageSize: 2 })).sort()).toEqual(['a', 'b', 'c', 'd', 'e'])
    // Registries that page (distribution 3, Harbor, zot) do so per the spec; a proxy pages 2.8's answer.
    const proxy = await startFaultProxy(reg.url)
    try {
      proxy.setRule((r) =>
        r.method === 'GET' && r.path.includes('/tags/list') ? { kind: 'rewrite', fn: pageTags } : undefined,
      )
      log.clear()
      const paged = client.repository({ registry: proxy.host, repository: 'team/tags' })
      expect(await paged.listTags({ pageSize: 2 })).toEqual(['a', 'b', 'c', 'd', 'e'])
      expect(log.requests(/tags\/list/)).toHaveLength(3)
      expect(proxy.seen.map((r) => r.path)).toEqual([
        '/v2/team/tags/tags/list?n=2',
        '/v2/team/tags/tags/list?n=2&last=b',
        '/v2/team/tags/tags/list?n=2&last=d',
      ])
    } finally {
      await proxy.stop()
    }
  })

  it('lists the catalog with pagination', async () => {
    log.clear()
    const all = await client.catalog(reg.host, { pageSize: 2 })
    expect(all).toEqual(
      expect.arrayContaining(['team/app', 'team/blobs', 'team/multi', 'team/tags', 'mount/dst']),
    )
    expect(log.requests(/_catalog/).length).toBeGreaterThanOrEqual(3)
    expect(await client.catalog(reg.host)).toEqual(all)
  })

  it('deletes a manifest', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'team/delete' })
    const image = syntheticImage()
    await pushImage(repo, image, 'gone')
    await repo.deleteManifest(image.manifest.digest)
    expect(await repo.hasManifest(image.manifest.digest)).toBe(false)
    await expect(repo.fetchManifest('gone')).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })

  it('deletes a tag and keeps the manifest', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'team/untag' })
    const image = syntheticImage()
    await pushImage(repo, image, 'keep')
    await putManifest(repo, image.manifest, 'drop')
    await repo.untag('drop')
    expect(await repo.listTags()).toEqual(['keep'])
    expect(await repo.hasManifest(image.manifest.digest)).toBe(true)
  })

  it('finds referrers through the tag schema (distribution 2.8 has no referrers API)', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'team/signed' })
    const image = syntheticImage()
    await pushImage(repo, image, 'v1')
    const subject = await repo.resolve('v1')
    expect(await repo.referrersSupport()).toBe(false)
    expect(await repo.referrers(subject.digest as `sha256:${string}`)).toEqual([])
    const sbom = artifactFor(subject, MediaType.spdxJson, { 'org.example.kind': 'sbom' })
    const sig = artifactFor(subject, 'application/vnd.dev.sigstore.bundle.v0.3+json')
    await pushImage(repo, sbom)
    await pushImage(repo, sig)
    await putManifest(repo, sbom.manifest) // again: no duplicate entry
    const all = await repo.referrers(subject.digest as `sha256:${string}`)
    expect(all).toEqual([
      {
        mediaType: MediaType.ociManifest,
        digest: sbom.manifest.digest,
        size: sbom.manifest.bytes.byteLength,
        artifactType: MediaType.spdxJson,
        annotations: { 'org.example.kind': 'sbom' },
      },
      {
        mediaType: MediaType.ociManifest,
        digest: sig.manifest.digest,
        size: sig.manifest.bytes.byteLength,
        artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      },
    ])
    const sboms = await repo.referrers(subject.digest as `sha256:${string}`, {
      artifactType: MediaType.spdxJson,
    })
    expect(sboms.map((d) => d.digest)).toEqual([sbom.manifest.digest])
    // Deleting a referrer takes it out of the index.
    await repo.deleteManifest(sig.manifest.digest)
    const left = await repo.referrers(subject.digest as `sha256:${string}`)
    expect(left.map((d) => d.digest)).toEqual([sbom.manifest.digest])
  })

  it('names the image and the registry code when something is missing', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'team/app' })
    const err = await repo.fetchManifest('nope').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RegistryError)
    expect(isFerryError(err, 'NOT_FOUND')).toBe(true)
    expect((err as RegistryError).message).toBe(
      `${reg.host}/team/app:nope: MANIFEST_UNKNOWN: manifest unknown (HTTP 404)`,
    )
    expect((err as RegistryError).status).toBe(404)
    expect((err as RegistryError).registryCodes).toEqual(['MANIFEST_UNKNOWN'])
    await expect(repo.resolve('nope')).rejects.toThrow(`${reg.host}/team/app:nope: MANIFEST_UNKNOWN`)
    const blob = randomBlob(10)
    await expect(repo.fetchBlob(blob.desc)).rejects.toThrow(
      `${reg.host}/team/app@${blob.desc.digest}: BLOB_UNKNOWN`,
    )
    expect(await repo.hasBlob(blob.desc)).toBe(false)
    const missing = client.repository({ registry: reg.host, repository: 'no/such/repo' })
    await expect(missing.listTags()).rejects.toThrow(`${reg.host}/no/such/repo: NAME_UNKNOWN`)
  })
})
