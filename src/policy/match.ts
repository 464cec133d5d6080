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

/**
 * The environment named `wanted` (`--environment`), else the first one the name matches, in file order;
 * undefined: the global rules alone apply.
 */
export const environmentFor = (policy: Policy, name: ImageName, wanted?: string): Environment | undefined =>
  wanted !== undefined
    ? environmentNamed(policy, wanted)
    : policy.environments.find((env) => environmentMatches(env, name))
