import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { RegistryClient } from '../../src/registry/index.js'
import { parseShard, shardOf } from '../../src/sync/shard.js'
import type { SyncReport } from '../../src/sync/sync.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'

describe('sync --shard: parsing and assignment', () => {
  it('reads K/N, and N with K from $JOB_COMPLETION_INDEX', () => {
    expect(parseShard('1/3', {})).toEqual({ index: 1, count: 3 })
    expect(parseShard('3', { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 2, count: 3 })
    // An explicit K wins over the environment.
    expect(parseShard('0/3', { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 0, count: 3 })
    for (const bad of ['3/3', '-1/3', '1/0', 'a/3', '1/3/4', '3'])
      expect(() => parseShard(bad, {}), bad).toThrow(/--shard/)
    expect(() => parseShard('3', { JOB_COMPLETION_INDEX: 'x' })).toThrow(/not a whole number/)
  })

  it('examples/k8s/sync-indexed-job.yaml: an Indexed Job whose --shard count is its completions', async () => {
    const file = join(import.meta.dirname, '..', '..', 'examples', 'k8s', 'sync-indexed-job.yaml')
    const job = parse(await readFile(file, 'utf8'))
    expect(job).toMatchObject({ kind: 'Job', spec: { completionMode: 'Indexed' } })
    const args: string[] = job.spec.template.spec.containers[0].args
    expect(args[0]).toBe('sync')
    const flag = args.find((a) => a.startsWith('--shard='))!.slice('--shard='.length)
    for (let k = 0; k < job.spec.completions; k++)
      expect(parseShard(flag, { JOB_COMPLETION_INDEX: String(k) })).toEqual({
        index: k,
        count: job.spec.completions,
      })
  })

  it('is stable and spreads repositories evenly', () => {
    // Pinned: a change of hash would move repositories between the workers of running jobs.
    expect(shardOf({ kind: 'registry', registry: 'docker.io', repository: 'library/nginx' }, 7)).toBe(1)
    expect(shardOf({ kind: 'registry', registry: 'ghcr.io', repository: 'acme/app' }, 1000)).toBe(526)
    // Spellings of one repository are one repository.
    expect(shardOf({ kind: 'registry', registry: 'docker.io', repository: 'library/nginx' }, 7)).toBe(
      shardOf({ kind: 'registry', registry: 'index.docker.io', repository: 'nginx' }, 7),
    )
    expect(
      [0, 1, 2, 3, 4].map((i) =>
        shardOf({ kind: 'registry', registry: 'ghcr.io', repository: `acme/app${i}` }, 4),
      ),
    ).toEqual(
      [0, 1, 2, 3, 4].map((i) =>
        shardOf({ kind: 'registry', registry: 'GHCR.IO:443', repository: `acme/app${i}` }, 4),
      ),
    )
    const counts = [0, 0, 0, 0, 0]
    for (let i = 0; i < 5000; i++)
      counts[shardOf({ kind: 'registry', registry: 'registry.intra', repository: `team/r${i}` }, 5)]!++
    for (const c of counts) expect(c).toBeGreaterThan(900)
  })
})

/**
 * Three workers of one spec run at once against one registry pair, as the pods of an Indexed Job would:
 * each copies only its repositories, together they copy every image exactly once (counted at the
 * destination by a proxy that only counts), the result equals an unsharded run's, and any shard run
 * again is a no-op.
 */
describe('sync --shard: three workers at once', () => {
  const SHARDS = 3
  let source: Distribution
  let sharded: Distribution
  let single: Distribution
  let proxy: FaultProxy
  let dir: string
  const repos: string[] = []

  beforeAll(async () => {
    ;[source, sharded, single] = await Promise.all([
      startDistribution(),
      startDistribution(),
      startDistribution(),
    ])
    proxy = await startFaultProxy(sharded.url)
    dir = await mkdtemp(join(tmpdir(), 'ferry-shard-'))
    // Two repositories per shard (the source's port is random, so which names land where varies).
    const perShard = new Map<number, number>()
    for (let i = 0; repos.length < 2 * SHARDS; i++) {
      const repository = `acme/r${i}`
      const k = shardOf({ kind: 'registry', registry: source.host, repository }, SHARDS)
      if ((perShard.get(k) ?? 0) >= 2) continue
      perShard.set(k, (perShard.get(k) ?? 0) + 1)
      repos.push(repository)
    }
    const client = new RegistryClient()
    for (const r of repos) {
      const repo = client.repository({ registry: source.host, repository: r })
      for (const tag of ['1.0', '2.0'])
        await pushSyntheticImage(repo, { seed: `${r}-${tag}`, layers: 1, layerSize: 4096 }, tag)
    }
    await client.close()
  }, 120_000)
  afterAll(async () => {
    await proxy?.stop()
    await Promise.all([source?.stop(), sharded?.stop(), single?.stop()])
    await rm(dir, { recursive: true, force: true })
  })

  async function specInto(host: string): Promise<string> {
    const file = join(dir, `${host.replace(/\W/g, '-')}.yaml`)
    const lines = ['version: 1', `target: ${host}/mirror`, 'images:']
    for (const r of repos) lines.push(`  - source: ${source.host}/${r}`, '    tags: { semver: ">=1" }')
    await writeFile(file, `${lines.join('\n')}\n`)
    return file
  }

  const env = () => ({ XDG_STATE_HOME: join(dir, 'state') })
  async function run(args: string[], extra: Record<string, string> = {}): Promise<SyncReport> {
    const r = await ferry(['sync', ...args, '--json'], { env: { ...env(), ...extra } })
    expect(r.code, r.stderr).toBe(0)
    return JSON.parse(r.stdout) as SyncReport
  }
  const repoOf = (source: string) => source.slice(source.indexOf('/') + 1, source.lastIndexOf(':'))
  const withoutHost = (e: SyncReport['entries'][number]) => ({
    source: e.source,
    destination: e.destination.slice(e.destination.indexOf('/')),
    digest: e.destinationDigest ?? e.sourceDigest,
  })

  it('copies every image exactly once between them; the union equals an unsharded run; re-runs are no-ops', async () => {
    const spec = await specInto(proxy.host)
    // Shard 2 takes its index from the environment, as in an Indexed Job's pod. All three share one state
    // directory: with one lock per spec, two of them would fail with CONFLICT.
    const reports = await Promise.all([
      run([spec, '--shard', `0/${SHARDS}`]),
      run([spec, '--shard', `1/${SHARDS}`]),
      run([spec, '--shard', String(SHARDS)], { JOB_COMPLETION_INDEX: '2' }),
    ])
    for (const [k, report] of reports.entries()) {
      expect(report.shard).toEqual({ index: k, count: SHARDS })
      expect(report.totals).toMatchObject({ images: 4, copied: 4, failed: 0 })
      for (const e of report.entries)
        expect(
          shardOf({ kind: 'registry', registry: source.host, repository: repoOf(e.source) }, SHARDS),
        ).toBe(k)
    }
    const union = reports.flatMap((r) => r.entries)
    expect(new Set(union.map((e) => e.source)).size).toBe(union.length)
    expect(union).toHaveLength(2 * repos.length)
    // Exactly one manifest PUT per destination tag, whichever worker made it.
    const puts = proxy.seen
      .filter((r) => r.method === 'PUT' && r.path.includes('/manifests/'))
      .map((r) => r.path)
    expect(puts.sort()).toEqual(
      repos.flatMap((r) => ['1.0', '2.0'].map((t) => `/v2/mirror/${r}/manifests/${t}`)).sort(),
    )

    const alone = await run([await specInto(single.host)])
    expect(alone.totals).toMatchObject({ images: 2 * repos.length, copied: 2 * repos.length })
    const key = (e: ReturnType<typeof withoutHost>) => e.source
    const sorted = (es: SyncReport['entries']) =>
      es.map(withoutHost).sort((a, b) => (key(a) < key(b) ? -1 : 1))
    expect(sorted(union)).toEqual(sorted(alone.entries))

    // Any shard again: everything in sync, nothing written.
    proxy.seen.length = 0
    for (let k = 0; k < SHARDS; k++) {
      const again = await run([spec, '--shard', `${k}/${SHARDS}`])
      expect(again.totals).toMatchObject({ images: 4, inSync: 4, copied: 0, failed: 0 })
    }
    expect(proxy.seen.filter((r) => r.method !== 'GET' && r.method !== 'HEAD')).toEqual([])
  }, 180_000)

  it('refuses a malformed --shard with the usage exit code', async () => {
    const spec = await specInto(proxy.host)
    const r = await ferry(['sync', spec, '--shard', '3/3'], { env: env() })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/--shard 3\/3: shard index 3 is not below the count 3/)
  })
})
