/**
 * The `oci:DIR[:NAME|@DIGEST]` transport, as skopeo spells it: DIR is a directory holding an OCI image
 * layout (relative or absolute, never containing ":"), NAME selects the `index.json` entry whose
 * `org.opencontainers.image.ref.name` annotation matches. Like containers/image, everything after the
 * first ":" is the name, so a name may itself contain ":" or "@" (`oci:out:v1@build`).
 *
 * `oci:DIR@sha256:…` (no ":" before the "@") selects an entry by digest; skopeo 1.9 would read that as
 * a directory named `DIR@sha256`, which no one creates on purpose.
 *
 * Repository views (src/layout/naming.ts): a ref.name `REPO:TAG`, split at its last ":" when TAG is a
 * distribution tag and the name holds no "@", is tag TAG of view REPO there. The reference splits the
 * same way, so `oci:DIR:REPO:TAG` opens view REPO (its referrers and `sha256-HEX.sig` tags are REPO's)
 * and still finds and writes the entry whose ref.name is `REPO:TAG`, as skopeo does. `oci:DIR:REPO@DIGEST`
 * pins view REPO to a digest: the form `bundle import --to oci:DIR` prints and a view's targets name
 * themselves with. That is the one narrowing of skopeo's reading: a ref.name that ends in "@" and a
 * well-formed sha256/sha512 digest cannot be named; `oci:out:v1@build` still is the ref.name `v1@build`.
 */
import { type Digest, parseDigest } from '../oci/digest.js'
import { DIGEST_SHAPE, isRefName, isTag } from './grammar.js'
import { invalidReference } from './userinfo.js'

export interface LayoutReference {
  kind: 'layout'
  /** The layout directory, as given. */
  path: string
  /** The repository view (`oci:DIR:REPO:TAG`, `oci:DIR:REPO@DIGEST`); absent: the no-repository view. */
  repository?: string
  /**
   * In a repository view a distribution tag; without one, any ref name from `index.json`. At most one of
   * tag and digest is set.
   */
  tag?: string
  digest?: Digest
}

export const LAYOUT_PREFIX = 'oci:'

// `DIR@DIGEST`: no ":" before the "@"; the digest's algorithm is then checked by parseDigest.
const DIGEST_TAIL_RE = new RegExp(`^([^:]*)@(${DIGEST_SHAPE})$`)

export function layoutRefNameProblem(name: string): string | undefined {
  if (name === '') return 'image name after ":" is empty'
  if (!isRefName(name)) {
    return (
      `invalid image name "${name}": use letters and digits separated by "-", ".", "_", ":", "@", "+" ` +
      'or "--", and "/" between components'
    )
  }
  return undefined
}

export function parseLayoutReference(input: string): LayoutReference {
  const fail = (why: string) => invalidReference(input, why)
  const body = input.slice(LAYOUT_PREFIX.length)

  const byDigest = DIGEST_TAIL_RE.exec(body)
  if (byDigest) {
    const path = byDigest[1]!
    if (path === '') throw fail('the layout directory is empty (expected oci:DIR@DIGEST)')
    try {
      return { kind: 'layout', path, digest: parseDigest(byDigest[2]!).digest }
    } catch (err) {
      throw fail((err as Error).message)
    }
  }

  const colon = body.indexOf(':')
  const path = colon < 0 ? body : body.slice(0, colon)
  if (path === '') throw fail('the layout directory is empty (expected oci:DIR[:NAME|@DIGEST])')
  // `oci:out@sha256:abc` is a mistyped digest far more often than a directory named `out@sha256`.
  if (/@(?:sha256|sha512)$/.test(path)) {
    const tail = body.slice(path.lastIndexOf('@') + 1)
    throw fail(`invalid digest "${tail}": expected sha256:<64 hex> or sha512:<128 hex>, lower case`)
  }
  if (colon < 0) return { kind: 'layout', path }
  const name = body.slice(colon + 1)
  const problem = layoutRefNameProblem(name)
  if (problem) throw fail(problem)
  const pinned = REPOSITORY_DIGEST_RE.exec(name)
  if (pinned) {
    try {
      return { kind: 'layout', path, repository: pinned[1]!, digest: parseDigest(pinned[2]!).digest }
    } catch (err) {
      throw fail((err as Error).message)
    }
  }
  return { kind: 'layout', path, ...splitLayoutName(name) }
}

// `REPO@sha256:…`: a repository without "@" and a digest of a registered algorithm, checked by parseDigest.
const REPOSITORY_DIGEST_RE = /^([^@]+)@((?:sha256|sha512):.*)$/

/** naming.ts `splitRefName`: the last ":" starts the tag when a distribution tag follows and no "@" is in the name. */
function splitLayoutName(name: string): { repository?: string; tag: string } {
  const colon = name.lastIndexOf(':')
  if (colon > 0 && !name.includes('@') && isTag(name.slice(colon + 1))) {
    return { repository: name.slice(0, colon), tag: name.slice(colon + 1) }
  }
  return { tag: name }
}

export function formatLayoutReference(ref: LayoutReference): string {
  const view = ref.repository === undefined ? '' : `:${ref.repository}`
  if (ref.digest) return `${LAYOUT_PREFIX}${ref.path}${view}@${ref.digest}`
  if (ref.tag) return `${LAYOUT_PREFIX}${ref.path}${view}:${ref.tag}`
  return `${LAYOUT_PREFIX}${ref.path}${view}`
}
