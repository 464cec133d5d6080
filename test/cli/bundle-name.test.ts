import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex')

/** A bundle's name comes from its images or --name, never from the output file name. */
describe('bundle create --image: the name (built CLI)', { timeout: 120_000 }, () => {
  let reg: Distribution
  let dir: string
  let web: string
  let redis: string
  const env = { SOURCE_DATE_EPOCH: '1700000000' }

  beforeAll(async () => {
    reg = await startDistribution()
    dir = await mkdtemp(join(tmpdir(), 'ferry-bundle-name-'))
    const client = new RegistryClient()
    const spec = { layers: 1, layerSize: 2000 }
    await pushSyntheticImage(
      client.repository({ registry: reg.host, repository: 'acme/web' }),
      { ...spec, seed: 'web' },
      '1.0',
    )
    await pushSyntheticImage(
      client.repository({ registry: reg.host, repository: 'library/redis' }),
      { ...spec, seed: 'redis' },
      '7.2',
    )
    await client.close()
    web = `${reg.host}/acme/web:1.0`
    redis = `${reg.host}/library/redis:7.2`
  })
  afterAll(async () => {
    await reg?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const create = (output: string, ...more: string[]) =>
    ferry(['bundle', 'create', '--image', web, '--image', redis, '--output', join(dir, output), ...more], {
      env,
    })

  it('the same images make the same bytes under any file name; the name is from the images', async () => {
    const a = await create('Monday.tar')
    const b = await create('site-copy.tar')
    expect(a.code, a.stderr).toBe(0)
    expect(b.code, b.stderr).toBe(0)
    expect(await sha256(join(dir, 'Monday.tar'))).toBe(await sha256(join(dir, 'site-copy.tar')))
    expect(a.stderr).toMatch(/^web-redis 0: 2 images/m)
    const ls = JSON.parse((await ferry(['bundle', 'ls', join(dir, 'Monday.tar'), '--json'])).stdout)
    expect(ls.name).toBe('web-redis')
  })

  it('--name names it, and is checked like a spec name', async () => {
    const named = await create('named.tar', '--name', 'site')
    expect(named.code, named.stderr).toBe(0)
    expect(JSON.parse((await ferry(['bundle', 'ls', join(dir, 'named.tar'), '--json'])).stdout).name).toBe(
      'site',
    )
    const bad = await create('bad.tar', '--name', 'My Site')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe(
      'ferry: invalid bundle name "My Site": lower-case letters, digits, ".", "_" and "-", starting with a letter or digit\n',
    )
  })
})
