import { tagMatches } from '../spec/tag-filter.js'
import { type Environment, environmentNamed, type Policy } from './load.js'
import { repositoryMatches } from './repository-glob.js'

/** Where an image is (or is going): what environments match and naming rules judge. */
export interface ImageName {
  /** Registry host[:port]; absent for a layout or bundle member without one. */
  host?: string
  /** The repository path after the host (`acme/shop/web`); may be empty for a layout's root view. */
  repository: string
  tag?: string
}

export const formatName = (n: ImageName): string =>
  `${n.host ? `${n.host}/` : ''}${n.repository}${n.tag ? `:${n.tag}` : ''}`

/** Both `repositories` and `tags`, where given, must match; a name without a tag matches no tag filter. */
export function environmentMatches(env: Environment, name: ImageName): boolean {
  const { repositories, tags } = env.match
  if (repositories && !repositories.some((g) => repositoryMatches(g, name))) return false
  if (tags && (name.tag === undefined || !tagMatches(name.tag, tags))) return false
  return true
}

/** The first environment the name matches, in file order; undefined: the global rules alone apply. */
export const environmentFor = (policy: Policy, name: ImageName): Environment | undefined =>
  policy.environments.find((env) => environmentMatches(env, name))

/**
 * The environments whose rules judge an image under a name. They come from the name, never from the
 * caller: `--environment` can add an environment's rules, never take the name's away (the December 2026
 * sweep's M4: `--environment dev` moved an immutable prod tag).
 */
export interface Judges {
  /** The name's environment: the first it matches, in file order. Its rules all apply, in its mode. */
  home?: Environment
  /** The one `--environment` named, when it is not `home`: its rules apply too, in its own mode. */
  added?: Environment
  /**
   * Every environment the name matches, in file order, and `added`: the rules that protect what is
   * already there, `immutable` and `forbid.tags`, apply from each of them.
   */
  protecting: Environment[]
}

export function judgesFor(policy: Policy, name: ImageName, wanted?: string): Judges {
  const matched = policy.environments.filter((env) => environmentMatches(env, name))
  const home = matched[0]
  const named = wanted === undefined ? undefined : environmentNamed(policy, wanted)
  const added = named === home ? undefined : named
  const protecting = added && !matched.includes(added) ? [...matched, added] : matched
  return { ...(home ? { home } : {}), ...(added ? { added } : {}), protecting }
}

/** The environment a result is reported under: the name's own, else the one `--environment` added. */
export const reportedEnvironment = (j: Judges): Environment | undefined => j.home ?? j.added
