import { GraphReader, ManifestCache, type Successors, walkGraph } from '../graph/index.js'
import type { Digest } from '../oci/digest.js'
import { childrenOf, type Manifest } from '../oci/manifest.js'
import { isIndexMediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import type { ContentStore } from './store.js'

/** Everything one repository holds through its manifests, for one state of its index.json entries. */
type Closure = { key: string; manifests: Set<string>; blobs: Set<string> }

// Manifests kept between walks (a push changes the entries, and the next request walks again). A parsed
// manifest costs about 3 KB, so this holds the graphs of large layouts in some 60 MB.
const MANIFESTS_KEPT = 20_000
// Manifests read at once while walking a repository: enough to hide latency, few enough file handles.
const READ_CONCURRENCY = 16
// A missing or unreadable manifest links nothing; reading it directly reports the problem.
const ignore = () => {}

/**
 * Which repositories exist, and which manifests and blobs belong to each (distribution-spec: a blob or
 * manifest is only served through a repository that holds it). A repository holds its index.json
 * entries, the manifests its indexes list (skopeo writes only the top index of a multi-arch image as an
 * entry; its children are bare blobs), every blob those manifests use, and, while this server runs, the
 * blobs uploaded or mounted into it and those its deleted manifests used. A manifest deleted by digest
 * stays deleted even while an index still lists it, until it is pushed again. The walk of a repository
 * is cached until its entries change (a push, a delete, or another process editing index.json), so a
 * pull costs one index.json read per request.
 *
 * A repository exists while index.json has an entry of it, or while blobs are linked to it by this
 * server: an upload or mount into it finished, or a manifest of it was deleted (its blobs stay linked,
 * as distribution keeps a repository's layer links until garbage collection). So a repository whose
 * last manifest is deleted still lists its tags (none) and serves its blobs, as the conformance suite
 * asks, while a name nothing was ever pushed to is NAME_UNKNOWN. The layout itself records no link
 * between a repository and a blob: after a restart, a repository with no index.json entry is unknown
 * again, as its unreferenced blobs already were.
 */
export class Membership {
  private readonly manifests = new ManifestCache(MANIFESTS_KEPT)
  private readonly closures = new Map<string, Closure>()
  /**
   * Blobs linked to a repository that no manifest of it may use: uploaded or mounted into it, or used by
   * its manifests before a delete. A repository with a set here exists, even when the set is empty.
   */
  private readonly added = new Map<string, Set<string>>()
  /** Manifests deleted by digest that an index of the repository still lists. */
  private readonly deleted = new Map<string, Set<string>>()
  private readonly walks = new Map<string, Promise<Closure>>()
  private version = 0
  /**
   * With a garbage collector in this server: when a client was last told each digest is here (a blob or
   * manifest found, an upload or mount finished). Its next manifest may name it without pushing it
   * again, so the collector keeps it for its grace period (serve/gc.ts).
   */
  private readonly told: Map<string, number> | undefined

  constructor(
    private readonly store: ContentStore,
    opts: { trackFound?: boolean } = {},
  ) {
    this.told = opts.trackFound ? new Map() : undefined
  }

  async hasManifest(name: string, digest: Digest): Promise<boolean> {
    const entries = await this.store.entriesOf(name)
    const held =
      entries.some((e) => e.digest === digest) || (await this.closure(name, entries)).manifests.has(digest)
    if (held) this.tell(digest)
    return held
  }

  async hasBlob(name: string, digest: Digest): Promise<boolean> {
    const added = this.added.get(name)
    const closure = await this.closure(name, await this.store.entriesOf(name))
    // Clients fetch configs (and some fetch manifests) through the blob endpoint.
    const held = closure.blobs.has(digest) || closure.manifests.has(digest)
    // Once a manifest uses an uploaded blob, the walk vouches for it and the record can go.
    if (held) added?.delete(digest)
    const found = held || (added?.has(digest) ?? false)
    if (found) this.tell(digest)
    return found
  }

  /** Whether a client was told `digest` is here at or after `since` (ms since the epoch). */
  toldSince(digest: string, since: number): boolean {
    return (this.told?.get(digest) ?? Number.NEGATIVE_INFINITY) >= since
  }

  /**
   * A collection deleted these files: no repository holds them any longer. What clients were told before
   * `since` no longer protects anything and is forgotten.
   */
  collected(digests: Iterable<string>, since: number): void {
    for (const d of digests) for (const set of this.added.values()) set.delete(d)
    if (this.told) for (const [d, at] of this.told) if (at < since) this.told.delete(d)
  }

  private tell(digest: string): void {
    this.told?.set(digest, Date.now())
  }

  /**
   * The indexes of `name` that list `digest`, directly or through an index they list: the entries that
   * hold it, and the manifests naming it as a child. Deleted manifests are left out as the walk leaves
   * them out.
   */
  async indexesHolding(name: string, digest: Digest): Promise<Digest[]> {
    const found = new Set<string>()
    for (const entry of await this.store.entriesOf(name)) {
      if (entry.digest === digest || !isIndexMediaType(entry.mediaType)) continue
      const successors = this.successorsIn(name)
      const { manifests } = await walkGraph(this.reader(name), entry, { successors, onMissing: ignore })
      const parents = manifests.filter((m) => successors(m).manifests.some((d) => d.digest === digest))
      if (parents.length > 0) found.add(entry.digest)
      for (const p of parents) found.add(p.digest)
    }
    return [...found] as Digest[]
  }

  /** Every repository that exists (see the class comment), sorted. */
  async repositories(): Promise<string[]> {
    const names = new Set([...(await this.store.repositories()), ...this.added.keys()])
    return [...names].sort()
  }

  async exists(name: string): Promise<boolean> {
    return this.added.has(name) || (await this.store.repositories()).includes(name)
  }

  /** The blobs `name`'s manifests use now: what a delete from it passes to `linkBlobs` once done. */
  async blobsHeld(name: string): Promise<ReadonlySet<string>> {
    return (await this.closure(name, await this.store.entriesOf(name))).blobs
  }

  /**
   * A delete from `name` succeeded: the blobs its manifests used before stay linked to it, so deleting
   * a manifest (even the last) leaves them where the repository's clients can still reach them.
   */
  linkBlobs(name: string, blobs: ReadonlySet<string>): void {
    const set = this.added.get(name) ?? new Set()
    for (const b of blobs) set.add(b)
    this.added.set(name, set)
  }

  /** An upload into, or a mount into, `name` finished. */
  addBlob(name: string, digest: Digest): void {
    const set = this.added.get(name) ?? new Set()
    set.add(digest)
    this.added.set(name, set)
    this.tell(digest)
  }

  /** `name` dropped the manifest: reaching it through an index of `name` no longer counts. */
  deleteManifest(name: string, digest: Digest): void {
    const set = this.deleted.get(name) ?? new Set()
    set.add(digest)
    this.deleted.set(name, set)
    this.version++
  }

  /** The manifest was pushed to `name` again. */
  pushManifest(name: string, digest: Digest): void {
    if (this.deleted.get(name)?.delete(digest)) this.version++
  }

  private closure(name: string, entries: readonly Descriptor[]): Promise<Closure> {
    // The version makes a walk that started before a delete useless to requests after it.
    const key = `${this.version}:${entries.map((e) => e.digest).join(',')}`
    const cached = this.closures.get(name)
    if (cached?.key === key) return Promise.resolve(cached)
    // Requests that miss together (the children of one index push) share one walk.
    const id = `${name}\0${key}`
    let walk = this.walks.get(id)
    if (!walk) {
      walk = this.walk(name, key, entries).finally(() => this.walks.delete(id))
      this.walks.set(id, walk)
    }
    return walk
  }

  private async walk(name: string, key: string, entries: readonly Descriptor[]): Promise<Closure> {
    // Entries count even when deleted before (they were pushed or written again since), and so does a
    // manifest an index names that cannot be read: it is held here, reading it reports the problem.
    const manifests = new Set(entries.map((e) => e.digest))
    const graph = await walkGraph(this.reader(name), entries, {
      successors: this.successorsIn(name),
      onMissing: (desc, _from, { kind }) => {
        if (kind === 'manifest') manifests.add(desc.digest)
      },
      // Foreign layers too: a client asking for one through this repository is asking what it holds.
      includeNondistributable: true,
    })
    for (const m of graph.manifests) manifests.add(m.digest)
    const closure = { key, manifests, blobs: new Set(graph.blobs.keys()) }
    this.closures.set(name, closure)
    return closure
  }

  /** A reader for one walk of `name`, over the manifests kept from earlier walks. */
  private reader(name: string): GraphReader {
    return new GraphReader(this.store.target(name), { concurrency: READ_CONCURRENCY, cache: this.manifests })
  }

  /** What a manifest of `name` links: its children and blobs, less the manifests deleted from `name`. */
  private successorsIn(name: string): (m: Manifest) => Successors {
    const deleted = this.deleted.get(name) ?? new Set<string>()
    return (m) => {
      const { manifests, blobs } = childrenOf(m)
      return { manifests: manifests.filter((d) => !deleted.has(d.digest)), blobs }
    }
  }
}
