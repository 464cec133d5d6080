/**
 * Where an image is: the one parser of every form a command or a library call takes.
 *
 *   [REGISTRY/]REPO[:TAG][@DIGEST]   a repository on a registry, with docker's normalisation
 *   https://REGISTRY/REPO[…]         the same, reached over HTTPS; `http://` over plain HTTP
 *   docker://REF                     as skopeo writes it: exactly what REF means
 *   oci:DIR[:NAME|@DIGEST]           an OCI image layout directory (layout.ts)
 *   bundle:FILE[:IMAGE]              an image in an air-gap bundle: read-only, a source only
 *
 * Normalisation follows distribution/reference `normalize.go`:
 *   nginx                          → docker.io/library/nginx        (tag left undefined)
 *   user/repo:1                    → docker.io/user/repo:1
 *   index.docker.io/library/ubuntu → docker.io/library/ubuntu
 *   localhost:5000/a/b             → registry localhost:5000, repository a/b
 * The first component is a registry host by `isHostComponent` (grammar.ts: it contains "." or ":" or is
 * `localhost`), and always after `https://` or `http://` (the authority of a URL). Unlike docker, an
 * upper-case first component is not taken as a host: `User/repo` is refused as "repository name must be
 * lowercase" rather than sent to a host named User.
 *
 * The scheme is the only part of a URL a location may carry (no `/v2/`, query or user): it stays in the
 * parsed value and travels with it to the registry client, which reaches that host over it. In
 * `bundle:FILE:IMAGE`, IMAGE is named as the bundle's index names it (the full source name, normalised
 * as any reference: `bundle:site.tar:postgres:16` is docker.io/library/postgres:16); FILE, like DIR,
 * never contains ":".
 */
import { FerryError } from '../errors.js'
import { type Digest, parseDigest } from '../oci/digest.js'
import { DOCKER_HUB, LEGACY_DOCKER_HUB, OFFICIAL_PREFIX } from './docker-hub.js'
import {
  DOMAIN_RE,
  IDENTIFIER_RE,
  isHostComponent,
  pathProblem,
  REGISTRY_SCHEME_RE,
  type Scheme,
  tagProblem,
} from './grammar.js'
import { LAYOUT_PREFIX, parseLayoutReference } from './layout.js'
import { parseRegistryHost, parseRepositoryPrefix } from './prefix.js'
import { formatReference, formatRepository, type Reference, type RegistryReference } from './reference.js'
import { hasUserinfo, invalidReference as invalid, USERINFO_REASON, withoutPassword } from './userinfo.js'

export const BUNDLE_PREFIX = 'bundle:'

/** An image in an air-gap bundle file (`bundle:FILE[:IMAGE]`). Read-only: a source, never a destination. */
export interface BundleReference {
  kind: 'bundle'
  /** The bundle file as given (a split bundle: any part, or its FILE.parts.json). */
  path: string
  /**
   * The image's registry and repository as the bundle's index names them (its repository view
   * `registry/repository`); both absent for `bundle:FILE` alone, the view of entries without one.
   */
  registry?: string
  repository?: string
  tag?: string
  digest?: Digest
}

export type Location = Reference | BundleReference

/** A registry alone (`HOST[:PORT]`, `https://HOST[:PORT]`), as catalog, login and logout take it. */
export interface RegistryHost {
  registry: string
  /** Spelled out by the user: how the client reaches the host. */
  scheme?: Scheme
}

// skopeo's other transports: without this check `dir:out` would quietly mean docker.io/library/dir:out.
const UNSUPPORTED_TRANSPORTS = [
  'oci-archive:',
  'docker-archive:',
  'docker-daemon:',
  'dir:',
  'containers-storage:',
]
// Accepted for people pasting skopeo command lines; it means exactly what the bare reference means.
const DOCKER_TRANSPORT = 'docker://'

/** Any location: a registry (with or without its scheme), an image layout, or an image in a bundle. */
export function parseLocation(input: string): Location {
  if (input.startsWith(LAYOUT_PREFIX)) return parseLayoutReference(input)
  if (input.startsWith(BUNDLE_PREFIX)) return parseBundleReference(input)
  const transport = UNSUPPORTED_TRANSPORTS.find((t) => input.startsWith(t))
  if (transport) {
    throw invalid(
      input,
      `the ${transport.slice(0, -1)} transport is not supported (use oci:DIR, bundle:FILE or a registry)`,
    )
  }
  return parseRegistry(input)
}

/**
 * A location that can be written to: a registry or a layout. A bundle is refused in one line: bundles
 * are written whole, by `ferry bundle create`.
 */
export function parseReference(input: string): Reference {
  return writable(parseLocation(input), input)
}

/** A parsed location that can be written to; a bundle is refused (`shown`: how to name it). */
export function writable(location: Location, shown = formatLocation(location)): Reference {
  if (location.kind === 'bundle') throw bundleIsReadOnly(shown)
  return location
}

/** The refusal of a bundle where something is written (USAGE: the command line asks the impossible). */
export function bundleIsReadOnly(input: string): FerryError {
  return new FerryError(
    'USAGE',
    `${withoutPassword(input)}: a bundle is read-only, a source only; bundles are written by ferry bundle create`,
  )
}

/** For places that need a registry: refuses layouts and bundles. */
export function parseRegistryReference(input: string): RegistryReference {
  const location = parseLocation(input)
  if (location.kind !== 'registry') {
    throw invalid(
      input,
      `expected a registry reference, not ${location.kind === 'layout' ? 'an oci: layout' : 'a bundle'}`,
    )
  }
  return location
}

/** A repository without tag or digest, as `ferry tags REPO` takes it. */
export function parseRepository(input: string): { registry: string; repository: string; scheme?: Scheme } {
  const ref = parseRegistryReference(input)
  if (ref.tag !== undefined || ref.digest) {
    const name = input.split(/[:@]/)[0]!
    const hostOnly = !input.includes('/') && isHostComponent(name)
    throw invalid(
      input,
      hostOnly
        ? 'expected a repository, not a registry host alone (e.g. HOST/NAME)'
        : 'expected a repository without a tag or digest',
    )
  }
  const { registry, repository, scheme } = ref
  return scheme ? { registry, repository, scheme } : { registry, repository }
}

/** `HOST[:PORT]`, or `https://HOST[:PORT]` (`http://`) with nothing after the host but a "/". */
export function parseRegistryLocation(input: string): RegistryHost {
  const m = REGISTRY_SCHEME_RE.exec(input)
  if (!m) return { registry: parseRegistryHost(input) }
  const scheme = m[1]!.toLowerCase() as Scheme
  const host = input.slice(m[0].length).replace(/\/$/, '')
  if (host === '' || host.includes('/')) {
    throw new FerryError(
      'REFERENCE_INVALID',
      `invalid registry host "${withoutPassword(input)}": after ${scheme}:// comes HOST[:PORT] alone`,
    )
  }
  return { registry: parseRegistryHost(host), scheme }
}

/**
 * Where images go, or are listed, under a prefix: `HOST[:PORT][/PATH]` (optionally `https://` or
 * `http://` in front) or `oci:DIR`, as `bundle import --to`, `inventory` and `pin --registry` take it.
 * A bundle is refused: it is read-only.
 */
export type PrefixLocation =
  | { kind: 'registry'; registry: string; prefix: string; scheme?: Scheme }
  | { kind: 'layout'; path: string; tag?: string; digest?: Digest; repository?: string }

export function parsePrefixLocation(input: string): PrefixLocation {
  if (input.startsWith(LAYOUT_PREFIX)) return parseLayoutReference(input)
  if (input.startsWith(BUNDLE_PREFIX)) throw bundleIsReadOnly(input)
  const m = REGISTRY_SCHEME_RE.exec(input)
  const scheme = m ? (m[1]!.toLowerCase() as Scheme) : undefined
  const prefix = parseRepositoryPrefix(m ? input.slice(m[0].length) : input)
  const slash = prefix.indexOf('/')
  const registry = slash < 0 ? prefix : prefix.slice(0, slash)
  const path = slash < 0 ? '' : prefix.slice(slash + 1)
  return scheme
    ? { kind: 'registry', registry, prefix: path, scheme }
    : { kind: 'registry', registry, prefix: path }
}

/** The location as it is written back: the scheme kept, `:latest` spelled out as formatReference does. */
export function formatLocation(location: Location): string {
  if (location.kind === 'registry') {
    return `${location.scheme ? `${location.scheme}://` : ''}${formatReference(location)}`
  }
  if (location.kind === 'layout') return formatReference(location)
  const { registry, repository } = location
  if (registry === undefined || repository === undefined) return `${BUNDLE_PREFIX}${location.path}`
  const image = formatReference({ ...location, kind: 'registry', registry, repository })
  return `${BUNDLE_PREFIX}${location.path}:${image}`
}

function parseBundleReference(input: string): BundleReference {
  const body = input.slice(BUNDLE_PREFIX.length)
  const colon = body.indexOf(':')
  const path = colon < 0 ? body : body.slice(0, colon)
  if (path === '') throw invalid(input, 'the bundle file is empty (expected bundle:FILE[:IMAGE])')
  if (colon < 0) return { kind: 'bundle', path }
  const name = body.slice(colon + 1)
  if (name === '') throw invalid(input, 'image name after ":" is empty')
  // The name in the bundle's index: where the image came from, not where to reach it.
  if (REGISTRY_SCHEME_RE.test(name) || name.startsWith(DOCKER_TRANSPORT)) {
    throw invalid(input, 'name the image as the bundle does, without a scheme (bundle:FILE:HOST/REPO:TAG)')
  }
  const { kind: _, ...image } = parseRegistry(name, input)
  return { kind: 'bundle', path, ...image }
}

/** `[https://|http://|docker://][HOST/]PATH[:TAG][@DIGEST]`; `shown` is what messages quote. */
function parseRegistry(input: string, shown = input): RegistryReference {
  const spelled = REGISTRY_SCHEME_RE.exec(input)
  const scheme = spelled ? (spelled[1]!.toLowerCase() as Scheme) : undefined
  const text = spelled
    ? input.slice(spelled[0].length)
    : input.startsWith(DOCKER_TRANSPORT)
      ? input.slice(DOCKER_TRANSPORT.length)
      : input
  const afterScheme = `after ${scheme}:// comes HOST[:PORT]/REPO[:TAG|@DIGEST]`
  if (text === '') throw invalid(shown, scheme ? afterScheme : 'reference is empty')
  if (hasUserinfo(input)) throw invalid(shown, USERINFO_REASON)
  if (IDENTIFIER_RE.test(text)) {
    throw invalid(shown, 'a 64-character hex string is an image ID, not a repository name')
  }

  // Names and tags never contain "@", so the first one starts the digest.
  let rest = text
  let digest: Digest | undefined
  const at = text.indexOf('@')
  if (at >= 0) {
    rest = text.slice(0, at)
    try {
      digest = parseDigest(text.slice(at + 1)).digest
    } catch (err) {
      throw invalid(shown, (err as Error).message)
    }
  }

  // A ":" after the last "/" starts the tag; one before it belongs to a host:port.
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    const problem = tagProblem(tag)
    if (problem) throw invalid(shown, problem)
  }

  let registry = DOCKER_HUB
  let repository = rest
  const slash = rest.indexOf('/')
  if (scheme && slash <= 0) throw invalid(shown, afterScheme)
  if (slash >= 0) {
    const first = rest.slice(0, slash)
    if (scheme || isHostComponent(first)) {
      if (!DOMAIN_RE.test(first)) {
        throw invalid(shown, `invalid registry host "${first}": expected HOST[:PORT], IPv4 or [IPv6]`)
      }
      registry = first === LEGACY_DOCKER_HUB ? DOCKER_HUB : first
      repository = rest.slice(slash + 1)
    }
  }
  if (repository === '') throw invalid(shown, scheme ? afterScheme : 'repository name is empty')
  // Official images live under library/ on Docker Hub only, never on other registries.
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = OFFICIAL_PREFIX + repository
  const problem = pathProblem(repository)
  if (problem) throw invalid(shown, problem)

  const ref: RegistryReference = { kind: 'registry', registry, repository }
  if (tag !== undefined) ref.tag = tag
  if (digest) ref.digest = digest
  if (scheme) ref.scheme = scheme
  return ref
}

/** `registry/repository` of a registry reference or of a bundle's image (undefined: `bundle:FILE` alone). */
export function repositoryName(location: RegistryReference | BundleReference): string | undefined {
  const { registry, repository } = location
  return registry === undefined || repository === undefined
    ? undefined
    : formatRepository({ registry, repository })
}
