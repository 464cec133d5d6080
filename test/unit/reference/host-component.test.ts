import { describe, expect, it } from 'vitest'
import {
  canonicalGlob,
  repositoryGlobProblem,
  repositoryMatches,
} from '../../../src/policy/repository-glob.js'
import {
  canonicalRegistry,
  DOCKER_HUB,
  parseLocation,
  parseRegistryReference,
  parseRepository,
  parseRepositoryPrefix,
} from '../../../src/reference/index.js'
import type { RegistryClient } from '../../../src/registry/index.js'
import { selectRepositories } from '../../../src/retention/index.js'

/**
 * "Is the first component a registry host?" is asked by the reference parser, repository prefixes, policy
 * globs and retention's catalog globs: each must answer as the reference parser does (Docker's rule: it
 * contains "." or ":" or is `localhost`; unlike Docker, an upper-case component is no host).
 */

// What the reference parser makes of COMPONENT/team/app: a host, or not (a Docker Hub path, or refused).
const byReference = (component: string): boolean => {
  try {
    return parseRegistryReference(`${component}/team/app`).registry !== DOCKER_HUB
  } catch {
    return false
  }
}

// Retention reads the catalog of a glob's host; an in-process fake client answers with one repository.
const catalogClient = { catalog: async () => ['team/app'] } as unknown as RegistryClient

const COMPONENTS: [string, boolean][] = [
  ['reg.local', true],
  ['Reg.Local:443', true],
  ['localhost', true],
  ['localhost:5000', true],
  ['LOCALHOST:5000', true],
  ['127.0.0.1', true],
  ['[::1]:5000', true],
  ['acme', false],
  ['LOCALHOST', false],
  ['Localhost', false],
  ['User', false],
]

describe('the first component is a registry: one rule', () => {
  it.each(
    COMPONENTS,
  )('%s: host %s for references, prefixes, policy globs and retention globs', async (c, host) => {
    expect(byReference(c)).toBe(host)

    const prefix = () => parseRepositoryPrefix(`${c}/team`)
    if (host) expect(prefix()).toBe(`${c}/team`)
    else expect(prefix).toThrow(/must start with a registry host/)

    // A glob's host is compared in canonical form; a first segment that is no host is left as written.
    expect(canonicalGlob(`${c}/team/**`)).toBe(host ? `${canonicalRegistry(c)}/team/**` : `${c}/team/**`)

    // Retention reads the catalog of the glob's host, so a host must also hold no glob syntax, and the
    // brackets of an IPv6 address are glob syntax there: [::1]:5000/team/* is refused (as before).
    const selected = selectRepositories(catalogClient, { repositories: [`${c}/team/*`] })
    if (host && !c.startsWith('['))
      await expect(selected).resolves.toEqual([{ registry: canonicalRegistry(c), repository: 'team/app' }])
    else await expect(selected).rejects.toMatchObject({ code: 'USAGE' })
  })

  // Behaviour change: policy globs took LOCALHOST (any case) as a host; references never did. Such a glob
  // now matches nothing, so a policy file holding one is refused at load rather than silently weakened.
  it('a policy glob LOCALHOST/acme/** is no host glob, as LOCALHOST/acme/api is no reference, and is refused', () => {
    expect(() => parseLocation('LOCALHOST/acme/api')).toThrow(/repository name must be lowercase/)
    expect(canonicalGlob('LOCALHOST/acme/**')).toBe('LOCALHOST/acme/**')
    expect(repositoryMatches('LOCALHOST/acme/**', { host: 'localhost', repository: 'acme/api' })).toBe(false)
    expect(repositoryMatches('localhost/acme/**', { host: 'localhost', repository: 'acme/api' })).toBe(true)
    expect(repositoryGlobProblem('LOCALHOST/acme/**')).toBe(
      '"LOCALHOST" is upper case, which no repository path is (a first segment is a registry host when it holds "." or ":" or is localhost)',
    )
    expect(repositoryGlobProblem('LOCALHOST:5000/acme/**')).toBeUndefined()
    expect(repositoryGlobProblem('*.INTRA/acme/[[:upper:]]*')).toBeUndefined()
    expect(repositoryGlobProblem('reg.intra/acme/API-*')).toBe(
      '"API-*" is upper case, which no repository path is',
    )
  })

  it('a registry host alone where a repository is expected is named as such', () => {
    expect(() => parseRepository('reg.local:5000')).toThrow(/not a registry host alone/)
    expect(() => parseRepository('localhost:5000')).toThrow(/not a registry host alone/)
    expect(() => parseRepository('nginx:1')).toThrow(/without a tag or digest/)
  })
})
