/**
 * What the pull-through cache did since the server started: read by `/metrics` and by the UI's cache
 * page, counted in one place. Plain numbers; nothing here is persisted (ferry-cache.json holds the
 * cache's contents, not its traffic).
 */
export type CacheKind = 'manifest' | 'blob'

export class CacheStats {
  /** Served from the store without fetching it from upstream (a tag within its TTL or confirmed by HEAD). */
  readonly hits: Record<CacheKind, number> = { manifest: 0, blob: 0 }
  /** Fetched from upstream first (or joined a fetch in flight). */
  readonly misses: Record<CacheKind, number> = { manifest: 0, blob: 0 }
  /** Calls to upstream (manifest, HEAD, blob, tags, referrers), each counted once however often retried. */
  upstreamRequests = 0
  /** Those that failed (unreachable, 5xx, 429, a refused login, content that does not verify). */
  upstreamErrors = 0
  /** Bytes of manifests and blobs fetched from upstream. */
  bytesFromUpstream = 0
  /** Bytes of manifests and blobs sent to clients from the store. */
  bytesFromCache = 0
  /** Blobs (manifests included) eviction removed, and their bytes. */
  evictions = 0
  evictedBytes = 0

  /** One call to upstream; counts it, and its failure. */
  async upstream<T>(call: () => Promise<T>): Promise<T> {
    this.upstreamRequests++
    try {
      return await call()
    } catch (err) {
      this.upstreamErrors++
      throw err
    }
  }
}
