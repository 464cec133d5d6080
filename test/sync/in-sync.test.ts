import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Manifest } from '../../src/oci/manifest.js'
import { isIndexMediaType } from '../../src/oci/media-types.js'
import { RegistryClient } from '../../src/registry/index.js'
import { runSync } from '../../src/sync/sync.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushArtifact, pushCosignStyleSignature } from '../helpers/registry-fixtures.js'

/**
 * A re-sync that has nothing to do asks the source by HEAD only, also for what is attached: cosign tags
 * and the referrers tag-schema index are compared by digest on both sides. The proxy (no faults) only
 * counts what reaches the upstream distribution registry.
 */
describe('sync: no-op re-sync of signed images', () => {
  let upstream: Distribution
  let internal: Distribution
  let proxy: FaultProxy
  let dir: string
  let spec: string
  let index: Manifest

  beforeAll(async () => {
    ;[upstream, internal] = await Promise.all([startDistribution(), startDistribution()])
    proxy = await startFaultProxy(upstream.url)
    dir = await mkdtemp(join(tmpdir(), 'ferry-in-sync-'))
    process.env.XDG_STATE_HOME = join(dir, 'state')
    const client = new RegistryClient()
    const repo = client.repository({ registry: upstream.host, repository: 'acme/signed' })
    index = await pushSyntheticIndex(
      repo,
      { seed: 'signed', layers: 1, layerSize: 10_000 },
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      '1',
    )
    if (index.kind !== 'index') throw new Error('expected an index')
    const amd64 = await repo.fetchManifest(index.index.manifests[0]!.digest)
    // Signed and with an SBOM both ways: the index itself, and the platform image that is kept.
    for (const subject of [index, amd64]) {
      await pushCosignStyleSignature(repo, subject)
      await pushArtifact(repo, subject, 'application/spdx+json', `{"sbom":"${subject.digest}"}`)
    }
    await client.close()
    spec = join(dir, 'mirror.yaml')
    const entry = (source: string, extra: string[]) => [
      `  - source: ${source}`,
      ...extra.map((l) => `    ${l}`),
    ]
    await writeFile(
      spec,
      [
        'version: 1',
        `target: ${internal.host}/cache`,
        'images:',
        ...entry(`${proxy.host}/acme/signed:1`, ['platforms: [linux/amd64]', 'referrers: true']),
        ...entry(`${proxy.host}/acme/signed:1`, [
          'referrers: true',
          `destination: ${internal.host}/whole/signed`,
        ]),
        '',
      ].join('\n'),
    )
  })
  afterAll(async () => {
    await proxy?.stop()
    await Promise.all([upstream?.stop(), internal?.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  it('copies once, then finds everything in sync with HEAD requests on the source only', async () => {
    const first = await runSync(testContext(), spec)
    expect(first.totals).toMatchObject({ images: 2, copied: 2, failed: 0 })
    proxy.seen.length = 0
    const second = await runSync(testContext(), spec)
    expect(second.entries.map((e) => e.status)).toEqual(['in-sync', 'in-sync'])
    const manifestGets = proxy.seen.filter((r) => r.method === 'GET' && r.path.includes('/manifests/'))
    expect(manifestGets.map((r) => r.path)).toEqual([])
    // The one GET left: the referrers API probe, once for the registry (distribution 2.8 has no API).
    const gets = proxy.seen.filter((r) => r.method === 'GET' && r.path !== '/v2/')
    expect(gets.map((r) => r.path.replace(/sha256:[0-9a-f]+/, 'DIGEST'))).toEqual([
      '/v2/acme/signed/referrers/DIGEST',
    ])
    // Per image the tag, then per subject three cosign tags and the tag-schema index: the filtered copy
    // has one subject (the kept platform), the whole index three (itself and both platforms).
    expect(proxy.seen.filter((r) => r.method === 'HEAD')).toHaveLength(1 + 4 + (1 + 3 * 4))
  })

  it('carries the attachments of the kept platform, not of the index it was cut from', async () => {
    const client = new RegistryClient()
    const filtered = await client
      .repository({ registry: internal.host, repository: 'cache/acme/signed' })
      .fetchManifest('1')
    expect(filtered.digest).not.toBe(index.digest)
    expect(isIndexMediaType(filtered.mediaType)).toBe(true)
    const kept = filtered.kind === 'index' ? filtered.index.manifests.map((d) => d.digest) : []
    expect(kept).toHaveLength(1)
    const repo = client.repository({ registry: internal.host, repository: 'cache/acme/signed' })
    expect(await repo.referrers(kept[0]!)).toHaveLength(1)
    expect(await repo.referrers(index.digest)).toHaveLength(0)
    await client.close()
  })
})
