import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { faultTimes, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushImage, randomBlob, readAll, streamOf, syntheticImage } from '../helpers/registry-fixtures.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { tempDockerConfig } from './docker-config.js'

describe('bearer token auth against distribution (auth: token)', () => {
  let tokens: TokenServer
  let reg: Distribution
  let config: Awaited<ReturnType<typeof tempDockerConfig>>
  let empty: Awaited<ReturnType<typeof tempDockerConfig>>
  const image = syntheticImage()

  beforeAll(async () => {
    tokens = await startTokenServer({
      service: 'ferry-registry',
      users: { alice: 's3cret-alice' },
      refreshTokens: { 'refresh-for-alice': 'alice' },
    })
    reg = await startDistribution({
      token: {
        realm: tokens.realm,
        service: tokens.service,
        issuer: tokens.issuer,
        rootCertBundle: tokens.rootCertBundle,
      },
    })
    config = await tempDockerConfig({ [reg.host]: { username: 'alice', password: 's3cret-alice' } })
    empty = await tempDockerConfig()
  })
  afterAll(async () => {
    await reg?.stop()
    await tokens?.stop()
    await config?.remove()
    await empty?.remove()
  })

  const withClient = async <T>(dir: string, fn: (c: RegistryClient) => Promise<T>) => {
    const client = new RegistryClient({ dockerConfigDir: dir, retry: { baseDelayMs: 5 } })
    try {
      return await fn(client)
    } finally {
      await client.close()
    }
  }

  it('fetches one token per scope and reuses it', async () => {
    await withClient(config.dir, async (client) => {
      const repo = client.repository({ registry: reg.host, repository: 'team/app' })
      tokens.requests.length = 0
      await pushImage(repo, image, 'v1')
      const got = await repo.fetchManifest('v1')
      expect(got.digest).toBe(image.manifest.digest)
      expect(await readAll(await repo.fetchBlob(image.layers[0]!.desc))).toEqual(image.layers[0]!.bytes)
      // push = pull,push; the pulls afterwards are covered by the same token.
      expect(tokens.requests.map((r) => r.scopes)).toEqual([['repository:team/app:pull,push']])
      expect(tokens.requests[0]!.user).toBe('alice')
      expect(tokens.requests[0]!.service).toBe('ferry-registry')
      // Another repository is another scope.
      await client
        .repository({ registry: reg.host, repository: 'team/other' })
        .listTags()
        .catch(() => [])
      expect(tokens.requests.map((r) => r.scopes[0])).toEqual([
        'repository:team/app:pull,push',
        'repository:team/other:pull',
      ])
    })
  })

  it('pulls with an anonymous token when there are no credentials, and cannot push', async () => {
    await withClient(empty.dir, async (client) => {
      const repo = client.repository({ registry: reg.host, repository: 'team/app' })
      tokens.requests.length = 0
      expect((await repo.fetchManifest('v1')).digest).toBe(image.manifest.digest)
      expect(tokens.requests).toHaveLength(1)
      expect(tokens.requests[0]!.authorization).toBeUndefined()
      expect(tokens.requests[0]!.scopes).toEqual(['repository:team/app:pull'])
      const blob = randomBlob(100)
      await expect(repo.pushBlob(blob.desc, streamOf(blob.bytes))).rejects.toMatchObject({
        code: 'UNAUTHORIZED',
      })
    })
  })

  it('fetches a new token once the old one expires', async () => {
    tokens.options.expiresIn = 1
    try {
      await withClient(config.dir, async (client) => {
        const repo = client.repository({ registry: reg.host, repository: 'team/app' })
        tokens.requests.length = 0
        await repo.resolve('v1')
        await repo.resolve('v1')
        expect(tokens.requests).toHaveLength(1)
        await new Promise((r) => setTimeout(r, 1100))
        await repo.resolve('v1')
        expect(tokens.requests).toHaveLength(2)
      })
    } finally {
      tokens.options.expiresIn = 300
    }
  })

  it('keeps a token 60 s when the server gives no expires_in, and accepts access_token', async () => {
    tokens.options.expiresIn = null
    tokens.options.accessTokenField = true
    try {
      await withClient(config.dir, async (client) => {
        const repo = client.repository({ registry: reg.host, repository: 'team/app' })
        tokens.requests.length = 0
        await repo.resolve('v1')
        await new Promise((r) => setTimeout(r, 200))
        await repo.resolve('v1')
        expect(tokens.requests).toHaveLength(1)
      })
    } finally {
      tokens.options.expiresIn = 300
      tokens.options.accessTokenField = false
    }
  })

  it('on a 401 with a cached token, fetches a fresh one and retries once', async () => {
    // The registry refuses a cached token when its clock says it expired early; a proxy plays that 401.
    const proxy = await startFaultProxy(reg.url)
    try {
      await withClient(config.dir, async (client) => {
        const repo = client.repository({ registry: proxy.host, repository: 'team/app' })
        tokens.requests.length = 0
        await repo.resolve('v1')
        expect(tokens.requests).toHaveLength(1)
        proxy.setRule(
          faultTimes('HEAD', /manifests\/v1/, 1, {
            kind: 'status',
            status: 401,
            headers: {
              'www-authenticate': `Bearer realm="${tokens.realm}",service="${tokens.service}",scope="repository:team/app:pull",error="invalid_token"`,
            },
          }),
        )
        proxy.seen.length = 0
        expect((await repo.resolve('v1')).digest).toBe(image.manifest.digest)
        expect(tokens.requests).toHaveLength(2)
        expect(proxy.seen.filter((r) => r.method === 'HEAD')).toHaveLength(2)
      })
    } finally {
      await proxy.stop()
    }
  })

  it('asks for pull on the source repository too when mounting', async () => {
    await withClient(config.dir, async (client) => {
      const dst = client.repository({ registry: reg.host, repository: 'team/mounted' })
      const src = client.repository({ registry: reg.host, repository: 'team/app' })
      tokens.requests.length = 0
      expect(await dst.mountBlob(image.layers[1]!.desc, src)).toBe(true)
      expect(tokens.requests.map((r) => r.scopes)).toEqual([
        ['repository:team/app:pull', 'repository:team/mounted:pull,push'],
      ])
    })
  })

  it('exchanges an identity token (OAuth2 refresh grant) for access', async () => {
    const cfg = await tempDockerConfig({}, { auths: { [reg.host]: { identitytoken: 'refresh-for-alice' } } })
    try {
      await withClient(cfg.dir, async (client) => {
        tokens.requests.length = 0
        const blob = randomBlob(300)
        await client
          .repository({ registry: reg.host, repository: 'team/oauth' })
          .pushBlob(blob.desc, streamOf(blob.bytes))
        expect(tokens.requests.map((r) => [r.method, r.user])).toEqual([['POST', 'alice']])
      })
    } finally {
      await cfg.remove()
    }
  })

  it('lists the catalog with the registry:catalog:* scope', async () => {
    await withClient(config.dir, async (client) => {
      tokens.requests.length = 0
      expect(await client.catalog(reg.host)).toEqual(expect.arrayContaining(['team/app', 'team/mounted']))
      expect(tokens.requests.map((r) => r.scopes)).toEqual([['registry:catalog:*']])
    })
  })

  it('reports refused credentials as UNAUTHORIZED, naming the registry and user', async () => {
    const bad = await tempDockerConfig({ [reg.host]: { username: 'alice', password: 'wrong' } })
    try {
      await withClient(bad.dir, async (client) => {
        const err = await client
          .repository({ registry: reg.host, repository: 'team/app' })
          .fetchManifest('v1')
          .catch((e: unknown) => e)
        expect(err).toMatchObject({ code: 'UNAUTHORIZED' })
        expect((err as Error).message).toContain(reg.host)
        expect((err as Error).message).toContain('alice')
      })
    } finally {
      await bad.remove()
    }
  })
})
