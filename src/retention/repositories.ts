import { FerryError } from '../errors.js'
import { repositoryGlobProblem, repositoryMatches } from '../policy/repository-glob.js'
import { isHostComponent } from '../reference/grammar.js'
import { canonicalRegistry, canonicalRepository, parseRepository } from '../reference/index.js'
import type { RegistryClient } from '../registry/index.js'
import { plural } from '../util/plural.js'

/** Which repositories a retention run works on. */
export interface RepositorySelection {
  /** `HOST/PATH`, or a glob over a registry's catalog: `REG/acme/**`, `REG/acme/*-prod` (doublestar). */
  repositories: readonly string[]
  /** `--all-repositories REG`: every repository the registry's catalog lists. */
  allRepositories?: readonly string[]
}

export interface SelectedRepository {
  registry: string
  repository: string
}

const WILDCARD_RE = /[*?[\]{}]/

/**
 * The repositories named, each once, sorted by name: globs are matched against `/v2/_catalog`, read
 * whole (a catalog the registry cannot give whole fails, as every listing does) and once per registry.
 * A glob that matches nothing is an error: a typo must not turn a scheduled run into a silent no-op.
 */
export async function selectRepositories(
  client: RegistryClient,
  selection: RepositorySelection,
): Promise<SelectedRepository[]> {
  if (!selection.repositories.length && !selection.allRepositories?.length) {
    throw new FerryError(
      'USAGE',
      'name repositories (HOST/PATH, or a glob such as HOST/acme/**) or --all-repositories REG',
    )
  }
  const catalogs = new Map<string, Promise<string[]>>()
  const catalog = (registry: string) => {
    let listed = catalogs.get(registry)
    if (!listed) {
      listed = client.catalog(registry)
      catalogs.set(registry, listed)
    }
    return listed
  }
  const found = new Map<string, SelectedRepository>()
  const add = (r: SelectedRepository) => found.set(canonicalRepository(r), r)
  for (const registry of selection.allRepositories ?? []) {
    const host = canonicalRegistry(registry)
    const all = await catalog(host)
    if (!all.length)
      throw new FerryError('NOT_FOUND', `--all-repositories ${registry}: its catalog lists no repository`)
    for (const repository of all) add({ registry: host, repository })
  }
  for (const text of selection.repositories) {
    if (!WILDCARD_RE.test(text)) {
      add(parseRepository(text))
      continue
    }
    const { host, glob } = splitGlob(text)
    const all = await catalog(host)
    const matched = all.filter((repository) => repositoryMatches(glob, { host, repository }))
    if (!matched.length) {
      throw new FerryError(
        'NOT_FOUND',
        `${text} matches no repository in the catalog of ${host} (${plural(all.length, 'repository', 'repositories')})`,
      )
    }
    for (const repository of matched) add({ registry: host, repository })
  }
  return [...found.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r)
}

/** `REG/acme/**` → the registry whose catalog is read, and the glob checked as policy globs are. */
function splitGlob(text: string): { host: string; glob: string } {
  const slash = text.indexOf('/')
  const host = slash < 0 ? '' : text.slice(0, slash)
  const isHost = isHostComponent(host) && !WILDCARD_RE.test(host)
  if (!isHost || slash === text.length - 1) {
    throw new FerryError(
      'USAGE',
      `${text}: a repository glob starts with its registry, whose catalog it is matched against (e.g. reg.intra/acme/**)`,
    )
  }
  const problem = repositoryGlobProblem(text)
  if (problem) throw new FerryError('USAGE', `${text} matches no repository: ${problem}`)
  return { host: canonicalRegistry(host), glob: text }
}
