import { readdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { OciLayout } from '../../layout/index.js'
import { BLOBS_DIR } from '../../layout/layout-files.js'
import type { Logger } from '../../log.js'
import type { CacheState } from './cache-state.js'
import type { CacheStats } from './cache-stats.js'

export interface EvictionLimits {
  /** `--cache-max-size`: bytes of blobs kept. */
  maxBytes?: number
  /** `--cache-max-age`: what nobody pulled for this long goes. */
  maxAgeMs?: number
  /** A manifest served this recently is in use (default IN_USE_MS); tests that pull back to back shorten it. */
  inUseMs?: number
}

const SWEEP_INTERVAL_MS = 60_000
/**
 * How long after it was served a manifest counts as in use by the pull that asked for it. A client asks
 * for the manifest, then for its blobs one by one, and a manifest dropped in between fails that pull: its
 * next blob is in no manifest of the repository, so 404 BLOB_UNKNOWN (sweep M3). Keeping it (rather than
 * still fetching blobs of a manifest just dropped) costs the limit a few minutes' pulls, where fetching
 * would cost upstream every blob of every pull that lost the race, each evicted again at the next sweep.
 * Five minutes covers the gaps between blob requests of a pull; a pull that takes longer is covered by
 * its blob requests in flight (see inUse).
 */
const IN_USE_MS = 5 * 60_000

interface StoredBlob {
  digest: string
  size: number
  pulled: number
}

/**
 * Keeps the cache within --cache-max-size and --cache-max-age, least recently pulled first. A blob goes
 * only once no cached manifest references it (distribution#2367: a proxy that expires layers under a
 * cached manifest serves images it can no longer deliver) and while no client is reading it; a manifest
 * goes with every tag that maps to it, and so releases what it referenced, but never while in use.
 */
export class Eviction {
  private readonly readers = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private sweeping: Promise<void> | undefined
  private sinceSweep = 0

  constructor(
    private readonly layout: OciLayout,
    private readonly state: CacheState,
    private readonly limits: EvictionLimits,
    private readonly logger: Logger,
    /** Where evictions are counted. */
    private readonly stats: CacheStats,
  ) {}

  private get enabled(): boolean {
    return this.limits.maxBytes !== undefined || this.limits.maxAgeMs !== undefined
  }

  start(): void {
    if (!this.enabled) return
    this.timer = setInterval(() => void this.sweep(), SWEEP_INTERVAL_MS)
    this.timer.unref()
    void this.sweep()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** A client asked for `digest` (it may still be downloading); call the result when it is done. */
  reading(digest: string): () => void {
    this.readers.set(digest, (this.readers.get(digest) ?? 0) + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      const n = (this.readers.get(digest) ?? 1) - 1
      if (n === 0) this.readers.delete(digest)
      else this.readers.set(digest, n)
    }
  }

  /** A blob of `size` bytes entered the store: over the size limit, a sweep runs. */
  added(size: number): void {
    this.sinceSweep += size
    if (this.limits.maxBytes !== undefined && this.sinceSweep > 0) void this.sweep()
  }

  /** One pass; concurrent calls share the running one. */
  sweep(now = Date.now()): Promise<void> {
    this.sweeping ??= this.evict(now)
      .catch((err) => this.logger.warn(`cache eviction failed: ${(err as Error).message}`))
      .finally(() => {
        this.sweeping = undefined
      })
    return this.sweeping
  }

  private async evict(now: number): Promise<void> {
    if (!this.enabled) return
    this.sinceSweep = 0
    const { maxBytes, maxAgeMs } = this.limits
    const blobs = await this.storedBlobs()
    const old = (pulled: number) => maxAgeMs !== undefined && now - pulled > maxAgeMs
    // Manifests past the age limit go first, with their tags.
    for (const digest of this.state.manifestDigests()) {
      const pulled = this.state.pulledAt(digest) ?? 0
      if (old(pulled) && !this.inUse(digest, now)) this.state.dropManifest(digest)
    }
    let total = blobs.reduce((n, b) => n + b.size, 0)
    const byAge = [...blobs].sort((a, b) => a.pulled - b.pulled)
    const removed = new Set<string>()
    const remove = async (b: StoredBlob) => {
      await rm(this.layout.blobPath(b.digest as never), { force: true })
      this.state.dropBlob(b.digest)
      removed.add(b.digest)
      total -= b.size
      this.stats.evictions++
      this.stats.evictedBytes += b.size
      this.logger.debug(`cache: evicted ${b.digest} (${b.size} bytes)`)
    }
    for (;;) {
      const needed = this.referenced()
      const free = byAge.filter(
        (b) => !removed.has(b.digest) && !needed.has(b.digest) && !this.readers.has(b.digest),
      )
      for (const b of free) {
        if (old(b.pulled) || (maxBytes !== undefined && total > maxBytes)) await remove(b)
      }
      if (maxBytes === undefined || total <= maxBytes) return
      // Still too big: give up the least recently pulled manifest and look again.
      const roots = this.state
        .manifestDigests()
        .filter((d) => !this.inUse(d, now))
        .sort((a, b) => (this.state.pulledAt(a) ?? 0) - (this.state.pulledAt(b) ?? 0))
      if (roots.length === 0) {
        this.logger.warn(`cache holds ${total} bytes, over --cache-max-size, but all of it is in use`)
        return
      }
      this.state.dropManifest(roots[0]!)
    }
  }

  /**
   * A pull is (probably) still fetching what this manifest lists: it was served within the last
   * IN_USE_MS, or a client is reading it or one of its blobs right now.
   */
  private inUse(digest: string, now: number): boolean {
    if (this.readers.has(digest)) return true
    if (now - (this.state.pulledAt(digest) ?? 0) < (this.limits.inUseMs ?? IN_USE_MS)) return true
    const m = this.state.manifest(digest)
    return m !== undefined && Object.keys(m.blobs).some((b) => this.readers.has(b))
  }

  /** Every digest a cached manifest needs: itself, its child manifests, its config and layers. */
  private referenced(): Set<string> {
    const needed = new Set<string>()
    for (const digest of this.state.manifestDigests()) {
      const m = this.state.manifest(digest)!
      needed.add(digest)
      for (const child of m.manifests) needed.add(child)
      for (const blob of Object.keys(m.blobs)) needed.add(blob)
    }
    return needed
  }

  private async storedBlobs(): Promise<StoredBlob[]> {
    const out: StoredBlob[] = []
    const root = join(this.layout.dir, BLOBS_DIR)
    for (const algorithm of await readdir(root).catch(() => [] as string[])) {
      for (const hex of await readdir(join(root, algorithm)).catch(() => [] as string[])) {
        const digest = `${algorithm}:${hex}`
        const st = await stat(join(root, algorithm, hex)).catch(() => undefined)
        if (!st?.isFile()) continue
        out.push({ digest, size: st.size, pulled: this.state.pulledAt(digest) ?? st.mtimeMs })
      }
    }
    return out
  }
}
