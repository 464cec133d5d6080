import { ifPresent } from '../errors.js'
import { descriptorOf } from '../oci/descriptor.js'
import type { Digest } from '../oci/digest.js'
import { artifactTypeOf, type Manifest, subjectOf } from '../oci/manifest.js'
import { isManifestMediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { SUBJECT_ANNOTATION } from './naming.js'

export type ManifestLoader = (digest: Digest, mediaType: string) => Promise<Manifest>

/**
 * What each manifest digest has as `subject` (null: none). A digest fixes the bytes, so this never goes
 * stale; it saves reading every manifest of a large layout on each referrers call.
 */
export type SubjectCache = Map<string, string | null>

const BATCH = 16

/**
 * The referrers of `digest` among `entries` (one repository view's index.json entries), as the
 * distribution spec's referrers API lists them: artifactType (the manifest's, else its config media
 * type) and the referrer manifest's own annotations. Entries ferry wrote carry the subject digest as an
 * annotation; entries other tools wrote are read once to learn it.
 */
export async function findReferrers(
  entries: readonly Descriptor[],
  digest: Digest,
  load: ManifestLoader,
  cache: SubjectCache,
  artifactType?: string,
): Promise<Descriptor[]> {
  const seen = new Set<string>([digest])
  const candidates = entries.filter((e) => {
    if (seen.has(e.digest) || !isManifestMediaType(e.mediaType)) return false
    seen.add(e.digest)
    const hinted = e.annotations?.[SUBJECT_ANNOTATION] ?? cache.get(e.digest)
    return hinted === undefined || hinted === digest
  })
  const found: Descriptor[] = []
  for (let i = 0; i < candidates.length; i += BATCH) {
    const batch = candidates.slice(i, i + BATCH)
    const manifests = await Promise.all(batch.map((e) => loadIfPresent(load, e)))
    for (const m of manifests) {
      if (!m) continue
      const subject = subjectOf(m)?.digest ?? null
      cache.set(m.digest, subject)
      if (subject !== digest) continue
      const type = artifactTypeOf(m)
      if (artifactType !== undefined && type !== artifactType) continue
      found.push(descriptorOf(m, { artifactType: 'referrers', annotations: 'own' }))
    }
  }
  return found
}

// An entry whose blob is missing (a layout copied without it) lists no referrer, as a registry would
// not; a blob that is present but corrupt still fails loudly.
const loadIfPresent = (load: ManifestLoader, entry: Descriptor): Promise<Manifest | undefined> =>
  ifPresent(load(entry.digest as Digest, entry.mediaType))
