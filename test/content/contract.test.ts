import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Capabilities, Target } from '../../src/content/target.js'
import { openLayoutTarget } from '../../src/layout/index.js'
import { RegistryClient } from '../../src/registry/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { pushImage, syntheticImage } from '../helpers/registry-fixtures.js'
import { type Served, serveTemp } from '../serve/helpers.js'

/**
 * The storage contract, the same assertions on every backend: distribution 2.8 (no referrers API, no tag
 * DELETE), ferry serve (OCI 1.1) and an OCI layout directory.
 */

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  )

interface Backend {
  name: string
  open(repository: string): Promise<Target>
  capabilities: Partial<Capabilities>
}

let reg: Distribution
let served: Served
let dir: string
const client = new RegistryClient()

const backends: Backend[] = [
  {
    name: 'distribution 2.8',
    open: async (r) => client.repository({ registry: reg.host, repository: r }),
    capabilities: { referrersApi: false, manifestDelete: true, tagDelete: false, conditionalWrites: false },
  },
  {
    name: 'ferry serve',
    open: async (r) => client.repository({ registry: served.server.host, repository: r }),
    capabilities: { referrersApi: true, manifestDelete: true, tagDelete: true, conditionalWrites: false },
  },
  {
    name: 'OCI layout',
    open: (r) => openLayoutTarget(join(dir, 'layout'), { create: true }).then((t) => t.layout.target(r)),
    capabilities: { referrersApi: true, manifestDelete: true, tagDelete: true, conditionalWrites: true },
  },
]

beforeAll(async () => {
  reg = await startDistribution()
  served = await serveTemp()
  dir = await mkdtemp(join(tmpdir(), 'ferry-contract-'))
})

afterAll(async () => {
  await client.close()
  await reg?.stop()
  await served?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe.each(backends)('storage contract on $name', (backend) => {
  it('reports what it can do', async () => {
    const target = await backend.open('contract/caps')
    expect(await target.capabilities()).toMatchObject(backend.capabilities)
  })

  it('stores a manifest by digest without naming it', async () => {
    const target = await backend.open('contract/store')
    const image = syntheticImage()
    await pushImage(target, image)
    expect(await target.hasManifest(image.manifest.digest)).toBe(true)
    // distribution answers tags/list for a repository without tags with NAME_UNKNOWN.
    const tags = await target.listTags().catch((e: { code?: string }) => {
      if (e.code === 'NOT_FOUND') return []
      throw e
    })
    expect(tags).toEqual([])
  })

  it('tags only when the precondition holds, and says what the tag named before', async () => {
    const target = await backend.open('contract/tags')
    const [a, b] = [syntheticImage(), syntheticImage()]
    await pushImage(target, a)
    await pushImage(target, b)
    expect(await target.tag(a.manifest, 'v1', { precondition: { ifAbsent: true } })).toEqual({
      previous: undefined,
      changed: true,
    })
    // A release tag never moves: ifAbsent refuses b, and accepts a again as a no-op.
    expect(await code(target.tag(b.manifest, 'v1', { precondition: { ifAbsent: true } }))).toBe('CONFLICT')
    expect((await target.resolve('v1')).digest).toBe(a.manifest.digest)
    expect(await target.tag(a.manifest, 'v1', { precondition: { ifAbsent: true } })).toMatchObject({
      changed: false,
    })
    // ifMatch: only from the value a plan saw.
    const stale = { precondition: { ifMatch: b.manifest.digest } }
    expect(await code(target.tag(b.manifest, 'v1', stale))).toBe('CONFLICT')
    expect((await target.resolve('v1')).digest).toBe(a.manifest.digest)
    const fresh = { precondition: { ifMatch: a.manifest.digest } }
    expect(await target.tag(b.manifest, 'v1', fresh)).toEqual({ previous: a.manifest.digest, changed: true })
    expect((await target.resolve('v1')).digest).toBe(b.manifest.digest)
  })

  it('tags from a bare descriptor of a manifest it holds', async () => {
    const target = await backend.open('contract/bare')
    const image = syntheticImage()
    await pushImage(target, image)
    const { bytes: _, ...desc } = { ...image.manifest, size: image.manifest.bytes.byteLength }
    await target.tag({ mediaType: desc.mediaType, digest: desc.digest, size: desc.size }, 'bare')
    expect((await target.resolve('bare')).digest).toBe(image.manifest.digest)
  })

  it('untags one name and keeps the manifest and its other names', async () => {
    const target = await backend.open('contract/untag')
    const image = syntheticImage()
    await pushImage(target, image, 'keep')
    await target.tag(image.manifest, 'drop')
    expect(await code(target.untag('drop', { ifMatch: syntheticImage().manifest.digest }))).toBe('CONFLICT')
    expect((await target.resolve('drop')).digest).toBe(image.manifest.digest)
    await target.untag('drop', { ifMatch: image.manifest.digest })
    expect(await target.listTags()).toEqual(['keep'])
    expect(await target.hasManifest(image.manifest.digest)).toBe(true)
    expect((await target.resolve('keep')).digest).toBe(image.manifest.digest)
    expect(await code(target.untag('drop'))).toBe('NOT_FOUND')
  })
})
