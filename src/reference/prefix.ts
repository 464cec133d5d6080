/**
 * Registry hosts and repository prefixes, for places that name "where" rather than one repository:
 * a sync target (`reg.local:5000/cache`), a mapping (`docker.io/library/`), a login host.
 *
 * A prefix always starts with its host and is never normalised the way a reference is: `docker.io/library`
 * is the prefix `library/` on Docker Hub, not the official image `library/library`.
 */
import { FerryError } from '../errors.js'
import { DOCKER_HUB, LEGACY_DOCKER_HUB } from './docker-hub.js'
import { DOMAIN_RE, isHostComponent, PATH_COMPONENT_RE, REPOSITORY_MAX } from './grammar.js'
import { withoutPassword } from './userinfo.js'

/** `HOST[:PORT]`, `IPv4[:PORT]` or `[IPv6][:PORT]`; `index.docker.io` becomes `docker.io`. */
export function parseRegistryHost(input: string): string {
  if (!DOMAIN_RE.test(input)) {
    throw new FerryError(
      'REFERENCE_INVALID',
      `invalid registry host "${withoutPassword(input)}": expected HOST[:PORT], IPv4 or [IPv6], optionally with :PORT`,
    )
  }
  return input === LEGACY_DOCKER_HUB ? DOCKER_HUB : input
}

/** `HOST[/PATH]` with an optional trailing "/", returned as `HOST` or `HOST/PATH` without it. */
export function parseRepositoryPrefix(input: string): string {
  const fail = (why: string) =>
    new FerryError('REFERENCE_INVALID', `invalid repository prefix "${withoutPassword(input)}": ${why}`)
  const text = input.endsWith('/') ? input.slice(0, -1) : input
  const slash = text.indexOf('/')
  const host = slash < 0 ? text : text.slice(0, slash)
  if (!isHostComponent(host)) {
    throw fail('it must start with a registry host, e.g. reg.local:5000/cache or docker.io/library/')
  }
  let registry: string
  try {
    registry = parseRegistryHost(host)
  } catch (err) {
    throw fail((err as Error).message)
  }
  if (slash < 0) return registry
  const path = text.slice(slash + 1)
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT_RE.test(component)) {
      throw fail(
        component === ''
          ? 'empty path component'
          : `invalid path component "${component}": use lower-case letters and digits, separated by ".", "_", "__" or dashes`,
      )
    }
  }
  if (path.length > REPOSITORY_MAX) throw fail(`path longer than ${REPOSITORY_MAX} characters`)
  return `${registry}/${path}`
}
