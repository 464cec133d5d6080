import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseRange } from '../../src/serve/blobs.js'
import { pushBlob, raw, type Served, serveTemp, sha256 } from './helpers.js'

describe('parseRange', () => {
  it.each([
    ['bytes=0-9', 100, { start: 0, end: 9 }],
    ['bytes=90-', 100, { start: 90, end: 99 }],
    ['bytes=90-1000', 100, { start: 90, end: 99 }],
    ['bytes=-10', 100, { start: 90, end: 99 }],
    ['bytes=-1000', 100, { start: 0, end: 99 }],
    ['bytes=100-', 100, 'unsatisfiable'],
    ['bytes=-0', 100, 'unsatisfiable'],
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=9-0', 100, undefined],
    ['bytes=0-1,5-6', 100, undefined],
    ['items=0-1', 100, undefined],
    [undefined, 100, undefined],
  ] as const)('%s of %i bytes', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected)
  })
})

describe('blob reads', () => {
  let served: Served
  const bytes = randomBytes(200_000)
  let digest: string

  beforeAll(async () => {
    served = await serveTemp()
    digest = await pushBlob(served.server, 'blobs/repo', bytes)
  })
  afterAll(async () => {
    await served?.stop()
  })

  it('serves the whole blob with its digest and length; HEAD has no body', async () => {
    const get = await raw(served.server, 'GET', `/v2/blobs/repo/blobs/${digest}`)
    expect(get.status).toBe(200)
    expect(get.headers['content-length']).toBe('200000')
    expect(get.headers['docker-content-digest']).toBe(digest)
    expect(get.headers['accept-ranges']).toBe('bytes')
    expect(get.body.equals(bytes)).toBe(true)
    const head = await raw(served.server, 'HEAD', `/v2/blobs/repo/blobs/${digest}`)
    expect(head.status).toBe(200)
    expect(head.headers['content-length']).toBe('200000')
    expect(head.body.byteLength).toBe(0)
  })

  it('answers ranges with 206 and unsatisfiable ones with 416', async () => {
    const get = (range: string) =>
      raw(served.server, 'GET', `/v2/blobs/repo/blobs/${digest}`, { headers: { Range: range } })
    const mid = await get('bytes=1000-1999')
    expect(mid.status).toBe(206)
    expect(mid.headers['content-range']).toBe('bytes 1000-1999/200000')
    expect(mid.headers['content-length']).toBe('1000')
    expect(mid.body.equals(bytes.subarray(1000, 2000))).toBe(true)

    const tail = await get('bytes=-500')
    expect(tail.status).toBe(206)
    expect(tail.body.equals(bytes.subarray(199_500))).toBe(true)

    const open = await get('bytes=199990-')
    expect(open.headers['content-range']).toBe('bytes 199990-199999/200000')
    expect(open.body.equals(bytes.subarray(199_990))).toBe(true)

    const beyond = await get('bytes=200000-')
    expect(beyond.status).toBe(416)
    expect(beyond.headers['content-range']).toBe('bytes */200000')
    expect(beyond.code()).toBe('BLOB_UPLOAD_INVALID')
  })

  it('serves a blob only through the repository holding it, and says BLOB_UNKNOWN elsewhere', async () => {
    const elsewhere = await raw(served.server, 'GET', `/v2/another/repo/blobs/${digest}`)
    expect(elsewhere.status).toBe(404)
    expect(elsewhere.code()).toBe('BLOB_UNKNOWN')
    const absent = await raw(served.server, 'GET', `/v2/blobs/repo/blobs/${sha256('absent')}`)
    expect(absent.status).toBe(404)
    expect(absent.code()).toBe('BLOB_UNKNOWN')
    const invalid = await raw(served.server, 'GET', '/v2/blobs/repo/blobs/sha256:zz')
    expect(invalid.status).toBe(400)
    expect(invalid.code()).toBe('DIGEST_INVALID')
  })

  it('refuses to delete shared blobs', async () => {
    const del = await raw(served.server, 'DELETE', `/v2/blobs/repo/blobs/${digest}`)
    expect(del.status).toBe(405)
    expect(del.code()).toBe('UNSUPPORTED')
    expect((await raw(served.server, 'HEAD', `/v2/blobs/repo/blobs/${digest}`)).status).toBe(200)
  })
})
