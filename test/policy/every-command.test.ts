import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readLedger } from '../../src/ledger/index.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type Image, pushImage, syntheticImage } from '../helpers/registry-fixtures.js'
import { registryTarget, tempDir } from '../supply/helpers.js'

const LABEL = { 'org.opencontainers.image.source': 'https://git.intra/acme/api' }

/**
 * Issue 26, item 1: every command that writes or removes a tag or manifest finds the policy the same
 * way (./ferry.policy.yaml, $FERRY_POLICY, --no-policy) and refuses what the destination's environment
 * forbids before anything reaches it, against the CNCF registry. The policy file names a ledger, so
 * every refusal is recorded too (item 3).
 */
describe('one policy decision, every writing command (CLI, distribution)', { timeout: 300_000 }, () => {
  let registry: Distribution
  let host: string
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let policy: string
  let withPolicy: string
  let bare: string
  let ledger: string
  let bundle: string
  let backup: string
  const img: Record<'a' | 'b' | 'unlabelled', Image> = {
    a: syntheticImage({ annotations: LABEL }),
    b: syntheticImage({ annotations: LABEL }),
    unlabelled: syntheticImage(),
  }
  const digest = (k: keyof typeof img) => img[k].manifest.digest

  const seed = async (repository: string, tags: Record<string, keyof typeof img>) => {
    const t = registryTarget(host, repository)
    for (const [tag, k] of Object.entries(tags)) await pushImage(t, img[k], tag)
    await t.close()
  }
  const tagOf = async (repository: string, tag: string) => {
    const t = registryTarget(host, repository)
    try {
      return (await t.resolve(tag)).digest
    } catch {
      return undefined
    } finally {
      await t.close()
    }
  }
  /** Requests that change anything under the repository since `from` (an index into the request log). */
  const writesTo = (repository: string, from: number) =>
    registry
      .requests()
      .slice(from)
      .filter((r) => !['GET', 'HEAD'].includes(r.method) && r.uri.startsWith(`/v2/${repository}/`))

  beforeAll(async () => {
    registry = await startDistribution({ requestLog: true })
    host = registry.host
    tmp = await tempDir('ferry-every-command-')
    withPolicy = join(tmp.dir, 'with-policy')
    bare = join(tmp.dir, 'bare')
    await mkdir(withPolicy)
    await mkdir(bare)
    policy = join(withPolicy, 'ferry.policy.yaml')
    ledger = join(withPolicy, 'ledger.jsonl')
    await writeFile(
      policy,
      [
        'version: 1',
        'naming: { repository: "{org}/{service}" }',
        'labels: { require: [org.opencontainers.image.source] }',
        'ledger: ledger.jsonl',
        'environments:',
        '  - name: prod',
        '    match: { repositories: ["**/*-prod"] }',
        '    immutable: true',
        '    forbid: { tags: [latest] }',
        '    tags: { semver: true }',
        '    retention: { keep: { count: 1 } }',
        '  - name: dev',
        '    match: { repositories: ["**/*-dev"] }',
        '    retention: { keep: { count: 1 } }',
        '',
      ].join('\n'),
    )
    await seed('acme/api', { 'v1.0.0': 'a', 'v1.0.1': 'b', latest: 'b', unlabelled: 'unlabelled' })
    bundle = join(tmp.dir, 'latest.tar')
    const created = await ferry([
      'bundle',
      'create',
      '--image',
      `${host}/acme/api:latest`,
      '--output',
      bundle,
    ])
    expect(created.code, created.stderr).toBe(0)
    // A retention backup holding v1.0.0 (digest a), for restore: dev keeps only its newest version.
    await seed('acme/app-dev', { 'v1.0.0': 'a', 'v1.1.0': 'b' })
    backup = join(tmp.dir, 'dev-backup')
    const applied = await ferry(['retention', 'apply', `${host}/acme/app-dev`, '--yes', '--backup', backup], {
      cwd: withPolicy,
      env: { FERRY_POLICY: '' },
    })
    expect(applied.code, applied.stdout + applied.stderr).toBe(0)
    expect(await tagOf('acme/app-dev', 'v1.0.0')).toBeUndefined()
  })
  afterAll(async () => {
    await registry?.stop()
    await tmp?.remove()
  })

  interface Case {
    command: string
    /** Prepares repository `repo` and gives the arguments. */
    prepare(repo: string, n: number): Promise<string[]>
    repo: (n: number) => string
    /** The refusal's line names the rule and its environment (and the digests where a tag would move). */
    refusal: (repo: string) => RegExp
    /** What the destination holds after a refusal, and after the opt-out went ahead. */
    unchanged(repo: string): Promise<void>
    proceeded(repo: string): Promise<void>
    /** The ledger's `operation`. */
    operation: string
    /** Without --no-policy: a command whose rules come from the policy (retention apply). */
    policyRequired?: boolean
  }

  const moveRefusal = (repo: string, from: string, to: string) =>
    new RegExp(
      `${repo}:v1\\.0\\.0: immutable \\(environment prod\\): "v1\\.0\\.0" is immutable and names ${from}; it cannot move to ${to}`,
    )

  const cases: Case[] = [
    {
      command: 'copy (immutability)',
      operation: 'copy',
      repo: (n) => `acme/copy${n}-prod`,
      async prepare(repo) {
        await seed(repo, { 'v1.0.0': 'a' })
        return ['copy', `${host}/acme/api:v1.0.1`, `${host}/${repo}:v1.0.0`]
      },
      refusal: (repo) => moveRefusal(repo, digest('a'), digest('b')),
      unchanged: async (repo) => expect(await tagOf(repo, 'v1.0.0')).toBe(digest('a')),
      proceeded: async (repo) => expect(await tagOf(repo, 'v1.0.0')).toBe(digest('b')),
    },
    {
      command: 'copy (required labels)',
      operation: 'copy',
      repo: (n) => `acme/labels${n}-prod`,
      prepare: async (repo) => ['copy', `${host}/acme/api:unlabelled`, `${host}/${repo}:v2.0.0`],
      refusal: () => /labels \(environment prod\): missing org\.opencontainers\.image\.source/,
      unchanged: async (repo) => expect(await tagOf(repo, 'v2.0.0')).toBeUndefined(),
      proceeded: async (repo) => expect(await tagOf(repo, 'v2.0.0')).toBe(digest('unlabelled')),
    },
    {
      command: 'copy (naming)',
      operation: 'copy',
      repo: (n) => `acme/deep/naming${n}-prod`,
      prepare: async (repo) => ['copy', `${host}/acme/api:v1.0.1`, `${host}/${repo}:v3.0.0`],
      refusal: () => /naming \(environment prod\): "acme\/deep\/naming\d-prod" has 3 path segment/,
      unchanged: async (repo) => expect(await tagOf(repo, 'v3.0.0')).toBeUndefined(),
      proceeded: async (repo) => expect(await tagOf(repo, 'v3.0.0')).toBe(digest('b')),
    },
    {
      command: 'sync (forbidden tag)',
      operation: 'sync',
      repo: (n) => `acme/sync${n}-prod`,
      async prepare(repo, n) {
        const spec = join(tmp.dir, `sync${n}.yaml`)
        await writeFile(
          spec,
          `version: 1\nimages:\n  - source: ${host}/acme/api:latest\n    destination: ${host}/${repo}\n`,
        )
        return ['sync', spec]
      },
      refusal: () => /tags\.forbid \(environment prod\): tag "latest" is forbidden here/,
      unchanged: async (repo) => expect(await tagOf(repo, 'latest')).toBeUndefined(),
      proceeded: async (repo) => expect(await tagOf(repo, 'latest')).toBe(digest('b')),
    },
    {
      command: 'promote --force (immutability)',
      operation: 'promote',
      repo: (n) => `acme/promote${n}-prod`,
      async prepare(repo) {
        await seed(repo, { 'v1.0.0': 'a' })
        return ['promote', `${host}/acme/api:v1.0.1`, `${host}/${repo}:v1.0.0`, '--force']
      },
      refusal: (repo) => moveRefusal(repo, digest('a'), digest('b')),
      unchanged: async (repo) => expect(await tagOf(repo, 'v1.0.0')).toBe(digest('a')),
      proceeded: async (repo) => expect(await tagOf(repo, 'v1.0.0')).toBe(digest('b')),
    },
    {
      command: 'tag (immutability)',
      operation: 'tag',
      repo: (n) => `acme/tag${n}-prod`,
      async prepare(repo) {
        await seed(repo, { 'v1.0.0': 'a', 'v1.0.1': 'b' })
        return ['tag', `${host}/${repo}:v1.0.1`, 'v1.0.0']
      },
      refusal: (repo) => moveRefusal(repo, digest('a'), digest('b')),
      unchanged: async (repo) => expect(await tagOf(repo, 'v1.0.0')).toBe(digest('a')),
      proceeded: async (repo) => expect(await tagOf(repo, 'v1.0.0')).toBe(digest('b')),
    },
    {
      command: 'delete (immutability)',
      operation: 'delete',
      repo: (n) => `acme/delete${n}-prod`,
      async prepare(repo) {
        await seed(repo, { 'v1.0.0': 'a' })
        return ['delete', `${host}/${repo}:v1.0.0`]
      },
      refusal: (repo) =>
        new RegExp(
          `${repo}:v1\\.0\\.0: immutable \\(environment prod\\): "v1\\.0\\.0" is immutable and names ${digest('a')}; it cannot be deleted`,
        ),
      unchanged: async (repo) => expect(await tagOf(repo, 'v1.0.0')).toBe(digest('a')),
      proceeded: async (repo) => expect(await tagOf(repo, 'v1.0.0')).toBeUndefined(),
    },
    {
      command: 'bundle import (forbidden tag)',
      operation: 'bundle-import',
      repo: (n) => `acme/import${n}-prod`,
      async prepare(repo, n) {
        const mapping = join(tmp.dir, `mapping${n}.yaml`)
        await writeFile(mapping, `${host}/acme/api: ${repo}\n`)
        return ['bundle', 'import', bundle, '--to', host, '--mapping', mapping]
      },
      refusal: () => /tags\.forbid \(environment prod\): tag "latest" is forbidden here/,
      unchanged: async (repo) => expect(await tagOf(repo, 'latest')).toBeUndefined(),
      proceeded: async (repo) => expect(await tagOf(repo, 'latest')).toBe(digest('b')),
    },
    {
      command: 'retention restore --force (immutability)',
      operation: 'retention-restore',
      repo: (n) => `acme/restore${n}-prod`,
      async prepare(repo) {
        // v0.9.0 brings the layers the backup's manifest needs; v1.0.0 was re-used since.
        await seed(repo, { 'v0.9.0': 'a', 'v1.0.0': 'b' })
        return ['retention', 'restore', backup, '--to', `${host}/${repo}`, '--force']
      },
      refusal: (repo) => moveRefusal(repo, digest('b'), digest('a')),
      unchanged: async (repo) => expect(await tagOf(repo, 'v1.0.0')).toBe(digest('b')),
      proceeded: async (repo) => expect(await tagOf(repo, 'v1.0.0')).toBe(digest('a')),
    },
    {
      command: 'retention apply (immutability)',
      operation: 'retention-apply',
      policyRequired: true,
      repo: (n) => `acme/retention${n}-prod`,
      async prepare(repo, n) {
        await seed(repo, { 'v1.0.0': 'a', 'v1.1.0': 'b' })
        return ['retention', 'apply', `${host}/${repo}`, '--yes', '--backup', join(tmp.dir, `backup${n}`)]
      },
      refusal: (repo) =>
        new RegExp(
          `${repo}:v1\\.0\\.0: immutable \\(environment prod\\): "v1\\.0\\.0" is immutable and names ${digest('a')}; it cannot be deleted`,
        ),
      unchanged: async (repo) => expect(await tagOf(repo, 'v1.0.0')).toBe(digest('a')),
      proceeded: async () => {},
    },
  ]

  const modes = [
    { name: 'the default ./ferry.policy.yaml', cwd: () => withPolicy, env: () => ({ FERRY_POLICY: '' }) },
    { name: '$FERRY_POLICY', cwd: () => bare, env: () => ({ FERRY_POLICY: policy }) },
  ]

  for (const c of cases) {
    for (const [i, mode] of modes.entries()) {
      it(`${c.command}: refused with ${mode.name}, exit 7, the destination unchanged`, async () => {
        const repo = c.repo(i + 1)
        const args = await c.prepare(repo, i + 1)
        const from = registry.requests().length
        const r = await ferry(args, { cwd: mode.cwd(), env: mode.env() })
        expect(r.code, r.stdout + r.stderr).toBe(7)
        // sync reports each image on stdout; the others say it in one line on stderr.
        const lines = `${r.stdout}\n${r.stderr}`.split('\n')
        expect(
          lines.filter((l) => c.refusal(repo).test(l)),
          r.stdout + r.stderr,
        ).toHaveLength(1)
        await c.unchanged(repo)
        expect(writesTo(repo, from)).toEqual([])
      })
    }
    if (c.policyRequired) continue
    it(`${c.command}: --no-policy goes ahead and says so on stderr`, async () => {
      const repo = c.repo(3)
      const args = await c.prepare(repo, 3)
      const r = await ferry([...args, '--no-policy'], { cwd: withPolicy, env: { FERRY_POLICY: '' } })
      expect(r.code, r.stdout + r.stderr).toBe(0)
      expect(r.stderr).toContain('ferry: --no-policy: no policy rules apply (ferry.policy.yaml is not read)')
      await c.proceeded(repo)
    })
  }

  it('sync --dry-run: says which image the policy would refuse (exit 7), writes and records nothing', async () => {
    const repo = 'acme/syncdry-prod'
    const spec = join(tmp.dir, 'syncdry.yaml')
    await writeFile(
      spec,
      `version: 1\nimages:\n  - source: ${host}/acme/api:latest\n    destination: ${host}/${repo}\n`,
    )
    const before = (await readLedger(ledger)).records.length
    const from = registry.requests().length
    const r = await ferry(['sync', spec, '--dry-run', '--json'], {
      cwd: withPolicy,
      env: { FERRY_POLICY: '' },
    })
    expect(r.code, r.stdout + r.stderr).toBe(7)
    const report = JSON.parse(r.stdout)
    expect(report.entries).toHaveLength(1)
    expect(report.entries[0]).toMatchObject({
      status: 'failed',
      error: {
        code: 'POLICY_VIOLATION',
        message: expect.stringMatching(
          /tags\.forbid \(environment prod\): tag "latest" is forbidden here.*\(dry run\)/,
        ),
      },
    })
    expect(await tagOf(repo, 'latest')).toBeUndefined()
    expect(writesTo(repo, from)).toEqual([])
    expect((await readLedger(ledger)).records.length).toBe(before)
    // Allowed by the policy: the same dry run says it would copy.
    const ok = await ferry(['sync', spec, '--dry-run', '--no-policy'], {
      cwd: withPolicy,
      env: { FERRY_POLICY: '' },
    })
    expect(ok.code, ok.stdout + ok.stderr).toBe(0)
  })

  it('the policy file’s ledger: holds every refusal, chained and intact', async () => {
    const { records } = await readLedger(ledger)
    const refused = new Set(records.filter((r) => r.verdict === 'refused').map((r) => r.operation))
    expect([...refused].sort()).toEqual([...new Set(cases.map((c) => c.operation))].sort())
    // The retention apply of the dev repository in beforeAll: each removal recorded.
    expect(records).toContainEqual(
      expect.objectContaining({
        operation: 'retention-apply',
        verdict: 'deleted',
        destination: `${host}/acme/app-dev:v1.0.0`,
        digest: digest('a'),
      }),
    )
    const verified = await ferry(['ledger', 'verify', ledger])
    expect(verified.code, verified.stdout + verified.stderr).toBe(0)
    expect(verified.stdout).toMatch(/intact/)
  })
})
