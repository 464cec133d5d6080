import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyImage } from '../../src/copy/copy.js'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { copyReference } from '../../src/targets/copy-reference.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { pushArtifact, pushCosignStyleSignature } from '../helpers/registry-fixtures.js'

const platforms = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
]

function skopeoDigest(ref: string): string {
  const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', ref])
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`
}

describe('copy', () => {
  let reg: Distribution
  let dir: string
  let client: RegistryClient
  let index: Manifest
  let source: string

  beforeAll(async () => {
    reg = await startDistribution()
    dir = await mkdtemp(join(tmpdir(), 'ferry-copy-'))
    client = new RegistryClient()
    source = join(dir, 'source')
    const layout = await openLayoutTarget(source, { create: true })
    index = await pushSyntheticIndex(
      layout,
      { seed: 'copy', layers: 3, layerSize: 200_000 },
      platforms,
      '1.0',
    )
    await layout.close()
  })
  afterAll(async () => {
    await client?.close()
    await reg?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('copies a whole index from a layout into a registry byte for byte', async () => {
    const result = await copyReference(`oci:${source}:1.0`, `${reg.host}/team/app`, { client })
    expect(result.source.digest).toBe(index.digest)
    expect(result.destination.digest).toBe(index.digest)
    expect(result.destination.tag).toBe('1.0') // the source's tag
    expect(result.blobs.copied).toBe(8) // 2 × (3 layers + config)
    expect(result.manifests.pushed).toBe(3) // 2 children, then the index under its tag
    expect(skopeoDigest(`docker://${reg.host}/team/app:1.0`)).toBe(index.digest)
  })

  it('skips everything on a second run', async () => {
    const again = await copyReference(`oci:${source}:1.0`, `${reg.host}/team/app:1.0`, { client })
    expect(again.blobs).toMatchObject({ copied: 0, skipped: 8 })
    expect(again.manifests.pushed).toBe(0)
    expect(again.bytes).toBe(0)
  })

  it('mounts blobs across repositories of one registry', async () => {
    const result = await copyReference(`${reg.host}/team/app:1.0`, `${reg.host}/team/app-prod:1.0`, {
      client,
    })
    expect(result.destination.digest).toBe(index.digest)
    expect(result.blobs.mounted).toBe(8)
    expect(result.blobs.copied).toBe(0)
    expect(result.bytes).toBe(0)
  })

  it('copies by digest without a tag', async () => {
    const result = await copyReference(
      `${reg.host}/team/app@${index.digest}`,
      `${reg.host}/bydigest/app@${index.digest}`,
      {
        client,
      },
    )
    expect(result.destination.tag).toBeUndefined()
    // distribution answers NAME_UNKNOWN for the tag list of a repository that holds no tag
    const tags = await client
      .repository({ registry: reg.host, repository: 'bydigest/app' })
      .listTags()
      .catch(() => [])
    expect(tags).toEqual([])
    expect(
      await client.repository({ registry: reg.host, repository: 'bydigest/app' }).hasManifest(index.digest),
    ).toBe(true)
  })

  it('copies one platform as its own manifest, digest unchanged, and says so', async () => {
    const result = await copyReference(`${reg.host}/team/app:1.0`, `${reg.host}/team/app-amd64:1.0`, {
      client,
      platforms: [{ os: 'linux', architecture: 'amd64' }],
    })
    expect(result.filtered).toBe(true)
    expect(result.platformChild).toBe(true)
    const amd64 = index.kind === 'index' ? index.index.manifests[0]! : undefined
    expect(result.destination.digest).toBe(amd64?.digest)
    const copied = await client
      .repository({ registry: reg.host, repository: 'team/app-amd64' })
      .fetchManifest('1.0')
    expect(copied.kind).toBe('image')
    expect(copied.digest).toBe(amd64?.digest)
  })

  it('filters platforms into a new one-child index for a caller that asks for the index', async () => {
    const result = await copyReference(`${reg.host}/team/app:1.0`, `${reg.host}/team/app-amd64-index:1.0`, {
      client,
      platforms: [{ os: 'linux', architecture: 'amd64' }],
      platformImage: false,
    })
    expect(result.filtered).toBe(true)
    expect(result.platformChild).toBe(false)
    expect(result.destination.digest).not.toBe(index.digest)
    const copied = await client
      .repository({ registry: reg.host, repository: 'team/app-amd64-index' })
      .fetchManifest('1.0')
    expect(copied.kind === 'index' && copied.index.manifests.map((d) => d.platform?.architecture)).toEqual([
      'amd64',
    ])
  })

  it('copies from a registry into an OCI layout that skopeo reads with the same digest', async () => {
    const out = join(dir, 'out')
    const result = await copyReference(`${reg.host}/team/app:1.0`, `oci:${out}:2.0`, { client })
    expect(result.destination.digest).toBe(index.digest)
    expect(skopeoDigest(`oci:${out}:2.0`)).toBe(index.digest)
  })

  it('carries referrers (tag schema) and cosign signature tags with --referrers', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'signed/app' })
    await copyReference(`oci:${source}:1.0`, `${reg.host}/signed/app:1.0`, { client })
    const sbom = await pushArtifact(repo, index, MediaType.spdxJson, '{"spdxVersion":"SPDX-2.3"}')
    const sig = await pushCosignStyleSignature(repo, index)
    const result = await copyReference(`${reg.host}/signed/app:1.0`, `${reg.host}/mirror/app:1.0`, {
      client,
      referrers: true,
    })
    expect(result.referrers).toBe(2)
    const mirror = client.repository({ registry: reg.host, repository: 'mirror/app' })
    const referrers = await mirror.referrers(index.digest)
    expect(referrers.map((d) => d.digest)).toEqual([sbom.digest])
    expect(referrers[0]?.artifactType).toBe(MediaType.spdxJson)
    expect((await mirror.resolve(`${index.digest.replace(':', '-')}.sig`)).digest).toBe(sig.digest)
  })

  it('aborts on a corrupted blob, names it, and tags nothing', async () => {
    const bad = join(dir, 'bad')
    const layout = await openLayoutTarget(bad, { create: true })
    const image = await pushSyntheticIndex(
      layout,
      { seed: 'bad', layers: 1, layerSize: 50_000 },
      platforms.slice(0, 1),
      'x',
    )
    const child = await layout.fetchManifest(image.kind === 'index' ? image.index.manifests[0]!.digest : '')
    const layer = child.kind === 'image' ? child.image.layers[0]! : undefined
    await writeFile(layout.layout.blobPath(layer!.digest as `sha256:${string}`), Buffer.alloc(layer!.size, 7))
    const dst = client.repository({ registry: reg.host, repository: 'corrupt/app' })
    await expect(copyImage(layout, 'x', dst, 'x')).rejects.toMatchObject({
      code: 'DIGEST_MISMATCH',
      message: expect.stringContaining(layer!.digest),
    })
    await expect(dst.resolve('x')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await layout.close()
    expect(await readdir(bad)).toContain('index.json')
  })
})
