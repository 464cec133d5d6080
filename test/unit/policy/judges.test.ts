import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Digest } from '../../../src/oci/digest.js'
import {
  checkName,
  environmentFor,
  type ImageName,
  judgesFor,
  loadPolicy,
  type Policy,
  repositoryMatches,
} from '../../../src/policy/index.js'
import { canonicalGlob, repositoryGlobProblem } from '../../../src/policy/repository-glob.js'
import { tempDir } from '../../supply/helpers.js'

/** Which environments judge a name, and what they say: pure, no registry. */

const A = `sha256:${'a'.repeat(64)}` as Digest
const B = `sha256:${'b'.repeat(64)}` as Digest

let tmp: Awaited<ReturnType<typeof tempDir>>
let policy: Policy

// prod: immutable, no latest, SemVer; dev: everything, warn; qa: a laxer environment matching nothing
// here; strict: enforce-mode, forbids *-wip tags, matching nothing by itself.
const POLICY = `version: 1
naming: { repository: "{org}/{service}" }
environments:
  - name: prod
    match: { repositories: ["localhost:5000/acme/*-prod", "Registry.Intra:443/acme/*-prod", "docker.io/nginx"] }
    immutable: true
    forbid: { tags: [latest] }
    tags: { semver: true }
  - name: dev
    match: { tags: { match: "*" } }
    mode: warn
    immutable: true
  - name: qa
    match: { repositories: ["qa.intra/**"] }
    mode: warn
  - name: strict
    match: { repositories: ["strict.intra/**"] }
    forbid: { tags: ["*-wip"] }
`

beforeAll(async () => {
  tmp = await tempDir('ferry-judges-')
  const path = join(tmp.dir, 'policy.yaml')
  await writeFile(path, POLICY)
  policy = await loadPolicy(path)
})
afterAll(() => tmp?.remove())

const prod = (host: string, tag = 'v1.0.0'): ImageName => ({ host, repository: 'acme/api-prod', tag })

describe('M5: a repository glob matches every spelling of its registry', () => {
  it.each([
    ['localhost:5000', 'prod'],
    ['LOCALHOST:5000', 'prod'],
    ['LocalHost:5000', 'prod'],
    ['registry.intra', 'prod'],
    ['REGISTRY.INTRA:443', 'prod'],
    ['registry.intra:80', 'prod'],
    ['registry.intra:8443', 'dev'],
    ['127.0.0.1:5000', 'dev'],
  ])('%s/acme/api-prod:v1.0.0 is in %s', (host, env) => {
    expect(environmentFor(policy, prod(host))?.name).toBe(env)
  })

  it('Docker Hub under any of its names, official images under library/', () => {
    for (const host of ['docker.io', 'index.docker.io', 'REGISTRY-1.DOCKER.IO']) {
      expect(environmentFor(policy, { host, repository: 'library/nginx', tag: 'v1.0.0' })?.name, host).toBe(
        'prod',
      )
    }
    expect(repositoryMatches('docker.io/**', { host: 'registry-1.docker.io', repository: 'user/app' })).toBe(
      true,
    )
    expect(repositoryMatches('docker.io/*', { host: 'docker.io', repository: 'user/app' })).toBe(false)
  })

  it.each([
    ['LOCALHOST:5000/acme/**', 'localhost:5000/acme/**'],
    ['Registry.Intra:443/acme/*-prod', 'registry.intra/acme/*-prod'],
    ['index.docker.io/nginx', 'docker.io/library/nginx'],
    ['docker.io/{nginx,redis}', 'docker.io/library/{nginx,redis}'],
    ['docker.io/**', 'docker.io/**'],
    ['*.INTRA/acme/**', '*.intra/acme/**'],
    ['**/*-prod', '**/*-prod'],
    ['acme/api', 'acme/api'],
  ])('glob %s is compared as %s', (glob, canonical) => {
    expect(canonicalGlob(glob)).toBe(canonical)
  })
})

describe('L13: a glob that can match nothing is refused', () => {
  it.each([
    ['[z-a]', /range z-a is out of order/],
    ['acme/[b-a]*', /range b-a is out of order/],
    ['acme/[a-z', /"\[" at 6 is not closed/],
    ['acme/[a/b]', /is not closed within its path segment/],
    ['acme/a]', /"\]" at 7 closes no "\["/],
    ['acme/{a,b', /"\{" is not closed/],
    ['acme/a,b}', /"\}" at 9 closes no "\{"/],
  ])('%s', (glob, why) => {
    expect(repositoryGlobProblem(glob)).toMatch(why)
  })

  it.each([
    '**/*-prod',
    'acme/[a-z]*',
    'acme/[!a]pi',
    'acme/[[:digit:]]x',
    'acme/{api,web}-prod',
    'a/[]a]',
  ])('%s is fine', (glob) => {
    expect(repositoryGlobProblem(glob)).toBeUndefined()
  })
})

describe('M4: the destination’s environments judge; --environment only adds rules', () => {
  const failing = (name: ImageName, existing: Digest | null, environment?: string) =>
    checkName({ policy, name, digest: B, existing, environment })
      .checks.filter((c) => c.result === 'fail')
      .map((c) => `${c.rule}@${c.environment ?? '-'}`)

  it('a laxer environment named with --environment does not move an immutable tag', () => {
    for (const environment of [undefined, 'dev', 'qa', 'prod', 'strict']) {
      expect(failing(prod('localhost:5000'), A, environment), String(environment)).toContain('immutable@prod')
    }
    const refused = checkName({
      policy,
      name: prod('LOCALHOST:5000'),
      digest: B,
      existing: A,
      environment: 'dev',
    })
    expect(refused.environment).toBe('prod')
    expect(refused.checks.find((c) => c.rule === 'immutable')).toEqual({
      rule: 'immutable',
      result: 'fail',
      environment: 'prod',
      message: `"v1.0.0" is immutable and names ${A}; it cannot move to ${B}`,
      evidence: { existing: A, wanted: B },
    })
  })

  it('forbidden tags come from every environment the destination matches', () => {
    expect(failing(prod('localhost:5000', 'latest'), null, 'dev')).toEqual([
      'tags.forbid@prod',
      'tags.semver@prod',
    ])
  })

  it('immutability is judged by every environment the destination matches, the strictest mode winning', () => {
    // Only dev (warn, immutable) matches: a warning. prod is not among the destination's environments.
    const devOnly = checkName({
      policy,
      name: { host: 'other.intra', repository: 'acme/api', tag: 'v1.0.0' },
      digest: B,
      existing: A,
    })
    expect(devOnly.checks.find((c) => c.rule === 'immutable')).toMatchObject({
      result: 'warn',
      environment: 'dev',
    })
    // --environment prod adds prod's immutability in enforce mode: stricter, so it blocks.
    expect(failing({ host: 'other.intra', repository: 'acme/api', tag: 'v1.0.0' }, A, 'prod')).toContain(
      'immutable@prod',
    )
  })

  it('--environment adds its rules on top: never fewer failures than without it', () => {
    const names: ImageName[] = [
      prod('localhost:5000'),
      prod('localhost:5000', 'latest'),
      prod('localhost:5000', 'v1-wip'),
      { host: 'strict.intra', repository: 'acme/api', tag: 'v1-wip' },
      { host: 'qa.intra', repository: 'acme/api', tag: 'stable' },
      { host: 'qa.intra', repository: 'Acme/api/x', tag: 'v1.0.0' },
      { repository: 'acme/api', tag: 'latest' },
    ]
    for (const name of names) {
      for (const existing of [null, A, B]) {
        const base = failing(name, existing)
        for (const env of policy.environments) {
          const tightened = failing(name, existing, env.name)
          for (const f of base) expect(tightened, `${JSON.stringify(name)} +${env.name}`).toContain(f)
        }
      }
    }
  })

  it('the global rules keep the strictest mode: enforced outside every environment whatever is added', () => {
    const outside: ImageName = { host: 'elsewhere.intra', repository: 'a/b/c', tag: 'v1.0.0' }
    // Only the tag filter of dev matches a tagged name; by digest nothing does.
    const byDigest = { ...outside, tag: undefined }
    expect(judgesFor(policy, byDigest).home).toBeUndefined()
    const naming = (environment?: string) =>
      checkName({ policy, name: byDigest, digest: B, environment }).checks.find((c) => c.rule === 'naming')
    expect(naming()).toMatchObject({ result: 'fail' })
    expect(naming('qa')).toMatchObject({ result: 'fail' })
    expect(naming('dev')).toMatchObject({ result: 'fail' })
    // In dev (warn), naming warns; adding an enforce environment makes it block.
    const inDev = (environment?: string) =>
      checkName({ policy, name: outside, digest: B, environment }).checks.find((c) => c.rule === 'naming')
    expect(inDev()).toMatchObject({ result: 'warn', environment: 'dev' })
    expect(inDev('strict')).toMatchObject({ result: 'fail', environment: 'strict' })
  })

  it('an unknown --environment is a usage error naming the defined ones', () => {
    expect(() => judgesFor(policy, prod('localhost:5000'), 'stage')).toThrow(
      /no environment "stage" \(defined: prod, dev, qa, strict\)/,
    )
  })
})

describe('naming per environment: an environment’s naming replaces the global one for its names', () => {
  let scoped: Policy
  beforeAll(async () => {
    const path = join(tmp.dir, 'naming.yaml')
    await writeFile(
      path,
      `version: 1
naming: { repository: "{org}/{project}/{service}" }
environments:
  - name: legacy
    match: { repositories: ["legacy.intra/**"] }
    naming: { repository: "{team}/{service}" }
  - name: prod
    match: { repositories: ["**/*-prod"] }
  - name: sandbox
    match: { repositories: ["sandbox.intra/**"] }
    mode: warn
    naming: { repository: "sandbox/{service}" }
`,
    )
    scoped = await loadPolicy(path)
  })

  const naming = (name: ImageName, environment?: string) =>
    checkName({ policy: scoped, name, digest: A, environment })
      .checks.filter((c) => c.rule === 'naming')
      .map((c) => ({
        result: c.result,
        environment: c.environment ?? null,
        template: (c.evidence as { template: string }).template,
      }))

  it('names in an environment with its own naming are judged by it alone, in its mode', () => {
    expect(naming({ host: 'legacy.intra', repository: 'acme/api', tag: 'v1' })).toEqual([
      { result: 'pass', environment: 'legacy', template: '{team}/{service}' },
    ])
    expect(naming({ host: 'legacy.intra', repository: 'acme/shop/api', tag: 'v1' })).toEqual([
      { result: 'fail', environment: 'legacy', template: '{team}/{service}' },
    ])
    expect(naming({ host: 'sandbox.intra', repository: 'acme/shop/api' })).toEqual([
      { result: 'warn', environment: 'sandbox', template: 'sandbox/{service}' },
    ])
  })

  it('names in an environment without one, or in none, are judged by the global naming', () => {
    expect(naming({ host: 'registry.intra', repository: 'acme/shop/api-prod', tag: 'v1' })).toEqual([
      { result: 'pass', environment: 'prod', template: '{org}/{project}/{service}' },
    ])
    expect(naming({ host: 'registry.intra', repository: 'acme/api' })).toEqual([
      { result: 'fail', environment: null, template: '{org}/{project}/{service}' },
    ])
  })

  it('--environment adds the naming of the environment it names, never takes the name’s own away', () => {
    expect(naming({ host: 'registry.intra', repository: 'acme/shop/api-prod' }, 'legacy')).toEqual([
      { result: 'pass', environment: 'prod', template: '{org}/{project}/{service}' },
      { result: 'fail', environment: 'legacy', template: '{team}/{service}' },
    ])
    expect(naming({ host: 'legacy.intra', repository: 'acme/api' }, 'prod')).toEqual([
      { result: 'pass', environment: 'legacy', template: '{team}/{service}' },
      { result: 'fail', environment: 'prod', template: '{org}/{project}/{service}' },
    ])
    // Outside every environment the global naming stays enforced, and the added one's comes on top.
    expect(naming({ host: 'registry.intra', repository: 'acme/shop/api' }, 'sandbox')).toEqual([
      { result: 'pass', environment: null, template: '{org}/{project}/{service}' },
      { result: 'warn', environment: 'sandbox', template: 'sandbox/{service}' },
    ])
  })
})
