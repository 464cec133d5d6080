import { spawn } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type JsonShape, shapeProblems } from '../../cli/json-shape.js'
import type { Digest } from '../../src/oci/digest.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { makeKeys, registryTarget, tempDir } from '../supply/helpers.js'
import { agedImage, signWithSbom } from './fixtures.js'

const ROOT = join(import.meta.dirname, '..', '..')
const EXAMPLE = join(import.meta.dirname, 'ferry.policy.yaml')
const OLD = '2024-01-01T00:00:00Z'
const keys = makeKeys()

describe('ferry retention (CLI, distribution)', () => {
  let registry: Distribution
  let proxy: FaultProxy
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let shapes: Map<string, JsonShape>
  let rcs: Manifest[]
  let env: Record<string, string>
  const repo = () => `${proxy.host}/acme/app`

  beforeAll(async () => {
    registry = await startDistribution()
    proxy = await startFaultProxy(registry.url)
    tmp = await tempDir('ferry-retention-cli-')
    env = { XDG_STATE_HOME: join(tmp.dir, 'state'), DOCKER_CONFIG: join(tmp.dir, 'docker') }
    const target = registryTarget(registry.host, 'acme/app')
    rcs = []
    for (let i = 1; i <= 12; i++) rcs.push(await agedImage(target, `v1.0.0-rc.${i}`, { annotation: OLD }))
    await signWithSbom(target, rcs[0]!, keys)
    await target.close()
    const manifest = JSON.parse(await readFile(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, { jsonOutput?: JsonShape }>
    }
    shapes = new Map(Object.entries(manifest.commands).map(([id, c]) => [id, c.jsonOutput!]))
  }, 60_000)
  afterAll(async () => {
    await proxy?.stop()
    await registry?.stop()
    await tmp?.remove()
  })

  it('plan --json is one document in its documented shape, and sends no write', async () => {
    proxy.seen.length = 0
    const r = await ferry(['retention', 'plan', repo(), '--policy', EXAMPLE, '--json'], { env })
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout)
    expect(shapeProblems(shapes.get('retention:plan')!, doc)).toEqual([])
    expect(
      [...doc.repositories[0].delete].sort((a: { tag: string }, b: { tag: string }) =>
        a.tag < b.tag ? -1 : 1,
      ),
    ).toEqual([
      expect.objectContaining({ tag: 'v1.0.0-rc.1', action: 'delete-manifest' }),
      expect.objectContaining({ tag: 'v1.0.0-rc.2', action: 'delete-manifest' }),
    ])
    expect(doc.summary).toMatchObject({ kept: 10, deleteManifests: 6, referrers: 4, fallbackIndexes: 1 })
    expect(proxy.seen.filter((q) => !['GET', 'HEAD'].includes(q.method))).toEqual([])
  })

  it('apply without --yes prints the plan and changes nothing', async () => {
    proxy.seen.length = 0
    const r = await ferry(['retention', 'apply', repo(), '--policy', EXAMPLE, '--json'], { env, input: '' })
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout)
    expect(shapeProblems(shapes.get('retention:apply')!, doc)).toEqual([])
    expect(doc.dryRun).toBe(true)
    expect(r.stderr).toContain('--yes')
    expect(proxy.seen.filter((q) => !['GET', 'HEAD'].includes(q.method))).toEqual([])
  })

  it('an apply killed with SIGKILL mid-way is finished by the next run', async () => {
    // Every manifest DELETE waits, so the run is still deleting when it is killed.
    proxy.setRule((q) => (q.method === 'DELETE' ? { kind: 'hold', ms: 400 } : undefined))
    const backup = join(tmp.dir, 'backup-1')
    const child = spawn(
      process.execPath,
      [
        join(ROOT, 'bin', 'run.js'),
        'retention',
        'apply',
        repo(),
        '--policy',
        EXAMPLE,
        '--yes',
        '--backup',
        backup,
      ],
      { env: { ...process.env, ...env }, stdio: 'ignore' },
    )
    const stepDeletes = () =>
      proxy.seen.filter((q) => q.method === 'DELETE' && !/0{64}|ferry-probe/.test(q.path)).length
    const started = Date.now()
    while (stepDeletes() < 2 && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 20))
    child.kill('SIGKILL')
    await new Promise((r) => child.once('exit', r))
    proxy.setRule(undefined)
    const journals = (await readdir(join(tmp.dir, 'state', 'ferry', 'retention'))).filter((f) =>
      f.endsWith('.journal.json'),
    )
    expect(journals).toHaveLength(1)

    const r = await ferry(
      [
        'retention',
        'apply',
        repo(),
        '--policy',
        EXAMPLE,
        '--yes',
        '--backup',
        join(tmp.dir, 'backup-2'),
        '--json',
      ],
      { env },
    )
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout)
    expect(shapeProblems(shapes.get('retention:apply')!, doc)).toEqual([])
    expect(doc.repositories[0].resumed.steps).toBeGreaterThan(0)
    const target = registryTarget(registry.host, 'acme/app')
    try {
      expect(await target.hasManifest(rcs[0]!.digest as Digest)).toBe(false)
      expect(await target.hasManifest(rcs[1]!.digest as Digest)).toBe(false)
      expect((await target.listTags()).sort()).toEqual(
        [3, 4, 5, 6, 7, 8, 9, 10, 11, 12].map((i) => `v1.0.0-rc.${i}`).sort(),
      )
    } finally {
      await target.close()
    }
    expect(await readdir(join(tmp.dir, 'state', 'ferry', 'retention'))).not.toContain(journals[0])

    // A backup directory belongs to one run: the first run's is refused before anything is read, and a
    // directory holding something else before anything is changed.
    proxy.seen.length = 0
    const reused = await ferry(
      ['retention', 'apply', repo(), '--policy', EXAMPLE, '--yes', '--backup', backup],
      { env },
    )
    expect(reused.code).toBe(2)
    expect(reused.stderr).toContain(`${backup} already holds a retention backup`)
    expect(proxy.seen).toEqual([])
    const occupied = join(tmp.dir, 'occupied')
    await mkdir(occupied)
    await writeFile(join(occupied, 'notes.txt'), 'not a backup')
    // Something for the plan to delete, so that only the backup stands in the way.
    const extra = registryTarget(registry.host, 'acme/app')
    await agedImage(extra, 'v0.1.0-rc.1', { annotation: OLD })
    await extra.close()
    const refused = await ferry(
      ['retention', 'apply', repo(), '--policy', EXAMPLE, '--yes', '--backup', occupied],
      { env },
    )
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('not empty')
    expect(proxy.seen.filter((q) => !['GET', 'HEAD'].includes(q.method) && !/0{16}/.test(q.path))).toEqual([])

    // The first run's backup restores what it removed.
    const restored = await ferry(['retention', 'restore', backup, '--json'], { env })
    expect(restored.code, restored.stderr).toBe(0)
    const rdoc = JSON.parse(restored.stdout)
    expect(shapeProblems(shapes.get('retention:restore')!, rdoc)).toEqual([])
    // No GC ran: the registry still has every blob, so only manifests and tags are pushed.
    expect(rdoc.repositories[0]).toMatchObject({ manifests: 6, blobs: 0, tags: 5 })
    const again = registryTarget(registry.host, 'acme/app')
    try {
      expect((await again.resolve('v1.0.0-rc.1')).digest).toBe(rcs[0]!.digest)
    } finally {
      await again.close()
    }
  })
})
