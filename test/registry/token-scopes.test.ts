import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { TokenCache } from '../../src/registry/token-cache.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { randomBlob, streamOf } from '../helpers/registry-fixtures.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { tempDockerConfig } from './docker-config.js'

describe('token cache keyed by granted scopes', () => {
  it('does not offer a token granted pull for a request that needs push', async () => {
    const cache = new TokenCache()
    const issued = { token: 'pull-only', expiresIn: 300, granted: ['repository:team/app:pull'] }
    expect(await cache.obtain('reg', ['repository:team/app:pull,push'], async () => issued)).toBe('pull-only')
    expect(cache.get('reg', ['repository:team/app:pull'])).toBe('pull-only')
    expect(cache.get('reg', ['repository:team/app:pull,push'])).toBeUndefined()
  })

  // The real distribution registry in token mode, with the loopback token service (test/helpers):
  // it grants anonymous clients pull only, whatever they ask for, as Docker Hub does.
  describe('against distribution', () => {
    let tokens: TokenServer
    let reg: Distribution
    let proxy: FaultProxy
    let empty: Awaited<ReturnType<typeof tempDockerConfig>>

    beforeAll(async () => {
      tokens = await startTokenServer({ service: 'ferry-registry', users: {} })
      reg = await startDistribution({
        token: {
          realm: tokens.realm,
          service: tokens.service,
          issuer: tokens.issuer,
          rootCertBundle: tokens.rootCertBundle,
        },
      })
      proxy = await startFaultProxy(reg.url)
      empty = await tempDockerConfig()
    })
    afterAll(async () => {
      await proxy?.stop()
      await reg?.stop()
      await tokens?.stop()
      await empty?.remove()
    })

    it('asks the token service again for a push after a push request was granted pull only', async () => {
      const client = new RegistryClient({ dockerConfigDir: empty.dir, retry: { attempts: 1 } })
      try {
        const repo = client.repository({ registry: proxy.host, repository: 'team/app' })
        const blob = randomBlob(1000)
        await expect(repo.pushBlob(blob.desc, streamOf(blob.bytes))).rejects.toMatchObject({
          code: 'UNAUTHORIZED',
        })
        expect(tokens.requests.map((r) => r.scopes)).toEqual([['repository:team/app:pull,push']])
        // A read is covered by the pull the service did grant: no token request.
        expect(await repo.hasBlob(blob.desc)).toBe(false)
        expect(tokens.requests).toHaveLength(1)
        // The next push asks for a token before its first POST instead of presenting the pull-only one.
        const before = tokens.issued.length
        const mark = proxy.seen.length
        await expect(repo.pushBlob(blob.desc, streamOf(blob.bytes))).rejects.toMatchObject({
          code: 'UNAUTHORIZED',
        })
        const firstPost = proxy.seen.slice(mark).find((r) => r.method === 'POST')!
        expect(tokens.issued.slice(0, before).map((t) => `Bearer ${t}`)).not.toContain(
          firstPost.headers.authorization,
        )
        expect(firstPost.headers.authorization).toBe(`Bearer ${tokens.issued[before]}`)
      } finally {
        await client.close()
      }
    })
  })
})
