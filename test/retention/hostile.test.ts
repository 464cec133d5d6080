import { type ChildProcess, spawn } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type JsonShape, shapeProblems } from '../../cli/json-shape.js'
import type { Target } from '../../src/content/target.js'
import type { Digest } from '../../src/oci/digest.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, type Rule, startFaultProxy } from '../helpers/fault-proxy.js'
import { registryTarget, tempDir } from '../supply/helpers.js'
import { agedImage } from './fixtures.js'

/**
 * The retention findings of the December 2026 hostile-input sweep (H3, H4, M1, M2, L5), each against the
 * real distribution registry. The fault proxy in front of it plays the parts no real registry on loopback
 * plays: a tag list whose next page is on another origin, and DELETEs that hang until the client is killed
 * or that wait while the test changes the registry.
 */

const ROOT = join(import.meta.dirname, '..', '..')
const BIN = join(ROOT, 'bin', 'run.js')

const RC_POLICY = `version: 1
environments:
  - name: rc
    match: { tags: { match: "*-rc.*" } }
    retention: { keep: { count: 1 } }
retention: { grace: 0s }
`
const RELEASE_POLICY = `version: 1
environments:
  - name: release
    match: { tags: { semver: ">=0.0.0" } }
    retention: { protect: true }
  - name: rc
    match: { tags: { match: "/-rc\\\\.\\\\d+$/" } }
    retention: { keep: { count: 1 } }
retention: { grace: 0s }
`

/** A manifest DELETE by digest that is one of the plan's steps (not ferry's capability probe). */
const stepDelete = (repo: string) => (q: { method: string; path: string }) =>
  q.method === 'DELETE' && q.path.startsWith(`/v2/${repo}/manifests/sha256:`) && !/0{64}/.test(q.path)

const until = async (what: () => boolean, ms = 30_000) => {
  const started = Date.now()
  while (!what()) {
    if (Date.now() - started > ms) throw new Error('timed out waiting')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('retention against a lying proxy (hostile sweep 2026-12)', () => {
  let registry: Distribution
  let proxy: FaultProxy
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let shapes: Map<string, JsonShape>
  const targets: (Target & { close(): Promise<void> })[] = []
  const direct = (repo: string) => {
    const t = registryTarget(registry.host, repo)
    targets.push(t)
    return t
  }
  /** Each test its own state directory (journals) and policy file. */
  const setup = async (name: string, policy: string) => {
    const policyFile = join(tmp.dir, `${name}.policy.yaml`)
    await writeFile(policyFile, policy)
    const env = { XDG_STATE_HOME: join(tmp.dir, name, 'state'), DOCKER_CONFIG: join(tmp.dir, name, 'docker') }
    return { policyFile, env, stateDir: join(tmp.dir, name, 'state', 'ferry', 'retention') }
  }
  const spawnApply = (repo: string, policyFile: string, env: Record<string, string>, backup: string) =>
    spawn(
      process.execPath,
      [BIN, 'retention', 'apply', repo, '--policy', policyFile, '--yes', '--backup', backup],
      { env: { ...process.env, ...env }, stdio: 'ignore' },
    )
  const killed = async (child: ChildProcess) => {
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
  }

  beforeAll(async () => {
    registry = await startDistribution()
    proxy = await startFaultProxy(registry.url)
    tmp = await tempDir('ferry-retention-hostile-')
    const manifest = JSON.parse(await readFile(join(ROOT, 'oclif.manifest.json'), 'utf8')) as {
      commands: Record<string, { jsonOutput?: JsonShape }>
    }
    shapes = new Map(Object.entries(manifest.commands).map(([id, c]) => [id, c.jsonOutput!]))
  }, 60_000)
  afterAll(async () => {
    for (const t of targets) await t.close()
    await proxy?.stop()
    await registry?.stop()
    await tmp?.remove()
  })

  describe('H3: a tag list whose next page is on another origin', () => {
    let web: Record<string, Manifest>
    let foreign: string
    const hideRelease: Rule = (q) =>
      q.method === 'GET' && q.path.startsWith('/v2/r/web/tags/list')
        ? {
            kind: 'rewrite',
            fn: (res) => {
              const doc = JSON.parse(res.body.toString()) as { name: string; tags: string[] }
              doc.tags = doc.tags.filter((t) => t !== 'v1.0.0')
              // The next page on a host alias of the same registry, as a TLS terminator or CNAME writes it.
              const link = `<${foreign}/v2/r/web/tags/list?n=100&last=zzz>; rel="next"`
              return { ...res, headers: { ...res.headers, link }, body: Buffer.from(JSON.stringify(doc)) }
            },
          }
        : undefined

    beforeAll(async () => {
      foreign = `http://localhost:${proxy.host.split(':')[1]}`
      const t = direct('r/web')
      web = {}
      web['v1.0.0'] = await agedImage(t, 'v1.0.0', { annotation: '2024-01-01T00:00:00Z' })
      await t.tag(web['v1.0.0'], 'v1.0.0-rc.1') // a protected release shares its digest with an rc
      web['v1.1.0-rc.1'] = await agedImage(t, 'v1.1.0-rc.1', { annotation: '2024-02-01T00:00:00Z' })
      web['v1.1.0-rc.2'] = await agedImage(t, 'v1.1.0-rc.2', { annotation: '2024-03-01T00:00:00Z' })
    }, 60_000)

    it('ferry tags fails with one line naming the registry, the repository and the foreign origin', async () => {
      proxy.setRule(hideRelease)
      try {
        const r = await ferry(['tags', `${proxy.host}/r/web`])
        expect(r.code, r.stdout).toBe(1)
        expect(r.stdout).toBe('')
        const lines = r.stderr.trim().split('\n')
        expect(lines).toHaveLength(1)
        expect(lines[0]).toContain(`${proxy.host}/r/web`)
        expect(lines[0]).toContain(foreign)
        expect(lines[0]).toMatch(/incomplete/)
      } finally {
        proxy.setRule(undefined)
      }
    })

    it('retention plan and apply refuse; nothing is deleted and the protected release still resolves', async () => {
      const { policyFile, env } = await setup('h3', RELEASE_POLICY)
      proxy.setRule(hideRelease)
      proxy.seen.length = 0
      try {
        const plan = await ferry(['retention', 'plan', `${proxy.host}/r/web`, '--policy', policyFile], {
          env,
        })
        expect(plan.code).toBe(1)
        expect(plan.stderr).toContain(foreign)
        const apply = await ferry(
          [
            'retention',
            'apply',
            `${proxy.host}/r/web`,
            '--policy',
            policyFile,
            '--yes',
            '--backup',
            join(tmp.dir, 'h3-backup'),
          ],
          { env },
        )
        expect(apply.code).toBe(1)
        expect(apply.stderr).toContain(`${proxy.host}/r/web`)
        expect(apply.stderr).toContain(foreign)
      } finally {
        proxy.setRule(undefined)
      }
      // Not one write: no DELETE, not even a capability probe.
      expect(proxy.seen.filter((q) => !['GET', 'HEAD'].includes(q.method))).toEqual([])
      const t = direct('r/web')
      expect((await t.resolve('v1.0.0')).digest).toBe(web['v1.0.0']!.digest)
      expect((await t.listTags()).sort()).toEqual(['v1.0.0', 'v1.0.0-rc.1', 'v1.1.0-rc.1', 'v1.1.0-rc.2'])
    })
  })

  describe('H4: a killed run’s journal, replayed after a tag was added', () => {
    it('skips the digest a tag created since the kill names; the fresh plan’s keep holds', async () => {
      const { policyFile, env, stateDir } = await setup('h4', RC_POLICY)
      const t = direct('r/app')
      const d1 = await agedImage(t, 'v0.1.0-rc.1', { annotation: '2024-01-01T00:00:00Z' })
      const d2 = await agedImage(t, 'v0.1.0-rc.2', { annotation: '2024-02-01T00:00:00Z' })
      const d3 = await agedImage(t, 'v0.1.0-rc.3', { annotation: '2024-03-01T00:00:00Z' })
      // The run's first manifest DELETE never reaches the registry: the process is killed while it waits.
      proxy.setRule((q) => (stepDelete('r/app')(q) ? { kind: 'stall' } : undefined))
      proxy.seen.length = 0
      const child = spawnApply(`${proxy.host}/r/app`, policyFile, env, join(tmp.dir, 'h4-b1'))
      try {
        await until(() => proxy.seen.some(stepDelete('r/app')))
      } finally {
        await killed(child)
        proxy.setRule(undefined)
      }
      const journals = (await readdir(stateDir)).filter((f) => f.endsWith('.journal.json'))
      expect(journals).toHaveLength(1)
      const journal = JSON.parse(await readFile(join(stateDir, journals[0]!), 'utf8'))
      expect(journal.done).toBe(0)
      expect(journal.steps.map((s: { digest: string }) => s.digest).sort()).toEqual(
        [d1.digest, d2.digest].sort(),
      )

      // An operator rolls back: a new tag on the old digest the journal still means to delete.
      await t.tag(d1, 'hotfix')
      const r = await ferry(
        [
          'retention',
          'apply',
          `${proxy.host}/r/app`,
          '--policy',
          policyFile,
          '--yes',
          '--backup',
          join(tmp.dir, 'h4-b2'),
          '--json',
        ],
        { env },
      )
      expect(r.code, r.stderr).toBe(0)
      const doc = JSON.parse(r.stdout)
      expect(shapeProblems(shapes.get('retention:apply')!, doc)).toEqual([])
      const repo = doc.repositories[0]
      expect(repo.plan.keep.map((k: { tag: string }) => k.tag).sort()).toEqual(['hotfix', 'v0.1.0-rc.3'])
      expect(repo.steps.skipped.join('\n')).toMatch(new RegExp(`${d1.digest}.*hotfix`))
      expect((await t.resolve('hotfix')).digest).toBe(d1.digest)
      expect(await t.hasManifest(d1.digest)).toBe(true)
      expect(await t.hasManifest(d2.digest)).toBe(false)
      expect((await t.resolve('v0.1.0-rc.3')).digest).toBe(d3.digest)
      expect((await t.listTags()).sort()).toEqual(['hotfix', 'v0.1.0-rc.3'])
      expect((await readdir(stateDir)).filter((f) => f.endsWith('.journal.json'))).toEqual([])
    }, 60_000)
  })

  /**
   * Leaves `tag` where a run killed between the placeholder push and its DELETE leaves it (distribution
   * 2.x untag): the client is aborted while the placeholder's DELETE hangs at the proxy.
   */
  const leaveOnPlaceholder = async (repo: string, tag: string): Promise<Digest> => {
    const t = registryTarget(proxy.host, repo)
    const abort = new AbortController()
    proxy.seen.length = 0
    proxy.setRule((q) => (stepDelete(repo)(q) ? { kind: 'stall' } : undefined))
    try {
      const untag = t.untag(tag, { signal: abort.signal }).then(
        () => undefined,
        (err: unknown) => err,
      )
      await until(() => proxy.seen.some(stepDelete(repo)))
      abort.abort()
      expect(await untag).toBeInstanceOf(Error)
    } finally {
      proxy.setRule(undefined)
      await t.close()
    }
    const now = (await direct(repo).resolve(tag)).digest as Digest
    const m = await direct(repo).fetchManifest(now)
    expect(JSON.parse(Buffer.from(m.bytes).toString()).annotations['dev.ferry.untag']).toMatch(
      new RegExp(`^${tag.replaceAll('.', '\\.')} `),
    )
    return now
  }

  describe('M1: a run killed between the placeholder push and its DELETE', () => {
    let k1: Manifest
    let k2: Manifest
    let placeholder: string
    let ctx: Awaited<ReturnType<typeof setup>>

    beforeAll(async () => {
      ctx = await setup('m1', RELEASE_POLICY)
      const t = direct('r/ph')
      k1 = await agedImage(t, 'v5.0.0', { annotation: '2024-01-01T00:00:00Z' })
      await t.tag(k1, 'v5.0.0-rc.1') // only untagged: the release keeps the digest
      k2 = await agedImage(t, 'v5.0.0-rc.2', { annotation: '2024-02-01T00:00:00Z' })
    }, 60_000)

    it('leaves the tag on ferry’s placeholder, which the next plan reports and plans to remove', async () => {
      proxy.setRule((q) => (stepDelete('r/ph')(q) ? { kind: 'stall' } : undefined))
      proxy.seen.length = 0
      const child = spawnApply(`${proxy.host}/r/ph`, ctx.policyFile, ctx.env, join(tmp.dir, 'm1-b1'))
      try {
        await until(() => proxy.seen.some(stepDelete('r/ph')))
      } finally {
        await killed(child)
        proxy.setRule(undefined)
      }
      const t = direct('r/ph')
      placeholder = (await t.resolve('v5.0.0-rc.1')).digest
      expect(placeholder).not.toBe(k1.digest)

      const r = await ferry(
        ['retention', 'plan', `${proxy.host}/r/ph`, '--policy', ctx.policyFile, '--json'],
        {
          env: ctx.env,
        },
      )
      expect(r.code, r.stderr).toBe(0)
      const doc = JSON.parse(r.stdout)
      expect(shapeProblems(shapes.get('retention:plan')!, doc)).toEqual([])
      const plan = doc.repositories[0]
      expect(plan.placeholders).toEqual([{ tag: 'v5.0.0-rc.1', digest: placeholder }])
      expect(plan.keep.map((k: { tag: string }) => k.tag).sort()).toEqual(['v5.0.0', 'v5.0.0-rc.2'])
      expect(plan.summary.placeholders).toBe(1)
      const human = await ferry(['retention', 'plan', `${proxy.host}/r/ph`, '--policy', ctx.policyFile], {
        env: ctx.env,
      })
      expect(human.stdout).toMatch(/remove\s+v5\.0\.0-rc\.1\s+.*placeholder/)
    }, 60_000)

    it('the rerun finishes the untag: the tag and the placeholder are gone, the release intact', async () => {
      const r = await ferry(
        [
          'retention',
          'apply',
          `${proxy.host}/r/ph`,
          '--policy',
          ctx.policyFile,
          '--yes',
          '--backup',
          join(tmp.dir, 'm1-b2'),
          '--json',
        ],
        { env: ctx.env },
      )
      expect(r.code, r.stderr).toBe(0)
      const doc = JSON.parse(r.stdout)
      expect(shapeProblems(shapes.get('retention:apply')!, doc)).toEqual([])
      expect(doc.repositories[0].steps.removedPlaceholders).toBe(1)
      const t = direct('r/ph')
      expect((await t.listTags()).sort()).toEqual(['v5.0.0', 'v5.0.0-rc.2'])
      expect(await t.hasManifest(placeholder as Digest)).toBe(false)
      expect((await t.resolve('v5.0.0')).digest).toBe(k1.digest)
      expect((await t.resolve('v5.0.0-rc.2')).digest).toBe(k2.digest)
    }, 60_000)

    it('an untag that finds the tag on its own placeholder finishes it instead of calling it moved', async () => {
      const t = direct('r/ph')
      await t.tag(k1, 'v5.0.0-rc.9')
      const left = await leaveOnPlaceholder('r/ph', 'v5.0.0-rc.9')
      expect(left).not.toBe(k1.digest)
      await t.untag('v5.0.0-rc.9', { ifMatch: k1.digest })
      expect(await t.listTags()).not.toContain('v5.0.0-rc.9')
      expect(await t.hasManifest(left)).toBe(false)
      expect((await t.resolve('v5.0.0')).digest).toBe(k1.digest)
    }, 60_000)
  })

  describe('M2: restore after the tag names were re-used', () => {
    let q: Manifest[]
    let reused: Manifest
    const bk = () => join(tmp.dir, 'm2-backup')

    beforeAll(async () => {
      const { policyFile, env } = await setup('m2', RC_POLICY)
      const t = direct('r/rest')
      q = []
      for (let i = 1; i <= 3; i++)
        q.push(await agedImage(t, `v3.0.0-rc.${i}`, { annotation: `2024-0${i}-01T00:00:00Z` }))
      const r = await ferry(
        ['retention', 'apply', `${proxy.host}/r/rest`, '--policy', policyFile, '--yes', '--backup', bk()],
        { env },
      )
      expect(r.code, r.stderr).toBe(0)
      expect((await t.listTags()).sort()).toEqual(['v3.0.0-rc.3'])
      // rc.1's name is re-used for new content; rc.2 is caught half way through an untag of its own.
      reused = await agedImage(t, 'v3.0.0-rc.1', { annotation: '2024-05-01T00:00:00Z' })
      await t.tag(q[2]!, 'v3.0.0-rc.2')
      await leaveOnPlaceholder('r/rest', 'v3.0.0-rc.2')
    }, 60_000)

    it('restores absent tags and tags on ferry’s placeholder, lists a re-used tag as a conflict (exit 7)', async () => {
      const r = await ferry(['retention', 'restore', bk()])
      expect(r.code, r.stderr).toBe(7)
      const conflict = r.stderr.split('\n').filter((l) => l.includes('v3.0.0-rc.1'))
      expect(conflict).toHaveLength(1)
      expect(conflict[0]).toContain(q[0]!.digest)
      expect(conflict[0]).toContain(reused.digest)
      const t = direct('r/rest')
      expect((await t.resolve('v3.0.0-rc.1')).digest).toBe(reused.digest)
      expect((await t.resolve('v3.0.0-rc.2')).digest).toBe(q[1]!.digest)
    }, 60_000)

    it('--force moves the re-used tag back and says so', async () => {
      const r = await ferry(['retention', 'restore', bk(), '--force'])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toContain(`moved v3.0.0-rc.1 from ${reused.digest} to ${q[0]!.digest}`)
      const t = direct('r/rest')
      expect((await t.resolve('v3.0.0-rc.1')).digest).toBe(q[0]!.digest)
      // Everything now names what the backup says: a second restore has nothing to refuse or move.
      const again = await ferry(['retention', 'restore', bk(), '--json'])
      expect(again.code, again.stderr).toBe(0)
      const doc = JSON.parse(again.stdout)
      expect(shapeProblems(shapes.get('retention:restore')!, doc)).toEqual([])
      expect(doc.repositories[0]).toMatchObject({ conflicts: [], moved: [] })
    }, 60_000)
  })

  describe('L5: a tag pushed while an apply runs', () => {
    it('survives with the digest it names; the run says it left that digest', async () => {
      const { policyFile, env } = await setup('l5', RC_POLICY)
      const t = direct('r/race')
      const rcs: Manifest[] = []
      for (let i = 1; i <= 3; i++)
        rcs.push(await agedImage(t, `v2.0.0-rc.${i}`, { annotation: `2024-0${i}-01T00:00:00Z` }))
      const doomed = [rcs[0]!.digest, rcs[1]!.digest]
      // The first manifest DELETE waits until the test has tagged the other doomed digest.
      let release = () => {}
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      let first: string | undefined
      proxy.setRule((q) => {
        if (!stepDelete('r/race')(q) || first) return undefined
        first = q.path.slice(q.path.lastIndexOf('/') + 1)
        return { kind: 'hold', until: gate }
      })
      const run = ferry(
        [
          'retention',
          'apply',
          `${proxy.host}/r/race`,
          '--policy',
          policyFile,
          '--yes',
          '--backup',
          join(tmp.dir, 'l5-b'),
          '--json',
        ],
        { env, killAfterMs: 60_000 },
      )
      try {
        await until(() => first !== undefined)
        const other = doomed.find((d) => d !== first)!
        await t.tag(rcs.find((m) => m.digest === other)!, 'hotfix2')
      } finally {
        release()
      }
      const r = await run
      proxy.setRule(undefined)
      expect(r.code, r.stderr).toBe(0)
      const other = doomed.find((d) => d !== first)!
      const doc = JSON.parse(r.stdout)
      expect(doc.repositories[0].steps.skipped.join('\n')).toMatch(new RegExp(`${other}.*hotfix2`))
      expect((await t.resolve('hotfix2')).digest).toBe(other)
      expect(await t.hasManifest(first as Digest)).toBe(false)
      // The skipped digest keeps its rc tag too: the next run untags it (its digest is kept now).
      const rcOfOther = `v2.0.0-rc.${rcs.findIndex((m) => m.digest === other) + 1}`
      expect((await t.listTags()).sort()).toEqual(['hotfix2', rcOfOther, 'v2.0.0-rc.3'].sort())
    }, 60_000)
  })
})
