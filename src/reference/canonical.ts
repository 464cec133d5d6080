/**
 * The one spelling of a registry name, for comparing and keying names, never for display or for
 * reaching the registry: `LOCALHOST:5000/acme/api` and `localhost:5000/acme/api` are one repository, and
 * a policy environment, a rollback record or a ledger lookup must not tell them apart.
 *
 * parseReference keeps the host as typed (messages and `--json` show what the user wrote) and already
 * applies docker's normalisation (`index.docker.io` → `docker.io`, `nginx` → `library/nginx`); the
 * canonical name adds what a comparison needs on top, and is the same for every spelling parseReference
 * accepts:
 *   - the host in lower case (DNS names are case-insensitive, RFC 4343);
 *   - no default port: `:443` (HTTPS, how ferry reaches a registry) and `:80` (plain HTTP, where it is
 *     told to) name the host's own registry. Names carry no scheme (policy globs, ledgers and records
 *     do not), so a port that is the default of either scheme is dropped;
 *   - every Docker Hub alias as `docker.io`, with official images under `library/`;
 *   - the path as the grammar has it: lower case already (pathProblem refuses anything else).
 */
import { DOCKER_HUB, isDockerHub } from './docker-hub.js'
import { formatLayoutReference } from './layout.js'
import { parseReference } from './location.js'
import { OFFICIAL_PREFIX } from './reference.js'

const DEFAULT_PORT_RE = /:(?:443|80)$/

/** `Registry.Intra:443` → `registry.intra`; `index.docker.io` → `docker.io`. */
export function canonicalRegistry(host: string): string {
  const lower = host.toLowerCase().replace(DEFAULT_PORT_RE, '')
  return isDockerHub(lower) ? DOCKER_HUB : lower
}

/** `HOST/PATH` of a repository in canonical form: `INDEX.DOCKER.IO/nginx` → `docker.io/library/nginx`. */
export function canonicalRepository(name: { registry: string; repository: string }): string {
  const registry = canonicalRegistry(name.registry)
  const official = registry === DOCKER_HUB && !name.repository.includes('/')
  return `${registry}/${official ? OFFICIAL_PREFIX : ''}${name.repository}`
}

/**
 * A whole reference in canonical form, `HOST/PATH[:TAG][@DIGEST]`, as a key two spellings share; an
 * `oci:` reference in parseReference's form (a directory's case is the file system's), and text that is
 * no reference as it is (it can then only equal itself).
 */
export function canonicalName(text: string): string {
  let ref: ReturnType<typeof parseReference>
  try {
    ref = parseReference(text)
  } catch {
    return text
  }
  if (ref.kind === 'layout') return formatLayoutReference(ref)
  return `${canonicalRepository(ref)}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest ? `@${ref.digest}` : ''}`
}
