import { FerryError } from '../errors.js'
import { REPOSITORY_ANNOTATION, refNameOf } from '../layout/naming.js'
import type { Descriptor } from '../oci/schemas.js'
import { DOMAIN_RE, pathProblem, tagProblem } from '../reference/grammar.js'
import {
  type BundleMetadata,
  FORMAT_VERSION,
  INDEX_NAME,
  METADATA_NAME,
  UNSIGNED_NAMES_FORMAT_VERSION,
} from './format.js'

/** The fields ferry writes at the top of index.json; anything else there would be outside the signature. */
const INDEX_FIELDS = new Set(['schemaVersion', 'mediaType', 'manifests'])

const refuse = (archive: string, why: string) =>
  new FerryError('VERIFY_FAILED', `${archive}: ${why}; refusing the bundle`)

/** JSON with object keys sorted at every depth: equal for equal values, whatever order a writer chose. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort()
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** `docker.io/library/app:latest → sha256:…`, or the repository for an untagged entry. */
function describe(entry: Descriptor): string {
  const name =
    refNameOf(entry) ?? `${entry.annotations?.[REPOSITORY_ANNOTATION] ?? '(no repository)'} (untagged)`
  return `"${name}" → ${entry.digest}`
}

/**
 * A pull asks for a name, so a signature over the blobs alone says nothing about what `app:latest` is:
 * an entry added to index.json after signing (`app:latest` → an older, vulnerable digest that the bundle
 * also holds) would verify and be served. So ferry-bundle.json lists every index.json entry, and
 * index.json must hold exactly those, in that order, field for field (digest, media type, size,
 * platform, every annotation), with nothing beside them. Format 1 bundles have no such list (see
 * `requireSignedNames`). `indexBytes` has been parsed as an image index already.
 */
export function checkNames(archive: string, metadata: BundleMetadata, indexBytes: Uint8Array): void {
  if (metadata.formatVersion === UNSIGNED_NAMES_FORMAT_VERSION) return
  const signed = metadata.entries
  if (!signed) throw refuse(archive, `${METADATA_NAME} (format ${FORMAT_VERSION}) has no "entries" list`)
  const index = JSON.parse(Buffer.from(indexBytes).toString('utf8')) as Record<string, unknown>
  const extra = Object.keys(index).find((k) => !INDEX_FIELDS.has(k))
  if (extra !== undefined)
    throw refuse(archive, `${INDEX_NAME} carries "${extra}", which ${METADATA_NAME} does not record`)
  const present = index.manifests as Descriptor[]
  const want = new Set(signed.map(canonical))
  const have = new Set(present.map(canonical))
  const added = present.find((e) => !want.has(canonical(e)))
  if (added) {
    throw refuse(
      archive,
      `${INDEX_NAME} entry ${describe(added)} is not among the entries ${METADATA_NAME} records (index.json was changed after the bundle was made)`,
    )
  }
  const removed = signed.find((e) => !have.has(canonical(e)))
  if (removed)
    throw refuse(archive, `${METADATA_NAME} entry ${describe(removed)} is missing from ${INDEX_NAME}`)
  if (present.length !== signed.length || present.some((e, i) => canonical(e) !== canonical(signed[i])))
    throw refuse(archive, `${INDEX_NAME} entries are not those ${METADATA_NAME} records, in its order`)
}

/** With a key, names must be under the signature: format 1 signed only the blobs. */
export function requireSignedNames(archive: string, metadata: BundleMetadata): void {
  if (metadata.formatVersion !== UNSIGNED_NAMES_FORMAT_VERSION) return
  throw new FerryError(
    'VERIFY_FAILED',
    `${archive}: bundle format ${UNSIGNED_NAMES_FORMAT_VERSION} signs its blobs but not the names in ${INDEX_NAME}, so a key cannot vouch for what its tags point to; re-create it with this ferry (format ${FORMAT_VERSION})`,
  )
}

/**
 * Why an image's source name (`HOST[:PORT]/PATH`, and its tag) is one no registry can hold, or undefined.
 * ferry never writes such names; a crafted bundle may. `bundle verify` and `bundle import` refuse the
 * bundle over it (`checkImageNames`) and `serve --bundle` leaves the repository out, all by this check.
 */
export function imageNameProblem(repository: string, tag?: string): string | undefined {
  const slash = repository.indexOf('/')
  if (slash < 0) return 'no registry host before the repository path'
  const host = repository.slice(0, slash)
  if (!DOMAIN_RE.test(host)) return `invalid registry host "${host}"`
  return pathProblem(repository.slice(slash + 1)) ?? (tag === undefined ? undefined : tagProblem(tag))
}

/** Refuses a bundle with an image whose name `imageNameProblem` finds wrong (verify and import alike). */
export function checkImageNames(archive: string, metadata: BundleMetadata): void {
  for (const image of metadata.images) {
    const problem = imageNameProblem(image.repository, image.tag)
    if (problem) throw refuse(archive, `image "${image.source}": ${problem}`)
  }
}
