import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'

/** `ferry tags oci:DIR` and `ferry catalog oci:DIR` on a layout holding several repositories. */
describe('listing a multi-repository layout (built CLI)', { timeout: 120_000 }, () => {
  let dir: string
  let layout: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-listing-'))
    layout = join(dir, 'site')
    const spec = { layers: 1, layerSize: 1000 }
    const views: [string | undefined, string[]][] = [
      ['library/postgres', ['16', '17']],
      ['acme/web', ['1.0']],
      [undefined, ['bare']],
    ]
    for (const [repository, tags] of views) {
      const target = await openLayoutTarget(layout, { create: true, repository })
      for (const tag of tags) await pushSyntheticImage(target, { ...spec, seed: `${repository}:${tag}` }, tag)
      await target.close()
    }
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('tags oci:DIR lists the bare tags, then every repository as REPO:TAG; oci:DIR:REPO one repository', async () => {
    const all = await ferry(['tags', `oci:${layout}`])
    expect(all.code, all.stderr).toBe(0)
    expect(all.stdout).toBe('bare\nacme/web:1.0\nlibrary/postgres:16\nlibrary/postgres:17\n')
    const json = JSON.parse((await ferry(['tags', `oci:${layout}`, '--json'])).stdout)
    expect(json).toEqual({
      repository: `oci:${layout}`,
      tags: ['bare'],
      repositories: { 'acme/web': ['1.0'], 'library/postgres': ['16', '17'] },
    })
    const one = await ferry(['tags', `oci:${layout}:library/postgres`])
    expect(one.stdout).toBe('16\n17\n')
    // What it prints is a name ferry takes back.
    const inspect = await ferry(['digest', `oci:${layout}:library/postgres:17`])
    expect(inspect.code, inspect.stderr).toBe(0)
  })

  it('catalog oci:DIR lists the repositories', async () => {
    const r = await ferry(['catalog', `oci:${layout}`])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toBe('acme/web\nlibrary/postgres\n')
    const json = JSON.parse((await ferry(['catalog', `oci:${layout}`, '--json'])).stdout)
    expect(json).toEqual({ layout: `oci:${layout}`, repositories: ['acme/web', 'library/postgres'] })
    const pinned = await ferry(['catalog', `oci:${layout}:bare`])
    expect(pinned.code).toBe(2)
  })
})
