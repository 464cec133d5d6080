import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Manifest } from '../../src/oci/manifest.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, type Rule, startFaultProxy } from '../helpers/fault-proxy.js'
import { registryTarget, tempDir } from '../supply/helpers.js'
import { agedImage } from './fixtures.js'

/**
 * Which repositories retention works on (names, globs over the catalog, --all-repositories) and how the
 * plan reads: sorted by repository, then by the environment that governs each tag, then newest first,
 * with the tags the policy forbids flagged. A real distribution registry behind a logging proxy; the
 * proxy rewrites the catalog only to play a registry whose next page is on another origin.
 */

const OLD = '2024-01-01T00:00:00Z'
const POLICY = `version: 1
environments:
  - name: prod
    match: { repositories: ["**/*-prod"] }
    forbid: { tags: [latest] }
    retention: { keep: { count: 2 } }
  - name: rc
    match: { tags: { match: "/-rc\\\\.\\\\d+$/" } }
    retention: { keep: { count: 2 } }
retention:
  protect: [latest]
`

describe('retention over many repositories', { timeout: 120_000 }, () => {
  let registry: Distribution
  let proxy: FaultProxy
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let policy: string
  let env: Record<string, string>
  let reg: string
  const prod: Record<string, Manifest> = {}

  const run = (...args: string[]) => ferry(['retention', ...args, '--policy', policy], { env })
  const names = (stdout: string) =>
    (JSON.parse(stdout) as { repositories: { repository: string }[] }).repositories.map((r) => r.repository)

  beforeAll(async () => {
    registry = await startDistribution()
    proxy = await startFaultProxy(registry.url)
    reg = proxy.host
    tmp = await tempDir('ferry-retention-repos-')
    env = { XDG_STATE_HOME: join(tmp.dir, 'state'), DOCKER_CONFIG: join(tmp.dir, 'docker') }
    policy = join(tmp.dir, 'ferry.policy.yaml')
    await writeFile(policy, POLICY)
    const push = async (repository: string, tags: string[]) => {
      const target = registryTarget(registry.host, repository)
      const out: Record<string, Manifest> = {}
      for (const tag of tags) out[tag] = await agedImage(target, tag, { annotation: OLD })
      await target.close()
      return out
    }
    // Pushed out of order: the tag list comes back in lexical order (v1.10.0 before v1.2.0).
    Object.assign(prod, await push('acme/web-prod', ['v1.2.0', 'latest', 'v1.10.0', 'v1.1.0', 'v1.9.0']))
    await push('acme/api-prod', ['v1.0.0'])
    await push('acme/web', ['v1.0.0-rc.1', 'v1.0.0-rc.2', 'v1.0.0-rc.3'])
    await push('other/app', ['v2.0.0-rc.1'])
  }, 60_000)
  afterAll(async () => {
    await proxy?.stop()
    await registry?.stop()
    await tmp?.remove()
  })

  it('prints the plan sorted by repository, then environment, then newest first, and flags forbidden tags', async () => {
    const r = await run('plan', `${reg}/acme/web-prod`, `${reg}/acme/api-prod`)
    expect(r.code, r.stderr).toBe(0)
    const short = (tag: string) => prod[tag]!.digest.slice(0, 19)
    expect(r.stdout.split('\n')).toEqual([
      `${reg}/acme/api-prod: 1 tag, keep 1, untag 0, delete 0 manifests (0 attached), 0 fallback indexes`,
      '  keep    v1.0.0  count (prod), created 2024-01-01 (annotation)',
      `${reg}/acme/web-prod: 5 tags, keep 3, untag 0, delete 2 manifests (0 attached), 0 fallback indexes`,
      '  keep    v1.10.0  count (prod), created 2024-01-01 (annotation)',
      '  keep    v1.9.0  count (prod), created 2024-01-01 (annotation)',
      `  delete  v1.2.0  ${short('v1.2.0')} (prod), created 2024-01-01 (annotation)`,
      `  delete  v1.1.0  ${short('v1.1.0')} (prod), created 2024-01-01 (annotation)`,
      '  keep    latest  protect (prod), created 2024-01-01 (annotation)',
      '  note    latest: the policy forbids this tag here (environment prod: latest)',
      '  needs   manifest DELETE',
      'plan: keep 4, untag 0, delete 2 manifests in 2 repositories',
      '',
    ])
    const json = await run('plan', `${reg}/acme/web-prod`, '--json')
    const plan = JSON.parse(json.stdout).repositories[0]
    expect(plan.forbidden).toEqual([
      { tag: 'latest', digest: prod.latest!.digest, environment: 'prod', pattern: 'latest' },
    ])
    expect(plan.keep.map((k: { tag: string }) => k.tag)).toEqual(['v1.10.0', 'v1.9.0', 'latest'])
    expect(plan.delete.map((d: { tag: string }) => d.tag)).toEqual(['v1.2.0', 'v1.1.0'])
  })

  it('takes repository globs over the catalog, and --all-repositories REG', async () => {
    const all = await run('plan', `${reg}/acme/**`, '--json')
    expect(all.code, all.stderr).toBe(0)
    expect(names(all.stdout)).toEqual([`${reg}/acme/api-prod`, `${reg}/acme/web`, `${reg}/acme/web-prod`])

    // A glob and a name it covers: each repository once.
    const some = await run('plan', `${reg}/acme/web-prod`, `${reg}/acme/*-prod`, '--json')
    expect(names(some.stdout)).toEqual([`${reg}/acme/api-prod`, `${reg}/acme/web-prod`])

    const everything = await run('plan', '--all-repositories', reg, '--json')
    expect(everything.code, everything.stderr).toBe(0)
    expect(names(everything.stdout)).toEqual([
      `${reg}/acme/api-prod`,
      `${reg}/acme/web`,
      `${reg}/acme/web-prod`,
      `${reg}/other/app`,
    ])
  })

  it('refuses a glob that matches no repository, one without its registry, and no repository at all', async () => {
    const none = await run('plan', `${reg}/acme/*-staging`)
    expect(none.code).toBe(3)
    expect(none.stdout).toBe('')
    expect(none.stderr).toBe(
      `ferry: ${reg}/acme/*-staging matches no repository in the catalog of ${reg} (4 repositories)\n`,
    )
    const hostless = await run('plan', 'acme/**')
    expect(hostless.code).toBe(2)
    expect(hostless.stderr).toMatch(/^ferry: acme\/\*\*: a repository glob starts with its registry/)
    const nothing = await run('plan')
    expect(nothing.code).toBe(2)
    expect(nothing.stderr).toMatch(/^ferry: name repositories .*or --all-repositories REG/)
  })

  it('fails on a catalog the registry cannot give whole, before anything is planned or changed', async () => {
    const foreign = `http://localhost:${reg.split(':')[1]}`
    const partial: Rule = (q) =>
      q.method === 'GET' && q.path.startsWith('/v2/_catalog')
        ? {
            kind: 'rewrite',
            fn: (res) => ({
              ...res,
              headers: { ...res.headers, link: `<${foreign}/v2/_catalog?n=100&last=zzz>; rel="next"` },
            }),
          }
        : undefined
    proxy.setRule(partial)
    proxy.seen.length = 0
    try {
      for (const args of [
        ['plan', '--all-repositories', reg],
        ['apply', `${reg}/acme/*-prod`, '--yes', '--backup', join(tmp.dir, 'never')],
      ]) {
        const r = await run(...args)
        expect(r.code, r.stderr).toBe(1)
        expect(r.stdout).toBe('')
        const lines = r.stderr.trim().split('\n')
        expect(lines).toHaveLength(1)
        expect(lines[0]).toMatch(/incomplete/)
        expect(lines[0]).toContain(foreign)
      }
      expect(proxy.seen.filter((q) => !q.path.startsWith('/v2/_catalog') && q.path !== '/v2/')).toEqual([])
    } finally {
      proxy.setRule(undefined)
    }
  })

  it('applies per repository to what a glob matches, and leaves the others alone', async () => {
    const r = await run('apply', `${reg}/acme/*-prod`, '--yes', '--backup', join(tmp.dir, 'backup'), '--json')
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(r.stdout)
    expect(names(r.stdout)).toEqual([`${reg}/acme/api-prod`, `${reg}/acme/web-prod`])
    expect(
      doc.repositories.map((x: { steps: { deletedManifests: number } }) => x.steps.deletedManifests),
    ).toEqual([0, 2])
    const web = registryTarget(registry.host, 'acme/web')
    try {
      expect((await web.listTags()).sort()).toEqual(['v1.0.0-rc.1', 'v1.0.0-rc.2', 'v1.0.0-rc.3'])
    } finally {
      await web.close()
    }
  })
})
