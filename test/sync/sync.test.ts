import { mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { runSync, syncLockPath } from '../../src/sync/sync.js'
import { pushSyntheticImage, pushSyntheticIndex } from '../../src/synthetic.js'
import { acquireLock } from '../../src/util/lock.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

describe('sync', () => {
  let upstream: Distribution
  let internal: Distribution
  let dir: string
  let spec: string

  beforeAll(async () => {
    ;[upstream, internal] = await Promise.all([startDistribution(), startDistribution()])
    dir = await mkdtemp(join(tmpdir(), 'ferry-sync-'))
    process.env.XDG_STATE_HOME = join(dir, 'state')
    const client = new RegistryClient()
    const app = client.repository({ registry: upstream.host, repository: 'acme/app' })
    for (const tag of ['1.0.0', '1.1.0', '2.0.0-rc1']) {
      await pushSyntheticImage(app, { seed: `app-${tag}`, layers: 2, layerSize: 20_000 }, tag)
    }
    const multi = client.repository({ registry: upstream.host, repository: 'acme/multi' })
    await pushSyntheticIndex(
      multi,
      { seed: 'multi', layers: 1, layerSize: 20_000 },
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      '1',
    )
    await client.close()
    spec = join(dir, 'mirror.yaml')
    await writeFile(
      spec,
      [
        'version: 1',
        `target: ${internal.host}/cache`,
        'defaults: { referrers: false }',
        'images:',
        `  - source: ${upstream.host}/acme/app`,
        '    tags: { semver: ">=1" }',
        `  - source: ${upstream.host}/acme/multi:1`,
        '    platforms: [linux/amd64]',
        '    referrers: true',
        `  - source: ${upstream.host}/acme/missing:1`,
        '',
      ].join('\n'),
    )
  })
  afterAll(async () => {
    await Promise.all([upstream?.stop(), internal?.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  it('plans without writing on --dry-run', async () => {
    const report = await runSync(testContext(), spec, { dryRun: true })
    expect(report.totals).toMatchObject({ wouldCopy: 3, copied: 0, failed: 1 })
    const client = new RegistryClient()
    await expect(client.catalog(internal.host)).resolves.toEqual([])
    await client.close()
  })

  it('mirrors, keeps going past a failing image, and reports it', async () => {
    const report = await runSync(testContext(), spec)
    expect(report.totals).toMatchObject({ images: 4, copied: 3, failed: 1 })
    const failed = report.entries.find((e) => e.status === 'failed')
    expect(failed?.error?.code).toBe('NOT_FOUND')
    expect(failed?.error?.message).toContain('acme/missing')
    const client = new RegistryClient()
    expect(
      (await client.repository({ registry: internal.host, repository: 'cache/acme/app' }).listTags()).sort(),
    ).toEqual(['1.0.0', '1.1.0'])
    const multi = await client
      .repository({ registry: internal.host, repository: 'cache/acme/multi' })
      .fetchManifest('1')
    expect(multi.kind === 'index' && multi.index.manifests.length).toBe(1)
    await client.close()
  })

  it('decides a second run is in sync from HEAD requests alone and moves nothing', async () => {
    const lines: string[] = []
    const logger = { debug: (l: string) => lines.push(l), warn: (l: string) => lines.push(l) }
    const report = await runSync(testContext({ logger }), spec)
    expect(report.totals).toMatchObject({ inSync: 3, copied: 0, bytes: 0, manifestsPushed: 0, failed: 1 })
    const upstreamManifestGets = lines.filter(
      (l) => l.startsWith('GET') && l.includes(upstream.host) && /\/manifests\/(?!sha256-)/.test(l),
    )
    expect(upstreamManifestGets).toEqual([])
    expect(lines.some((l) => l.startsWith('HEAD') && l.includes(upstream.host))).toBe(true)
    expect(lines.filter((l) => /^(PUT|POST|PATCH)/.test(l))).toEqual([])
  })

  it('refuses to run while another run of the same spec holds its lock', async () => {
    const held = await acquireLock(await syncLockPath(spec))
    try {
      await expect(runSync(testContext(), spec)).rejects.toMatchObject({ code: 'CONFLICT' })
    } finally {
      await held.release()
    }
    await expect(runSync(testContext(), spec)).resolves.toMatchObject({ totals: { inSync: 3 } })
  })

  it('takes over the lock of a run that died in another container once its heartbeat is two minutes old', async () => {
    const path = await syncLockPath(spec)
    const held = await acquireLock(path)
    const here = JSON.parse(await readFile(path, 'utf8'))
    await held.release()
    // Same hostname, another pid namespace: its pid says nothing here, only the heartbeat does.
    const past = Date.now() - 2 * 60_000
    const record = { ...here, pidns: '4:4026532999', pid: 1, created: past, nonce: 'gone' }
    await writeFile(path, JSON.stringify(record))
    await expect(runSync(testContext(), spec)).rejects.toMatchObject({ code: 'CONFLICT' })
    await utimes(path, new Date(past), new Date(past))
    await expect(runSync(testContext(), spec)).resolves.toMatchObject({ totals: { inSync: 3 } })
  })
})
