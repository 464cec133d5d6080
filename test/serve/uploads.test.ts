import { createHash, randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UPLOADS_DIR } from '../../src/serve/index.js'
import { abortedUpload, pushBlob, raw, type Served, serveTemp, sha256 } from './helpers.js'

const octet = (body: Buffer, extra: Record<string, string | number> = {}) => ({
  body,
  headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': body.byteLength, ...extra },
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Files under the root that are neither layout content nor layout metadata: leftovers of uploads. */
async function leftovers(root: string): Promise<string[]> {
  const found: string[] = []
  for (const dir of [UPLOADS_DIR, 'ingest']) {
    const entries = await readdir(join(root, dir)).catch(() => [] as string[])
    found.push(...entries.map((e) => `${dir}/${e}`))
  }
  return found
}

describe('blob uploads', () => {
  let served: Served
  beforeAll(async () => {
    served = await serveTemp()
  })
  afterAll(async () => {
    await served?.stop()
  })

  it('takes a single monolithic POST and serves the blob back', async () => {
    const bytes = randomBytes(100_000)
    const digest = sha256(bytes)
    const res = await raw(served.server, 'POST', `/v2/mono/blobs/uploads/?digest=${digest}`, octet(bytes))
    expect(res.status).toBe(201)
    expect(res.headers.location).toBe(`/v2/mono/blobs/${digest}`)
    expect(res.headers['docker-content-digest']).toBe(digest)
    const got = await raw(served.server, 'GET', `/v2/mono/blobs/${digest}`)
    expect(got.status).toBe(200)
    expect(got.body.equals(bytes)).toBe(true)
  })

  it('takes POST then PUT with the whole body', async () => {
    const bytes = randomBytes(50_000)
    const digest = sha256(bytes)
    const start = await raw(served.server, 'POST', '/v2/two/step/blobs/uploads/')
    expect(start.status).toBe(202)
    expect(start.headers.range).toBe('0-0')
    expect(start.headers['docker-upload-uuid']).toMatch(/^[0-9a-f-]{36}$/)
    const location = start.headers.location as string
    expect(location).toBe(`/v2/two/step/blobs/uploads/${start.headers['docker-upload-uuid']}`)
    const put = await raw(served.server, 'PUT', `${location}?digest=${digest}`, octet(bytes))
    expect(put.status).toBe(201)
    expect(put.headers['docker-content-digest']).toBe(digest)
    expect((await raw(served.server, 'HEAD', `/v2/two/step/blobs/${digest}`)).headers['content-length']).toBe(
      '50000',
    )
  })

  it('takes chunks in order, reports progress, refuses an out-of-order chunk with 416', async () => {
    const bytes = randomBytes(30_000)
    const digest = sha256(bytes)
    const location = (await raw(served.server, 'POST', '/v2/chunked/blobs/uploads/')).headers
      .location as string

    const first = await raw(
      served.server,
      'PATCH',
      location,
      octet(bytes.subarray(0, 10_000), { 'Content-Range': '0-9999' }),
    )
    expect(first.status).toBe(202)
    expect(first.headers.range).toBe('0-9999')
    expect(first.headers.location).toBe(location)

    // Half an upload is never a blob.
    expect((await raw(served.server, 'HEAD', `/v2/chunked/blobs/${digest}`)).status).toBe(404)

    const replay = await raw(
      served.server,
      'PATCH',
      location,
      octet(bytes.subarray(0, 10_000), { 'Content-Range': '0-9999' }),
    )
    expect(replay.status).toBe(416)
    expect(replay.code()).toBe('BLOB_UPLOAD_INVALID')
    expect(replay.headers.range).toBe('0-9999')

    const status = await raw(served.server, 'GET', location)
    expect(status.status).toBe(204)
    expect(status.headers.range).toBe('0-9999')

    // A chunk without Content-Range is streamed on at the current offset.
    const second = await raw(served.server, 'PATCH', location, octet(bytes.subarray(10_000, 20_000)))
    expect(second.headers.range).toBe('0-19999')
    // The last chunk rides on the closing PUT.
    const put = await raw(
      served.server,
      'PUT',
      `${location}?digest=${digest}`,
      octet(bytes.subarray(20_000), { 'Content-Range': '20000-29999' }),
    )
    expect(put.status).toBe(201)
    expect((await raw(served.server, 'GET', `/v2/chunked/blobs/${digest}`)).body.equals(bytes)).toBe(true)
  })

  it('drops a chunk whose body does not match its Content-Range, keeping what came before', async () => {
    const bytes = randomBytes(2_000)
    const digest = sha256(bytes)
    const location = (await raw(served.server, 'POST', '/v2/short/blobs/uploads/')).headers.location as string
    await raw(served.server, 'PATCH', location, octet(bytes.subarray(0, 1000), { 'Content-Range': '0-999' }))
    const bad = await raw(
      served.server,
      'PATCH',
      location,
      octet(bytes.subarray(1000, 1500), { 'Content-Range': '1000-1999' }),
    )
    expect(bad.status).toBe(400)
    expect(bad.code()).toBe('BLOB_UPLOAD_INVALID')
    expect((await raw(served.server, 'GET', location)).headers.range).toBe('0-999')
    await raw(served.server, 'PATCH', location, octet(bytes.subarray(1000), { 'Content-Range': '1000-1999' }))
    expect((await raw(served.server, 'PUT', `${location}?digest=${digest}`)).status).toBe(201)
  })

  it('refuses content that does not hash to ?digest= and never shows it', async () => {
    const bytes = randomBytes(1000)
    const claimed = sha256(Buffer.from('something else'))
    const mono = await raw(served.server, 'POST', `/v2/bad/blobs/uploads/?digest=${claimed}`, octet(bytes))
    expect(mono.status).toBe(400)
    expect(mono.code()).toBe('DIGEST_INVALID')

    const location = (await raw(served.server, 'POST', '/v2/bad/blobs/uploads/')).headers.location as string
    const put = await raw(served.server, 'PUT', `${location}?digest=${claimed}`, octet(bytes))
    expect(put.status).toBe(400)
    expect(put.code()).toBe('DIGEST_INVALID')
    expect((await raw(served.server, 'HEAD', `/v2/bad/blobs/${claimed}`)).status).toBe(404)
    expect((await raw(served.server, 'HEAD', `/v2/bad/blobs/${sha256(bytes)}`)).status).toBe(404)
    // A failed close ends the session.
    expect((await raw(served.server, 'GET', location)).code()).toBe('BLOB_UPLOAD_UNKNOWN')

    const noDigest = await raw(served.server, 'POST', '/v2/bad/blobs/uploads/')
    const missing = await raw(served.server, 'PUT', noDigest.headers.location as string, octet(bytes))
    expect(missing.code()).toBe('DIGEST_INVALID')
  })

  it('takes a monolithic POST without Content-Length (chunked transfer coding)', async () => {
    const bytes = randomBytes(300_000)
    const digest = sha256(bytes)
    const res = await raw(served.server, 'POST', `/v2/streamed/blobs/uploads/?digest=${digest}`, {
      body: bytes,
      headers: { 'Transfer-Encoding': 'chunked' },
    })
    expect(res.status).toBe(201)
    expect((await raw(served.server, 'GET', `/v2/streamed/blobs/${digest}`)).body.equals(bytes)).toBe(true)
  })

  it('leaves nothing behind when a client disconnects mid-upload', async () => {
    const before = await leftovers(served.root)
    const bytes = randomBytes(1024 * 1024)
    const digest = sha256(bytes)
    await abortedUpload(
      served.server,
      'POST',
      `/v2/cut/blobs/uploads/?digest=${digest}`,
      bytes.byteLength,
      bytes.subarray(0, 100_000),
    )
    expect((await raw(served.server, 'HEAD', `/v2/cut/blobs/${digest}`)).status).toBe(404)
    await expect.poll(() => leftovers(served.root)).toEqual(before)

    // A cut chunk is taken back whole: the session stands where the last complete chunk left it.
    const location = (await raw(served.server, 'POST', '/v2/cut/blobs/uploads/')).headers.location as string
    await raw(served.server, 'PATCH', location, octet(bytes.subarray(0, 1000), { 'Content-Range': '0-999' }))
    await abortedUpload(served.server, 'PATCH', location, 50_000, bytes.subarray(1000, 20_000), {
      'Content-Range': '1000-50999',
    })
    expect((await raw(served.server, 'GET', location)).headers.range).toBe('0-999')
    await raw(
      served.server,
      'PATCH',
      location,
      octet(bytes.subarray(1000), { 'Content-Range': `1000-${bytes.byteLength - 1}` }),
    )
    expect((await raw(served.server, 'PUT', `${location}?digest=${digest}`)).status).toBe(201)
    expect((await raw(served.server, 'GET', `/v2/cut/blobs/${digest}`)).body.equals(bytes)).toBe(true)
  })

  it('verifies sha512 digests too', async () => {
    const bytes = randomBytes(5000)
    const digest = `sha512:${createHash('sha512').update(bytes).digest('hex')}`
    const res = await raw(served.server, 'POST', `/v2/wide/blobs/uploads/?digest=${digest}`, octet(bytes))
    expect(res.status).toBe(201)
    expect((await raw(served.server, 'GET', `/v2/wide/blobs/${digest}`)).body.equals(bytes)).toBe(true)
  })

  it('mounts a blob the root holds (201) and falls back to an upload session otherwise (202)', async () => {
    const digest = await pushBlob(served.server, 'origin/repo', randomBytes(2000))
    const mounted = await raw(
      served.server,
      'POST',
      `/v2/elsewhere/blobs/uploads/?mount=${digest}&from=origin/repo`,
    )
    expect(mounted.status).toBe(201)
    expect(mounted.headers.location).toBe(`/v2/elsewhere/blobs/${digest}`)
    expect(mounted.headers['docker-content-digest']).toBe(digest)

    const absent = sha256(randomBytes(10))
    const fallback = await raw(
      served.server,
      'POST',
      `/v2/elsewhere/blobs/uploads/?mount=${absent}&from=origin/repo`,
    )
    expect(fallback.status).toBe(202)
    expect(fallback.headers.location).toMatch(/^\/v2\/elsewhere\/blobs\/uploads\/[0-9a-f-]{36}$/)
    const badFrom = await raw(served.server, 'POST', `/v2/elsewhere/blobs/uploads/?mount=${digest}&from=../x`)
    expect(badFrom.status).toBe(202)
  })

  it('cancels with DELETE, and keeps sessions to their repository', async () => {
    const location = (await raw(served.server, 'POST', '/v2/mine/blobs/uploads/')).headers.location as string
    const id = location.split('/').at(-1)
    expect((await raw(served.server, 'GET', `/v2/theirs/blobs/uploads/${id}`)).code()).toBe(
      'BLOB_UPLOAD_UNKNOWN',
    )
    expect((await raw(served.server, 'DELETE', location)).status).toBe(204)
    const after = await raw(served.server, 'GET', location)
    expect(after.status).toBe(404)
    expect(after.code()).toBe('BLOB_UPLOAD_UNKNOWN')
    expect((await raw(served.server, 'GET', '/v2/mine/blobs/uploads/not-a-uuid')).status).toBe(404)
  })

  it('stores one blob uploaded by several clients at once', async () => {
    const bytes = randomBytes(3 * 1024 * 1024)
    const digest = sha256(bytes)
    // Sessions earlier tests left open (mount fallbacks) stay; the race itself must leave nothing.
    const before = await leftovers(served.root)
    const mono = Array.from({ length: 4 }, () =>
      raw(served.server, 'POST', `/v2/race/blobs/uploads/?digest=${digest}`, octet(bytes)),
    )
    const chunked = Array.from({ length: 2 }, async () => {
      const location = (await raw(served.server, 'POST', '/v2/race/blobs/uploads/')).headers
        .location as string
      await raw(
        served.server,
        'PATCH',
        location,
        octet(bytes.subarray(0, 1_000_000), { 'Content-Range': '0-999999' }),
      )
      return raw(served.server, 'PUT', `${location}?digest=${digest}`, octet(bytes.subarray(1_000_000)))
    })
    const results = await Promise.all([...mono, ...chunked])
    expect(results.map((r) => r.status)).toEqual([201, 201, 201, 201, 201, 201])
    expect((await raw(served.server, 'GET', `/v2/race/blobs/${digest}`)).body.equals(bytes)).toBe(true)
    expect(await leftovers(served.root)).toEqual(before)
  })
})

describe('upload cleanup', () => {
  it('drops an idle upload after the timeout, and every unfinished one at close', async () => {
    const served = await serveTemp({ uploadTimeoutMs: 300 })
    try {
      const stale = (await raw(served.server, 'POST', '/v2/slow/blobs/uploads/')).headers.location as string
      await raw(served.server, 'PATCH', stale, octet(randomBytes(1000)))
      expect(await leftovers(served.root)).toHaveLength(1)
      await sleep(700)
      expect((await raw(served.server, 'GET', stale)).code()).toBe('BLOB_UPLOAD_UNKNOWN')
      expect(await leftovers(served.root)).toEqual([])

      const open = (await raw(served.server, 'POST', '/v2/slow/blobs/uploads/')).headers.location as string
      await raw(served.server, 'PATCH', open, octet(randomBytes(1000)))
      expect(await leftovers(served.root)).toHaveLength(1)
      await served.server.close()
      expect(await leftovers(served.root)).toEqual([])
      expect(await readdir(served.root)).not.toContain(UPLOADS_DIR)
    } finally {
      await served.stop()
    }
  })
})

describe('upload session limits', () => {
  const post = (served: Served, localAddress = '127.0.0.1') =>
    raw(served.server, 'POST', '/v2/many/blobs/uploads/', { localAddress })

  it('answers 429 TOOMANYREQUESTS with Retry-After past the total cap, and frees a slot on cancel', async () => {
    const served = await serveTemp({ maxUploadSessions: 3, maxUploadSessionsPerClient: 10 })
    try {
      const statuses: number[] = []
      const locations: string[] = []
      for (let i = 0; i < 4; i++) {
        const res = await post(served, i % 2 ? '127.0.0.2' : '127.0.0.1')
        statuses.push(res.status)
        if (res.status === 202) locations.push(res.headers.location as string)
        else {
          expect(res.code()).toBe('TOOMANYREQUESTS')
          expect(res.headers['retry-after']).toBe('1')
        }
      }
      expect(statuses).toEqual([202, 202, 202, 429])
      expect(await leftovers(served.root)).toHaveLength(3)
      expect((await raw(served.server, 'DELETE', locations[0]!)).status).toBe(204)
      expect((await post(served)).status).toBe(202)
    } finally {
      await served.stop()
    }
  })

  it('caps sessions per client address: a second client still gets its own', async () => {
    const served = await serveTemp({ maxUploadSessions: 100, maxUploadSessionsPerClient: 2 })
    try {
      const first = [await post(served), await post(served), await post(served)].map((r) => r.status)
      expect(first).toEqual([202, 202, 429])
      const other = [
        await post(served, '127.0.0.2'),
        await post(served, '127.0.0.2'),
        await post(served, '127.0.0.2'),
      ]
      expect(other.map((r) => r.status)).toEqual([202, 202, 429])
      expect(await leftovers(served.root)).toHaveLength(4)
    } finally {
      await served.stop()
    }
  })

  it('an expired session frees its slot and its file', async () => {
    const served = await serveTemp({ maxUploadSessions: 1, uploadTimeoutMs: 300 })
    try {
      expect((await post(served)).status).toBe(202)
      expect((await post(served)).status).toBe(429)
      await sleep(700)
      expect(await leftovers(served.root)).toEqual([])
      expect((await post(served)).status).toBe(202)
      expect(await leftovers(served.root)).toHaveLength(1)
    } finally {
      await served.stop()
    }
  })
})
