import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Target } from '../../src/content/target.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, type Rule, startFaultProxy } from '../helpers/fault-proxy.js'
import { registryTarget, tempDir } from '../supply/helpers.js'
import { agedImage } from './fixtures.js'

/**
 * The retention findings of the December 2026 hostile-input sweep, each against the
 * real distribution registry. The fault proxy in front of it plays the parts no real registry on loopback
 * plays: a tag list whose next page is on another origin, and DELETEs that hang until the client is killed
 * or that wait while the test changes the registry.
 */

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

describe('retention against a lying proxy (hostile sweep 2026-12)', () => {
  let registry: Distribution
  let proxy: FaultProxy
  let tmp: Awaited<ReturnType<typeof tempDir>>
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
  beforeAll(async () => {
    registry = await startDistribution()
    proxy = await startFaultProxy(registry.url)
    tmp = await tempDir('ferry-retention-hostile-')
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
})
