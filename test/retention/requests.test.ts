import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Target } from '../../src/content/target.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { loadPolicy } from '../../src/policy/index.js'
import { planRepository } from '../../src/retention/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { countRequests } from '../helpers/request-count.js'
import { makeKeys, registryTarget } from '../supply/helpers.js'
import { agedImage, signWithSbom } from './fixtures.js'

/**
 * What `retention plan` asks a registry, per tag: one GET of the manifest by tag (its digest and the
 * bytes the keep-set and the deletions need), never a HEAD first, nor a lookup of an attachment tag the
 * listing shows absent. The proxy (no faults) only counts. Ages come from annotations, so no config is
 * read; a signed release adds its attachments, a fixed cost whatever the number of tags.
 */
const OLD = '2024-01-01T00:00:00Z'
const RCS = 24

describe('retention plan: requests per tag', () => {
  let registry: Distribution
  let proxy: FaultProxy
  let direct: Target & { close(): Promise<void> }
  let release: Manifest

  beforeAll(async () => {
    registry = await startDistribution()
    proxy = await startFaultProxy(registry.url)
    direct = registryTarget(registry.host, 'acme/app')
    release = await agedImage(direct, 'v1.0.0', { annotation: OLD })
    await signWithSbom(direct, release, makeKeys())
    for (let i = 1; i <= RCS; i++) await agedImage(direct, `v1.1.0-rc.${i}`, { annotation: OLD })
    await direct.tag(release, 'latest')
  }, 120_000)
  afterAll(async () => {
    await direct?.close()
    await proxy?.stop()
    await registry?.stop()
  })

  it('one GET per version tag; attachments only where the listing shows them', async () => {
    const policy = await loadPolicy(join(import.meta.dirname, 'ferry.policy.yaml'))
    const target = registryTarget(proxy.host, 'acme/app')
    try {
      const plan = await planRepository(target, { policy })
      // v1.0.0 and latest kept (protected), the ten newest rcs kept, fourteen deleted.
      expect(plan.summary).toMatchObject({ tags: RCS + 2, kept: 12, deleteManifests: RCS - 10 })
    } finally {
      await target.close()
    }
    const tags = RCS + 2
    const seen = countRequests(proxy.seen)
    // Per version tag, one GET by tag. The release's attachments (found in the listing): its referrers
    // asked of the API (404 on distribution 2.8) then read from its tag-schema index (GET, and a HEAD when
    // the plan checks that tag), the two referrers it lists (the OCI signature, the SBOM); its cosign
    // `.sig` and the SBOM's, each by HEAD then GET; and the registry's referrers support probed once.
    // Before: a HEAD per tag, then a GET by digest, and each kept image's absent `sha256-HEX` index asked.
    expect(seen).toEqual({
      'GET tags': 1,
      'GET manifest': tags + 1 + 2 + 2,
      'HEAD manifest': 1 + 2,
      'GET referrers': 1 + 1,
    })
    const total = Object.values(seen).reduce((a, b) => a + b, 0)
    // The bound (two requests per tag); the fixed part is the release's attachments.
    expect(total).toBe(tags + 11)
    expect(total).toBeLessThanOrEqual(2 * tags)
  })
})
