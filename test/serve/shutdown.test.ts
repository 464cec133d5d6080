import { randomBytes } from 'node:crypto'
import { readdir } from 'node:fs/promises'
import { request } from 'node:http'
import { describe, expect, it } from 'vitest'
import type { RunningServer } from '../../src/serve/index.js'
import { raw, serveTemp } from './helpers.js'

/** A PATCH whose body is sent in two halves, so a test can act between them. */
function slowPatch(server: RunningServer, location: string, body: Buffer) {
  const req = request({
    host: '127.0.0.1',
    port: server.port,
    method: 'PATCH',
    path: location,
    agent: false,
    headers: { 'Content-Length': body.byteLength, 'Content-Type': 'application/octet-stream' },
  })
  const response = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
  })
  response.catch(() => {})
  const half = body.byteLength / 2
  return {
    response,
    firstHalf: () => new Promise<void>((r) => req.write(body.subarray(0, half), () => r())),
    rest: () => req.end(body.subarray(half)),
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('shutdown', () => {
  it('stops accepting, lets a running upload finish, then removes unfinished uploads', async () => {
    const served = await serveTemp()
    try {
      const location = (await raw(served.server, 'POST', '/v2/s/blobs/uploads/')).headers.location as string
      const patch = slowPatch(served.server, location, randomBytes(200_000))
      await patch.firstHalf()
      await sleep(100)
      const closing = served.server.close()
      await sleep(100)
      await expect(raw(served.server, 'GET', '/v2/')).rejects.toThrow(/ECONNREFUSED/)
      patch.rest()
      expect(await patch.response).toBe(202)
      await closing
      expect(await readdir(served.root)).toEqual(expect.not.arrayContaining(['.uploads']))
    } finally {
      await served.stop()
    }
  })

  it('cuts off requests that outlast the grace period', async () => {
    const served = await serveTemp({ shutdownTimeoutMs: 300 })
    try {
      const location = (await raw(served.server, 'POST', '/v2/s/blobs/uploads/')).headers.location as string
      const patch = slowPatch(served.server, location, randomBytes(200_000))
      await patch.firstHalf()
      await sleep(100)
      const started = Date.now()
      await served.server.close()
      expect(Date.now() - started).toBeLessThan(3000)
      await expect(patch.response).rejects.toThrow()
      expect(await readdir(served.root)).toEqual(expect.not.arrayContaining(['.uploads']))
    } finally {
      await served.stop()
    }
  })
})
