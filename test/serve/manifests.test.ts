import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MediaType } from '../../src/oci/media-types.js'
import { imageManifest, pushBlob, putManifest, raw, type Served, serveTemp, sha256 } from './helpers.js'

describe('manifests', () => {
  let served: Served
  let image: Buffer
  let digest: string

  beforeAll(async () => {
    served = await serveTemp()
    image = await imageManifest(served.server, 'app/web', 'one')
    digest = sha256(image)
  })
  afterAll(async () => {
    await served?.stop()
  })

  it('answers /v2/ with the API version header', async () => {
    for (const method of ['GET', 'HEAD']) {
      const res = await raw(served.server, method, '/v2/')
      expect(res.status).toBe(200)
      expect(res.headers['docker-distribution-api-version']).toBe('registry/2.0')
    }
  })

  it('stores by tag and serves by tag and digest with the exact bytes', async () => {
    const put = await putManifest(served.server, 'app/web', 'v1', image)
    expect(put.status).toBe(201)
    expect(put.headers.location).toBe(`/v2/app/web/manifests/${digest}`)
    expect(put.headers['docker-content-digest']).toBe(digest)
    expect(put.headers['oci-subject']).toBeUndefined()

    for (const ref of ['v1', digest]) {
      const get = await raw(served.server, 'GET', `/v2/app/web/manifests/${ref}`, {
        headers: { Accept: MediaType.ociManifest },
      })
      expect(get.status).toBe(200)
      expect(get.body.equals(image)).toBe(true)
      expect(get.headers['content-type']).toBe(MediaType.ociManifest)
      expect(get.headers['content-length']).toBe(String(image.byteLength))
      expect(get.headers['docker-content-digest']).toBe(digest)
      const head = await raw(served.server, 'HEAD', `/v2/app/web/manifests/${ref}`)
      expect(head.status).toBe(200)
      expect(head.headers['content-length']).toBe(String(image.byteLength))
      expect(head.headers['docker-content-digest']).toBe(digest)
      expect(head.body.byteLength).toBe(0)
    }
  })

  it('negotiates on Accept: a client that excludes the stored type gets MANIFEST_UNKNOWN', async () => {
    const get = (accept?: string) =>
      raw(served.server, 'GET', '/v2/app/web/manifests/v1', accept ? { headers: { Accept: accept } } : {})
    const refused = await get(`${MediaType.dockerManifest}, ${MediaType.dockerManifestList}`)
    expect(refused.status).toBe(404)
    expect(refused.code()).toBe('MANIFEST_UNKNOWN')
    expect((await get()).status).toBe(200)
    expect((await get('*/*')).status).toBe(200)
    expect((await get(`${MediaType.dockerManifest}, ${MediaType.ociManifest};q=0.5`)).status).toBe(200)
    expect((await get(`${MediaType.ociManifest};q=0`)).status).toBe(404)
  })

  it('keeps Docker media types as they came', async () => {
    const config = Buffer.from('{"architecture":"amd64","os":"linux"}')
    const configDigest = await pushBlob(served.server, 'app/docker', config)
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config: { mediaType: MediaType.dockerConfig, digest: configDigest, size: config.byteLength },
        layers: [],
      }),
    )
    expect(
      (await putManifest(served.server, 'app/docker', 'v1', bytes, MediaType.dockerManifest)).status,
    ).toBe(201)
    const get = await raw(served.server, 'GET', '/v2/app/docker/manifests/v1', {
      headers: { Accept: MediaType.dockerManifest },
    })
    expect(get.headers['content-type']).toBe(MediaType.dockerManifest)
    expect(get.body.equals(bytes)).toBe(true)
  })

  it('checks a push by digest against the bytes', async () => {
    const other = await imageManifest(served.server, 'app/web', 'two')
    const wrong = await putManifest(served.server, 'app/web', digest, other)
    expect(wrong.status).toBe(400)
    expect(wrong.code()).toBe('DIGEST_INVALID')
    const right = await putManifest(served.server, 'app/web', sha256(other), other)
    expect(right.status).toBe(201)
    expect(right.headers['docker-content-digest']).toBe(sha256(other))
  })

  it('refuses manifests whose blobs or children are not stored', async () => {
    const absent = sha256(randomBytes(8))
    const bytes = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: { mediaType: MediaType.ociConfig, digest: absent, size: 8 },
        layers: [],
      }),
    )
    const res = await putManifest(served.server, 'app/web', 'broken', bytes)
    expect(res.status).toBe(400)
    expect(res.code()).toBe('MANIFEST_BLOB_UNKNOWN')
    expect(res.json()).toMatchObject({ errors: [{ detail: { digest: absent } }] })

    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: [{ mediaType: MediaType.ociManifest, digest: absent, size: 100 }],
      }),
    )
    const idx = await putManifest(served.server, 'app/web', 'broken-index', index, MediaType.ociIndex)
    expect(idx.code()).toBe('MANIFEST_BLOB_UNKNOWN')
    expect((await raw(served.server, 'HEAD', '/v2/app/web/manifests/broken')).status).toBe(404)
  })

  it('refuses invalid and oversized manifests', async () => {
    const junk = await putManifest(served.server, 'app/web', 'junk', Buffer.from('{not json'))
    expect(junk.status).toBe(400)
    expect(junk.code()).toBe('MANIFEST_INVALID')
    const huge = await putManifest(served.server, 'app/web', 'huge', Buffer.alloc(4 * 1024 * 1024 + 1, 32))
    expect(huge.status).toBe(413)
    expect(huge.code()).toBe('MANIFEST_INVALID')
    const badTag = await putManifest(served.server, 'app/web', '-tag', image)
    expect(badTag.status).toBe(400)
    expect(badTag.code()).toBe('MANIFEST_INVALID')
  })

  it('says NAME_UNKNOWN for a repository it does not hold, MANIFEST_UNKNOWN for a missing tag', async () => {
    expect((await raw(served.server, 'GET', '/v2/nobody/here/manifests/v1')).code()).toBe('NAME_UNKNOWN')
    expect((await raw(served.server, 'GET', '/v2/app/web/manifests/nope')).code()).toBe('MANIFEST_UNKNOWN')
    const byDigest = await raw(served.server, 'GET', `/v2/app/web/manifests/${sha256('x')}`)
    expect(byDigest.status).toBe(404)
    expect(byDigest.code()).toBe('MANIFEST_UNKNOWN')
    const invalid = await raw(served.server, 'GET', '/v2/app/web/manifests/sha256:abc')
    expect(invalid.status).toBe(400)
    expect(invalid.code()).toBe('DIGEST_INVALID')
  })

  it('deletes a tag (the manifest stays) and a manifest by digest', async () => {
    const bytes = await imageManifest(served.server, 'app/del', 'del')
    const d = sha256(bytes)
    await putManifest(served.server, 'app/del', 'keep', bytes)
    await putManifest(served.server, 'app/del', 'drop', bytes)

    expect((await raw(served.server, 'DELETE', '/v2/app/del/manifests/drop')).status).toBe(202)
    expect((await raw(served.server, 'GET', '/v2/app/del/manifests/drop')).status).toBe(404)
    expect((await raw(served.server, 'GET', '/v2/app/del/manifests/keep')).status).toBe(200)
    expect((await raw(served.server, 'DELETE', '/v2/app/del/manifests/drop')).code()).toBe('MANIFEST_UNKNOWN')

    expect((await raw(served.server, 'DELETE', `/v2/app/del/manifests/${d}`)).status).toBe(202)
    expect((await raw(served.server, 'GET', `/v2/app/del/manifests/${d}`)).code()).toBe('MANIFEST_UNKNOWN')
    expect((await raw(served.server, 'GET', '/v2/app/del/manifests/keep')).status).toBe(404)
    // Other repositories holding the same manifest keep it.
    await putManifest(served.server, 'app/other', 'v1', bytes)
    expect((await raw(served.server, 'GET', `/v2/app/other/manifests/${d}`)).status).toBe(200)
  })
})
