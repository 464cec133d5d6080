import { beforeAll, describe, expect, it } from 'vitest'
import { planBundle } from '../../../src/bundle/plan.js'
import { type BundleSpec, specFromImages } from '../../../src/bundle/spec.js'
import { MemoryTarget } from '../../../src/content/memory.js'
import { copyImage } from '../../../src/copy/copy.js'
import { childrenOf, type Manifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import { cosignTag } from '../../../src/reference/grammar.js'
import { parseRegistryReference, type RegistryReference } from '../../../src/reference/index.js'
import { pushSyntheticIndex } from '../../../src/synthetic.js'
import { pushArtifact, pushCosignStyleSignature } from '../../helpers/registry-fixtures.js'
import { CallLog, tracking } from '../../helpers/tracking-target.js'

/**
 * What a bundle will hold, decided before the first tar byte: each image resolved, its graph and what
 * is attached walked, each blob once. The sources are repositories in memory, read through the
 * tracking wrapper; writing the tar and reading it back against real registries is test/bundle/.
 */

const WRITES = ['pushBlob', 'pushManifest', 'tag', 'untag', 'addReferrer', 'deleteManifest']
const HOST = 'registry.test'

describe('bundle plan', () => {
  const repositories = new Map<string, MemoryTarget>()
  const log = new CallLog()
  const open = (ref: RegistryReference) => {
    const store = repositories.get(`${ref.registry}/${ref.repository}`)
    if (!store) throw new Error(`no repository ${ref.registry}/${ref.repository} in this test`)
    return tracking(store, log).target
  }
  let index: Manifest
  let sbom: Manifest
  let sig: Manifest
  const child: Record<string, Manifest> = {}

  beforeAll(async () => {
    const app = new MemoryTarget(`${HOST}/library/app`)
    const cli = new MemoryTarget(`${HOST}/tools/cli`)
    repositories.set(app.name, app)
    repositories.set(cli.name, cli)
    const platforms = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ]
    index = await pushSyntheticIndex(
      app,
      { seed: 'bundle-plan', layers: 2, layerSize: 4096 },
      platforms,
      '1.0',
    )
    await app.tag(index, '1.1')
    for (const d of childrenOf(index).manifests)
      child[d.platform!.architecture] = await app.fetchManifest(d.digest)
    sbom = await pushArtifact(app, index, MediaType.spdxJson, '{"spdxVersion":"SPDX-2.3"}')
    sig = await pushCosignStyleSignature(app, index)
    // cli:v2 is app's amd64 image again: the bundle holds its blobs once.
    await copyImage(app, child.amd64!.digest, cli, 'v2')
  })

  const plan = (spec: BundleSpec) => {
    log.reset()
    return planBundle(spec, { repository: open })
  }

  it('walks each image and what is attached to it, reads only, and holds each blob once', async () => {
    const spec = specFromImages([`${HOST}/library/app:1.0`, `${HOST}/tools/cli:v2`], {
      name: 'b',
      version: '1',
    })
    const p = await plan(spec)
    expect(p.images.map((i) => [i.repository, i.tag, i.digest])).toEqual([
      [`${HOST}/library/app`, '1.0', index.digest],
      [`${HOST}/tools/cli`, 'v2', child.amd64!.digest],
    ])
    expect(p.images[0]!.referrers.map((r) => [r.digest, r.tag])).toEqual([
      [sbom.digest, undefined],
      [sig.digest, cosignTag(index.digest, 'sig')],
    ])
    expect(new Set(p.manifests.keys())).toEqual(
      new Set([index, child.amd64!, child.arm64!, sbom, sig].map((m) => m.digest)),
    )
    // cli's blobs are app's: counted in each image's record, held once in the plan.
    const counted = p.images.reduce((n, i) => n + i.blobCount, 0)
    expect(p.blobs.size).toBe(counted - p.images[1]!.blobCount)
    expect(log.calls.filter((c) => WRITES.includes(c.method))).toEqual([])
  })

  it('keeps only the platforms asked for, and reads nothing of the others', async () => {
    const spec = specFromImages([`${HOST}/library/app:1.0`], {
      name: 'b',
      version: '1',
      platforms: [{ os: 'linux', architecture: 'arm64' }],
      referrers: false,
    })
    const p = await plan(spec)
    const [record] = p.images
    expect(record!.sourceDigest).toBe(index.digest)
    expect(record!.digest).not.toBe(index.digest)
    expect(record!.platforms).toEqual(['linux/arm64'])
    expect(log.count('fetchManifest', child.amd64!.digest)).toBe(0)
    const amd64Blobs = childrenOf(child.amd64!).blobs.map((b) => b.digest)
    expect(amd64Blobs.filter((d) => p.blobs.has(d))).toEqual([])
  })

  it('expands a repository by its tag filter, leaving attachment tags out', async () => {
    const reference = parseRegistryReference(`${HOST}/library/app`)
    const spec: BundleSpec = {
      name: 'b',
      version: '1',
      images: [{ original: `${HOST}/library/app`, reference, tags: { match: '*' }, referrers: false }],
    }
    const p = await plan(spec)
    expect(p.images.map((i) => i.tag)).toEqual(['1.1', '1.0'])
    const missing: BundleSpec = { ...spec, images: [{ ...spec.images[0]!, tags: { tags: ['1.0', '9.9'] } }] }
    await expect(plan(missing)).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('9.9'),
    })
  })

  it('refuses one name listed twice with different content', async () => {
    const twice: BundleSpec = specFromImages([`${HOST}/library/app:1.0`], { name: 'b', version: '1' })
    twice.images.push({ ...twice.images[0]!, platforms: [{ os: 'linux', architecture: 'amd64' }] })
    await expect(plan(twice)).rejects.toMatchObject({ code: 'USAGE' })
  })
})
