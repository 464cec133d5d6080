/**
 * Image references once parsed (location.ts parses them): a repository on a registry, with docker's
 * normalisation applied, or skopeo's `oci:DIR[:NAME|@DIGEST]` image layout on disk (`oci:DIR:REPO:TAG`
 * and `oci:DIR:REPO@DIGEST` name a repository view of one, see layout.ts); and what is done with them:
 * formatting, the manifest reference to ask a backend for, a copy with another tag or digest.
 *
 * A tag and a digest may both be given (`app:1.0@sha256:…`); the digest is what gets fetched, the
 * tag is kept for display and for the destination of a copy.
 */
import { type Digest, parseDigest } from '../oci/digest.js'
import { type Scheme, tagProblem } from './grammar.js'
import { formatLayoutReference, type LayoutReference, layoutRefNameProblem } from './layout.js'
import { invalidReference as invalid } from './userinfo.js'

export { DOCKER_HUB, OFFICIAL_PREFIX } from './docker-hub.js'
export type { Scheme } from './grammar.js'
export { LAYOUT_PREFIX, type LayoutReference } from './layout.js'
export const DEFAULT_TAG = 'latest'

export interface RegistryReference {
  kind: 'registry'
  /** Host[:port], e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  registry: string
  /** Path inside the registry, e.g. `library/nginx`. */
  repository: string
  tag?: string
  digest?: Digest
  /**
   * How to reach the registry, when the reference spelled it (`https://HOST/…`, `http://…`); absent, the
   * client decides (HTTPS, plain HTTP for --insecure-registry hosts, either for loopback). Never part of
   * the name: formatReference and the canonical forms leave it out.
   */
  scheme?: Scheme
}

export type Reference = RegistryReference | LayoutReference

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
export function manifestReference(ref: { tag?: string; digest?: Digest }): string {
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
