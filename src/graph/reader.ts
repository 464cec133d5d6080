import { fetchManifestIfPresent, resolveIfPresent } from '../content/present.js'
import type { OperationOptions, ReadOnlyTarget } from '../content/target.js'
import { descriptorOf } from '../oci/descriptor.js'
import { type Digest, isDigestReference } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'
import { referrersTag } from '../reference/grammar.js'
import { Limiter } from '../util/limit.js'
import { ListedAttachments } from './listed-attachments.js'

export const DEFAULT_GRAPH_CONCURRENCY = 8

export interface GraphReaderOptions extends OperationOptions {
  /** Requests in flight at once for this walk. Default 8. */
  concurrency?: number
  /** Manifests by digest kept beyond this walk (default: this walk's own, dropped with the reader). */
  cache?: ManifestCache
}

/** Where reads are remembered: a Map, or a ManifestCache shared between walks. */
interface ReadCache<T> {
  get(key: string): Promise<T> | undefined
  set(key: string, value: Promise<T>): void
  delete(key: string): void
}

/**
 * Manifests by digest kept across walks, for a caller that walks the same content again and again (a
 * server walking a repository each time its tags change). A digest fixes the bytes, so an entry never
 * goes stale; at `max` entries it starts over rather than grow without bound.
 */
export class ManifestCache implements ReadCache<Manifest> {
  private readonly entries = new Map<string, Promise<Manifest>>()

  constructor(readonly max: number) {}

  get(digest: string): Promise<Manifest> | undefined {
    return this.entries.get(digest)
  }

  set(digest: string, manifest: Promise<Manifest>): void {
    if (this.entries.size >= this.max) this.entries.clear()
    this.entries.set(digest, manifest)
  }

  delete(digest: string): void {
    this.entries.delete(digest)
  }
}

/**
 * A target's manifests, referrer lists, attachment tags and blob presence as one walk sees them: each
 * read once (cached by digest, or by tag for the walk's lifetime), with a bounded number in flight. Every
 * graph walk (copy, sync, verify, bundles, retention, serve, referrers) reads through one of these, so a
 * manifest reached two ways (an index child that is also tagged, a signature on two subjects) costs one
 * request.
 */
export class GraphReader {
  private readonly manifests: ReadCache<Manifest>
  private readonly tagged = new Map<string, Promise<Manifest>>()
  private readonly lists = new Map<string, Promise<Descriptor[]>>()
  private readonly tags = new Map<string, Promise<Descriptor | undefined>>()
  private readonly byTag = new Map<string, Promise<Manifest | undefined>>()
  private readonly blobs = new Map<string, Promise<boolean>>()
  private readonly limit: Limiter
  private listed: ListedAttachments | undefined
  readonly signal: AbortSignal | undefined

  constructor(
    readonly target: ReadOnlyTarget,
    opts: GraphReaderOptions = {},
  ) {
    this.limit = new Limiter(opts.concurrency ?? DEFAULT_GRAPH_CONCURRENCY)
    this.signal = opts.signal
    this.manifests = opts.cache ?? new Map()
  }

  get name(): string {
    return this.target.name
  }

  /** A manifest by digest (or, once per walk, by tag). */
  manifest(reference: string): Promise<Manifest> {
    return this.once(isDigestReference(reference) ? this.manifests : this.tagged, reference, () =>
      this.target.fetchManifest(reference, { signal: this.signal }),
    )
  }

  /** Seeds the cache with a manifest the caller already holds (the root it fetched by tag). */
  know(m: Manifest): void {
    if (!this.manifests.get(m.digest)) this.manifests.set(m.digest, Promise.resolve(m))
  }

  /**
   * The target's whole tag list, when the walker has read it: an attachment tag outside it is then known
   * to be absent without a request (cosign's three `sha256-HEX.sig|att|sbom` tags per manifest and the
   * `sha256-HEX` tag-schema index, mostly absent).
   */
  knowTags(tags: Iterable<string> | ListedAttachments): void {
    this.listed = tags instanceof ListedAttachments ? tags : new ListedAttachments(tags)
  }

  /**
   * Where the target keeps referrers in the tag schema, a subject whose `sha256-HEX` index the listing
   * lacks has none; the referrers API, where there is one, is always asked.
   */
  referrers(subject: Digest): Promise<Descriptor[]> {
    return this.once(this.lists, subject, async () => {
      const opts = { signal: this.signal }
      if (
        this.listed?.absent(referrersTag(subject)) &&
        (await this.target.referrersListing(opts)) === 'tag-schema'
      )
        return []
      return this.target.referrers(subject, opts)
    })
  }

  /**
   * The manifest a tag names, by one GET (no HEAD first), or undefined when the tag is absent: for a
   * walker that needs every tag's bytes anyway (retention reads each to judge and to reach). The digest
   * and the tag's descriptor are remembered, so neither is asked for again.
   */
  taggedManifest(tag: string): Promise<Manifest | undefined> {
    if (this.listed?.absent(tag)) return Promise.resolve(undefined)
    const read = this.once(this.byTag, tag, async () => {
      const m = await fetchManifestIfPresent(this.target, tag, { signal: this.signal })
      if (m) this.know(m)
      return m
    })
    if (!this.tags.has(tag))
      this.tags.set(
        tag,
        read.then((m) => m && descriptorOf(m)),
      )
    return read
  }

  /** A tag's descriptor (HEAD on a registry), undefined when absent. */
  tag(tag: string): Promise<Descriptor | undefined> {
    if (this.listed?.absent(tag)) return Promise.resolve(undefined)
    return this.once(this.tags, tag, () => resolveIfPresent(this.target, tag, { signal: this.signal }))
  }

  /** Whether the target holds the blob at the size `desc` says (HEAD on a registry). */
  hasBlob(desc: Descriptor): Promise<boolean> {
    return this.once(this.blobs, `${desc.digest}:${desc.size}`, () =>
      this.target.hasBlob(desc, { signal: this.signal }),
    )
  }

  private once<T>(cache: ReadCache<T>, key: string, read: () => Promise<T>): Promise<T> {
    let p = cache.get(key)
    if (!p) {
      p = this.limit.run(read)
      // A failed read is not remembered: the next caller asks again.
      p.catch(() => cache.delete(key))
      cache.set(key, p)
    }
    return p
  }
}

/** The reader a walk uses: the caller's (shared cache) or a fresh one over a bare target. */
export const readerOf = (source: ReadOnlyTarget | GraphReader): GraphReader =>
  source instanceof GraphReader ? source : new GraphReader(source)
