import { inspect } from 'node:util'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { login, RegistryClient } from '../../src/registry/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushImage, randomBlob, readAll, streamOf, syntheticImage } from '../helpers/registry-fixtures.js'
import { startTokenServer, type TokenServer } from '../helpers/token-server.js'
import { tempDockerConfig } from './docker-config.js'
import { captureLogger } from './log-capture.js'

const PASSWORD = 'Pa55-never-print-me'
const BASIC = Buffer.from(`carol:${PASSWORD}`).toString('base64')

/** Runs `fn`, returning its error (or undefined) with everything it would show anyone. */
async function exposure(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn()
    return ''
  } catch (err) {
    return `${String(err)}\n${(err as Error).message}\n${inspect(err, { depth: 10, showHidden: true })}\n${JSON.stringify(err)}`
  }
}

async function scenario(host: string, proxy: FaultProxy, dir: string, badDir: string) {
  const log = captureLogger()
  const outputs: string[] = []
  const client = new RegistryClient({
    dockerConfigDir: dir,
    logger: log,
    retry: { attempts: 2, baseDelayMs: 5 },
  })
  const bad = new RegistryClient({
    dockerConfigDir: badDir,
    logger: log,
    retry: { attempts: 2, baseDelayMs: 5 },
  })
  try {
    const repo = client.repository({ registry: host, repository: 'sec/app' })
    const image = syntheticImage()
    // Succeeding operations.
    outputs.push(await exposure(() => pushImage(repo, image, 'v1')))
    outputs.push(await exposure(async () => readAll(await repo.fetchBlob(image.layers[0]!.desc))))
    outputs.push(await exposure(() => repo.listTags()))
    expect(outputs.every((o) => o === '')).toBe(true)
    // Failing ones: not found, refused credentials, network failures with credentials in play.
    outputs.push(await exposure(() => repo.fetchManifest('missing')))
    outputs.push(
      await exposure(() => bad.repository({ registry: host, repository: 'sec/app' }).fetchManifest('v1')),
    )
    outputs.push(
      await exposure(() => login(client, host, 'carol', 'wrong-password', { dockerConfigDir: dir })),
    )
    proxy.setRule(() => ({ kind: 'reset' }))
    outputs.push(await exposure(() => repo.fetchManifest('v1')))
    const blob = randomBlob(1000)
    outputs.push(await exposure(() => repo.pushBlob(blob.desc, streamOf(blob.bytes))))
    proxy.setRule(undefined)
    expect(outputs.filter((o) => o !== '')).toHaveLength(5)
  } finally {
    proxy.setRule(undefined)
    await client.close()
    await bad.close()
  }
  return { lines: log.lines, outputs }
}

function assertClean(texts: string[], secrets: string[]) {
  expect(texts.length).toBeGreaterThan(0)
  for (const text of texts) {
    for (const secret of secrets) expect(text).not.toContain(secret)
    expect(text).not.toMatch(/authorization["']?\s*[:=]\s*["']?(basic|bearer)/i)
  }
}

describe('secrets never reach logs or errors', () => {
  let basicReg: Distribution
  let tokenReg: Distribution
  let tokens: TokenServer
  let basicProxy: FaultProxy
  let tokenProxy: FaultProxy
  let cfg: Awaited<ReturnType<typeof tempDockerConfig>>
  let badCfg: Awaited<ReturnType<typeof tempDockerConfig>>

  beforeAll(async () => {
    basicReg = await startDistribution({ htpasswd: `carol:${bcrypt.hashSync(PASSWORD, 4)}\n` })
    tokens = await startTokenServer({ service: 'sec', users: { carol: PASSWORD } })
    tokenReg = await startDistribution({
      token: {
        realm: tokens.realm,
        service: tokens.service,
        issuer: tokens.issuer,
        rootCertBundle: tokens.rootCertBundle,
      },
    })
    basicProxy = await startFaultProxy(basicReg.url)
    tokenProxy = await startFaultProxy(tokenReg.url)
    const creds = { username: 'carol', password: PASSWORD }
    cfg = await tempDockerConfig({ [basicProxy.host]: creds, [tokenProxy.host]: creds })
    const wrong = { username: 'carol', password: `${PASSWORD}-wrong` }
    badCfg = await tempDockerConfig({ [basicProxy.host]: wrong, [tokenProxy.host]: wrong })
  })
  afterAll(async () => {
    await basicProxy?.stop()
    await tokenProxy?.stop()
    await basicReg?.stop()
    await tokenReg?.stop()
    await tokens?.stop()
    await cfg?.remove()
    await badCfg?.remove()
  })

  it('with basic auth', async () => {
    const { lines, outputs } = await scenario(basicProxy.host, basicProxy, cfg.dir, badCfg.dir)
    // The credentials were really sent (so the test can fail): the proxy saw them.
    expect(basicProxy.seen.some((r) => r.headers.authorization === `Basic ${BASIC}`)).toBe(true)
    assertClean([...lines, ...outputs], [PASSWORD, BASIC])
  })

  it('with token auth', async () => {
    const { lines, outputs } = await scenario(tokenProxy.host, tokenProxy, cfg.dir, badCfg.dir)
    expect(tokens.issued.length).toBeGreaterThan(0)
    expect(tokenProxy.seen.some((r) => r.headers.authorization === `Bearer ${tokens.issued[0]}`)).toBe(true)
    // Tokens are long; a fragment of one is as bad as the whole.
    const fragments = tokens.issued.flatMap((t) => t.split('.').filter((p) => p.length > 20))
    assertClean([...lines, ...outputs], [PASSWORD, BASIC, ...tokens.issued, ...fragments])
  })
})
