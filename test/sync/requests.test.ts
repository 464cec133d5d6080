import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { runSync } from '../../src/sync/sync.js'
import { pushSyntheticImage, pushSyntheticIndex } from '../../src/synthetic.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, type SeenRequest, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushArtifact, pushCosignStyleSignature } from '../helpers/registry-fixtures.js'
import { countRequests } from '../helpers/request-count.js'
import { type Served, serveTemp } from '../serve/helpers.js'

/**
 * What a sync sends, request by request: nothing whose answer it already knows. The proxies (no faults)
 * only count what reaches the source and the destination. Three images in one repository: two of three
 * small blobs each, one of a config and a 2 MiB layer (larger than a whole upload, so it is chunked);
 * then the first image again into a second repository of the same destination, whose blobs are
 * mounted from the first (the run pushed them there) rather than fetched and uploaded again.
 */

const count = countRequests

describe('sync: requests into an empty destination', () => {
  let source: Distribution
  let upstream: FaultProxy
  let dir: string

  beforeAll(async () => {
    source = await startDistribution()
    upstream = await startFaultProxy(source.url)
    dir = await mkdtemp(join(tmpdir(), 'ferry-sync-requests-'))
    process.env.XDG_STATE_HOME = join(dir, 'state')
    const client = new RegistryClient()
    const repo = client.repository({ registry: source.host, repository: 'acme/app' })
    await pushSyntheticImage(repo, { seed: 'one', layers: 2, layerSize: 4096 }, '1')
    await pushSyntheticImage(repo, { seed: 'two', layers: 2, layerSize: 4096 }, '2')
    await pushSyntheticImage(repo, { seed: 'big', layers: 1, layerSize: 2 * 1024 * 1024 }, 'big')
    await client.close()
  })
  afterAll(async () => {
    await upstream?.stop()
    await source?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function syncInto(dest: string) {
    const spec = join(dir, `${dest.replace(/\W/g, '-')}.yaml`)
    await writeFile(
      spec,
      [
        'version: 1',
        `target: ${dest}/mirror`,
        // One image at a time, so the second repository's copy comes after the first pushed its blobs.
        'concurrency: 1',
        'defaults: { referrers: false }',
        'images:',
        `  - source: ${upstream.host}/acme/app`,
        '    tags: { semver: ">=1" }',
        `  - source: ${upstream.host}/acme/app`,
        '    tags: { match: "big" }',
        `  - source: ${upstream.host}/acme/app:1`,
        `    destination: ${dest}/other/app`,
        '',
      ].join('\n'),
    )
    return spec
  }

  // Expected on both destinations: tag lists instead of per-tag HEADs, no blob HEAD in an empty
  // repository but for the large blob, one manifest PUT per image, and the mounts.
  const common = {
    'GET tags': 2,
    'HEAD blob': 1,
    'PUT manifest': 4,
    'POST mount': 3,
    'PATCH upload': 1,
  }

  it('distribution 2.8: one probe of single POST, then POST + PUT per small blob', async () => {
    const registry = await startDistribution()
    const proxy = await startFaultProxy(registry.url)
    try {
      upstream.seen.length = 0
      const report = await runSync(testContext(), await syncInto(proxy.host))
      expect(report.totals).toMatchObject({ images: 4, copied: 4, failed: 0 })
      expect(count(proxy.seen)).toEqual({
        ...common,
        // 6 small layers and configs + the big layer's session; the first small one asks for single POST.
        'POST upload?digest': 1,
        'POST upload': 7,
        'PUT upload': 8,
      })
      // Each blob fetched once, the mounted ones not at all. The source repository is listed once for its
      // two entries. A listed tag the destination lacks is read by tag at once (the copy needs the
      // manifest anyway); only the tag named in the spec is HEADed.
      expect(count(upstream.seen)).toEqual({
        'GET tags': 1,
        'HEAD manifest': 1,
        'GET manifest': 4,
        'GET blob': 8,
      })

      proxy.seen.length = 0
      upstream.seen.length = 0
      const again = await runSync(testContext(), await syncInto(proxy.host))
      expect(again.totals).toMatchObject({ images: 4, inSync: 4 })
      expect(count(proxy.seen)).toEqual({ 'GET tags': 2, 'HEAD manifest': 4 })
      expect(count(upstream.seen)).toEqual({ 'GET tags': 1, 'HEAD manifest': 4 })
    } finally {
      await proxy.stop()
      await registry.stop()
    }
  })

  it('ferry serve: each small blob is one POST ?digest= with its body', async () => {
    let served: Served | undefined
    let proxy: FaultProxy | undefined
    try {
      served = await serveTemp()
      proxy = await startFaultProxy(served.server.url)
      const report = await runSync(testContext(), await syncInto(proxy.host))
      expect(report.totals).toMatchObject({ images: 4, copied: 4, failed: 0 })
      expect(count(proxy.seen)).toEqual({
        ...common,
        'POST upload?digest': 7,
        'POST upload': 1,
        'PUT upload': 1,
      })
    } finally {
      await proxy?.stop()
      await served?.stop()
    }
  })
})

/**
 * With referrers on (the default), each manifest may have cosign's three `sha256-HEX.sig|att|sbom` tags
 * and, on a registry without the referrers API, a `sha256-HEX` tag-schema index. The source's tag list,
 * which sync reads anyway, shows which of those exist: the others are never asked for, on either side.
 * The referrers API is still asked where the registry has one (distribution 2.8 has none: one probe).
 */
describe('sync with referrers on: requests', () => {
  let source: Distribution
  let upstream: FaultProxy
  let dir: string
  /** The attachment tags the source lists, by repository: the only ones a sync may ask for. */
  const listed = new Set<string>()

  beforeAll(async () => {
    source = await startDistribution()
    upstream = await startFaultProxy(source.url)
    dir = await mkdtemp(join(tmpdir(), 'ferry-sync-referrers-'))
    process.env.XDG_STATE_HOME = join(dir, 'state')
    const client = new RegistryClient()
    // Nothing attached anywhere: an image and a two-platform index.
    const plain = client.repository({ registry: source.host, repository: 'acme/plain' })
    await pushSyntheticImage(plain, { seed: 'plain-1', layers: 1, layerSize: 2048 }, '1.0')
    const platforms = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ]
    await pushSyntheticIndex(plain, { seed: 'plain-2', layers: 1, layerSize: 2048 }, platforms, '2.0')
    // One image signed the cosign way, one with an SBOM referrer (kept in the tag schema), one bare.
    const signed = client.repository({ registry: source.host, repository: 'acme/signed' })
    const one = await pushSyntheticImage(signed, { seed: 'signed-1', layers: 1, layerSize: 2048 }, '1.0')
    await pushCosignStyleSignature(signed, one)
    const two = await pushSyntheticImage(signed, { seed: 'signed-2', layers: 1, layerSize: 2048 }, '2.0')
    await pushArtifact(signed, two, 'application/spdx+json', '{"spdxVersion":"SPDX-2.3"}')
    await pushSyntheticImage(signed, { seed: 'signed-3', layers: 1, layerSize: 2048 }, '3.0')
    for (const repo of ['acme/plain', 'acme/signed']) {
      for (const tag of await client.repository({ registry: source.host, repository: repo }).listTags())
        if (tag.startsWith('sha256-')) listed.add(`/v2/${repo}/manifests/${tag}`)
    }
    await client.close()
    expect(listed.size).toBe(2)
  })
  afterAll(async () => {
    await upstream?.stop()
    await source?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  async function specInto(dest: string) {
    const spec = join(dir, `${dest.replace(/\W/g, '-')}.yaml`)
    await writeFile(
      spec,
      [
        'version: 1',
        `target: ${dest}/mirror`,
        'images:',
        `  - source: ${upstream.host}/acme/plain`,
        '    tags: { semver: ">=1" }',
        `  - source: ${upstream.host}/acme/signed`,
        '    tags: { semver: ">=1" }',
        '',
      ].join('\n'),
    )
    return spec
  }

  /** Lookups of attachment tags (`…/manifests/sha256-HEX[.sig|.att|.sbom]`), by path. */
  const attachmentLookups = (seen: SeenRequest[]) =>
    seen.map((r) => r.path).filter((p) => /\/manifests\/sha256-[0-9a-f]{64}(\.\w+)?$/.test(p))

  // What the first sync asks the source on top of the three it always makes per image (the listing, the
  // manifest by tag, each blob once): the index's two children; the signature found in the listing (HEAD,
  // then its manifest); for the image with an SBOM, the referrers API (404: none), its tag-schema index
  // (read again to align the destination's copy of it) and the SBOM. Before, every manifest's three
  // cosign tags were HEADed and its referrers asked for (API, then index): 27 HEADs, 10 referrers GETs.
  const firstFromSource = {
    'GET tags': 2,
    'GET manifest': 5 + 2 + 1 + 3,
    'HEAD manifest': 1,
    'GET referrers': 1 + 1,
    'GET blob': 16,
  }
  // Each image's tag by HEAD on both sides, plus the two attachment tags that exist, and the source's
  // referrers API probe, once. Before: 33 HEADs on each side and a GET of the index at the destination.
  const resyncFromSource = { 'GET tags': 2, 'HEAD manifest': 5 + 2, 'GET referrers': 1 }

  it('distribution to distribution: absent attachment tags are never asked for; the re-sync GETs no manifest', async () => {
    const registry = await startDistribution()
    const proxy = await startFaultProxy(registry.url)
    try {
      upstream.seen.length = 0
      const spec = await specInto(proxy.host)
      const report = await runSync(testContext(), spec)
      expect(report.totals).toMatchObject({ images: 5, copied: 5, failed: 0 })
      expect(new Set(attachmentLookups(upstream.seen))).toEqual(listed)
      expect(count(upstream.seen)).toEqual(firstFromSource)
      // The destination keeps referrers in the tag schema too: the SBOM's index is written (read before
      // and after the PUT) and aligned with the source's bytes (read once more).
      expect(count(proxy.seen)).toEqual({
        'GET tags': 2,
        'POST upload?digest': 1,
        'POST upload': 15,
        'PUT upload': 16,
        'PUT manifest': 12,
        'HEAD manifest': 8,
        'GET referrers': 1,
        'GET manifest': 3,
      })

      proxy.seen.length = 0
      upstream.seen.length = 0
      const again = await runSync(testContext(), spec)
      expect(again.totals).toMatchObject({ images: 5, inSync: 5 })
      expect(new Set(attachmentLookups(upstream.seen))).toEqual(listed)
      expect(new Set(attachmentLookups(proxy.seen))).toEqual(
        new Set([...listed].map((p) => p.replace('/v2/acme/', '/v2/mirror/acme/'))),
      )
      expect(count(upstream.seen)).toEqual(resyncFromSource)
      expect(count(proxy.seen)).toEqual({ 'GET tags': 2, 'HEAD manifest': 5 + 2 })
    } finally {
      await proxy.stop()
      await registry.stop()
    }
  })

  it('distribution to ferry serve: the same on the source; the SBOM is compared through the lists', async () => {
    let served: Served | undefined
    let proxy: FaultProxy | undefined
    try {
      served = await serveTemp()
      proxy = await startFaultProxy(served.server.url)
      upstream.seen.length = 0
      const spec = await specInto(proxy.host)
      const report = await runSync(testContext(), spec)
      expect(report.totals).toMatchObject({ images: 5, copied: 5, failed: 0 })
      expect(new Set(attachmentLookups(upstream.seen))).toEqual(listed)
      // ferry serve lists referrers itself: the SBOM's index is not written there, nor aligned.
      expect(count(upstream.seen)).toEqual({ ...firstFromSource, 'GET manifest': 5 + 2 + 1 + 2 })

      proxy.seen.length = 0
      upstream.seen.length = 0
      const again = await runSync(testContext(), spec)
      expect(again.totals).toMatchObject({ images: 5, inSync: 5 })
      expect(new Set(attachmentLookups(upstream.seen))).toEqual(listed)
      // The SBOM's tag-schema index has no counterpart tag at the destination: both lists are read, the
      // source's (referrers API, then the index) and the destination's (its API). Nothing else is GET.
      expect(count(upstream.seen)).toEqual({
        ...resyncFromSource,
        'HEAD manifest': 5 + 2,
        'GET referrers': 1 + 1,
        'GET manifest': 1,
      })
      expect(count(proxy.seen)).toEqual({ 'GET tags': 2, 'HEAD manifest': 5 + 1, 'GET referrers': 1 })
    } finally {
      await proxy?.stop()
      await served?.stop()
    }
  })
})
