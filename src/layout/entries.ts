import { descriptorOf } from '../oci/descriptor.js'
import type { Manifest } from '../oci/manifest.js'
import { subjectOf } from '../oci/manifest.js'
import type { Descriptor, ImageIndex } from '../oci/schemas.js'
import {
  entryRepository,
  inView,
  REF_NAME_ANNOTATION,
  REPOSITORY_ANNOTATION,
  refNameOf,
  SUBJECT_ANNOTATION,
} from './naming.js'

// Pure edits of index.json's entry list (see naming.ts for what an entry means). Each returns the new
// index, or undefined when nothing changes so the caller leaves the file untouched.

/**
 * The descriptor of the manifest an index entry points at, without the layout's own bookkeeping (what
 * `resolve` answers for a tag): the manifest's own artifactType, never the config-media-type fallback.
 */
export function entryDescriptor(entry: Descriptor): Descriptor {
  const d: Descriptor = { mediaType: entry.mediaType, digest: entry.digest, size: entry.size }
  if (entry.artifactType) d.artifactType = entry.artifactType
  return d
}

/** The index.json entry for a manifest: under `refName` when tagged, else untagged in `repository`. */
export function manifestEntry(m: Manifest, repository: string | undefined, refName?: string): Descriptor {
  const annotations: Record<string, string> = {}
  if (refName !== undefined) annotations[REF_NAME_ANNOTATION] = refName
  else if (repository !== undefined) annotations[REPOSITORY_ANNOTATION] = repository
  const subject = subjectOf(m)
  if (subject) annotations[SUBJECT_ANNOTATION] = subject.digest
  return descriptorOf(m, { artifactType: 'own', annotations })
}

/**
 * Adds an entry. A tagged entry replaces the one holding its ref.name (the tag moves; ref.names are unique
 * in the whole file, as skopeo keeps them) and makes an untagged entry for the same digest in the same
 * repository redundant. The manifest the tag named before stays in its view, untagged, as a registry
 * keeps a manifest whose tag moved: it can still be fetched and promoted by digest. An untagged entry is
 * added only if the repository has no entry for the digest.
 */
export function addEntry(index: ImageIndex, entry: Descriptor): ImageIndex | undefined {
  const refName = refNameOf(entry)
  const view = entryRepository(entry)
  if (refName === undefined) {
    if (index.manifests.some((e) => e.digest === entry.digest && inView(e, view))) return undefined
    return { ...index, manifests: [...index.manifests, entry] }
  }
  const current = index.manifests.find((e) => refNameOf(e) === refName)
  if (current?.digest === entry.digest && current.mediaType === entry.mediaType) return undefined
  const manifests: Descriptor[] = []
  let placed = false
  for (const e of index.manifests) {
    if (refNameOf(e) === refName) {
      if (!placed) manifests.push(entry)
      placed = true
    } else if (!(refNameOf(e) === undefined && e.digest === entry.digest && inView(e, view))) {
      manifests.push(e)
    }
  }
  if (!placed) manifests.push(entry)
  if (current) return keepUntagged({ ...index, manifests }, [current])
  return { ...index, manifests }
}

/** Each of `displaced` stays in its view as an untagged entry, unless the view still has its digest. */
function keepUntagged(index: ImageIndex, displaced: readonly Descriptor[]): ImageIndex {
  let manifests = index.manifests
  for (const old of displaced) {
    const view = entryRepository(old)
    if (manifests.some((e) => e.digest === old.digest && inView(e, view))) continue
    const { [REF_NAME_ANNOTATION]: _, ...rest } = old.annotations ?? {}
    const annotations = view === undefined ? rest : { ...rest, [REPOSITORY_ANNOTATION]: view }
    const untagged: Descriptor = { ...old, annotations }
    if (Object.keys(annotations).length === 0) delete untagged.annotations
    manifests = [...manifests, untagged]
  }
  return { ...index, manifests }
}

/** Removes every entry of one repository view for `digest`. */
export function removeDigest(
  index: ImageIndex,
  repository: string | undefined,
  digest: string,
): ImageIndex | undefined {
  const manifests = index.manifests.filter((e) => !(e.digest === digest && inView(e, repository)))
  return manifests.length === index.manifests.length ? undefined : { ...index, manifests }
}

/**
 * Removes the entries named `refName`. The manifest stays in its repository view as an untagged entry
 * unless another tag there still points at it, as a registry keeps a manifest whose tag is deleted.
 */
export function removeRefName(index: ImageIndex, refName: string): ImageIndex | undefined {
  const removed = index.manifests.filter((e) => refNameOf(e) === refName)
  if (removed.length === 0) return undefined
  return keepUntagged(
    { ...index, manifests: index.manifests.filter((e) => refNameOf(e) !== refName) },
    removed,
  )
}
