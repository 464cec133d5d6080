import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { runSync } from '../../src/sync/sync.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, type SeenRequest, startFaultProxy } from '../helpers/fault-proxy.js'
import { type Served, serveTemp } from '../serve/helpers.js'

/**
 * What a sync sends, request by request: nothing whose answer it already knows. The proxies (no faults)
 * only count what reaches the source and the destination. Three images in one repository: two of three
 * small blobs each, one of a config and a 2 MiB layer (larger than a whole upload, so it is chunked);
 * then the first image again into a second repository of the same destination, whose blobs are
 * mounted from the first (the run pushed them there) rather than fetched and uploaded again.
 */

const kind = (r: SeenRequest) => {
  const path = r.path.split('?')[0]!
  const what = path.endsWith('/tags/list')
    ? 'tags'
    : path.includes('/manifests/')
      ? 'manifest'
      : path.includes('/blobs/uploads/')
        ? r.path.includes('mount=')
          ? 'mount'
          : r.method === 'POST' && r.path.includes('digest=')
            ? 'upload?digest'
            : 'upload'
        : path.includes('/blobs/')
          ? 'blob'
          : path
  return `${r.method} ${what}`
}

function count(seen: SeenRequest[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of seen) out[kind(r)] = (out[kind(r)] ?? 0) + 1
  return out
}

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
      const report = await runSync(await syncInto(proxy.host))
      expect(report.totals).toMatchObject({ images: 4, copied: 4, failed: 0 })
      expect(count(proxy.seen)).toEqual({
        ...common,
        // 6 small layers and configs + the big layer's session; the first small one asks for single POST.
        'POST upload?digest': 1,
        'POST upload': 7,
        'PUT upload': 8,
      })
      // Each blob fetched once, the mounted ones not at all. A listed tag the destination lacks is read
      // by tag at once (the copy needs the manifest anyway); only the tag named in the spec is HEADed.
      expect(count(upstream.seen)).toEqual({
        'GET tags': 2,
        'HEAD manifest': 1,
        'GET manifest': 4,
        'GET blob': 8,
      })

      proxy.seen.length = 0
      upstream.seen.length = 0
      const again = await runSync(await syncInto(proxy.host))
      expect(again.totals).toMatchObject({ images: 4, inSync: 4 })
      expect(count(proxy.seen)).toEqual({ 'GET tags': 2, 'HEAD manifest': 4 })
      expect(count(upstream.seen)).toEqual({ 'GET tags': 2, 'HEAD manifest': 4 })
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
      const report = await runSync(await syncInto(proxy.host))
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
