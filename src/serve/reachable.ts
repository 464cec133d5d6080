import type { Digest } from '../oci/digest.js'
import { childrenOf } from '../oci/manifest.js'
import { isIndexMediaType } from '../oci/media-types.js'
import type { ServeContext } from './context.js'

type Child = { digest: string; mediaType: string }

/** Child manifests of each index read so far; a digest fixes the bytes, so entries never go stale. */
export type ChildCache = Map<string, readonly Child[]>

const CACHE_MAX = 10_000

/**
 * Whether a manifest digest belongs to a repository: an index.json entry of that repository, or a
 * manifest one of its indexes lists (skopeo writes only the top index of a multi-arch image as an entry;
 * its children are bare blobs). A manifest deleted from a repository is then gone from it even though
 * its blob stays in the shared store.
 */
export async function inRepository(ctx: ServeContext, name: string, digest: Digest): Promise<boolean> {
  const entries = await ctx.store.entriesOf(name)
  if (entries.some((e) => e.digest === digest)) return true
  const seen = new Set<string>()
  let frontier: string[] = entries.filter((e) => isIndexMediaType(e.mediaType)).map((e) => e.digest)
  while (frontier.length > 0) {
    const next: string[] = []
    for (const parent of frontier) {
      if (seen.has(parent)) continue
      seen.add(parent)
      const children = await childrenOfIndex(ctx, name, parent as Digest)
      if (children.some((c) => c.digest === digest)) return true
      // Only nested indexes can list further manifests.
      next.push(...children.filter((c) => isIndexMediaType(c.mediaType)).map((c) => c.digest))
    }
    frontier = next
  }
  return false
}

async function childrenOfIndex(ctx: ServeContext, name: string, digest: Digest): Promise<readonly Child[]> {
  const cached = ctx.children.get(digest)
  if (cached) return cached
  let children: Child[]
  try {
    const m = await ctx.store.target(name).fetchManifest(digest)
    children = childrenOf(m).manifests.map((d) => ({ digest: d.digest, mediaType: d.mediaType }))
  } catch {
    // A missing or unreadable index lists nothing; reading it directly reports the problem.
    return []
  }
  if (ctx.children.size >= CACHE_MAX) ctx.children.clear()
  ctx.children.set(digest, children)
  return children
}
