import type { DeleteSupport } from '../content/target.js'

/**
 * distribution 2.x, told apart by its deletes: by digest only (a tag DELETE answers 400 DIGEST_INVALID).
 * Its `garbage-collect --delete-untagged` deletes every manifest of a repository that no tag names, and on
 * distribution 2.x those are the platform images of multi-arch indexes and the OCI 1.1 referrers
 * (signatures, SBOMs) pushed by digest: kept images lose their platforms and their evidence, and no backup
 * of retention brings them back (distribution/distribution#3178). Without the flag the collection frees the
 * blobs of the manifests retention deleted, which is all retention needs: it deletes the index children and
 * attachments of what it removes itself.
 */
export const DISTRIBUTION_2_GC =
  'run the registry’s garbage collection to free the space: on distribution 2.x (this registry deletes by ' +
  'digest only) `registry garbage-collect CONFIG` (Debian: docker-registry), without --delete-untagged: ' +
  'with it, distribution 2.x deletes every manifest no tag names, the platform images of multi-arch images ' +
  'and the signatures and SBOMs attached as referrers, of the images retention kept too; retention already ' +
  'deleted the index children and attachments of what it removed'

/** Registries that delete tags: which one cannot be told from the API, so each is named. */
export const OTHER_GC =
  'run the registry’s garbage collection to free the space: Harbor: Administration > Clean Up > Garbage ' +
  'Collection; ferry serve: `ferry gc --root DIR` (or serve --gc-interval); distribution: `registry ' +
  'garbage-collect CONFIG` without --delete-untagged (it deletes untagged platform images, signatures and SBOMs)'

/**
 * The collection that is safe after retention, for the registries a run deleted on (their delete support,
 * as probed; none: nothing was deleted, the advice names every kind).
 */
export function gcAdvice(registries: readonly DeleteSupport[]): string {
  const byDigestOnly = registries.some((d) => d.manifest && !d.tag)
  const others = registries.length === 0 || registries.some((d) => !(d.manifest && !d.tag))
  if (byDigestOnly && others)
    return `${DISTRIBUTION_2_GC}; on the others: ${OTHER_GC.replace(/^[^:]*: /, '')}`
  return byDigestOnly ? DISTRIBUTION_2_GC : OTHER_GC
}
