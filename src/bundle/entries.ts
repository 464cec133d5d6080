import { manifestEntry } from '../layout/entries.js'
import { refNameFor } from '../layout/naming.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'
import { BUNDLE_SOURCE_ANNOTATION } from './format.js'

/**
 * index.json entries, in the repository-view convention of src/layout/naming.ts, so that an extracted
 * bundle is an ordinary layout for ferry (`oci:DIR` with a repository), skopeo (`oci:DIR:REPO:TAG`)
 * and umoci: a tagged image is `ref.name = REPO:TAG` (the full source reference); an image pinned by
 * digest only, and every referrer, is untagged with `io.ferry.repository = REPO`; a cosign
 * signature/attestation/SBOM is tagged `REPO:sha256-HEX.sig|att|sbom`, as it is in its registry.
 */
export function imageEntry(
  root: Manifest,
  repository: string,
  tag: string | undefined,
  original: string,
): Descriptor {
  const entry = manifestEntry(root, repository, tag === undefined ? undefined : refNameFor(repository, tag))
  entry.annotations = { ...entry.annotations, [BUNDLE_SOURCE_ANNOTATION]: original }
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
