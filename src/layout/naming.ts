/**
 * How tags and repositories map onto `index.json` entries of an OCI image layout.
 *
 * The image layout spec (image-layout.md) has no notion of repository or tag; tools agree on the
 * `org.opencontainers.image.ref.name` annotation of an `index.json` entry (annotations.md). ferry reads
 * and writes two views of one layout:
 *
 * - **No repository** (`oci:DIR:TAG`, skopeo's convention): a tag is the entry whose ref.name equals TAG,
 *   exactly what `skopeo copy … oci:DIR:TAG` writes. Lookups by tag accept any ref.name (so
 *   `library/postgres:16` finds what skopeo wrote under that name); `listTags()` lists only ref.names that
 *   carry no repository part (see `splitRefName`). Untagged entries of this view carry no annotation.
 * - **Repository R** (several repositories sharing one blob store, as `ferry serve` and air-gap bundles
 *   use it): tag T is the entry whose ref.name is `R:T`. R is opaque (`library/postgres` and
 *   `docker.io/library/postgres` are both fine). Manifests pushed by digest only (referrers, children of
 *   an index) get an entry without ref.name and with `io.ferry.repository: R`, so each repository finds
 *   its own. One entry per digest and tag (or per digest when untagged) in each repository.
 *
 * A ref.name splits at its last `:` when what follows is a valid distribution tag
 * (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`): `localhost:5000/app:1` is repository `localhost:5000/app`, tag
 * `1`. A ref.name containing `@` is never split (it pins a digest, it does not name a repository).
 *
 * What skopeo 1.9 accepts as REF in `oci:DIR:REF` (checked against the real binary): the ref.name grammar
 * of annotations.md, `component ("/" component)*` with `component ::= alphanum (separator alphanum)*` and
 * `separator ::= [-._:@+] | "--"`. So `library/postgres:16`, `docker.io/library/postgres:16`,
 * `localhost:5000/foo:1`, `Foo_Bar` and `x@sha256:abc` are accepted and written verbatim as ref.name;
 * `a b`, `x//y` and `-x` are refused ("Invalid image"). Everything up to the first `:` is the directory,
 * so a layout whose path contains `:` cannot be named to skopeo. A repository view's entries are
 * therefore reachable from skopeo as `oci:DIR:R:T` whenever `R:T` fits that grammar (a tag such as `_x`
 * or `a..b` is a valid distribution tag that skopeo cannot name).
 *
 * skopeo 1.9 writing into a shared layout keeps every entry that has a ref.name, but takes over an
 * entry *without* one that has the digest it writes (it keeps one untagged entry per digest): an untagged
 * entry of a repository view can lose its `io.ferry.repository` that way. The manifest itself stays
 * readable by digest, which reads the shared blob store and not index.json.
 */
import { FerryError } from '../errors.js'
import type { Descriptor } from '../oci/schemas.js'
import { isRefName, isTag } from '../reference/grammar.js'

export { isRefName, isTag }

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name'
export const REPOSITORY_ANNOTATION = 'io.ferry.repository'
/** Digest of the manifest's `subject`, so referrers can be found without reading every manifest. */
export const SUBJECT_ANNOTATION = 'io.ferry.subject'

/** The repository a ref.name belongs to (undefined: the no-repository view) and its tag. */
export function splitRefName(refName: string): { repository: string | undefined; tag: string } {
  const colon = refName.lastIndexOf(':')
  if (colon > 0 && !refName.includes('@')) {
    const tag = refName.slice(colon + 1)
    if (isTag(tag)) return { repository: refName.slice(0, colon), tag }
  }
  return { repository: undefined, tag: refName }
}

export function validateRepository(repository: string): void {
  if (repository.length === 0 || /[\s\0]/.test(repository)) {
    throw new FerryError('REFERENCE_INVALID', `invalid repository "${repository}" for an OCI layout`)
  }
}

/**
 * The ref.name a tag is written under. Without a repository the tag is the ref.name itself and must fit
 * the annotations.md grammar; with one it must be a distribution tag.
 */
export function refNameFor(repository: string | undefined, tag: string): string {
  if (repository === undefined) {
    if (!isRefName(tag)) {
      throw new FerryError('REFERENCE_INVALID', `invalid tag "${tag}": not a valid OCI ref.name`)
    }
    return tag
  }
  if (!isTag(tag)) {
    throw new FerryError('REFERENCE_INVALID', `invalid tag "${tag}" for ${repository}`)
  }
  return `${repository}:${tag}`
}

/**
 * The ref.name that names a manifest by digest for other tools: `REPO@sha256:HEX`, as an image is
 * referenced by digest. It fits the grammar skopeo (`oci:DIR:REPO@sha256:HEX`) and umoci accept, and
 * never splits into a repository and tag (see `splitRefName`), so it is no tag of REPO: in ferry's
 * reading it belongs to the no-repository view, beside REPO's own entry for the manifest.
 */
export const digestRefName = (repository: string, digest: string): string => `${repository}@${digest}`

export const refNameOf = (entry: Descriptor): string | undefined => entry.annotations?.[REF_NAME_ANNOTATION]

/** The view an index entry belongs to: from its ref.name when tagged, else from `io.ferry.repository`. */
export function entryRepository(entry: Descriptor): string | undefined {
  const refName = refNameOf(entry)
  if (refName !== undefined) return splitRefName(refName).repository
  return entry.annotations?.[REPOSITORY_ANNOTATION]
}

export const inView = (entry: Descriptor, repository: string | undefined): boolean =>
  entryRepository(entry) === repository

/** The entry's tag in this view, if it has one there. */
export function entryTag(entry: Descriptor, repository: string | undefined): string | undefined {
  const refName = refNameOf(entry)
  if (refName === undefined) return undefined
  const split = splitRefName(refName)
  return split.repository === repository ? split.tag : undefined
}
