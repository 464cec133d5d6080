import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Target } from '../../src/content/target.js'
import type { Digest } from '../../src/oci/digest.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { loadPolicy, type Policy } from '../../src/policy/index.js'
import {
  applyRepository,
  applyRetention,
  planRetention,
  type RepositoryApply,
  type RepositoryPlan,
  repositoryKey,
  restoreRetention,
} from '../../src/retention/index.js'
import { verifyImage } from '../../src/supply/index.js'
import { testContext } from '../helpers/context.js'
import { startDistribution } from '../helpers/distribution.js'
import { type Backend, startBackend } from '../supply/backends.js'
import { makeKeys, registryTarget, tempDir } from '../supply/helpers.js'
import { agedImage, agedIndex, hoursAgo, signWithSbom } from './fixtures.js'

const EXAMPLE = join(import.meta.dirname, 'ferry.policy.yaml')
const keys = makeKeys()
const OLD = '2024-01-01T00:00:00Z'

const byTag = (p: RepositoryPlan) => Object.fromEntries(p.keep.map((k) => [k.tag, k.reason]))
const actions = (p: RepositoryPlan) => Object.fromEntries(p.delete.map((d) => [d.tag, d.action]))
const present = async (t: Target, d: string) => t.hasManifest(d as Digest)

describe.each(['distribution', 'serve'] as const)('retention on %s', (kind) => {
  let backend: Backend
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let policy: Policy
  let web: Target & { close(): Promise<void> }
  let prod: Target & { close(): Promise<void> }
  const m: Record<string, Manifest> = {}
  let children: Manifest[] = []
  let webName: string
  let prodName: string

  beforeAll(async () => {
    backend = await startBackend(kind)
    tmp = await tempDir('ferry-retention-')
    policy = await loadPolicy(EXAMPLE)
    webName = `${backend.host}/acme/shop/web`
    prodName = `${backend.host}/acme/shop/web-prod`
    web = registryTarget(backend.host, 'acme/shop/web')
    prod = registryTarget(backend.host, 'acme/shop/web-prod')
    // Releases: protected, and v1.0.0 is signed (its signatures must survive).
    m['v1.0.0'] = await agedImage(web, 'v1.0.0', { annotation: OLD })
    await signWithSbom(web, m['v1.0.0'], keys)
    m['v1.1.0'] = await agedImage(web, 'v1.1.0', { annotation: OLD })
    await web.tag(m['v1.1.0'], 'v1.1.0-rc.1') // an rc sharing the release's digest
    // Eleven rcs of 1.2.0: rc.11 (an index with untagged children) .. rc.2 are the ten newest.
    const index = await agedIndex(web, 'v1.2.0-rc.11', OLD)
    m['v1.2.0-rc.11'] = index.index
    children = index.children
    for (let i = 2; i <= 10; i++) m[`v1.2.0-rc.${i}`] = await agedImage(web, `v1.2.0-rc.${i}`, { label: OLD })
    m['v1.2.0-rc.1'] = await agedImage(web, 'v1.2.0-rc.1', { annotation: OLD })
    await signWithSbom(web, m['v1.2.0-rc.1'], keys)
    m['v0.9.0-rc.1'] = await agedImage(web, 'v0.9.0-rc.1', { config: OLD })
    m['v0.8.0-rc.1'] = await agedImage(web, 'v0.8.0-rc.1', { annotation: hoursAgo(2) }) // within 90d
    m['v0.7.0-rc.1'] = await agedImage(web, 'v0.7.0-rc.1', { none: true }) // 1970 config: no age
    await web.tag(m['v1.2.0-rc.11'], 'latest')
    m.nightly = await agedImage(web, 'nightly', { annotation: OLD })
    // prod: ten newest of twelve by SemVer (v1.11.0 > v1.9.0), whatever their age.
    for (let i = 0; i <= 11; i++)
      m[`prod-v1.${i}.0`] = await agedImage(prod, `v1.${i}.0`, { annotation: OLD })
  }, 120_000)
  afterAll(async () => {
    await web?.close()
    await prod?.close()
    await backend?.stop()
    await tmp?.remove()
  })

  let plan: RepositoryPlan
  let prodPlan: RepositoryPlan

  it('plans the closure: what each kept tag was kept by, untag for a shared digest, attachments with their subject', async () => {
    const result = await planRetention(testContext(), [webName, prodName], { policy })
    ;[plan, prodPlan] = result.repositories as [RepositoryPlan, RepositoryPlan]
    const rcKept = Object.fromEntries(
      [2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => [`v1.2.0-rc.${i}`, 'count']),
    )
    expect(byTag(plan)).toEqual({
      'v1.0.0': 'protect',
      'v1.1.0': 'protect',
      latest: 'protect',
      nightly: 'unmatched',
      ...rcKept,
      'v0.8.0-rc.1': 'within',
      'v0.7.0-rc.1': 'age-unknown',
    })
    expect(actions(plan)).toEqual({
      'v1.1.0-rc.1': 'untag',
      'v1.2.0-rc.1': 'delete-manifest',
      'v0.9.0-rc.1': 'delete-manifest',
    })
    const ages = Object.fromEntries(plan.delete.map((d) => [d.tag, d.age?.source]))
    expect(ages).toEqual({
      'v1.1.0-rc.1': 'annotation',
      'v1.2.0-rc.1': 'annotation',
      'v0.9.0-rc.1': 'config',
    })
    expect(plan.keep.find((k) => k.tag === 'v1.2.0-rc.5')?.age?.source).toBe('label')
    // The doomed rc.1 takes its OCI signature, its SBOM, its cosign .sig and the SBOM's .sig with it.
    const roles = plan.manifests.map((x) => x.role).sort()
    expect(roles).toEqual(['cosign-tag', 'cosign-tag', 'image', 'image', 'referrer', 'referrer'])
    // Each group's root goes first, its attachments after it.
    const order = plan.manifests.map((x) => x.digest)
    const rc1 = order.indexOf(m['v1.2.0-rc.1']!.digest)
    expect(rc1).toBeGreaterThanOrEqual(0)
    for (const r of plan.referrers) expect(order.indexOf(r.digest)).toBeGreaterThan(rc1)
    expect(plan.referrers).toHaveLength(4)
    expect(plan.referrers.every((r) => r.subject !== m['v1.0.0']!.digest)).toBe(true)
    expect(plan.fallbackIndexes.map((f) => f.subject)).toEqual(
      kind === 'distribution' ? [m['v1.2.0-rc.1']!.digest] : [],
    )
    expect(plan.summary).toEqual({
      tags: 19,
      kept: 16,
      untag: 1,
      deleteManifests: 6,
      referrers: 4,
      fallbackIndexes: kind === 'distribution' ? 1 : 0,
      placeholders: 0,
    })
    expect(plan.needs).toEqual({ manifestDelete: true, tagDelete: true })
    // prod: the first matching environment governs (prod, not release); v1.11.0 ranks above v1.9.0.
    expect(Object.keys(byTag(prodPlan)).sort()).toEqual(
      [2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((i) => `v1.${i}.0`).sort(),
    )
    expect(actions(prodPlan)).toEqual({ 'v1.0.0': 'delete-manifest', 'v1.1.0': 'delete-manifest' })
    expect(result.summary).toMatchObject({ repositories: 2, deleteManifests: 8, kept: 26 })
  })

  let applied: RepositoryApply
  const backup = () => join(tmp.dir, 'backup')

  it('applies exactly the plan: nothing kept loses a manifest, a referrer or an index child', async () => {
    const before = await web.listTags()
    const report = await applyRetention(testContext(), [webName, prodName], {
      policy,
      backupDir: backup(),
      stateDir: join(tmp.dir, 'state'),
    })
    expect(report.summary.failed).toBe(0)
    applied = report.repositories[0] as RepositoryApply
    expect(applied.steps).toEqual({
      untagged: 1,
      placeholderUntags: kind === 'distribution' ? 1 : 0,
      deletedManifests: 6,
      removedFallbackIndexes: kind === 'distribution' ? 1 : 0,
      removedPlaceholders: 0,
      skipped: [],
    })
    const gone = new Set([...plan.delete.map((d) => d.tag), ...plan.fallbackIndexes.map((f) => f.tag)])
    for (const x of plan.manifests) if (x.tag) gone.add(x.tag)
    expect((await web.listTags()).sort()).toEqual(before.filter((t) => !gone.has(t)).sort())
    for (const x of plan.manifests) expect(await present(web, x.digest)).toBe(false)
    for (const k of plan.keep) expect((await web.resolve(k.tag)).digest).toBe(k.digest)
    for (const c of children) expect(await present(web, c.digest)).toBe(true)
    expect((await web.resolve('v1.1.0')).digest).toBe(m['v1.1.0']!.digest)
    const verified = await verifyImage({
      target: web,
      reference: 'v1.0.0',
      publicKey: keys.pub,
      requireSbom: true,
    })
    expect(verified.ok).toBe(true)
    expect(await present(prod, m['prod-v1.0.0']!.digest)).toBe(false)
    expect(await present(prod, m['prod-v1.2.0']!.digest)).toBe(true)
    // distribution 2.x deletes by digest only: its collection, without --delete-untagged; else every kind's.
    expect(report.gc).toContain(
      kind === 'distribution' ? 'distribution 2.x (this registry' : '`ferry gc --root DIR`',
    )
    expect(report.gc).toContain('without --delete-untagged')
  })

  it('has nothing left to do on a second run', async () => {
    const again = await planRetention(testContext(), [webName], { policy })
    expect(again.summary).toMatchObject({ untag: 0, deleteManifests: 0, fallbackIndexes: 0 })
  })

  it('restores the backup: tags, digests and attached artifacts come back', async () => {
    // 3 tags that go, 2 cosign .sig tags, and on distribution the fallback index tag.
    expect(applied.backup).toMatchObject({ manifests: 6, tags: kind === 'distribution' ? 6 : 5 })
    const restored = await restoreRetention(testContext(), backup(), {})
    expect(restored.repositories.map((r) => r.manifests)).toEqual([6, 2])
    for (const d of [...plan.delete, ...prodPlan.delete]) {
      const t = d.tag.startsWith('v1.') && prodPlan.delete.includes(d) ? prod : web
      expect((await t.resolve(d.tag)).digest).toBe(d.digest)
    }
    // The OCI signature and the SBOM are listed again, and the cosign .sig tags are back.
    expect((await web.referrers(m['v1.2.0-rc.1']!.digest as Digest)).length).toBe(2)
    for (const r of plan.referrers.filter((x) => x.tag))
      expect((await web.resolve(r.tag!)).digest).toBe(r.digest)
    const verified = await verifyImage({
      target: web,
      reference: 'v1.2.0-rc.1',
      publicKey: keys.pub,
      requireSbom: true,
    })
    expect(verified.ok).toBe(true)
  })
})

describe('an apply that dies half way', () => {
  it('is finished by the next run from its journal, then nothing is left to do', async () => {
    const registry = await startDistribution()
    const tmp = await tempDir('ferry-retention-resume-')
    const target = registryTarget(registry.host, 'acme/app')
    const name = `${registry.host}/acme/app`
    try {
      const rcs: Manifest[] = []
      for (let i = 1; i <= 11; i++) rcs.push(await agedImage(target, `v3.0.0-rc.${i}`, { annotation: OLD }))
      await signWithSbom(target, rcs[0]!, keys)
      const policy = await loadPolicy(EXAMPLE)
      const stateDir = join(tmp.dir, 'state')
      const planned = (await planRetention(testContext(), [name], { policy })).repositories[0]!
      expect(planned.summary.deleteManifests).toBe(5)
      const crash = new Error('killed')
      const first = await applyRetention(testContext(), [name], {
        policy,
        backupDir: join(tmp.dir, 'b1'),
        stateDir,
        onStep: (_step, i) => {
          if (i === 1) throw crash
        },
      })
      expect(first.summary.failed).toBe(1)
      // rc.1's tag is gone with its manifest: a fresh plan could no longer find its attachments.
      const blind = (await planRetention(testContext(), [name], { policy })).repositories[0]!
      expect(blind.summary.deleteManifests).toBe(0)
      const second = await applyRetention(testContext(), [name], {
        policy,
        backupDir: join(tmp.dir, 'b2'),
        stateDir,
      })
      const done = second.repositories[0] as RepositoryApply
      expect(done.resumed?.steps).toBe(planned.manifests.length + planned.fallbackIndexes.length - 2)
      // What the second run deleted for the first is in its own backup too, and restores from it.
      expect(done.backup?.manifests).toBe(planned.manifests.length - 2)
      for (const x of planned.manifests) expect(await present(target, x.digest)).toBe(false)
      expect((await target.listTags()).filter((t) => t.startsWith('sha256-'))).toEqual([])
      expect((await target.listTags()).length).toBe(10)
      const third = await planRetention(testContext(), [name], { policy })
      expect(third.summary).toMatchObject({ untag: 0, deleteManifests: 0, fallbackIndexes: 0 })
      await restoreRetention(testContext(), join(tmp.dir, 'b2'), {})
      for (const x of planned.manifests.slice(2)) expect(await present(target, x.digest)).toBe(true)
    } finally {
      await target.close()
      await registry.stop()
      await tmp.remove()
    }
  })
})

describe('the journal of an interrupted apply', () => {
  it('is found again however the registry host was spelled (lock and journal keyed by the canonical name)', async () => {
    const registry = await startDistribution()
    const tmp = await tempDir('ferry-retention-spelling-')
    const target = registryTarget(registry.host, 'acme/app')
    const port = registry.host.split(':')[1]
    // The same repository as two spellings of its host would name it (both reach this registry).
    const spelled = (host: string) =>
      new Proxy(target, {
        get: (t, p) => (p === 'name' ? `${host}:${port}/acme/app` : Reflect.get(t, p)),
      }) as Target
    try {
      for (let i = 1; i <= 3; i++)
        await agedImage(target, `v4.0.0-rc.${i}`, { annotation: `2024-0${i}-01T00:00:00Z` })
      const policyFile = join(tmp.dir, 'policy.yaml')
      await writeFile(
        policyFile,
        'version: 1\nenvironments:\n  - name: rc\n    match: { tags: { match: "*-rc.*" } }\n    retention: { keep: { count: 1 } }\nretention: { grace: 0s }\n',
      )
      const policy = await loadPolicy(policyFile)
      const stateDir = join(tmp.dir, 'state')
      const crash = new Error('killed')
      await expect(
        applyRepository(spelled('LOCALHOST'), {
          policy,
          backupDir: join(tmp.dir, 'b1'),
          stateDir,
          onStep: () => {
            throw crash
          },
        }),
      ).rejects.toBe(crash)
      const second = await applyRepository(spelled('localhost'), {
        policy,
        backupDir: join(tmp.dir, 'b2'),
        stateDir,
      })
      expect(second.resumed?.steps).toBe(1)
      expect((await readdir(stateDir)).filter((f) => f.endsWith('.journal.json'))).toEqual([])
      expect(repositoryKey('LOCALHOST:5000/acme/app')).toBe(repositoryKey('localhost:5000/acme/app'))
    } finally {
      await target.close()
      await registry.stop()
      await tmp.remove()
    }
  })
})

describe('retention on a registry with deletes disabled', () => {
  it('refuses before changing anything, naming the registry and the capability', async () => {
    const registry = await startDistribution({ deletes: false })
    const tmp = await tempDir('ferry-retention-nodelete-')
    const target = registryTarget(registry.host, 'acme/app')
    try {
      for (let i = 1; i <= 12; i++) await agedImage(target, `v2.0.0-rc.${i}`, { annotation: OLD })
      const policy = await loadPolicy(EXAMPLE)
      const report = await applyRetention(testContext(), [`${registry.host}/acme/app`], {
        policy,
        backupDir: join(tmp.dir, 'backup'),
        stateDir: join(tmp.dir, 'state'),
      })
      expect(report.summary.failed).toBe(1)
      const failure = report.repositories[0] as { error: { code: string; message: string } }
      expect(failure.error.code).toBe('UNSUPPORTED')
      expect(failure.error.message).toContain(`${registry.host}/acme/app`)
      expect(failure.error.message).toContain('manifest DELETE')
      expect(failure.error.message).toContain('nothing was changed')
      expect((await target.listTags()).length).toBe(12)
    } finally {
      await target.close()
      await registry.stop()
      await tmp.remove()
    }
  })
})
