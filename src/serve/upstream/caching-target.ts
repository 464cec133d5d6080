import { readFile, stat } from 'node:fs/promises'
import { Readable } from 'node:stream'
import type { RangedBlobSource } from '../../content/capabilities.js'
import type {
  OperationOptions,
  ReadOnlyTarget,
  ReferrersListing,
  ReferrersQuery,
} from '../../content/target.js'
import { FerryError } from '../../errors.js'
import type { OciLayout } from '../../layout/index.js'
import { refNameFor } from '../../layout/naming.js'
import type { Logger } from '../../log.js'
import { descriptorOf } from '../../oci/descriptor.js'
import { type Digest, isDigest } from '../../oci/digest.js'
import { childrenOf, type Manifest, parseManifest } from '../../oci/manifest.js'
import type { Descriptor } from '../../oci/schemas.js'
import { nameWithReference } from '../../reference/index.js'
import { plural } from '../../util/plural.js'
import type { BlobFlights } from './blob-flights.js'
import type { CacheState } from './cache-state.js'
import type { CacheStats } from './cache-stats.js'
import { upstreamError, upstreamUnavailable } from './upstream-errors.js'

/** What every caching target of one mirror shares: the layout it caches into and the record of it. */
export interface CacheParts {
  /** The cache: the layout at ROOT, whose blob store holds every manifest and blob pulled through. */
  layout: OciLayout
  /** Tags with when upstream last confirmed them, what each manifest references, pull times. */
  state: CacheState
  flights: BlobFlights
  stats: CacheStats
  /** How long a tag's mapping is served without asking upstream. */
  ttlMs: number
  logger: Logger
}

/**
 * One upstream repository read through the cache, as oras-go's content/proxy composes a base storage and
 * a cache: every read is answered from the layout when it holds the content, and otherwise from
 * upstream, storing what passes. Content by digest is served from the cache without asking upstream;
 * a tag is asked again (by HEAD, which Docker Hub does not count as a pull) only once its TTL has passed,
 * and served stale while upstream is down. Blobs go through BlobFlights: one upstream GET per digest and
 * size, verified as it passes, every reader's last byte held until it verified.
 *
 * Sizes come only from this repository: a blob that is not cached yet is fetched only as one of the
 * manifests upstream served (or confirmed) through this repository lists it, at the size that
 * manifest gives (sweep H2; `blobSize`).
 *
 * Failures: what upstream does not have is NOT_FOUND, as on every target; upstream down with nothing
 * cached, or upstream at fault, are serve's 503 and 502 answers (upstream-errors.ts), which reach the
 * client as they are.
 */
export class CachingTarget implements ReadOnlyTarget, RangedBlobSource {
  readonly name: string

  constructor(
    private readonly upstream: ReadOnlyTarget,
    private readonly cache: CacheParts,
    /** `UPSTREAM/NAME`: what tag keys start with, and what a cached manifest records it came through. */
    readonly key: string,
    private readonly opts: {
      /**
       * Upstream unavailable: answer no referrers rather than 503 (the pull gate then verifies with the
       * cosign tags the cache holds, and refuses an image whose evidence is out of reach).
       */
      referrersWhenDown?: 'none'
    } = {},
  ) {
    this.name = upstream.name
  }

  // --- manifests

  async fetchManifest(reference: string, opts?: OperationOptions): Promise<Manifest> {
    const { digest, hit } = await this.cached(reference, opts)
    const bytes = await readFile(this.cache.layout.blobPath(digest)).catch(() => undefined)
    if (!bytes) throw new FerryError('NOT_FOUND', `manifest ${digest} vanished from the cache`)
    this.cache.state.touch(digest)
    // A miss's bytes were counted as they came from upstream.
    if (hit) this.cache.stats.bytesFromCache += bytes.byteLength
    return parseManifest(bytes, {
      expectedDigest: digest,
      contentType: this.cache.state.manifest(digest)?.mediaType,
    })
  }

  /** As fetchManifest (upstream asked just as often), without reading the manifest's bytes. */
  async resolve(reference: string, opts?: OperationOptions): Promise<Descriptor> {
    const { digest } = await this.cached(reference, opts)
    const record = this.cache.state.manifest(digest)
    const size = (await readFile(this.cache.layout.blobPath(digest)).catch(() => undefined))?.byteLength
    if (!record || size === undefined)
      throw new FerryError('NOT_FOUND', `manifest ${digest} vanished from the cache`)
    this.cache.state.touch(digest)
    return { mediaType: record.mediaType, digest, size }
  }

  /** Cached (proxy: the cache first), else upstream's HEAD. */
  async hasManifest(digest: Digest, opts?: OperationOptions): Promise<boolean> {
    if (await this.isCached(digest)) return true
    return this.ask(() => this.upstream.hasManifest(digest, opts), `${this.name}@${digest}`)
  }

  /** A tag or digest to the digest of a manifest the cache holds, fetched and recorded first when missing. */
  private async cached(
    reference: string,
    opts?: OperationOptions,
  ): Promise<{ digest: Digest; hit: boolean }> {
    const { stats, state } = this.cache
    if (!isDigest(reference)) {
      const resolved = await this.resolveTag(reference, opts)
      stats[resolved.hit ? 'hits' : 'misses'].manifest++
      // A tag mapping is kept per repository: upstream gave this digest for this repository's tag.
      state.confirm(resolved.digest, this.key)
      return resolved
    }
    const hit = await this.isCached(reference)
    stats[hit ? 'hits' : 'misses'].manifest++
    if (!hit) await this.fetchInto(reference, opts)
    else if (!state.holds(this.key, reference)) await this.confirmUpstream(reference, opts)
    return { digest: reference, hit }
  }

  private async isCached(digest: string): Promise<boolean> {
    return (
      this.cache.state.manifest(digest) !== undefined && (await this.cache.layout.hasBlob(digest as Digest))
    )
  }

  /**
   * A manifest cached through another repository, asked for by digest through this one: served as
   * content by digest, but its blob sizes count for this repository's pulls only once upstream says
   * (one HEAD, remembered) that this repository holds it. Otherwise anyone could make their manifest
   * this repository's by asking for it here.
   */
  private async confirmUpstream(digest: string, opts?: OperationOptions): Promise<void> {
    try {
      const desc = await this.cache.stats.upstream(() => this.upstream.resolve(digest, opts))
      if (desc.digest === digest) this.cache.state.confirm(digest, this.key)
    } catch (err) {
      this.cache.logger.debug(`${this.name}@${digest}: not confirmed upstream: ${(err as Error).message}`)
    }
  }

  /**
   * The digest a tag maps to: the cached one within the TTL; after it, upstream is asked by HEAD and the
   * manifest is fetched only when the digest changed. A hit: the manifest served is the cached one
   * (within the TTL, confirmed by HEAD, or stale).
   */
  private async resolveTag(tag: string, opts?: OperationOptions): Promise<{ digest: Digest; hit: boolean }> {
    const { state, stats, logger, ttlMs } = this.cache
    // The tag's key is its ref.name in the cache root's index.json (cache-index.ts).
    const key = refNameFor(this.key, tag)
    const cached = state.tag(key)
    const now = Date.now()
    const what = `${this.name}:${tag}`
    if (cached && (await this.isCached(cached.digest))) {
      const digest = cached.digest as Digest
      if (now - cached.checkedAt < ttlMs) return { digest, hit: true }
      try {
        const desc = await stats.upstream(() => this.upstream.resolve(tag, opts))
        const hit = desc.digest === cached.digest || (await this.isCached(desc.digest))
        if (!hit) await this.fetchInto(desc.digest, opts)
        state.setTag(key, { ...desc, checkedAt: now })
        return { digest: desc.digest as Digest, hit }
      } catch (err) {
        if (!upstreamUnavailable(err)) throw upstreamError(err, what, logger)
        const age = Math.round((now - cached.checkedAt) / 1000)
        logger.warn(
          `${what}: upstream unavailable (${(err as Error).message}); serving the stale mapping ` +
            `${cached.digest}, last confirmed ${age}s ago`,
        )
        return { digest, hit: true }
      }
    }
    const m = await this.fetchInto(tag, opts)
    state.setTag(key, { ...descriptorOf(m), checkedAt: now })
    return { digest: m.digest, hit: false }
  }

  /** Upstream's manifest, stored in the cache (the tee) and recorded as served through this repository. */
  private async fetchInto(reference: string, opts?: OperationOptions): Promise<Manifest> {
    const { stats, layout, state } = this.cache
    const m = await this.ask(
      () => this.upstream.fetchManifest(reference, opts),
      nameWithReference(this.name, reference),
    )
    stats.bytesFromUpstream += m.bytes.byteLength
    // The layout's push verifies the bytes against the digest once more, and renames them into place.
    await layout.target().pushBlob(descriptorOf(m), Readable.from([Buffer.from(m.bytes)]))
    const { manifests, blobs } = childrenOf(m)
    const record = {
      mediaType: m.mediaType,
      blobs: Object.fromEntries(blobs.map((d) => [d.digest, d.size])),
      manifests: manifests.map((d) => d.digest),
    }
    state.setManifest(m.digest, record, this.key)
    return m
  }

  // --- blobs

  /**
   * The size one of this repository's cached manifests gives the blob; undefined when none lists it (the
   * blob is then fetched for no one through this repository, whatever size a client claims).
   */
  blobSize(digest: Digest): number | undefined {
    return this.cache.state.blobSize(digest, this.key)
  }

  /** The blob's file in the cache and its size, when it is there now (a hit); undefined: not cached (yet). */
  async cachedBlob(digest: Digest): Promise<{ path: string; size: number } | undefined> {
    const { layout, stats, state } = this.cache
    const path = layout.blobPath(digest)
    const st = await stat(path).catch(() => undefined)
    if (!st?.isFile()) return undefined
    stats.hits.blob++
    state.touch(digest)
    return { path, size: st.size }
  }

  /**
   * From the cache when it holds the blob; otherwise upstream's bytes as they arrive, stored as they
   * pass (or the download in flight, joined). Verified either way: the stream fails, never ends cleanly,
   * when size or digest is wrong.
   */
  async fetchBlob(desc: Descriptor, opts?: OperationOptions): Promise<Readable> {
    const digest = desc.digest as Digest
    const hit = await this.cachedBlob(digest)
    if (hit) {
      this.cache.stats.bytesFromCache += hit.size
      return this.cache.layout.target().fetchBlob(desc, opts)
    }
    this.cache.stats.misses.blob++
    this.cache.state.touch(digest)
    const arriving = await this.cache.flights.read(this.upstream, desc)
    return arriving ?? this.cache.layout.target().fetchBlob(desc, opts)
  }

  /** Once the blob is in the cache (downloaded whole first: a Range is served from the stored file). */
  async fetchBlobFrom(desc: Descriptor, offset: number, opts?: OperationOptions): Promise<Readable> {
    await this.fill(desc)
    return this.cache.layout.target().fetchBlobFrom(desc, offset, opts)
  }

  /**
   * The blob's file once it is in the cache: a hit, or downloaded (joining a download in flight). Fails
   * as the download does.
   */
  async fill(desc: Descriptor): Promise<string> {
    const digest = desc.digest as Digest
    const hit = await this.cachedBlob(digest)
    if (hit) return hit.path
    this.cache.stats.misses.blob++
    await this.cache.flights.fill(this.upstream, desc)
    this.cache.state.touch(digest)
    return this.cache.layout.blobPath(digest)
  }

  /** Cached (proxy: the cache first), else upstream's HEAD. */
  async hasBlob(desc: Descriptor, opts?: OperationOptions): Promise<boolean> {
    if (await this.cache.layout.hasBlob(desc.digest as Digest)) return true
    return this.ask(() => this.upstream.hasBlob(desc, opts), `${this.name}@${desc.digest}`)
  }

  // --- listings: upstream's (the cache keeps none of its own)

  /** Upstream's tags; while upstream is down, the tags cached for this repository. */
  async listTags(opts?: OperationOptions): Promise<string[]> {
    try {
      return await this.cache.stats.upstream(() => this.upstream.listTags(opts))
    } catch (err) {
      if (!upstreamUnavailable(err)) throw upstreamError(err, this.name, this.cache.logger)
      const tags = this.cache.state.tagsOf(this.key).map((t) => t.tag)
      this.cache.logger.warn(
        `${this.name}: upstream unavailable; listing the cached ${plural(tags.length, 'tag')}`,
      )
      return tags
    }
  }

  /** Upstream's referrers API (filtered there, or by the registry client), or its referrers tag schema. */
  async referrers(digest: Digest, opts: ReferrersQuery = {}): Promise<Descriptor[]> {
    const what = `${this.name}@${digest} referrers`
    try {
      return await this.cache.stats.upstream(() => this.upstream.referrers(digest, opts))
    } catch (err) {
      if (!(this.opts.referrersWhenDown === 'none' && upstreamUnavailable(err)))
        throw upstreamError(err, what, this.cache.logger)
      this.cache.logger.warn(`${what}: upstream unavailable; verifying with the cached cosign tags only`)
      return []
    }
  }

  async referrersListing(): Promise<ReferrersListing> {
    return 'api'
  }

  /** The upstream client and the cache belong to the mirror, which closes them. */
  async close(): Promise<void> {}

  /** One call to upstream, counted, its failure in the cache's terms. */
  private async ask<T>(call: () => Promise<T>, what: string): Promise<T> {
    try {
      return await this.cache.stats.upstream(call)
    } catch (err) {
      throw upstreamError(err, what, this.cache.logger)
    }
  }
}
