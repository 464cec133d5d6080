import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { plural } from '../../src/util/plural.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

/** Counts in summaries agree with their nouns: `1 manifest pushed`, `2 manifests pushed`. */

describe('plurals', () => {
  it('one, many, none, and the irregular', () => {
    expect(plural(1, 'manifest')).toBe('1 manifest')
    expect(plural(2, 'manifest')).toBe('2 manifests')
    expect(plural(0, 'blob')).toBe('0 blobs')
    expect(plural(1, 'fallback index', 'fallback indexes')).toBe('1 fallback index')
    expect(plural(3, 'repository', 'repositories')).toBe('3 repositories')
  })
})

describe('plurals in summaries', { timeout: 120_000 }, () => {
  let upstream: Distribution
  let internal: Distribution
  let dir: string
  let env: Record<string, string>

  beforeAll(async () => {
    ;[upstream, internal] = await Promise.all([startDistribution(), startDistribution()])
    dir = await mkdtemp(join(tmpdir(), 'ferry-plurals-'))
    env = { XDG_STATE_HOME: join(dir, 'state') }
    const client = new RegistryClient()
    for (const name of ['one', 'two', 'three']) {
      // No layer: the config is the image's one blob.
      await pushSyntheticImage(
        client.repository({ registry: upstream.host, repository: `acme/${name}` }),
        { seed: name, layers: 0, layerSize: 0 },
        '1',
      )
    }
    await client.close()
  })
  afterAll(async () => {
    await Promise.all([upstream?.stop(), internal?.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  const spec = async (file: string, names: string[]) => {
    const path = join(dir, file)
    const images = names.map((n) => `  - source: ${upstream.host}/acme/${n}:1`)
    await writeFile(
      path,
      ['version: 1', `target: ${internal.host}/cache`, 'images:', ...images, ''].join('\n'),
    )
    return path
  }

  it('sync: one image, one blob, one manifest; then two of each', async () => {
    const one = await ferry(['sync', await spec('one.yaml', ['one'])], { env })
    expect(one.code, one.stderr).toBe(0)
    expect(one.stdout).toMatch(
      /\n1 copied \(1 blob sent \([^)]+\), 1 manifest pushed\), 0 in sync, 0 failed in /,
    )
    const again = await ferry(['sync', await spec('one.yaml', ['one'])], { env })
    expect(again.stdout).toMatch(/^1 image already in sync \(0 bytes transferred, 0 manifests pushed\)/m)
    const two = await ferry(['sync', await spec('two.yaml', ['two', 'three'])], { env })
    expect(two.stdout).toMatch(
      /\n2 copied \(2 blobs sent \([^)]+\), 2 manifests pushed\), 0 in sync, 0 failed in /,
    )
  })

  it('copy: one blob, one manifest', async () => {
    const r = await ferry(['copy', `${upstream.host}/acme/one:1`, `${internal.host}/other/one:1`], { env })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toMatch(
      /^copied 1 blob \([^)]+\), skipped 0, mounted 0; 1 manifest pushed, 0 present in /m,
    )
  })
})
