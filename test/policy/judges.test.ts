import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  environmentFor,
  type ImageName,
  loadPolicy,
  type Policy,
  repositoryMatches,
} from '../../src/policy/index.js'
import { canonicalGlob, repositoryGlobProblem } from '../../src/policy/repository-glob.js'
import { tempDir } from '../supply/helpers.js'

/** Which environments judge a name, and what they say: pure, no registry. */

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
