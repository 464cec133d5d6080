import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isFerryError } from '../../src/errors.js'
import { RegistryClient } from '../../src/registry/index.js'
import { realmRefusal } from '../../src/registry/token-realm.js'
import { ferry, startFerryServe } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { pushImage, syntheticImage } from '../helpers/registry-fixtures.js'
import { selfSignedCert } from '../helpers/self-signed.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { tempDockerConfig } from './docker-config.js'

/** Which realms may receive credentials (sweep 2026-12, M8): the rule itself, host by host. */
describe('realmRefusal', () => {
  const judge = (registry: string, realm: string, allowed: string[] = []) =>
    realmRefusal(new URL(registry), new URL(realm), allowed)

  it.each([
    ['https://registry-1.docker.io', 'https://auth.docker.io/token'],
    ['https://registry.gitlab.com', 'https://gitlab.com/jwt/auth'],
    ['https://registry.example.com', 'https://gitlab.example.com/jwt/auth'],
    ['https://ghcr.io', 'https://ghcr.io/token'],
    ['https://example.com', 'https://auth.example.com/token'],
    ['https://10.0.0.5:5000', 'https://10.0.0.5:5001/token'],
    ['https://127.0.0.1:5000', 'http://127.0.0.1:5001/token'],
    ['http://reg.lan:5000', 'http://reg.lan:5001/token'],
    ['https://reg.other.io', 'https://auth.corp.net/token', ['auth.corp.net']],
    ['https://reg.other.io', 'https://auth.corp.net:8443/token', ['auth.corp.net:8443']],
    ['https://127.0.0.1:5000', 'http://127.0.0.2:5001/token', ['127.0.0.2']],
  ])('%s → %s: credentials may go', (registry, realm, allowed?: string[]) => {
    expect(judge(registry, realm, allowed)).toBeUndefined()
  })

  it.each([
    ['https://registry.example.com', 'https://evil.net/token', /another host \(evil\.net\)/, true],
    ['https://registry.com', 'https://auth.com/token', /another host/, true],
    ['https://10.0.0.5', 'https://10.0.0.6/token', /another host/, true],
    ['https://127.0.0.1:5000', 'https://127.0.0.2:5001/token', /another host/, true],
    ['https://reg.other.io', 'https://auth.corp.net:9443/token', /another host/, true],
    [
      'https://registry.example.com',
      'http://auth.example.com/token',
      /plain http:\/\/ while the registry is https/,
      false,
    ],
    ['https://registry.example.com', 'http://registry.example.com:5001/token', /plain http/, false],
    ['http://reg.lan:5000', 'http://auth.lan/token', /plain http/, false],
    ['https://reg.other.io', 'http://auth.corp.net/token', /plain http/, false],
    ['https://127.0.0.1:5000', 'http://127.0.0.2:5001/token', /another host/, true],
  ])('%s → %s: refused', (registry, realm, reason, allowable) => {
    const allowed = registry === 'https://reg.other.io' ? ['auth.corp.net:8443'] : []
    const refusal = judge(registry, realm, allowed)
    expect(refusal?.reason).toMatch(reason)
    expect(refusal?.allowable).toBe(allowable)
  })
})

/**
 * A TLS distribution registry (self-signed certificate, trusted with caFiles) whose token realm is on
 * 127.0.0.2 (another host) or on its own host, with credentials for it stored in a docker config. The
 * token services are test/helpers/token-server.ts: no real token service runs on loopback offline.
 */
describe('credentials and token realms', { timeout: 120_000 }, () => {
  let dir: string
  let cert: string
  let plainOther: TokenServer
  let tlsOther: TokenServer
  let plainSame: TokenServer
  const regs: Record<string, Distribution> = {}
  let creds: Awaited<ReturnType<typeof tempDockerConfig>>
  let empty: Awaited<ReturnType<typeof tempDockerConfig>>
  let refresh: Awaited<ReturnType<typeof tempDockerConfig>>
  const users = { alice: 'alice-Pa55-realm' }
  let caFiles: string[] = []

  const registryFor = (tokens: TokenServer, tls = true) => {
    const dirTls = tls ? { keyFile: join(dir, 'key.pem'), certFile: cert } : undefined
    return startDistribution({
      tls: dirTls,
      token: {
        realm: tokens.realm,
        service: tokens.service,
        issuer: tokens.issuer,
        rootCertBundle: tokens.rootCertBundle,
      },
    })
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-token-realm-'))
    cert = join(dir, 'cert.pem')
    selfSignedCert(dir, { cn: '127.0.0.1', ip: '127.0.0.1' })
    const other = join(dir, 'other')
    await mkdir(other)
    const otherTls = selfSignedCert(other, { cn: '127.0.0.2', ip: '127.0.0.2' })
    const common = { service: 'ferry-registry', users, refreshTokens: { 'refresh-for-alice': 'alice' } }
    ;[plainOther, tlsOther, plainSame] = await Promise.all([
      startTokenServer({ ...common, address: '127.0.0.2' }),
      startTokenServer({ ...common, address: '127.0.0.2', tls: otherTls }),
      startTokenServer(common),
    ])
    ;[regs.plainOther, regs.tlsOther, regs.plainSame, regs.httpPlainOther] = await Promise.all([
      registryFor(plainOther),
      registryFor(tlsOther),
      registryFor(plainSame),
      registryFor(plainOther, false),
    ])
    const stored = (r: Distribution) => ({ [r.host]: { username: 'alice', password: users.alice } })
    creds = await tempDockerConfig(Object.assign({}, ...Object.values(regs).map(stored)))
    empty = await tempDockerConfig()
    refresh = await tempDockerConfig(
      {},
      {
        auths: Object.fromEntries(
          Object.values(regs).map((r) => [r.host, { identitytoken: 'refresh-for-alice' }]),
        ),
      },
    )
    caFiles = [cert, otherTls.certFile]
  })
  afterAll(async () => {
    await Promise.all(Object.values(regs).map((r) => r.stop()))
    await Promise.all([plainOther, tlsOther, plainSame].map((t) => t?.stop()))
    await Promise.all([creds, empty, refresh].map((c) => c?.remove()))
    await rm(dir, { recursive: true, force: true })
  })

  const withClient = async <T>(
    config: string,
    allowTokenRealms: string[] | undefined,
    fn: (c: RegistryClient) => Promise<T>,
  ) => {
    const client = new RegistryClient({
      dockerConfigDir: config,
      caFiles,
      allowTokenRealms,
      retry: { attempts: 1 },
    })
    try {
      return await fn(client)
    } finally {
      await client.close()
    }
  }
  const missingTag = (client: RegistryClient, reg: Distribution) =>
    client
      .repository({ registry: reg.host, repository: 'team/app' })
      .fetchManifest('nope')
      .then(
        () => undefined,
        (e: unknown) => e,
      )

  it('an https registry naming a plain-http realm on another host gets no credentials sent there', async () => {
    plainOther.requests.length = 0
    const err = await withClient(creds.dir, undefined, (c) => missingTag(c, regs.plainOther!))
    expect(isFerryError(err, 'UNAUTHORIZED'), String(err)).toBe(true)
    expect((err as Error).message).toBe(
      `${regs.plainOther!.host}: credentials not sent to token realm ${plainOther.realm}: it is on another host (${new URL(plainOther.realm).host}) than the registry (${regs.plainOther!.host}) and outside its domain; if you trust it, allow it with --allow-token-realm ${new URL(plainOther.realm).host} (or FERRY_ALLOW_TOKEN_REALM)`,
    )
    expect(plainOther.requests.filter((r) => r.authorization !== undefined)).toEqual([])
  })

  it('an https realm on another host gets no credentials either, until it is allowed', async () => {
    tlsOther.requests.length = 0
    const err = await withClient(creds.dir, undefined, (c) => missingTag(c, regs.tlsOther!))
    expect(isFerryError(err, 'UNAUTHORIZED'), String(err)).toBe(true)
    expect((err as Error).message).toMatch(/--allow-token-realm 127\.0\.0\.2:\d+/)
    expect(tlsOther.requests.filter((r) => r.authorization !== undefined)).toEqual([])

    await withClient(creds.dir, ['127.0.0.2'], async (c) => {
      const repo = c.repository({ registry: regs.tlsOther!.host, repository: 'team/app' })
      await pushImage(repo, syntheticImage(), 'v1')
      expect((await repo.fetchManifest('v1')).digest).toMatch(/^sha256:/)
    })
    expect(tlsOther.requests.map((r) => r.user)).toContain('alice')
  })

  it('a plain-http realm on loopback takes credentials once its host is allowed', async () => {
    plainOther.requests.length = 0
    const err = await withClient(creds.dir, [new URL(plainOther.realm).host], (c) =>
      missingTag(c, regs.plainOther!),
    )
    expect(isFerryError(err, 'NOT_FOUND'), String(err)).toBe(true)
    expect(plainOther.requests.map((r) => r.user)).toEqual(['alice'])
  })

  it('a realm on the registry host itself takes credentials', async () => {
    plainSame.requests.length = 0
    await withClient(creds.dir, undefined, async (c) => {
      const repo = c.repository({ registry: regs.plainSame!.host, repository: 'team/app' })
      await pushImage(repo, syntheticImage(), 'v1')
    })
    expect(plainSame.requests.map((r) => r.user)).toContain('alice')
  })

  it('a plain-http registry naming a realm on another host is refused too', async () => {
    const err = await withClient(creds.dir, undefined, (c) => missingTag(c, regs.httpPlainOther!))
    expect((err as Error).message).toMatch(/credentials not sent to token realm .*another host/)
  })

  it('an identity token is not posted to a refused realm', async () => {
    tlsOther.requests.length = 0
    const err = await withClient(refresh.dir, undefined, (c) => missingTag(c, regs.tlsOther!))
    expect((err as Error).message).toMatch(/credentials not sent to token realm/)
    expect(tlsOther.requests).toEqual([])
  })

  it('without credentials, any realm is asked for an anonymous token', async () => {
    plainOther.requests.length = 0
    const err = await withClient(empty.dir, undefined, (c) => missingTag(c, regs.plainOther!))
    expect(isFerryError(err, 'NOT_FOUND'), String(err)).toBe(true)
    expect(plainOther.requests).toHaveLength(1)
    expect(plainOther.requests[0]!.authorization).toBeUndefined()
  })

  it('ferry digest fails with one line; --allow-token-realm and FERRY_ALLOW_TOKEN_REALM allow it', async () => {
    const realmHost = new URL(tlsOther.realm).host
    // https:// spelled out: a HEAD cannot read Go's "HTTP request to an HTTPS server" answer to learn it.
    const image = `https://${regs.tlsOther!.host}/team/app:v1`
    const args = ['digest', image, '--ca-file', cert, '--ca-file', caFiles[1]!]
    const env = { DOCKER_CONFIG: creds.dir }
    tlsOther.requests.length = 0
    const refused = await ferry(args, { env })
    expect(refused.code, refused.stderr).toBe(4)
    expect(refused.stderr.split('\n')).toEqual([
      expect.stringMatching(
        /^ferry: .*credentials not sent to token realm https:\/\/127\.0\.0\.2:\d+\/token: .*--allow-token-realm/,
      ),
      '',
    ])
    expect(refused.stderr).not.toContain(users.alice)
    expect(tlsOther.requests).toEqual([])
    const byFlag = await ferry([...args, '--allow-token-realm', realmHost], { env })
    expect(byFlag.stderr).toBe('')
    expect(byFlag.code).toBe(0)
    const byEnv = await ferry(args, {
      env: { ...env, FERRY_ALLOW_TOKEN_REALM: `other.example,${realmHost}` },
    })
    expect(byEnv.code).toBe(0)
    expect(tlsOther.requests.map((r) => r.user)).toEqual(['alice', 'alice'])
  })

  it('serve --upstream: the mirror sends its upstream credentials only to an allowed realm', async () => {
    const upstream = regs.httpPlainOther!
    await withClient(creds.dir, ['127.0.0.2'], (c) =>
      pushImage(c.repository({ registry: upstream.host, repository: 'team/app' }), syntheticImage(), 'v1'),
    )
    const pull = async (extra: string[]) => {
      const mirror = await startFerryServe(
        ['--root', join(dir, `mirror-${extra.length}`), '--upstream', `http://${upstream.host}`, ...extra],
        { env: { DOCKER_CONFIG: creds.dir } },
      )
      try {
        return (await fetch(`http://${mirror.host}/v2/team/app/manifests/v1`)).status
      } finally {
        await mirror.stop()
      }
    }
    plainOther.requests.length = 0
    expect(await pull([])).toBeGreaterThanOrEqual(500)
    expect(plainOther.requests.filter((r) => r.authorization !== undefined)).toEqual([])
    expect(await pull(['--allow-token-realm', new URL(plainOther.realm).host])).toBe(200)
    expect(plainOther.requests.map((r) => r.user)).toContain('alice')
  })
})
