import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { forEachLimited, Limiter } from '../../src/util/limit.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

/**
 * A sync of many images into the real distribution registry, as the CLI runs it: dozens of requests
 * are in flight at once under the one Ctrl-C signal, and Node must not warn about a listener leak
 * (each request used to add its own "abort" listener to that signal: 11 at once and Node warned).
 */

const IMAGES = 64

describe('sync of many images', { timeout: 240_000 }, () => {
  let upstream: Distribution
  let internal: Distribution
  let dir: string
  let spec: string

  beforeAll(async () => {
    ;[upstream, internal] = await Promise.all([startDistribution(), startDistribution()])
    dir = await mkdtemp(join(tmpdir(), 'ferry-sync-many-'))
    const client = new RegistryClient()
    const indexes = Array.from({ length: IMAGES }, (_, i) => i)
    await forEachLimited(indexes, new Limiter(8), async (i) => {
      const repo = client.repository({ registry: upstream.host, repository: `acme/app-${i}` })
      await pushSyntheticImage(repo, { seed: `many-${i}`, layers: 2, layerSize: 256 * 1024 }, '1.0')
    })
    await client.close()
    spec = join(dir, 'mirror.yaml')
    await writeFile(
      spec,
      [
        'version: 1',
        `target: ${internal.host}/cache`,
        'images:',
        ...indexes.map((i) => `  - source: ${upstream.host}/acme/app-${i}:1.0`),
        '',
      ].join('\n'),
    )
  })
  afterAll(async () => {
    await Promise.all([upstream?.stop(), internal?.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  it('prints no MaxListenersExceededWarning, copying and then finding everything in sync', async () => {
    const env = { NODE_OPTIONS: '--trace-warnings', XDG_STATE_HOME: join(dir, 'state') }
    const args = ['sync', spec, '--concurrency', '8', '--blob-concurrency', '16']
    const first = await ferry(args, { env })
    expect(first.stderr).not.toContain('MaxListenersExceededWarning')
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout).toContain(`${IMAGES} copied (`)
    const again = await ferry(args, { env })
    expect(again.stderr).not.toContain('MaxListenersExceededWarning')
    expect(again.stdout).toContain(`all ${IMAGES} images already in sync`)
  })
})
