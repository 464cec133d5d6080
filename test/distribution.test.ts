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
      await (await fetch(`${reg.url}/v2/app/manifests/1.0`, { method: 'HEAD' })).arrayBuffer()
      await (await fetch(`${reg.url}/v2/app/tags/list`)).arrayBuffer()
      // The helper's start-up probes (GET /v2/) are logged too, and a line may come a moment after its
      // answer: look only at this test's paths, once both are there.
      const mine = () => reg.requests().filter((r) => r.uri.startsWith('/v2/app/'))
      for (let i = 0; i < 100 && mine().length < 2; i++) await new Promise((r) => setTimeout(r, 20))
      // Two goroutines log them: the order of the lines is not the order of the answers.
      expect(mine()).toHaveLength(2)
      expect(mine()).toEqual(
        expect.arrayContaining([
          { method: 'HEAD', uri: '/v2/app/manifests/1.0', status: 404 },
          { method: 'GET', uri: '/v2/app/tags/list', status: 404 },
        ]),
      )
      expect(reg.requests().every((r) => r.method !== '' && r.status >= 200)).toBe(true)
    } finally {
      await reg.stop()
    }
  })
})
