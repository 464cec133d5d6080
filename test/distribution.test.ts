import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Distribution, startDistribution } from './helpers/distribution.js'

describe('test registry helper', () => {
  let reg: Distribution
  beforeAll(async () => {
    reg = await startDistribution()
  })
  afterAll(async () => reg?.stop())

  it('serves the distribution API on loopback', async () => {
    const res = await fetch(`${reg.url}/v2/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0')
  })
})

describe('test registry helper with a request log', () => {
  it('lists the requests it answered, with method, path and status', async () => {
    const reg = await startDistribution({ requestLog: true })
    try {
      // The helper's own start-up probe is a GET /v2/ too.
      const before = reg.requests().length
      await (await fetch(`${reg.url}/v2/`)).arrayBuffer()
      await (await fetch(`${reg.url}/v2/app/manifests/1.0`, { method: 'HEAD' })).arrayBuffer()
      // The log line is written as the answer goes out; give the process a moment to flush it.
      for (let i = 0; i < 50 && reg.requests().length < before + 2; i++)
        await new Promise((r) => setTimeout(r, 20))
      expect(reg.requests().slice(before)).toEqual([
        { method: 'GET', uri: '/v2/', status: 200 },
        { method: 'HEAD', uri: '/v2/app/manifests/1.0', status: 404 },
      ])
    } finally {
      await reg.stop()
    }
  })
})
