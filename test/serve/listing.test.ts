import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MediaType } from '../../src/oci/media-types.js'
import { imageManifest, pushBlob, putManifest, raw, type Served, serveTemp, sha256 } from './helpers.js'

const emptyConfig = Buffer.from('{}')

describe('listing and referrers', () => {
  let served: Served
  let subject: string

  beforeAll(async () => {
    served = await serveTemp()
    const image = await imageManifest(served.server, 'lib/app', 'base')
    subject = sha256(image)
    for (const tag of ['v1', 'v2', 'v3', 'v4', 'v5']) await putManifest(served.server, 'lib/app', tag, image)
    for (const repo of ['a', 'b/c', 'd', 'e/f/g']) await putManifest(served.server, repo, 'x', image)
  })
  afterAll(async () => {
    await served?.stop()
  })

  it('pages tags with n and last, and links to the next page', async () => {
    const all = await raw(served.server, 'GET', '/v2/lib/app/tags/list')
    expect(all.json()).toEqual({ name: 'lib/app', tags: ['v1', 'v2', 'v3', 'v4', 'v5'] })
    expect(all.headers.link).toBeUndefined()

    const first = await raw(served.server, 'GET', '/v2/lib/app/tags/list?n=2')
    expect(first.json()).toEqual({ name: 'lib/app', tags: ['v1', 'v2'] })
    expect(first.headers.link).toBe('</v2/lib/app/tags/list?n=2&last=v2>; rel="next"')

    const seen: string[] = []
    let next: string | undefined = '/v2/lib/app/tags/list?n=2'
    while (next) {
      const page = await raw(served.server, 'GET', next)
      seen.push(...(page.json() as { tags: string[] }).tags)
      next = /^<([^>]+)>; rel="next"$/.exec((page.headers.link as string | undefined) ?? '')?.[1]
    }
    expect(seen).toEqual(['v1', 'v2', 'v3', 'v4', 'v5'])

    const last = await raw(served.server, 'GET', '/v2/lib/app/tags/list?n=10&last=v3')
    expect(last.json()).toEqual({ name: 'lib/app', tags: ['v4', 'v5'] })
    expect(last.headers.link).toBeUndefined()
    expect((await raw(served.server, 'GET', '/v2/lib/app/tags/list?n=-1')).code()).toBe(
      'PAGINATION_NUMBER_INVALID',
    )
    expect((await raw(served.server, 'GET', '/v2/no/such/tags/list')).code()).toBe('NAME_UNKNOWN')
  })

  it('pages the catalog', async () => {
    const all = await raw(served.server, 'GET', '/v2/_catalog')
    expect(all.json()).toEqual({ repositories: ['a', 'b/c', 'd', 'e/f/g', 'lib/app'] })
    const first = await raw(served.server, 'GET', '/v2/_catalog?n=3')
    expect(first.json()).toEqual({ repositories: ['a', 'b/c', 'd'] })
    expect(first.headers.link).toBe('</v2/_catalog?n=3&last=d>; rel="next"')
    const second = await raw(served.server, 'GET', '/v2/_catalog?n=3&last=d')
    expect(second.json()).toEqual({ repositories: ['e/f/g', 'lib/app'] })
    expect(second.headers.link).toBeUndefined()
  })

  it('lists referrers, filters by artifactType, and says so', async () => {
    const configDigest = await pushBlob(served.server, 'lib/app', emptyConfig)
    const artifact = async (artifactType: string, note: string) => {
      const layer = await pushBlob(served.server, 'lib/app', Buffer.from(note))
      const bytes = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ociManifest,
          artifactType,
          config: { mediaType: MediaType.ociEmpty, digest: configDigest, size: 2 },
          layers: [{ mediaType: 'text/plain', digest: layer, size: Buffer.byteLength(note) }],
          subject: { mediaType: MediaType.ociManifest, digest: subject, size: 1 },
          annotations: { note },
        }),
      )
      const put = await putManifest(served.server, 'lib/app', sha256(bytes), bytes)
      expect(put.status).toBe(201)
      expect(put.headers['oci-subject']).toBe(subject)
      return sha256(bytes)
    }
    const sbom = await artifact(MediaType.spdxJson, 'sbom')
    const sig = await artifact(MediaType.sigstoreBundleV03, 'signature')

    const all = await raw(served.server, 'GET', `/v2/lib/app/referrers/${subject}`)
    expect(all.status).toBe(200)
    expect(all.headers['content-type']).toBe(MediaType.ociIndex)
    expect(all.headers['oci-filters-applied']).toBeUndefined()
    const index = all.json() as { mediaType: string; manifests: { digest: string; artifactType: string }[] }
    expect(index.mediaType).toBe(MediaType.ociIndex)
    expect(index.manifests.map((d) => d.digest).sort()).toEqual([sbom, sig].sort())
    expect(index.manifests.find((d) => d.digest === sbom)).toMatchObject({
      artifactType: MediaType.spdxJson,
      annotations: { note: 'sbom' },
    })

    const filtered = await raw(
      served.server,
      'GET',
      `/v2/lib/app/referrers/${subject}?artifactType=${encodeURIComponent(MediaType.spdxJson)}`,
    )
    expect(filtered.headers['oci-filters-applied']).toBe('artifactType')
    expect((filtered.json() as typeof index).manifests.map((d) => d.digest)).toEqual([sbom])

    const none = await raw(served.server, 'GET', `/v2/lib/app/referrers/${sha256('nothing')}`)
    expect(none.status).toBe(200)
    expect((none.json() as typeof index).manifests).toEqual([])
    const elsewhere = await raw(served.server, 'GET', `/v2/never/pushed/referrers/${subject}`)
    expect((elsewhere.json() as typeof index).manifests).toEqual([])
    const invalid = await raw(served.server, 'GET', '/v2/lib/app/referrers/sha256:nothex')
    expect(invalid.status).toBe(400)
    expect(invalid.code()).toBe('DIGEST_INVALID')
  })
})
