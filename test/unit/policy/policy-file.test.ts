import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isFerryError } from '../../../src/errors.js'
import {
  environmentFor,
  loadPolicy,
  loadPolicyFor,
  type Policy,
  policyFileFor,
  policyJsonSchema,
} from '../../../src/policy/index.js'
import { checkForbiddenTags, checkImmutable, checkNaming, checkSemverTag } from '../../../src/policy/rules.js'
import { examplePolicyIn } from '../../policy/helpers.js'
import { tempDir } from '../../supply/helpers.js'

let tmp: Awaited<ReturnType<typeof tempDir>>
let policy: Policy

beforeAll(async () => {
  tmp = await tempDir('ferry-policy-')
  policy = await loadPolicy((await examplePolicyIn(tmp.dir)).path)
})
afterAll(() => tmp?.remove())

async function loadError(yaml: string): Promise<string> {
  const path = join(tmp.dir, `bad-${Math.random().toString(36).slice(2)}.yaml`)
  await writeFile(path, yaml)
  try {
    await loadPolicy(path)
  } catch (err) {
    expect(isFerryError(err, 'USAGE')).toBe(true)
    return (err as Error).message.replace(path, 'FILE')
  }
  throw new Error('expected the policy to be refused')
}

describe('the example policy file', () => {
  it('parses and means what its comments say', () => {
    expect(policy.naming?.repository).toBe('{org}/{project}/{service}')
    expect(policy.labels?.require).toEqual([
      'org.opencontainers.image.source',
      'org.opencontainers.image.revision',
      'org.opencontainers.image.created',
    ])
    expect(policy.environments.map((e) => [e.name, e.mode])).toEqual([
      ['prod', 'enforce'],
      ['rc', 'warn'],
      ['dev', 'warn'],
    ])
    const prod = policy.environments[0]!
    // "paths relative to this file"
    expect(prod.keys.map((k) => k.path)).toEqual([join(tmp.dir, 'release.pub')])
    expect(prod.keys[0]!.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(prod.require?.sbom).toBe(true)
    expect(prod.forbid?.tags).toEqual(['latest'])
    expect(prod.tags?.semver).toBe(true)
    expect(prod.immutable).toBe(true)
  })

  it('picks the first environment that matches, over HOST/PATH or PATH alone', () => {
    const env = (host: string | undefined, repository: string, tag?: string) =>
      environmentFor(policy, { host, repository, tag })?.name ?? null
    expect(env('registry.intra', 'acme/shop/api-prod', 'v1.4.2')).toBe('prod')
    expect(env(undefined, 'acme/shop/api-prod', 'v1.4.2')).toBe('prod')
    // First match wins: an rc tag in a prod repository is prod's.
    expect(env('registry.intra', 'acme/shop/api-prod', 'v1.5.0-rc.1')).toBe('prod')
    expect(env('registry.intra', 'acme/shop/api', 'v1.5.0-rc.1')).toBe('rc')
    expect(env('registry.intra', 'acme/shop/api', 'v1.5.0-rc.x')).toBeNull()
    expect(env('registry.intra', 'acme/shop/api', '1.5.0-dev.3')).toBe('dev')
    expect(env('registry.intra', 'acme/shop/api', 'v1.4.2')).toBeNull()
    // A tag filter matches no image named by digest only.
    expect(env('registry.intra', 'acme/shop/api', undefined)).toBeNull()
  })

  it('needs both repositories and tags to match when both are given', async () => {
    const path = join(tmp.dir, 'both.yaml')
    await writeFile(
      path,
      'version: 1\nenvironments:\n  - name: qa\n    match: { repositories: ["acme/**"], tags: { match: "*-qa" } }\n',
    )
    const both = await loadPolicy(path)
    const env = (repository: string, tag: string) => environmentFor(both, { repository, tag })?.name ?? null
    expect(env('acme/shop/api', 'v1-qa')).toBe('qa')
    expect(env('acme/shop/api', 'v1')).toBeNull()
    expect(env('other/shop/api', 'v1-qa')).toBeNull()
    expect(both.environments[0]!.mode).toBe('enforce')
  })

  it('points at the line of every kind of mistake', async () => {
    expect(
      await loadError(
        'version: 1\nenvironments:\n  - name: prod\n    match: { repositories: [x] }\n    mode: strict\n',
      ),
    ).toMatch(/^FILE:5:11: environments\[0\]\.mode: /)
    expect(await loadError('version: 1\nnameing:\n  repository: "{org}"\n')).toBe(
      'FILE:2:1: nameing: unknown field',
    )
    expect(
      await loadError(
        'version: 1\nenvironments:\n  - name: prod\n    match: { repositories: [x] }\n    require: { sbom: true }\n',
      ),
    ).toMatch(/^FILE:5:\d+: environments\[0\]\.require\.sbom: require\.sbom needs require\.signature\.keys/)
    expect(await loadError('version: 1\nnaming:\n  repository: "{org}/Project"\n')).toMatch(
      /^FILE:3:15: naming\.repository: segment "Project" is neither/,
    )
    expect(await loadError('version: 1\nenvironments:\n  - name: a\n    match: {}\n')).toMatch(
      /^FILE:4:12: .*matches nothing/,
    )
    expect(
      await loadError(
        'version: 1\nenvironments:\n  - name: a\n    match: { tags: { match: "*" } }\n  - name: a\n    match: { tags: { match: "*" } }\n',
      ),
    ).toMatch(/^FILE:5:\d+: environments\[1\]\.name: environment "a" is defined twice/)
    expect(await loadError('version: 2\n')).toMatch(/^FILE:1:10: version: /)
  })

  it('L13: an alias bomb is refused at the alias that multiplies, like any other mistake', async () => {
    const bomb = [
      'version: 1',
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      '',
    ].join('\n')
    expect(await loadError(bomb)).toBe(
      'FILE:4:8: alias *b expands into aliases past the limit (a YAML alias bomb?): write the values out',
    )
    // A few aliases are fine (and an unknown field stays the error it is).
    expect(await loadError('version: 1\nx: &x [a]\ny: [*x, *x]\n')).toMatch(
      /^FILE: 2 problems\n.*:2:1: x: unknown field\n.*:3:1: y: unknown field$/,
    )
  })

  it('L13: a glob that matches nothing is refused with its position, repository or tag glob', async () => {
    const env = (match: string, extra = '') =>
      `version: 1\nenvironments:\n  - name: prod\n    match: ${match}\n${extra}`
    expect(await loadError(env('{ repositories: ["[z-a]"] }'))).toBe(
      'FILE:4:29: environments[0].match.repositories[0]: "[z-a]" matches no repository: [z-a]: range z-a is out of order (write a-z)',
    )
    expect(await loadError(env('{ repositories: ["**/*-prod", "acme/{api,web"] }'))).toMatch(
      /^FILE:4:42: environments\[0\]\.match\.repositories\[1\]: .*"\{" is not closed/,
    )
    // No name is upper case outside its host, and LOCALHOST (no "." or ":") is no host, as in a reference.
    expect(await loadError(env('{ repositories: ["LOCALHOST/acme/**"] }'))).toMatch(
      /^FILE:4:29: environments\[0\]\.match\.repositories\[0\]: "LOCALHOST\/acme\/\*\*" matches no repository: "LOCALHOST" is upper case/,
    )
    // Tag globs never took "[": refused as before, with the position.
    expect(await loadError(env('{ tags: { match: "[z-a]" } }'))).toMatch(
      /^FILE:4:29: environments\[0\]\.match\.tags\.match: a glob may hold tag characters/,
    )
    expect(await loadError(env('{ tags: { match: "/[z-a]/" } }'))).toMatch(
      /^FILE:4:29: environments\[0\]\.match\.tags\.match: .*Range out of order/,
    )
    expect(await loadError(env('{ repositories: ["**"] }', '    forbid: { tags: ["[z-a]"] }\n'))).toMatch(
      /^FILE:5:\d+: environments\[0\]\.forbid\.tags\[0\]: a glob may hold tag characters/,
    )
  })

  it('names a verification key that is not there', async () => {
    const path = join(tmp.dir, 'nokey.yaml')
    await writeFile(
      path,
      'version: 1\nenvironments:\n  - name: p\n    match: { tags: { match: "*" } }\n    require: { signature: { keys: [missing.pub] } }\n',
    )
    await expect(loadPolicy(path)).rejects.toThrow(/missing\.pub/)
  })

  it('exports a JSON Schema an editor can use', () => {
    const schema = policyJsonSchema() as {
      properties: Record<string, { items?: { properties: Record<string, { enum?: string[] }> } }>
      additionalProperties: boolean
    }
    expect(Object.keys(schema.properties).sort()).toEqual([
      'environments',
      'labels',
      'ledger',
      'naming',
      'retention',
      'trust',
      'version',
    ])
    expect(schema.additionalProperties).toBe(false)
    const env = schema.properties.environments!.items!.properties
    expect(Object.keys(env).sort()).toEqual([
      'forbid',
      'immutable',
      'match',
      'mode',
      'name',
      'naming',
      'require',
      'retention',
      'tags',
    ])
    expect(env.mode!.enum).toEqual(['enforce', 'warn'])
  })
})

describe('L1: the policy file a writing command applies', () => {
  it('is --policy, else $FERRY_POLICY, else ./ferry.policy.yaml when it exists, else none', async () => {
    const withFile = join(tmp.dir, 'with-file')
    const empty = join(tmp.dir, 'empty')
    await mkdir(withFile, { recursive: true })
    await mkdir(empty, { recursive: true })
    await writeFile(join(withFile, 'ferry.policy.yaml'), 'version: 1\n')
    const fromEnv = { FERRY_POLICY: '/etc/ferry/policy.yaml' }
    const table: [Parameters<typeof policyFileFor>[0], string | undefined][] = [
      [{ file: 'given.yaml', env: fromEnv, cwd: withFile }, 'given.yaml'],
      [{ env: fromEnv, cwd: withFile }, '/etc/ferry/policy.yaml'],
      [{ env: {}, cwd: withFile }, join(withFile, 'ferry.policy.yaml')],
      [{ env: { FERRY_POLICY: '' }, cwd: withFile }, join(withFile, 'ferry.policy.yaml')],
      [{ env: {}, cwd: empty }, undefined],
      [{ file: 'given.yaml', env: {}, cwd: empty }, 'given.yaml'],
    ]
    for (const [choice, want] of table) expect(policyFileFor(choice), JSON.stringify(choice)).toBe(want)

    expect(await loadPolicyFor({ env: {}, cwd: empty })).toBeUndefined()
    expect((await loadPolicyFor({ env: {}, cwd: withFile }))?.path).toBe(join(withFile, 'ferry.policy.yaml'))
    // A file named and not there is an error, never a silent "no policy".
    await expect(
      loadPolicyFor({ env: { FERRY_POLICY: join(empty, 'nope.yaml') }, cwd: withFile }),
    ).rejects.toThrow(/cannot read .*nope\.yaml: no such file/)
    await expect(loadPolicyFor({ file: join(empty, 'nope.yaml'), env: {}, cwd: withFile })).rejects.toThrow(
      /no such file/,
    )
  })
})

describe('the rules', () => {
  it('naming: exact segment count, lower-case words joined by "-"', () => {
    const t = '{org}/{project}/{service}'
    expect(checkNaming(t, { repository: 'acme/shop/api-prod' })).toMatchObject({
      result: 'pass',
      evidence: { segments: { org: 'acme', project: 'shop', service: 'api-prod' } },
    })
    expect(checkNaming(t, { repository: 'acme/api' }).message).toBe(
      '"acme/api" has 2 path segments; {org}/{project}/{service} needs exactly 3',
    )
    expect(checkNaming(t, { repository: 'acme/shop/team/api' }).result).toBe('fail')
    expect(checkNaming(t, { repository: 'acme/shop_x/api' }).message).toBe(
      'segment 2 ({project}) is "shop_x": must be lower-case words joined by "-"',
    )
    expect(checkNaming(t, { repository: 'acme/shop/api--x' }).result).toBe('fail')
    expect(checkNaming('acme/{service}', { repository: 'other/api' }).message).toBe(
      'segment 1 (acme) is "other": must be "acme"',
    )
  })

  it('tags.semver: vX.Y.Z with an optional prerelease, nothing else', () => {
    for (const ok of ['v1.4.2', 'v0.0.1', 'v10.20.30', 'v1.5.0-rc.1', 'v1.0.0-alpha-1']) {
      expect(checkSemverTag(ok).result, ok).toBe('pass')
    }
    for (const bad of ['1.4.2', 'v1.4', 'v01.4.2', 'latest', 'v1.4.2.1', 'v1.4.2-', 'v1.4.2-rc.01']) {
      expect(checkSemverTag(bad).result, bad).toBe('fail')
    }
    expect(checkSemverTag(undefined).result).toBe('skip')
  })

  it('tags.forbid and immutable', () => {
    expect(checkForbiddenTags(['latest'], 'latest').result).toBe('fail')
    expect(checkForbiddenTags(['latest', '*-dev'], 'v1-dev').message).toBe(
      'tag "v1-dev" is forbidden here (*-dev)',
    )
    expect(checkForbiddenTags(['latest'], 'v1.0.0').result).toBe('pass')
    const a = `sha256:${'a'.repeat(64)}` as const
    const b = `sha256:${'b'.repeat(64)}` as const
    expect(checkImmutable('v1', a, undefined).result).toBe('pass')
    expect(checkImmutable('v1', a, a).result).toBe('pass')
    expect(checkImmutable('v1', a, b).message).toBe(
      `"v1" is immutable and names ${b}; it cannot move to ${a}`,
    )
  })
})
