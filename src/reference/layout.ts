/**
 * The `oci:DIR[:NAME|@DIGEST]` transport, as skopeo spells it: DIR is a directory holding an OCI image
 * layout (relative or absolute, never containing ":"), NAME selects the `index.json` entry whose
 * `org.opencontainers.image.ref.name` annotation matches. Like containers/image, everything after the
 * first ":" is the name, so a name may itself contain ":" or "@" (`oci:out:v1@build`).
 *
 * `oci:DIR@sha256:…` (no ":" before the "@") selects an entry by digest; skopeo 1.9 would read that as
 * a directory named `DIR@sha256`, which no one creates on purpose.
 */
import { FerryError } from '../errors.js'
import { type Digest, parseDigest } from '../oci/digest.js'
import { LAYOUT_REF_NAME_RE } from './grammar.js'

export interface LayoutReference {
  kind: 'layout'
  /** The layout directory, as given. */
  path: string
  /** A ref name from `index.json`; at most one of tag and digest is set. */
  tag?: string
  digest?: Digest
}

export const LAYOUT_PREFIX = 'oci:'

// distribution's digest shape (algorithm ":" hex); the algorithm is then checked by parseDigest.
const DIGEST_TAIL_RE = /^([^:]*)@([A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})$/

export function layoutRefNameProblem(name: string): string | undefined {
  if (name === '') return 'image name after ":" is empty'
  if (!LAYOUT_REF_NAME_RE.test(name)) {
    return (
      `invalid image name "${name}": use letters and digits separated by "-", ".", "_", ":", "@", "+" ` +
      'or "--", and "/" between components'
    )
  }
  return undefined
}

export function parseLayoutReference(input: string): LayoutReference {
  const fail = (why: string) => new FerryError('REFERENCE_INVALID', `invalid reference "${input}": ${why}`)
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
  const tag = body.slice(colon + 1)
  const problem = layoutRefNameProblem(tag)
  if (problem) throw fail(problem)
  return { kind: 'layout', path, tag }
}

export function formatLayoutReference(ref: LayoutReference): string {
  if (ref.digest) return `${LAYOUT_PREFIX}${ref.path}@${ref.digest}`
  if (ref.tag) return `${LAYOUT_PREFIX}${ref.path}:${ref.tag}`
  return `${LAYOUT_PREFIX}${ref.path}`
}
