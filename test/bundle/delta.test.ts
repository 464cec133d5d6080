import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { importBundle } from '../../src/bundle/import.js'
import { createInventory, loadInventory, writeInventory } from '../../src/bundle/inventory.js'
import { listBundle } from '../../src/bundle/list.js'
import { readBundleMetadata } from '../../src/bundle/reader.js'
import { loadBundleSpec, specFromImages } from '../../src/bundle/spec.js'
import { verifyBundleFile } from '../../src/bundle/verify.js'
import { isFerryError } from '../../src/errors.js'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage, pushSyntheticIndex } from '../../src/synthetic.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { catalog, PLATFORMS, tempDir } from './helpers.js'

describe('delta bundles', () => {
  let source: Distribution
  let client: RegistryClient
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let v1: Manifest
  let v2: Manifest
  let base: string
  let delta: string
  const spec = (tag: string) =>
    specFromImages([`${source.host}/acme/web:${tag}`], { name: 'web', version: tag })

  beforeAll(async () => {
    source = await startDistribution()
    client = new RegistryClient()
    tmp = await tempDir('delta')
    const repo = client.repository({ registry: source.host, repository: 'acme/web' })
    // Same seed: the same layers; other labels: new configs, so new manifests and a new index.
    const layers = { seed: 'delta/web', layers: 2, layerSize: 120_000 }
    v1 = await pushSyntheticIndex(repo, { ...layers, labels: { release: '1' } }, PLATFORMS, '1')
    v2 = await pushSyntheticIndex(repo, { ...layers, labels: { release: '2' } }, PLATFORMS, '2')
    base = join(tmp.dir, 'web-1.tar')
    delta = join(tmp.dir, 'web-2-delta.tar')
    await createBundle(testContext({ client }), spec('1'), { output: base })
    await createBundle(testContext({ client }), spec('2'), { output: delta, base })
  })
  afterAll(async () => {
    await client?.close()
    await source?.stop()
    await tmp?.cleanup()
  })

  it('leaves out the blobs the base carried and keeps every manifest', async () => {
    const full = await listBundle(base)
    const listing = await listBundle(delta)
    expect(listing.omitted.blobs).toBe(4) // the shared layers of both platforms
    expect(listing.blobs).toBe(5) // two configs, two image manifests, the index
    expect(listing.base).toMatchObject({
      name: 'web',
      version: '1',
      repositories: [`${source.host}/acme/web`],
    })
    expect(listing.size).toBeLessThan(full.size / 4)
    expect(listing.images[0]!.digest).toBe(v2.digest)
    expect((await verifyBundleFile(delta)).ok).toBe(true)
  })

  it('imports into a registry that holds the base', async () => {
    const closed = await startDistribution()
    try {
      await importBundle(testContext({ client }), base, { to: `${closed.host}/mirror` })
      const result = await importBundle(testContext({ client }), delta, { to: `${closed.host}/mirror` })
      expect(result.images[0]!.digest).toBe(v2.digest)
      expect(result.images[0]!.blobs.copied).toBe(2) // only the configs travelled
      expect(result.images[0]!.blobs.skipped).toBe(4)
      const repo = client.repository({ registry: closed.host, repository: 'mirror/acme/web' })
      expect((await repo.resolve('2')).digest).toBe(v2.digest)
    } finally {
      await closed.stop()
    }
  })

  it('fails before writing anything into a registry without the base, naming the missing blobs', async () => {
    const empty = await startDistribution()
    try {
      const err = await importBundle(testContext({ client }), delta, { to: `${empty.host}/mirror` }).catch(
        (e: unknown) => e,
      )
      expect(isFerryError(err, 'NOT_FOUND')).toBe(true)
      const message = (err as Error).message
      expect(message).toContain('leaves out 4 blobs')
      expect(message).toContain('import the base bundle web 1 there first')
      const { metadata } = await readBundleMetadata(delta)
      for (const o of metadata.omitted) expect(message).toContain(o.digest)
      expect(message.match(/sha256:[a-f0-9]{64}/g)).toHaveLength(4)
      expect(await catalog(empty.url)).toEqual([])
    } finally {
      await empty.stop()
    }
  })

  it('leaves out what an inventory of the closed side lists, and mounts blobs held in another repository', async () => {
    const closed = await startDistribution()
    try {
      await importBundle(testContext({ client }), base, { to: `${closed.host}/mirror` })
      const inventoryFile = join(tmp.dir, 'closed.json')
      await writeInventory(
        inventoryFile,
        await createInventory(testContext({ client }), `${closed.host}/mirror`),
      )
      const { inventory } = await loadInventory(inventoryFile)
      expect(inventory.repositories.map((r) => r.name)).toEqual(['mirror/acme/web'])
      expect(inventory.repositories[0]!.tags).toEqual({ '1': v1.digest })

      const against = join(tmp.dir, 'web-2-against.tar')
      await createBundle(testContext({ client }), spec('2'), { output: against, against: inventoryFile })
      const listing = await listBundle(against)
      expect(listing.omitted.blobs).toBe(4)
      expect(listing.against?.source).toBe(`${closed.host}/mirror`)

      // Another repository than the one the inventory saw the layers in: they are mounted from there.
      const result = await importBundle(testContext({ client }), against, {
        to: `${closed.host}/mirror`,
        mapping: { [`${source.host}/acme/web`]: 'acme/web-next' },
      })
      expect(result.images[0]!.destination).toBe(`${closed.host}/mirror/acme/web-next:2`)
      expect(result.images[0]!.blobs.skipped).toBe(4)
      const moved = client.repository({ registry: closed.host, repository: 'mirror/acme/web-next' })
      expect((await moved.resolve('2')).digest).toBe(v2.digest)
    } finally {
      await closed.stop()
    }
  })

  it('takes the tags a spec filter selects, and refuses a missing --base before any registry work', async () => {
    const specFile = join(tmp.dir, 'web.yaml')
    await writeFile(
      specFile,
      `name: web\nversion: "2"\nimages:\n  - ref: ${source.host}/acme/web\n    tags: { semver: ">=1" }\n`,
    )
    const path = join(tmp.dir, 'web-all.tar')
    await createBundle(testContext({ client }), await loadBundleSpec(specFile), { output: path })
    const listing = await listBundle(path)
    expect(listing.images.map((i) => [i.tag, i.digest])).toEqual([
      ['2', v2.digest],
      ['1', v1.digest],
    ])
    expect(listing.images.map((i) => i.original)).toEqual([
      `${source.host}/acme/web:2`,
      `${source.host}/acme/web:1`,
    ])
    const err = await createBundle(testContext({ client }), spec('2'), {
      output: join(tmp.dir, 'x.tar'),
      base: join(tmp.dir, 'nope.tar'),
    }).catch((e: Error) => e)
    expect(isFerryError(err, 'NOT_FOUND')).toBe(true)
    const dir = await createBundle(testContext({ client }), spec('2'), {
      output: join(tmp.dir, 'missing', 'x.tar'),
    }).catch((e: Error) => e)
    expect((dir as Error).message).toMatch(/is not a directory/)
  })

  it('refuses a mapping that would put two images on one tag, before writing anything', async () => {
    await pushSyntheticImage(
      client.repository({ registry: source.host, repository: 'other/web' }),
      { seed: 'delta/other', layers: 1, layerSize: 1000 },
      '1',
    )
    const path = join(tmp.dir, 'collide.tar')
    await createBundle(
      testContext({ client }),
      specFromImages([`${source.host}/acme/web:1`, `${source.host}/other/web:1`], {
        name: 'c',
        version: '1',
      }),
      { output: path },
    )
    const closed = await startDistribution()
    try {
      const err = await importBundle(testContext({ client }), path, {
        to: closed.host,
        stripComponents: 1,
      }).catch((e: Error) => e)
      expect((err as Error).message).toMatch(/acme\/web:1 and .*other\/web:1 would both become .*\/web:1/)
      expect(await catalog(closed.url)).toEqual([])
    } finally {
      await closed.stop()
    }
  })

  it('carries an image pinned by digest only, untagged', async () => {
    const path = join(tmp.dir, 'pinned.tar')
    await createBundle(
      testContext({ client }),
      specFromImages([`${source.host}/acme/web@${v1.digest}`], { name: 'pinned', version: '1' }),
      { output: path },
    )
    const closed = await startDistribution()
    try {
      const result = await importBundle(testContext({ client }), path, { to: closed.host })
      expect(result.images[0]!.destination).toBe(`${closed.host}/acme/web@${v1.digest}`)
      const repo = client.repository({ registry: closed.host, repository: 'acme/web' })
      expect(await repo.hasManifest(v1.digest)).toBe(true)
      // distribution answers NAME_UNKNOWN for a repository that has manifests but no tag
      expect(await repo.listTags().catch(() => [])).toEqual([])
    } finally {
      await closed.stop()
    }
  })

  it('inventories an OCI layout directory', async () => {
    const dir = join(tmp.dir, 'layout-inventory')
    await importBundle(testContext(), base, { to: `oci:${dir}`, stripComponents: 1 })
    const inventory = await createInventory(testContext(), `oci:${dir}`)
    expect(inventory.repositories.map((r) => r.name)).toEqual(['web'])
    expect(inventory.repositories[0]!.blobs).toHaveLength(6) // 2 platforms x (2 layers + config)
    expect(inventory.repositories[0]!.manifests).toHaveLength(3)
    const layout = await openLayoutTarget(dir, { repository: 'web' })
    expect((await layout.resolve('1')).digest).toBe(v1.digest)
  })
})
