import { manifestEntry } from '../layout/entries.js'
import { digestRefName, refNameFor } from '../layout/naming.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'
import { BUNDLE_SOURCE_ANNOTATION } from './format.js'

/**
 * index.json entries, in the repository-view convention of src/layout/naming.ts, so that an extracted
 * bundle is an ordinary layout for ferry (`oci:DIR` with a repository), skopeo (`oci:DIR:REPO:TAG`)
 * and umoci: a tagged image is `ref.name = REPO:TAG` (the full source reference); every referrer is
 * untagged with `io.ferry.repository = REPO`; a cosign signature/attestation/SBOM is tagged
 * `REPO:sha256-HEX.sig|att|sbom`, as it is in its registry.
 *
 * An image pinned by digest only has two entries: untagged in REPO (`io.ferry.repository`), which is
 * how ferry finds it, and one named `REPO@sha256:HEX` (its source reference; `digestRefName`), which
 * is how skopeo (`oci:DIR:REPO@sha256:HEX`) and umoci (`umoci ls`) find it, since they list and open
 * only named entries. The named one is in no repository view, so it is never a tag of REPO, and ferry
 * releases that predate it read it as one more entry of the no-repository view, which they ignore.
 */
export function imageEntries(
  root: Manifest,
  repository: string,
  tag: string | undefined,
  original: string,
): Descriptor[] {
  const source = { [BUNDLE_SOURCE_ANNOTATION]: original }
  if (tag !== undefined)
    return [withAnnotations(manifestEntry(root, repository, refNameFor(repository, tag)), source)]
  return [
    withAnnotations(manifestEntry(root, repository), source),
    withAnnotations(manifestEntry(root, undefined, digestRefName(repository, root.digest)), source),
  ]
}

function withAnnotations(entry: Descriptor, annotations: Record<string, string>): Descriptor {
  entry.annotations = { ...entry.annotations, ...annotations }
  return entry
}

export function attachedEntry(m: Manifest, repository: string, cosignTag?: string): Descriptor {
  return manifestEntry(m, repository, cosignTag === undefined ? undefined : refNameFor(repository, cosignTag))
}

/** Drops repeats (the same manifest attached to two tags of one repository is one entry). */
export function dedupeEntries(entries: readonly Descriptor[]): Descriptor[] {
  const seen = new Set<string>()
  return entries.filter((e) => {
    const key = JSON.stringify([e.digest, e.annotations ?? {}])
    if (seen.has(key)) return false
    seen.add(key)
    return true
  })
}
