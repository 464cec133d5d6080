import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { copyReference } from '../../src/targets/copy-reference.js'
import { testContext } from '../helpers/context.js'
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

/**
 * Copy where a registry is the point: bytes skopeo reads back, mounts between repositories of one
 * registry, the tag-schema referrers index. The algorithm itself (what is skipped, the order of writes,
 * platform filters, a corrupted source) runs between memory stores in test/unit/copy/copy.test.ts.
 */
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
    const result = await copyReference(testContext({ client }), `oci:${source}:1.0`, `${reg.host}/team/app`)
    expect(result.source.digest).toBe(index.digest)
    expect(result.destination.digest).toBe(index.digest)
    expect(result.destination.tag).toBe('1.0') // the source's tag
    expect(result.blobs.copied).toBe(8) // 2 × (3 layers + config)
    expect(result.manifests.pushed).toBe(3) // 2 children, then the index under its tag
    expect(skopeoDigest(`docker://${reg.host}/team/app:1.0`)).toBe(index.digest)
  })

  it('mounts blobs across repositories of one registry', async () => {
    const result = await copyReference(
      testContext({ client }),
      `${reg.host}/team/app:1.0`,
      `${reg.host}/team/app-prod:1.0`,
    )
    expect(result.destination.digest).toBe(index.digest)
    expect(result.blobs.mounted).toBe(8)
    expect(result.blobs.copied).toBe(0)
    expect(result.bytes).toBe(0)
  })

  it('copies from a registry into an OCI layout that skopeo reads with the same digest', async () => {
    const out = join(dir, 'out')
    const result = await copyReference(testContext({ client }), `${reg.host}/team/app:1.0`, `oci:${out}:2.0`)
    expect(result.destination.digest).toBe(index.digest)
    expect(skopeoDigest(`oci:${out}:2.0`)).toBe(index.digest)
  })

  it('carries referrers (tag schema) and cosign signature tags with --referrers', async () => {
    const repo = client.repository({ registry: reg.host, repository: 'signed/app' })
    await copyReference(testContext({ client }), `oci:${source}:1.0`, `${reg.host}/signed/app:1.0`)
    const sbom = await pushArtifact(repo, index, MediaType.spdxJson, '{"spdxVersion":"SPDX-2.3"}')
    const sig = await pushCosignStyleSignature(repo, index)
    const result = await copyReference(
      testContext({ client }),
      `${reg.host}/signed/app:1.0`,
      `${reg.host}/mirror/app:1.0`,
      { referrers: true },
    )
    expect(result.referrers).toBe(2)
    const mirror = client.repository({ registry: reg.host, repository: 'mirror/app' })
    const referrers = await mirror.referrers(index.digest)
    expect(referrers.map((d) => d.digest)).toEqual([sbom.digest])
    expect(referrers[0]?.artifactType).toBe(MediaType.spdxJson)
    expect((await mirror.resolve(`${index.digest.replace(':', '-')}.sig`)).digest).toBe(sig.digest)
  })
})
