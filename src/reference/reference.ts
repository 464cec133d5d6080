/**
 * Image references: `[REGISTRY/]REPOSITORY[:TAG][@DIGEST]` with docker's normalisation, and skopeo's
 * `oci:DIR[:NAME|@DIGEST]` for image layouts on disk (`oci:DIR:REPO:TAG` and `oci:DIR:REPO@DIGEST` name
 * a repository view of one, see layout.ts).
 *
 * Normalisation follows distribution/reference `normalize.go`:
 *   nginx                          → docker.io/library/nginx        (tag left undefined)
 *   user/repo:1                    → docker.io/user/repo:1
 *   index.docker.io/library/ubuntu → docker.io/library/ubuntu
 *   localhost:5000/a/b             → registry localhost:5000, repository a/b
 * The first component is a registry host when it contains "." or ":" (a port, or an IPv6 address in
 * brackets) or is `localhost`. Unlike docker, an upper-case first component is not taken as a host:
 * `User/repo` is refused as "repository name must be lowercase" rather than sent to a host named User.
 *
 * A tag and a digest may both be given (`app:1.0@sha256:…`); the digest is what gets fetched, the
 * tag is kept for display and for the destination of a copy.
 */
import { FerryError } from '../errors.js'
import { type Digest, parseDigest } from '../oci/digest.js'
import { DOCKER_HUB, LEGACY_DOCKER_HUB } from './docker-hub.js'
import { DOMAIN_RE, IDENTIFIER_RE, pathProblem, tagProblem } from './grammar.js'
import {
  formatLayoutReference,
  LAYOUT_PREFIX,
  type LayoutReference,
  layoutRefNameProblem,
  parseLayoutReference,
} from './layout.js'
import { hasUserinfo, USERINFO_REASON, withoutPassword } from './userinfo.js'

export { DOCKER_HUB } from './docker-hub.js'
export { LAYOUT_PREFIX, type LayoutReference } from './layout.js'
export const OFFICIAL_PREFIX = 'library/'
export const DEFAULT_TAG = 'latest'

export interface RegistryReference {
  kind: 'registry'
  /** Host[:port], e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  registry: string
  /** Path inside the registry, e.g. `library/nginx`. */
  repository: string
  tag?: string
  digest?: Digest
}

export type Reference = RegistryReference | LayoutReference

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

export function parseReference(input: string): Reference {
  if (input.startsWith(LAYOUT_PREFIX)) return parseLayoutReference(input)
  const transport = UNSUPPORTED_TRANSPORTS.find((t) => input.startsWith(t))
  if (transport) {
    throw invalid(
      input,
      `the ${transport.slice(0, -1)} transport is not supported (use oci:DIR or a registry)`,
    )
  }
  return parseRegistry(input)
}

/** For places that need a registry: refuses `oci:` layouts. */
export function parseRegistryReference(input: string): RegistryReference {
  const ref = parseReference(input)
  if (ref.kind !== 'registry') throw invalid(input, 'expected a registry reference, not an oci: layout')
  return ref
}

/** A repository without tag or digest, as `ferry tags REPO` takes it. */
export function parseRepository(input: string): { registry: string; repository: string } {
  const ref = parseRegistryReference(input)
  if (ref.tag !== undefined || ref.digest) {
    const name = input.split(/[:@]/)[0]!
    const hostOnly = !input.includes('/') && (name.includes('.') || name === 'localhost')
    throw invalid(
      input,
      hostOnly
        ? 'expected a repository, not a registry host alone (e.g. HOST/NAME)'
        : 'expected a repository without a tag or digest',
    )
  }
  return { registry: ref.registry, repository: ref.repository }
}

/** The normalised full form; `:latest` is spelled out only when neither tag nor digest is set. */
export function formatReference(ref: Reference): string {
  if (ref.kind === 'layout') return formatLayoutReference(ref)
  let out = formatRepository(ref)
  if (ref.tag !== undefined) out += `:${ref.tag}`
  if (ref.digest) out += `@${ref.digest}`
  if (ref.tag === undefined && !ref.digest) out += `:${DEFAULT_TAG}`
  return out
}

/** `registry/repository`, e.g. `docker.io/library/nginx`. */
export function formatRepository(ref: { registry: string; repository: string }): string {
  return `${ref.registry}/${ref.repository}`
}

/** `NAME@sha256:…` for a digest, `NAME:TAG` for a tag (which never holds a ":"): the form ferry reads back. */
export function nameWithReference(name: string, reference: string): string {
  return `${name}${reference.includes(':') ? '@' : ':'}${reference}`
}

/** What to ask the backend for: the digest when pinned, else the tag, else `latest`. */
export function manifestReference(ref: Reference): string {
  return ref.digest ?? ref.tag ?? DEFAULT_TAG
}

/**
 * A copy with the tag replaced; on a layout, which holds one selector, the digest is dropped. A layout's
 * repository view takes distribution tags; the no-repository view any ref name.
 */
export function withTag<R extends Reference>(ref: R, tag: string): R {
  const anyRefName = ref.kind === 'layout' && ref.repository === undefined
  const problem = anyRefName ? layoutRefNameProblem(tag) : tagProblem(tag)
  if (problem) throw invalid(tag, problem)
  if (ref.kind === 'layout') return { ...layoutView(ref), tag } as R
  return { ...ref, tag }
}

/** A copy pinned to `digest`; on a layout, which holds one selector, the tag is dropped. */
export function withDigest<R extends Reference>(ref: R, digest: string): R {
  let parsed: Digest
  try {
    parsed = parseDigest(digest).digest
  } catch (err) {
    throw invalid(digest, (err as Error).message)
  }
  if (ref.kind === 'layout') return { ...layoutView(ref), digest: parsed } as R
  return { ...ref, digest: parsed }
}

/** The layout and view of a reference, without its selector. */
function layoutView(ref: LayoutReference): LayoutReference {
  return ref.repository === undefined
    ? { kind: 'layout', path: ref.path }
    : { kind: 'layout', path: ref.path, repository: ref.repository }
}

/** Every refusal of a reference is made here, so none echoes a password written in front of it. */
function invalid(input: string, why: string): FerryError {
  return new FerryError('REFERENCE_INVALID', `invalid reference "${withoutPassword(input)}": ${why}`)
}

function parseRegistry(input: string): RegistryReference {
  const text = input.startsWith(DOCKER_TRANSPORT) ? input.slice(DOCKER_TRANSPORT.length) : input
  if (text === '') throw invalid(input, 'reference is empty')
  if (hasUserinfo(text)) throw invalid(input, USERINFO_REASON)
  if (IDENTIFIER_RE.test(text)) {
    throw invalid(input, 'a 64-character hex string is an image ID, not a repository name')
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
      throw invalid(input, (err as Error).message)
    }
  }

  // A ":" after the last "/" starts the tag; one before it belongs to a host:port.
  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    const problem = tagProblem(tag)
    if (problem) throw invalid(input, problem)
  }

  let registry = DOCKER_HUB
  let repository = rest
  const slash = rest.indexOf('/')
  if (slash >= 0) {
    const first = rest.slice(0, slash)
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      if (!DOMAIN_RE.test(first)) {
        throw invalid(input, `invalid registry host "${first}": expected HOST[:PORT], IPv4 or [IPv6]`)
      }
      registry = first === LEGACY_DOCKER_HUB ? DOCKER_HUB : first
      repository = rest.slice(slash + 1)
    }
  }
  if (repository === '') throw invalid(input, 'repository name is empty')
  // Official images live under library/ on Docker Hub only, never on other registries.
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = OFFICIAL_PREFIX + repository
  const problem = pathProblem(repository)
  if (problem) throw invalid(input, problem)

  const ref: RegistryReference = { kind: 'registry', registry, repository }
  if (tag !== undefined) ref.tag = tag
  if (digest) ref.digest = digest
  return ref
}
