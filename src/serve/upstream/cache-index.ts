import type { OciLayout } from '../../layout/index.js'
import { REF_NAME_ANNOTATION } from '../../layout/naming.js'
import type { Logger } from '../../log.js'
import type { Digest } from '../../oci/digest.js'
import type { Descriptor } from '../../oci/schemas.js'
import type { CachedTag, CacheState } from './cache-state.js'

/**
 * index.json entries for the cached tags: one per tag, named by its cache key `UPSTREAM/REPOSITORY:TAG`
 * (`127.0.0.1:5000/team/app:1.0`, `docker.io/library/nginx:1.27`), which is the ref.name of tag TAG in
 * repository view `UPSTREAM/REPOSITORY` (src/layout/naming.ts). Sorted, so the same cache gives the
 * same file.
 */
export function cachedTagEntries(tags: readonly [string, CachedTag][]): Descriptor[] {
  return [...tags]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, t]) => ({
      mediaType: t.mediaType,
      // Recorded from manifests upstream served, each checked against its digest.
      digest: t.digest as Digest,
      size: t.size,
      annotations: { [REF_NAME_ANNOTATION]: key },
    }))
}

const sameEntries = (a: readonly Descriptor[], b: readonly Descriptor[]) =>
  JSON.stringify(a) === JSON.stringify(b)

/**
 * Keeps the mirror root's index.json listing what the cache holds by tag, so that the root is an OCI
 * layout other tools read as it is: `skopeo inspect oci:ROOT:UPSTREAM/REPOSITORY:TAG`, `umoci ls`. The
 * cache record (ferry-cache.json) is the truth and the mirror owns its root: index.json is rewritten
 * from the record whenever a tag is cached, moved by a revalidation or evicted, and once at start (a
 * root written by an older ferry, or a crash between the two files, catches up). Each write goes
 * through the layout's locked update (temp file, then rename), one at a time; changes that arrive
 * during a write are folded into one more.
 */
export class CacheIndex {
  private dirty = false
  private running: Promise<void> | undefined

  constructor(
    private readonly layout: OciLayout,
    private readonly state: CacheState,
    private readonly logger: Logger,
  ) {
    state.onTagsChanged(() => this.changed())
  }

  /** index.json should follow the record; written in the background (close() waits for it). */
  changed(): void {
    this.dirty = true
    this.running ??= this.drain()
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false
        await this.write()
      }
    } finally {
      this.running = undefined
    }
  }

  private async write(): Promise<void> {
    const manifests = cachedTagEntries(this.state.tags())
    try {
      await this.layout.updateIndex((index) =>
        sameEntries(index.manifests, manifests) ? undefined : { ...index, manifests },
      )
    } catch (err) {
      // The cache serves on: index.json is for other tools, and the next change writes it again.
      this.logger.warn(
        `${this.layout.dir}: cannot list the cached tags in index.json: ${(err as Error).message}`,
      )
    }
  }

  async close(): Promise<void> {
    await this.running
  }
}
