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
