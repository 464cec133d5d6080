import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Manifest } from '../../src/oci/manifest.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage, pushSyntheticIndex } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

/** inspect and copy with --platform and digest references, against a real registry (distribution). */
describe('platforms and digest references (built CLI)', { timeout: 120_000 }, () => {
  let reg: Distribution
  let client: RegistryClient
  let index: Manifest
  let single: Manifest

  beforeAll(async () => {
    reg = await startDistribution()
    client = new RegistryClient()
    const spec = { seed: 'platforms', layers: 1, layerSize: 3000 }
    index = await pushSyntheticIndex(
      client.repository({ registry: reg.host, repository: 'multi/app' }),
      spec,
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
        { os: 'linux', architecture: 'arm', variant: 'v7' },
      ],
      '1.0',
    )
    single = await pushSyntheticImage(
      client.repository({ registry: reg.host, repository: 'single/app' }),
      { ...spec, seed: 'single' },
      '1.0',
    )
  })
  afterAll(async () => {
    await client?.close()
    await reg?.stop()
  })

  const childFor = (arch: string) => {
    if (index.kind !== 'index') throw new Error('not an index')
    return index.index.manifests.find((d) => d.platform?.architecture === arch)!
  }

  it('inspect of a digest reference prints NAME@DIGEST, which ferry reads back', async () => {
    const r = await ferry(['inspect', `${reg.host}/single/app@${single.digest}`])
    expect(r.code, r.stderr).toBe(0)
    const first = r.stdout.split('\n')[0]!
    expect(first).toBe(`${reg.host}/single/app@${single.digest}`)
    const again = await ferry(['digest', first])
    expect(again.stdout.trim()).toBe(single.digest)
    const tagged = await ferry(['inspect', `${reg.host}/single/app:1.0`])
    expect(tagged.stdout.split('\n')[0]).toBe(`${reg.host}/single/app:1.0`)
  })

  it('--platform that a single-platform image is not: inspect and copy refuse (exit 3), nothing copied', async () => {
    const inspect = await ferry(['inspect', `${reg.host}/single/app:1.0`, '--platform', 'linux/s390x'])
    expect(inspect.code).toBe(3)
    expect(inspect.stderr).toBe(
      `ferry: ${reg.host}/single/app:1.0 is a single-platform linux/amd64 image, not linux/s390x\n`,
    )
    const copy = await ferry([
      'copy',
      '--platform',
      'linux/s390x',
      `${reg.host}/single/app:1.0`,
      `${reg.host}/copied/s390x:1.0`,
    ])
    expect(copy.code).toBe(3)
    expect(copy.stderr.trim().split('\n')).toEqual([
      `ferry: ${reg.host}/single/app:1.0 is a single-platform linux/amd64 image, not linux/s390x`,
    ])
    expect(await client.catalog(reg.host)).not.toContain('copied/s390x')
    // The platform it is: accepted, same bytes.
    const ok = await ferry([
      'copy',
      '--platform',
      'linux/amd64',
      `${reg.host}/single/app:1.0`,
      `${reg.host}/copied/amd64:1.0`,
    ])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout.trim()).toBe(`${reg.host}/copied/amd64:1.0@${single.digest}`)
    const inspected = await ferry([
      'inspect',
      `${reg.host}/single/app:1.0`,
      '--platform',
      'linux/amd64',
      '--json',
    ])
    expect(JSON.parse(inspected.stdout).digest).toBe(single.digest)
  })

  it('copy --platform with one platform copies its own manifest, digest unchanged; two make an index', async () => {
    const arm64 = childFor('arm64')
    const one = await ferry([
      'copy',
      '--platform',
      'linux/arm64',
      `${reg.host}/multi/app:1.0`,
      `${reg.host}/one/app:1.0`,
    ])
    expect(one.code, one.stderr).toBe(0)
    expect(one.stdout.trim()).toBe(`${reg.host}/one/app:1.0@${arm64.digest}`)
    expect(one.stderr).toContain(
      `copied the platform's own manifest ${arm64.digest} (source index ${index.digest})`,
    )
    const copied = await client.repository({ registry: reg.host, repository: 'one/app' }).fetchManifest('1.0')
    expect(copied.kind).toBe('image')
    expect(copied.digest).toBe(arm64.digest)

    const two = await ferry([
      'copy',
      '--platform',
      'linux/arm64,linux/arm/v7',
      `${reg.host}/multi/app:1.0`,
      `${reg.host}/two/app:1.0`,
    ])
    expect(two.code, two.stderr).toBe(0)
    const made = await client.repository({ registry: reg.host, repository: 'two/app' }).fetchManifest('1.0')
    expect(made.kind === 'index' && made.index.manifests.map((d) => d.digest)).toEqual([
      arm64.digest,
      childFor('arm').digest,
    ])
    expect(made.digest).not.toBe(index.digest)
    expect(two.stderr).toContain(`made a new index ${made.digest}`)
  })
})
