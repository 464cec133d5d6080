import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Manifest } from '../../src/oci/manifest.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type Image, pushImage, syntheticImage } from '../helpers/registry-fixtures.js'
import { agedImage } from '../retention/fixtures.js'
import { registryTarget, tempDir } from '../supply/helpers.js'

/**
 * The December hostile-input sweep's escapes from the policy, through the CLI against distribution:
 * the caller choosing a laxer environment (M4), a host spelled in upper case (M5), `tag` not finding
 * the policy file promote finds (L1), `promote SRC:TAG@DIGEST` (L10) and policy files that broke the
 * loader's promises (L13).
 */
describe('policy guards on promote and tag (CLI, distribution)', { timeout: 120_000 }, () => {
  let registry: Distribution
  let tmp: Awaited<ReturnType<typeof tempDir>>
  /** `localhost:PORT`: the policy names the registry in lower case, as people write it. */
  let lower: string
  /** `LOCALHOST:PORT`: the same registry, spelled otherwise. */
  let upper: string
  let policy: string
  /** A directory whose ferry.policy.yaml is `policy`; and one without any. */
  let withPolicy: string
  let bare: string
  let d1: Manifest
  let d2: Manifest
  let second: Image
  /** No $FERRY_POLICY from the environment the tests run in. */
  const env = (extra: Record<string, string> = {}) => ({ FERRY_POLICY: '', ...extra })

  const tagOf = async (repository: string, tag: string) => {
    const t = registryTarget(registry.host, repository)
    try {
      return (await t.resolve(tag)).digest
    } catch {
      return undefined
    } finally {
      await t.close()
    }
  }
  /** stderr is one line, and it matches. */
  const oneLine = (stderr: string) => {
    const lines = stderr.trimEnd().split('\n')
    expect(lines, stderr).toHaveLength(1)
    return lines[0]!
  }

  beforeAll(async () => {
    registry = await startDistribution()
    const port = registry.host.split(':')[1]
    lower = `localhost:${port}`
    upper = `LOCALHOST:${port}`
    tmp = await tempDir('ferry-policy-guards-')
    const text = [
      'version: 1',
      'environments:',
      '  - name: prod',
      `    match: { repositories: ["${lower}/acme/*-prod"] }`,
      '    immutable: true',
      '    forbid: { tags: [latest] }',
      '    tags: { semver: true }',
      '  - name: dev',
      '    match: { tags: { match: "*" } }',
      '    mode: warn',
      '',
    ].join('\n')
    withPolicy = join(tmp.dir, 'with-policy')
    bare = join(tmp.dir, 'bare')
    await mkdir(withPolicy)
    await mkdir(bare)
    policy = join(withPolicy, 'ferry.policy.yaml')
    await writeFile(policy, text)

    const api = registryTarget(registry.host, 'acme/api')
    const a = syntheticImage()
    const b = syntheticImage()
    await pushImage(api, a, 'v1.0.0')
    await pushImage(api, b, 'v2.0.0')
    await api.close()
    d1 = a.manifest
    d2 = b.manifest
    second = b
  })
  afterAll(async () => {
    await registry?.stop()
    await tmp?.remove()
  })

  /** `acme/NAME-prod:v1.0.0` names d1, by a promote under the policy; d2 is there too, untagged. */
  async function prodRelease(name: string): Promise<string> {
    const repo = `acme/${name}-prod`
    const r = await ferry(
      ['promote', `${lower}/acme/api:v1.0.0`, `${lower}/${repo}:v1.0.0`, '--policy', policy],
      { env: env(), cwd: bare },
    )
    expect(r.code, r.stderr).toBe(0)
    expect(await tagOf(repo, 'v1.0.0')).toBe(d1.digest)
    const target = registryTarget(registry.host, repo)
    await pushImage(target, second)
    await target.close()
    return repo
  }

  describe('M4: --environment never chooses laxer rules than the destination’s', () => {
    it('promote --force --environment dev does not move an immutable prod tag', async () => {
      const repo = await prodRelease('m4a')
      const r = await ferry(
        [
          'promote',
          `${lower}/acme/api:v2.0.0`,
          `${lower}/${repo}:v1.0.0`,
          '--policy',
          policy,
          '--force',
          '--environment',
          'dev',
        ],
        { env: env(), cwd: bare },
      )
      expect(r.code, r.stdout + r.stderr).toBe(7)
      expect(oneLine(r.stderr)).toBe(
        `ferry: promotion refused: ${lower}/${repo}:v1.0.0: immutable (environment prod): "v1.0.0" is immutable and names ${d1.digest}; it cannot move to ${d2.digest}`,
      )
      expect(await tagOf(repo, 'v1.0.0')).toBe(d1.digest)
    })

    it('tag --policy --environment dev does not move an immutable prod tag', async () => {
      const repo = await prodRelease('m4b')
      const r = await ferry(
        ['tag', `${lower}/${repo}@${d2.digest}`, 'v1.0.0', '--policy', policy, '--environment', 'dev'],
        { env: env(), cwd: bare },
      )
      expect(r.code, r.stdout + r.stderr).toBe(7)
      expect(oneLine(r.stderr)).toBe(
        `ferry: ${lower}/${repo}:v1.0.0: immutable (environment prod): "v1.0.0" is immutable and names ${d1.digest}; it cannot move to ${d2.digest}`,
      )
      expect(await tagOf(repo, 'v1.0.0')).toBe(d1.digest)
    })
  })

  describe('M5: a registry host spelled in upper case is the same registry', () => {
    it('promote and tag to LOCALHOST:… are judged by the localhost:… environment', async () => {
      const repo = await prodRelease('m5')
      const promoted = await ferry(
        ['promote', `${upper}/acme/api:v2.0.0`, `${upper}/${repo}:v1.0.0`, '--policy', policy, '--force'],
        { env: env(), cwd: bare },
      )
      expect(promoted.code, promoted.stdout + promoted.stderr).toBe(7)
      expect(oneLine(promoted.stderr)).toContain(`immutable (environment prod): "v1.0.0" is immutable`)
      const tagged = await ferry(['tag', `${upper}/${repo}@${d2.digest}`, 'v1.0.0', '--policy', policy], {
        env: env(),
        cwd: bare,
      })
      expect(tagged.code, tagged.stdout + tagged.stderr).toBe(7)
      expect(await tagOf(repo, 'v1.0.0')).toBe(d1.digest)
    })

    it('retention plan LOCALHOST:… keeps the repository a localhost:… environment protects', async () => {
      const web = registryTarget(registry.host, 'keep/web')
      await agedImage(web, 'v1-rc.1', { annotation: '2024-01-01T00:00:00Z' })
      await agedImage(web, 'v1-rc.2', { annotation: '2024-02-01T00:00:00Z' })
      await web.close()
      const retention = join(tmp.dir, 'retention.yaml')
      await writeFile(
        retention,
        [
          'version: 1',
          'environments:',
          '  - name: protected',
          `    match: { repositories: ["${lower}/keep/**"] }`,
          '    retention: { protect: true }',
          '  - name: rest',
          '    match: { tags: { match: "*" } }',
          '    retention: { keep: { count: 1 } }',
          'retention: { grace: 0s }',
          '',
        ].join('\n'),
      )
      for (const host of [lower, upper]) {
        const r = await ferry(['retention', 'plan', `${host}/keep/web`, '--policy', retention, '--json'], {
          env: env(),
          cwd: bare,
        })
        expect(r.code, r.stderr).toBe(0)
        const plan = JSON.parse(r.stdout) as {
          repositories: { keep: { tag: string; environment?: string }[]; delete: unknown[] }[]
        }
        expect(plan.repositories[0]!.delete, host).toEqual([])
        expect(plan.repositories[0]!.keep.map((k) => [k.tag, k.environment]).sort(), host).toEqual([
          ['v1-rc.1', 'protected'],
          ['v1-rc.2', 'protected'],
        ])
      }
    })
  })

  describe('L1: tag finds the policy file as promote does', () => {
    it('refuses to move an immutable tag under ./ferry.policy.yaml, and to create latest in prod', async () => {
      const repo = await prodRelease('l1a')
      const moved = await ferry(['tag', `${lower}/${repo}@${d2.digest}`, 'v1.0.0'], {
        env: env(),
        cwd: withPolicy,
      })
      expect(moved.code, moved.stdout + moved.stderr).toBe(7)
      expect(oneLine(moved.stderr)).toBe(
        `ferry: ${lower}/${repo}:v1.0.0: immutable (environment prod): "v1.0.0" is immutable and names ${d1.digest}; it cannot move to ${d2.digest}`,
      )
      expect(await tagOf(repo, 'v1.0.0')).toBe(d1.digest)

      const latest = await ferry(['tag', `${lower}/${repo}@${d1.digest}`, 'latest'], {
        env: env(),
        cwd: withPolicy,
      })
      expect(latest.code, latest.stdout + latest.stderr).toBe(7)
      expect(oneLine(latest.stderr)).toMatch(
        new RegExp(
          `^ferry: ${lower}/${repo}:latest: tags\\.forbid \\(environment prod\\): tag "latest" is forbidden here`,
        ),
      )
      expect(await tagOf(repo, 'latest')).toBeUndefined()

      const semver = await ferry(['tag', `${lower}/${repo}@${d1.digest}`, 'stable'], {
        env: env(),
        cwd: withPolicy,
      })
      expect(semver.code).toBe(7)
      expect(semver.stderr).toContain('tags.semver (environment prod): "stable" is not a SemVer release tag')
      expect(await tagOf(repo, 'stable')).toBeUndefined()
    })

    it('reads $FERRY_POLICY (tag and promote) wherever it runs', async () => {
      const repo = await prodRelease('l1b')
      const tagged = await ferry(['tag', `${lower}/${repo}@${d2.digest}`, 'v1.0.0'], {
        env: env({ FERRY_POLICY: policy }),
        cwd: bare,
      })
      expect(tagged.code, tagged.stdout + tagged.stderr).toBe(7)
      const promoted = await ferry(
        ['promote', `${lower}/acme/api:v2.0.0`, `${lower}/${repo}:v1.0.0`, '--force'],
        {
          env: env({ FERRY_POLICY: policy }),
          cwd: bare,
        },
      )
      expect(promoted.code, promoted.stdout + promoted.stderr).toBe(7)
      expect(await tagOf(repo, 'v1.0.0')).toBe(d1.digest)
    })

    it('--no-policy opts out and says so on stderr, in one line', async () => {
      const repo = await prodRelease('l1c')
      const r = await ferry(['tag', `${lower}/${repo}@${d2.digest}`, 'v1.0.0', '--no-policy'], {
        env: env({ FERRY_POLICY: policy }),
        cwd: withPolicy,
      })
      expect(r.code, r.stderr).toBe(0)
      const said = r.stderr.trimEnd().split('\n')
      expect(said.filter((l) => l.includes('--no-policy'))).toEqual([
        `ferry: --no-policy: no policy rules apply (${policy} is not read)`,
      ])
      expect(await tagOf(repo, 'v1.0.0')).toBe(d2.digest)

      const promoted = await ferry(
        ['promote', `${lower}/acme/api:v1.0.0`, `${lower}/${repo}:v1.0.0`, '--force', '--no-policy'],
        { env: env(), cwd: withPolicy },
      )
      expect(promoted.code, promoted.stderr).toBe(0)
      expect(promoted.stderr).toContain(
        'ferry: --no-policy: no policy rules apply (ferry.policy.yaml is not read)',
      )
      expect(await tagOf(repo, 'v1.0.0')).toBe(d1.digest)
    })

    it('tag NAME@DIGEST NEWTAG prints NAME:NEWTAG@DIGEST, the digest once', async () => {
      const tools = registryTarget(registry.host, 'acme/tools')
      await pushImage(tools, syntheticImage({ layerSizes: [32] }), 'build')
      const digest = (await tools.resolve('build')).digest
      await tools.close()
      const r = await ferry(['tag', `${lower}/acme/tools@${digest}`, '1.0'], { env: env(), cwd: bare })
      expect(r.code, r.stderr).toBe(0)
      expect(r.stdout).toBe(`${lower}/acme/tools:1.0@${digest}\n`)
    })
  })

  describe('L10: promote SRC:TAG@DIGEST where TAG names another digest', () => {
    it('is refused as copy refuses it, and --digest-wins promotes DIGEST', async () => {
      const source = `${lower}/acme/api:v2.0.0@${d1.digest}`
      const copyRefusal = await ferry(['copy', source, `${lower}/acme/l10-copy:x`], { env: env(), cwd: bare })
      expect(copyRefusal.code).toBe(1)
      for (const destination of [`${lower}/acme/l10:x`, `${lower}/acme/l10`]) {
        const r = await ferry(['promote', source, destination], { env: env(), cwd: bare })
        expect(r.code, r.stdout + r.stderr).toBe(copyRefusal.code)
        expect(oneLine(r.stderr)).toBe(copyRefusal.stderr.trimEnd())
      }
      expect(await tagOf('acme/l10', 'x')).toBeUndefined()
      expect(await tagOf('acme/l10', 'v2.0.0')).toBeUndefined()

      const won = await ferry(['promote', source, `${lower}/acme/l10:x`, '--digest-wins'], {
        env: env(),
        cwd: bare,
      })
      expect(won.code, won.stderr).toBe(0)
      expect(won.stderr).toContain(
        `note: promoted ${d1.digest} as given (--digest-wins); the source tag v2.0.0 is ${d2.digest}`,
      )
      expect(await tagOf('acme/l10', 'x')).toBe(d1.digest)
    })
  })

  describe('L13: policy files the loader refused without a position', () => {
    it('an alias bomb is exit 2 with FILE:LINE, nothing written', async () => {
      const bomb = join(tmp.dir, 'bomb.yaml')
      await writeFile(
        bomb,
        [
          'version: 1',
          'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
          'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
          'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
          'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
          '',
        ].join('\n'),
      )
      const r = await ferry(['tag', `${lower}/acme/api@${d1.digest}`, 'l13-bomb', '--policy', bomb], {
        env: env(),
        cwd: bare,
      })
      expect(r.code, r.stderr).toBe(2)
      expect(oneLine(r.stderr)).toMatch(new RegExp(`^ferry: ${bomb}:4:8: .*alias`))
      expect(await tagOf('acme/api', 'l13-bomb')).toBeUndefined()
    })

    it('an invalid glob in match.repositories is exit 2 with FILE:LINE, nothing written', async () => {
      const glob = join(tmp.dir, 'glob.yaml')
      await writeFile(
        glob,
        'version: 1\nenvironments:\n  - name: prod\n    match: { repositories: ["acme/[z-a]*"] }\n    immutable: true\n',
      )
      const r = await ferry(['tag', `${lower}/acme/api@${d1.digest}`, 'l13-glob', '--policy', glob], {
        env: env(),
        cwd: bare,
      })
      expect(r.code, r.stderr).toBe(2)
      expect(oneLine(r.stderr)).toMatch(
        new RegExp(`^ferry: ${glob}:4:29: environments\\[0\\]\\.match\\.repositories\\[0\\]: .*\\[z-a\\]`),
      )
      expect(await tagOf('acme/api', 'l13-glob')).toBeUndefined()
    })
  })
})
