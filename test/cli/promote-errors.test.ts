import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
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
 * promote runs copy's steps itself (plan, apply, commit between its own gates), and its failures name
 * their side as a copy's do: the side is decided where promote calls it, on one line with the registry's
 * error code; --json carries the status, the registry's codes and the side.
 */
describe('promote: errors name the side that failed', { timeout: 120_000 }, () => {
  let dir: string
  let reg: Distribution
  let served: ServeProcess
  let env: Record<string, string>

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-promote-errors-'))
    await writeFile(join(dir, 'policy.yaml'), POLICY)
    ;[reg, served] = await Promise.all([
      startDistribution(),
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
      { seed: 'promote-sides', layers: 1, layerSize: 1024 },
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
    await reg?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const promote = (...args: string[]) => ferry(['promote', ...args], { env })
  const jsonError = async (...args: string[]) => {
    const r = await promote(...args, '--json')
    return { code: r.code, error: JSON.parse(r.stdout).error }
  }

  it('a source tag that does not exist: the source, 404 MANIFEST_UNKNOWN', async () => {
    const from = `${reg.host}/acme/app:nope`
    const to = `${reg.host}/x/missing:1`
    const r = await promote(from, to)
    expect(r.code).toBe(3)
    expect(r.stderr).toMatch(
      new RegExp(`^ferry: promote ${from} to ${to}: the source .*MANIFEST_UNKNOWN.*\\(HTTP 404\\)\\n$`),
    )
    const j = await jsonError(from, to)
    expect(j.code).toBe(3)
    expect(j.error).toMatchObject({
      code: 'NOT_FOUND',
      side: 'source',
      status: 404,
      registryCodes: ['MANIFEST_UNKNOWN'],
    })
    expect(j.error.message).toBe(r.stderr.slice('ferry: '.length, -1))
  })

  it('a destination whose policy refuses the tag: the destination, 403 DENIED', async () => {
    const from = `${reg.host}/acme/app:1`
    const to = `${served.host}/acme/app:latest`
    const r = await promote(from, to)
    expect(r.code).toBe(4)
    expect(r.stderr.split('\n')).toHaveLength(2)
    expect(r.stderr).toMatch(
      new RegExp(`^ferry: promote ${from} to ${to}: the destination .*DENIED.*\\(HTTP 403\\)\\n$`),
    )
    const j = await jsonError(from, to)
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
