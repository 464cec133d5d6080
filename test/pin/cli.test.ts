import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { signImage } from '../../src/supply/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { makeKeys, tempDir } from '../supply/helpers.js'
import { type Site, startSite } from './helpers.js'

/**
 * The air gap end to end, as a user types it: signed images on a connected registry (distribution),
 * bundled, imported into the closed side's ferry serve with --mapping-out, and the deployment files pinned
 * from that mapping file.
 */
describe('ferry pin (command)', () => {
  let connected: Distribution
  let closed: Site
  let tmp: Awaited<ReturnType<typeof tempDir>>
  const keys = makeKeys()
  let api: string
  let db: string
  let pub: string

  beforeAll(async () => {
    ;[connected, closed, tmp] = await Promise.all([
      startDistribution(),
      startSite(),
      tempDir('ferry-pin-cli-'),
    ])
    const client = new RegistryClient({})
    try {
      for (const [repository, tag, format] of [
        ['acme/mini-api', '1.0', 'bundle'],
        ['library/postgres', '16', 'classic'],
      ] as const) {
        const target = client.repository({ registry: connected.host, repository: repository })
        const m = await pushSyntheticImage(target, { seed: repository, layers: 1, layerSize: 2048 }, tag)
        await signImage({ target, reference: m.digest, key: keys.key, format })
      }
    } finally {
      await client.close()
    }
    api = `${connected.host}/acme/mini-api:1.0`
    db = `${connected.host}/library/postgres:16`
    pub = join(tmp.dir, 'release.pub')
    await writeFile(pub, keys.publicKeyPem)
    const bundle = join(tmp.dir, 'mini-api.tar')
    const created = await ferry(['bundle', 'create', '--image', api, '--image', db, '--output', bundle])
    expect(created.code, created.stderr).toBe(0)
    const imported = await ferry([
      'bundle',
      'import',
      bundle,
      '--to',
      `${closed.host}/imported`,
      '--mapping-out',
      join(tmp.dir, 'images.json'),
    ])
    expect(imported.code, imported.stderr).toBe(0)
    await mkdir(join(tmp.dir, 'deploy'))
    await writeFile(
      join(tmp.dir, 'deploy', 'compose.yaml'),
      `services:\n  api:\n    image: ${api} # the app\n  db:\n    image: "${db}"\n`,
    )
  }, 120_000)

  afterAll(async () => {
    await Promise.all([connected?.stop(), closed?.stop()])
    await tmp?.remove()
  })

  it('round trip: pins from bundle import --mapping-out, then --check passes on the output', async () => {
    const mapping = join(tmp.dir, 'images.json')
    const out = join(tmp.dir, 'pinned')
    const before = await ferry(['pin', join(tmp.dir, 'deploy'), '--mapping', mapping, '--check'])
    expect(before.code).toBe(1)
    expect(before.stdout.trim().split('\n')).toHaveLength(2)
    expect(before.stdout).toContain(`unpinned  ${join(tmp.dir, 'deploy', 'compose.yaml')}:3  ${api}`)
    expect(before.stderr).toContain(`ferry: 2 images not pinned to the mapping in ${mapping}`)

    const run = await ferry([
      'pin',
      join(tmp.dir, 'deploy'),
      '--mapping',
      mapping,
      '--key',
      pub,
      '--out',
      out,
      '--json',
    ])
    expect(run.code, run.stderr).toBe(0)
    const report = JSON.parse(run.stdout)
    const side = JSON.parse(await readFile(mapping, 'utf8'))
    const pinnedOf = (source: string) => {
      const i = side.images.find((x: { source: string }) => x.source === source)
      return `${i.destination}@${i.digest}`
    }
    expect(report.counts).toEqual({ pinned: 2, kept: 0, unverified: 0, failed: 0, skipped: 0, unpinned: 0 })
    expect(report.files[0].images.map((i: { before: string; after: string }) => [i.before, i.after])).toEqual(
      [
        [api, pinnedOf(api)],
        [db, pinnedOf(db)],
      ],
    )
    expect(pinnedOf(api)).toMatch(
      new RegExp(`^${closed.host}/imported/acme/mini-api:1.0@sha256:[0-9a-f]{64}$`),
    )
    expect(await readFile(join(out, 'compose.yaml'), 'utf8')).toBe(
      `services:\n  api:\n    image: ${pinnedOf(api)} # the app\n  db:\n    image: "${pinnedOf(db)}"\n`,
    )
    expect((await readdir(out)).sort()).toEqual(['compose.yaml', 'ferry.lock.json'])

    const after = await ferry(['pin', out, '--mapping', mapping, '--check'])
    expect(after.code, after.stdout).toBe(0)
    expect(after.stdout).toBe('')
    expect(after.stderr).toContain('2 images pinned')
  })

  it('exits 5 and writes nothing when an image does not verify with the key', async () => {
    const other = join(tmp.dir, 'other.pub')
    await writeFile(other, makeKeys().publicKeyPem)
    const out = join(tmp.dir, 'refused')
    const lock = join(tmp.dir, 'refused.lock.json')
    const run = await ferry([
      'pin',
      join(tmp.dir, 'deploy', 'compose.yaml'),
      '--mapping',
      join(tmp.dir, 'images.json'),
      '--key',
      other,
      '--out',
      out,
      '--lock',
      lock,
    ])
    expect(run.code).toBe(5)
    expect(run.stderr).toContain('ferry: 2 images did not pass; nothing was written')
    expect(
      run.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[0]),
    ).toEqual(['failed', 'failed'])
    expect((await readdir(tmp.dir)).filter((f) => f.startsWith('refused'))).toEqual([])
  })

  it('takes --registry with the bundle import naming rule, and keys by any of several --key', async () => {
    const out = join(tmp.dir, 'by-registry')
    const other = join(tmp.dir, 'other2.pub')
    await writeFile(other, makeKeys().publicKeyPem)
    const deploy = join(tmp.dir, 'by-registry-in')
    await mkdir(deploy)
    // The names of the connected side, as the bundle recorded them, map under --registry like --to.
    await writeFile(
      join(deploy, 'pod.yaml'),
      `apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - image: ${db}\n`,
    )
    const run = await ferry([
      'pin',
      deploy,
      '--registry',
      `${closed.host}/imported`,
      '--key',
      other,
      '--key',
      pub,
      '--out',
      out,
    ])
    expect(run.code, run.stderr).toBe(0)
    // The source registry's host is dropped as import does: HOST/library/postgres → imported/library/postgres.
    expect(await readFile(join(out, 'pod.yaml'), 'utf8')).toMatch(
      new RegExp(`  - image: ${closed.host}/imported/library/postgres:16@sha256:[0-9a-f]{64}\n$`),
    )
    const lock = JSON.parse(await readFile(join(out, 'ferry.lock.json'), 'utf8'))
    expect(lock.images[0].evidence.keys).toHaveLength(1)
  })

  it('--policy reads the governance policy file, and is not combined with --key', async () => {
    const missing = join(tmp.dir, 'no-such.policy.yaml')
    const run = await ferry(['pin', tmp.dir, '--registry', closed.host, '--policy', missing, '--check'])
    expect(run.code).toBe(2)
    expect(run.stderr).toBe(`ferry: cannot read ${missing}: no such file\n`)
    const both = await ferry([
      'pin',
      tmp.dir,
      '--registry',
      closed.host,
      '--policy',
      missing,
      '--key',
      'k.pub',
      '--check',
    ])
    expect(both.code).toBe(2)
    expect(both.stderr).toBe('ferry: give --key or --policy, not both: the policy names its keys\n')
  })

  it('refuses --mapping with a YAML map and no --registry, naming both ways', async () => {
    const map = join(tmp.dir, 'map.yaml')
    await writeFile(map, 'postgres: db/postgres\n')
    const run = await ferry(['pin', tmp.dir, '--mapping', map, '--check'])
    expect(run.code).toBe(2)
    expect(run.stderr).toBe(
      `ferry: ${map}: not a bundle import --mapping-out file; a YAML map of repositories needs --registry\n`,
    )
  })
})
