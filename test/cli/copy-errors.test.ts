import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry, type ServeProcess, startFerryServe } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

/** Refuses `latest` everywhere: a push of it is answered 403 DENIED by `ferry serve --policy`. */
const POLICY = `version: 1
environments:
  - name: all
    match: { repositories: ["registry.test/*", "registry.test/*/*"] }
    forbid:
      tags: [latest]
`

/**
 * A failed copy names its side (decided where copy called that side, not guessed from host names) and
 * the registry's error code, on one line; --json carries the status, the registry's codes and the side.
 * promote runs copy's steps itself (plan, apply, commit between its own gates) and its failures say the
 * same, the side decided where promote calls it.
 */
describe('copy and promote: errors name the side that failed', { timeout: 120_000 }, () => {
  let dir: string
  let reg: Distribution
  let locked: Distribution
  let served: ServeProcess
  let env: Record<string, string>

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-copy-errors-'))
    await writeFile(join(dir, 'policy.yaml'), POLICY)
    ;[reg, locked, served] = await Promise.all([
      startDistribution(),
      startDistribution({ htpasswd: `ci:${bcrypt.hashSync('Right-Pa55word-A', 4)}\n` }),
      startFerryServe([
        '--root',
        join(dir, 'served'),
        '--policy',
        join(dir, 'policy.yaml'),
        '--name',
        'registry.test',
      ]),
    ])
    const client = new RegistryClient()
    await pushSyntheticImage(
      client.repository({ registry: reg.host, repository: 'acme/app' }),
      { seed: 'sides', layers: 1, layerSize: 1024 },
      '1',
    )
    await client.close()
    // No auth file of the user's is read.
    env = {
      DOCKER_CONFIG: join(dir, 'docker'),
      REGISTRY_AUTH_FILE: join(dir, 'none.json'),
      XDG_RUNTIME_DIR: dir,
    }
  })
  afterAll(async () => {
    await served?.stop()
    await Promise.all([reg?.stop(), locked?.stop()])
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const copy = (...args: string[]) => ferry(['copy', ...args], { env })
  const jsonError = async (...args: string[]) => {
    const r = await copy(...args, '--json')
    return { code: r.code, error: JSON.parse(r.stdout).error }
  }
  const promote = (...args: string[]) => ferry(['promote', ...args], { env })
  const promoteJsonError = async (...args: string[]) => {
    const r = await promote(...args, '--json')
    return { code: r.code, error: JSON.parse(r.stdout).error }
  }

  it('a source that wants credentials: the source, 401 UNAUTHORIZED', async () => {
    const from = `${locked.host}/acme/app:1`
    const to = `${reg.host}/x/locked:1`
    const r = await copy(from, to)
    expect(r.code).toBe(4)
    expect(r.stderr.split('\n')).toHaveLength(2)
    expect(r.stderr).toMatch(
      new RegExp(`^ferry: copy ${from} to ${to}: the source .*UNAUTHORIZED.*\\(HTTP 401\\).*\\n$`),
    )
    const j = await jsonError(from, to)
    expect(j.code).toBe(4)
    expect(j.error).toMatchObject({
      code: 'UNAUTHORIZED',
      side: 'source',
      status: 401,
      registryCodes: ['UNAUTHORIZED'],
    })
    expect(j.error.message).toBe(r.stderr.slice('ferry: '.length, -1))
  })

  it('a source tag that does not exist: the source, 404 MANIFEST_UNKNOWN', async () => {
    const from = `${reg.host}/acme/app:nope`
    const to = `${reg.host}/x/missing:1`
    const r = await copy(from, to)
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(
      new RegExp(`^ferry: copy ${from} to ${to}: the source .*MANIFEST_UNKNOWN.*\\(HTTP 404\\)\\n$`),
    )
    const j = await jsonError(from, to)
    expect(j.error).toMatchObject({
      code: 'NOT_FOUND',
      side: 'source',
      status: 404,
      registryCodes: ['MANIFEST_UNKNOWN'],
    })
  })

  it('a destination whose policy refuses the tag: the destination, 403 DENIED', async () => {
    const from = `${reg.host}/acme/app:1`
    const to = `${served.host}/acme/app:latest`
    const r = await copy(from, to)
    expect(r.code).toBe(4)
    expect(r.stderr.split('\n')).toHaveLength(2)
    expect(r.stderr).toMatch(
      new RegExp(`^ferry: copy ${from} to ${to}: the destination .*DENIED.*\\(HTTP 403\\)\\n$`),
    )
    const j = await jsonError(from, to)
    expect(j.code).toBe(4)
    expect(j.error).toMatchObject({
      code: 'DENIED',
      side: 'destination',
      status: 403,
      registryCodes: ['DENIED'],
    })
  })

  it('promote: a source tag that does not exist: the source, 404 MANIFEST_UNKNOWN', async () => {
    const from = `${reg.host}/acme/app:nope`
    const to = `${reg.host}/x/missing:1`
    const r = await promote(from, to)
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(
      new RegExp(`^ferry: promote ${from} to ${to}: the source .*MANIFEST_UNKNOWN.*\\(HTTP 404\\)\\n$`),
    )
    const j = await promoteJsonError(from, to)
    expect(j.code).toBe(3)
    expect(j.error).toMatchObject({
      code: 'NOT_FOUND',
      side: 'source',
      status: 404,
      registryCodes: ['MANIFEST_UNKNOWN'],
    })
    expect(j.error.message).toBe(r.stderr.slice('ferry: '.length, -1))
  })

  it('promote: a destination whose policy refuses the tag: the destination, 403 DENIED', async () => {
    const from = `${reg.host}/acme/app:1`
    const to = `${served.host}/acme/app:latest`
    const r = await promote(from, to)
    expect(r.code).toBe(4)
    expect(r.stderr.split('\n')).toHaveLength(2)
    expect(r.stderr).toMatch(
      new RegExp(`^ferry: promote ${from} to ${to}: the destination .*DENIED.*\\(HTTP 403\\)\\n$`),
    )
    const j = await promoteJsonError(from, to)
    expect(j.code).toBe(4)
    expect(j.error).toMatchObject({
      code: 'DENIED',
      side: 'destination',
      status: 403,
      registryCodes: ['DENIED'],
    })
    expect(j.error.operation).toEqual(expect.any(String))
  })
})
