import { FerryError } from '../../errors.js'
import type { OciLayout } from '../../layout/index.js'
import type { Logger } from '../../log.js'
import type { Digest } from '../../oci/digest.js'
import { isDockerHub, OFFICIAL_PREFIX } from '../../reference/index.js'
import { RegistryClient } from '../../registry/index.js'
import type { PolicyView } from '../policy/view.js'
import { BlobFlights } from './blob-flights.js'
import { CacheIndex } from './cache-index.js'
import { CacheState } from './cache-state.js'
import { CacheStats } from './cache-stats.js'
import { type CacheParts, CachingTarget } from './caching-target.js'
import { Eviction, type EvictionLimits } from './eviction.js'
import type { UpstreamSpec } from './upstreams.js'

export interface MirrorOptions {
  /** The first is the default; `?ns=NAME` (containerd) picks another by name or host. */
  upstreams: UpstreamSpec[]
  /** How long a tag's mapping is served without asking upstream. */
  ttlMs: number
  /** Treat every upstream as insecure (plain HTTP, or TLS without verification). */
  insecure: boolean
  limits: EvictionLimits
  /** Token realm hosts the upstream credentials may go to besides upstream's own domain (token-realm.ts). */
  allowTokenRealms?: string[]
}

/** One cached tag as the UI's cache page shows it. */
export interface CachedTagStatus {
  /** `UPSTREAM/REPOSITORY`, as the cache root's index.json names it. */
  repository: string
  tag: string
  digest: Digest
  /** Of the manifest. */
  size: number
  /** When upstream last confirmed (or gave) the mapping, ms since the epoch. */
  checkedAt: number
  /** When a client last pulled the manifest; undefined when only revalidated. */
  pulledAt?: number
  /** Confirmed longer than the TTL ago. */
  stale: boolean
}

/**
 * A pull-through cache in front of upstream registries, over the layout at ROOT: what `serve --upstream`
 * reads through. Each repository a client names is a CachingTarget (caching-target.ts): the upstream
 * registry's repository composed with the layout as its cache, read by serve's handlers through the
 * same ReadOnlyTarget contract as a layout or a bundle. This holds what they share: the upstream client,
 * the cache record (ferry-cache.json) and index.json kept from it, the downloads in flight, eviction,
 * and the counts `/metrics` and the UI read.
 */
export class Mirror {
  private constructor(
    private readonly opts: MirrorOptions,
    private readonly client: RegistryClient,
    private readonly parts: CacheParts,
    private readonly index: CacheIndex,
    private readonly eviction: Eviction,
  ) {}

  static async open(layout: OciLayout, opts: MirrorOptions, logger: Logger): Promise<Mirror> {
    if (opts.upstreams.length === 0) throw new FerryError('USAGE', 'a mirror needs at least one --upstream')
    const insecure = opts.upstreams.filter((u) => opts.insecure || u.plainHttp).map((u) => u.host)
    // Few and quick retries: a client is waiting, and a stale mapping can answer when upstream is down.
    const client = new RegistryClient({
      insecure,
      logger,
      allowTokenRealms: opts.allowTokenRealms,
      retry: { attempts: 2, maxElapsedMs: 5000 },
    })
    const state = await CacheState.open(layout.dir, logger)
    const index = new CacheIndex(layout, state, logger)
    index.changed()
    const stats = new CacheStats()
    const eviction = new Eviction(layout, state, opts.limits, logger, stats)
    const flights = new BlobFlights(layout, stats, eviction, logger)
    const parts = { layout, state, flights, stats, ttlMs: opts.ttlMs, logger }
    const mirror = new Mirror(opts, client, parts, index, eviction)
    eviction.start()
    return mirror
  }

  async close(): Promise<void> {
    this.eviction.stop()
    await this.parts.flights.settled()
    await this.index.close()
    await this.parts.state.close()
    await this.client.close()
  }

  /** Hits, misses and traffic since start: `/metrics` and the UI's cache page read them. */
  get stats(): CacheStats {
    return this.parts.stats
  }

  /**
   * Repository `name` of the upstream the request picks (containerd's `?ns=NAME` or host; the first
   * otherwise), read through the cache.
   */
  target(
    name: string,
    query: URLSearchParams,
    opts?: ConstructorParameters<typeof CachingTarget>[3],
  ): CachingTarget {
    const ns = query.get('ns')
    const all = this.opts.upstreams
    const up = (ns && all.find((u) => u.name === ns || u.host === ns)) || all[0]!
    // The route's name is grammar-checked (routes.ts); Docker Hub keeps official images under library/.
    const official = isDockerHub(up.host) && !name.includes('/')
    const repo = this.client.repository({
      registry: up.host,
      repository: official ? `${OFFICIAL_PREFIX}${name}` : name,
    })
    return new CachingTarget(repo, this.parts, `${up.name}/${repo.repository}`, opts)
  }

  /**
   * The repository as `serve --policy` reads it: every read through the cache, as a client's pull would
   * go, so the signatures and SBOMs a verdict rests on are cached too and verify while upstream is down.
   * Asking upstream whether a signature appeared on every pull would cost a manifest GET per cosign tag
   * (Docker Hub counts them): a verdict is kept for the tag TTL instead, as a tag's mapping is.
   */
  policyView(name: string, query: URLSearchParams): PolicyView {
    const target = this.target(name, query, { referrersWhenDown: 'none' })
    const { state } = this.parts
    const ttl = Math.max(this.opts.ttlMs, 1000)
    return {
      repository: name,
      target,
      tagged: async () => state.tagsOf(target.key).map((t) => ({ ...t, digest: t.digest as Digest })),
      indexesHolding: async (digest) => state.indexesHolding(target.key, digest) as Digest[],
      evidence: async () => String(Math.floor(Date.now() / ttl)),
    }
  }

  /** A client asked for blob `digest`: eviction keeps it, and the manifests that list it, until released. */
  reading(digest: string): () => void {
    return this.eviction.reading(digest)
  }

  /** The cached repositories as clients name them (without the upstream), sorted: `_catalog`. */
  async repositories(): Promise<string[]> {
    const names = this.parts.state.tagKeys().map((k) => k.slice(k.indexOf('/') + 1, k.lastIndexOf(':')))
    return [...new Set(names)].sort()
  }

  /** The upstreams as configured (the first is the default) and the tag TTL: what the UI's cache page states. */
  get upstreams(): readonly UpstreamSpec[] {
    return this.opts.upstreams
  }

  get ttlMs(): number {
    return this.opts.ttlMs
  }

  /**
   * Every cached tag, sorted by key, with when upstream last confirmed it and whether that was longer
   * ago than the TTL (the next pull asks upstream again; while upstream is down it is served stale).
   */
  cachedTags(now = Date.now()): CachedTagStatus[] {
    const { state } = this.parts
    return state
      .tags()
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, t]) => {
        const colon = key.lastIndexOf(':')
        return {
          repository: key.slice(0, colon),
          tag: key.slice(colon + 1),
          digest: t.digest as Digest,
          size: t.size,
          checkedAt: t.checkedAt,
          pulledAt: state.pulledAt(t.digest),
          stale: now - t.checkedAt >= this.opts.ttlMs,
        }
      })
  }
}
