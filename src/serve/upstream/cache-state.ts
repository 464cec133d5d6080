import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { z } from 'zod'
import type { Logger } from '../../log.js'

const tagSchema = z.object({
  digest: z.string(),
  mediaType: z.string(),
  size: z.number(),
  /** When upstream last confirmed (or gave) this mapping, ms since the epoch. */
  checkedAt: z.number(),
})
const manifestSchema = z.object({
  mediaType: z.string(),
  /** Blob digests (config, layers) and child manifests the manifest references, with their sizes. */
  blobs: z.record(z.string(), z.number()),
  manifests: z.array(z.string()),
  /**
   * The upstream repositories (`UPSTREAM/NAME`) upstream served or confirmed this manifest through. Only
   * their pulls take blob sizes from it: a manifest anyone can push to some repository must not decide
   * what another repository's layer is (sweep H2). Records written before this field have none.
   */
  repositories: z.array(z.string()).default([]),
})
const stateSchema = z.object({
  version: z.literal(1),
  /** By `UPSTREAM/REPOSITORY:TAG`, which is also the tag's ref.name in ROOT/index.json (cache-index.ts). */
  tags: z.record(z.string(), tagSchema),
  manifests: z.record(z.string(), manifestSchema),
  /** Last pull of each cached digest (manifest or blob), ms since the epoch: what eviction orders by. */
  pulled: z.record(z.string(), z.number()),
})

export type CachedTag = z.infer<typeof tagSchema>
export type CachedManifest = z.infer<typeof manifestSchema>
type State = z.infer<typeof stateSchema>

export const STATE_FILE = 'ferry-cache.json'
const SAVE_DELAY_MS = 1000

/**
 * What the cache knows beyond the layout's blobs: tag → digest mappings with the time upstream last
 * confirmed them, what each cached manifest references, and when each digest was last pulled. Kept in
 * memory, written to ROOT/ferry-cache.json (by rename) at most once a second and at close.
 */
export class CacheState {
  private timer: NodeJS.Timeout | undefined
  private saving: Promise<void> = Promise.resolve()
  private readonly tagListeners: (() => void)[] = []

  private constructor(
    private readonly file: string,
    private readonly state: State,
    private readonly logger: Logger,
  ) {}

  static async open(root: string, logger: Logger): Promise<CacheState> {
    const file = join(root, STATE_FILE)
    let state: State = { version: 1, tags: {}, manifests: {}, pulled: {} }
    try {
      const parsed = stateSchema.safeParse(JSON.parse(await readFile(file, 'utf8')))
      if (parsed.success) state = parsed.data
      else logger.warn(`${file}: not a cache state file; starting with an empty cache record`)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        logger.warn(`${file}: unreadable (${(err as Error).message}); starting with an empty cache record`)
      }
    }
    const cache = new CacheState(file, state, logger)
    // A tag mapping is upstream's word that its repository holds the manifest: records written before
    // `repositories` existed get theirs from the tags that map to them.
    for (const [key, tag] of Object.entries(state.tags)) {
      cache.confirm(tag.digest, key.slice(0, key.lastIndexOf(':')))
    }
    return cache
  }

  tag(key: string): CachedTag | undefined {
    return this.state.tags[key]
  }

  setTag(key: string, tag: CachedTag): void {
    const before = this.state.tags[key]
    this.state.tags[key] = tag
    this.changed()
    // A revalidation that only confirms the mapping changes nothing a listener shows.
    if (before?.digest !== tag.digest || before.mediaType !== tag.mediaType || before.size !== tag.size) {
      this.tagsChanged()
    }
  }

  /** Calls `listener` whenever a tag is added, moves to another manifest, or goes. */
  onTagsChanged(listener: () => void): void {
    this.tagListeners.push(listener)
  }

  private tagsChanged(): void {
    for (const listener of this.tagListeners) listener()
  }

  manifest(digest: string): CachedManifest | undefined {
    return this.state.manifests[digest]
  }

  /** Records a manifest `repository` served; the repositories it was served through before stay. */
  setManifest(digest: string, m: Omit<CachedManifest, 'repositories'>, repository: string): void {
    const before = this.state.manifests[digest]?.repositories ?? []
    this.state.manifests[digest] = { ...m, repositories: [...new Set([...before, repository])] }
    this.changed()
  }

  /** Upstream confirmed that `repository` holds the cached manifest `digest`. */
  confirm(digest: string, repository: string): void {
    const m = this.state.manifests[digest]
    if (!m || m.repositories.includes(repository)) return
    m.repositories.push(repository)
    this.changed()
  }

  /** Whether `digest` is one of `repository`'s cached manifests (see manifestsOf). */
  holds(repository: string, digest: string): boolean {
    return this.manifestsOf(repository).has(digest)
  }

  /**
   * Size of a blob that one of `repository`'s cached manifests references; undefined when none does.
   * Two of them giving one digest two sizes is that repository's own problem: the first found wins.
   */
  blobSize(digest: string, repository: string): number | undefined {
    for (const d of this.manifestsOf(repository)) {
      const size = this.state.manifests[d]!.blobs[digest]
      if (size !== undefined) return size
    }
    return undefined
  }

  /** The cached tags of `repository` (`UPSTREAM/NAME`) with the digests they map to. */
  tagsOf(repository: string): { tag: string; digest: string }[] {
    const prefix = `${repository}:`
    return Object.entries(this.state.tags)
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, t]) => ({ tag: key.slice(prefix.length), digest: t.digest }))
  }

  /** The cached indexes of `repository` that list `digest`, directly or through an index they list. */
  indexesHolding(repository: string, digest: string): string[] {
    const mine = [...this.manifestsOf(repository)]
    const holding = new Set<string>()
    const wanted = new Set([digest])
    let grew = true
    while (grew) {
      grew = false
      for (const d of mine) {
        if (holding.has(d) || !this.state.manifests[d]!.manifests.some((c) => wanted.has(c))) continue
        holding.add(d)
        wanted.add(d)
        grew = true
      }
    }
    return [...holding]
  }

  /**
   * The cached manifests upstream served or confirmed through `repository`, and every cached manifest
   * they reference: the children an index in a repository names are in that repository too.
   */
  private manifestsOf(repository: string): Set<string> {
    const found = new Set<string>()
    const pending = Object.entries(this.state.manifests)
      .filter(([, m]) => m.repositories.includes(repository))
      .map(([d]) => d)
    for (let d = pending.pop(); d !== undefined; d = pending.pop()) {
      const m = this.state.manifests[d]
      if (!m || found.has(d)) continue
      found.add(d)
      pending.push(...m.manifests)
    }
    return found
  }

  touch(digest: string, now = Date.now()): void {
    this.state.pulled[digest] = now
    this.changed()
  }

  pulledAt(digest: string): number | undefined {
    return this.state.pulled[digest]
  }

  tagKeys(): string[] {
    return Object.keys(this.state.tags)
  }

  /** Every tag mapping, by key. */
  tags(): [string, CachedTag][] {
    return Object.entries(this.state.tags)
  }

  manifestDigests(): string[] {
    return Object.keys(this.state.manifests)
  }

  /**
   * Forgets a manifest, and every tag that maps to it. Its pull time stays: the manifest's own file is
   * a blob like any other, and eviction removes it by that time (dropBlob), not by the file's mtime.
   */
  dropManifest(digest: string): void {
    delete this.state.manifests[digest]
    let tagged = false
    for (const [key, tag] of Object.entries(this.state.tags)) {
      if (tag.digest !== digest) continue
      delete this.state.tags[key]
      tagged = true
    }
    this.changed()
    if (tagged) this.tagsChanged()
  }

  dropBlob(digest: string): void {
    delete this.state.pulled[digest]
    this.changed()
  }

  private changed(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined
      void this.save()
    }, SAVE_DELAY_MS)
    this.timer.unref()
  }

  private save(): Promise<void> {
    this.saving = this.saving.then(async () => {
      const temp = `${this.file}.tmp`
      try {
        await writeFile(temp, `${JSON.stringify(this.state)}\n`)
        await rename(temp, this.file)
      } catch (err) {
        this.logger.warn(`${this.file}: cannot save the cache record: ${(err as Error).message}`)
      }
    })
    return this.saving
  }

  async close(): Promise<void> {
    clearTimeout(this.timer)
    this.timer = undefined
    await this.save()
  }
}
