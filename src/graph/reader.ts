import { resolveIfPresent } from '../content/present.js'
import type { OperationOptions, ReadOnlyTarget } from '../content/target.js'
import type { Digest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'
import { Limiter } from '../util/limit.js'

export const DEFAULT_GRAPH_CONCURRENCY = 8

export interface GraphReaderOptions extends OperationOptions {
  /** Requests in flight at once for this walk. Default 8. */
  concurrency?: number
}

/**
 * A target's manifests, referrer lists and attachment tags as one walk sees them: each read once
 * (cached by digest, or by tag for the walk's lifetime), with a bounded number in flight. Every graph
 * walk (copy, sync, verify, bundles, retention) reads through one of these, so a manifest reached two
 * ways (an index child that is also tagged, a signature on two subjects) costs one request.
 */
export class GraphReader {
  private readonly manifests = new Map<string, Promise<Manifest>>()
  private readonly lists = new Map<string, Promise<Descriptor[]>>()
  private readonly tags = new Map<string, Promise<Descriptor | undefined>>()
  private readonly limit: Limiter
  private listed: Set<string> | undefined
  readonly signal: AbortSignal | undefined

  constructor(
    readonly target: ReadOnlyTarget,
    opts: GraphReaderOptions = {},
  ) {
    this.limit = new Limiter(opts.concurrency ?? DEFAULT_GRAPH_CONCURRENCY)
    this.signal = opts.signal
  }

  get name(): string {
    return this.target.name
  }

  /** A manifest by digest (or, once per walk, by tag). */
  manifest(reference: string): Promise<Manifest> {
    return this.once(this.manifests, reference, () =>
      this.target.fetchManifest(reference, { signal: this.signal }),
    )
  }

  /** Seeds the cache with a manifest the caller already holds (the root it fetched by tag). */
  know(m: Manifest): void {
    if (!this.manifests.has(m.digest)) this.manifests.set(m.digest, Promise.resolve(m))
  }

  /**
   * The target's whole tag list, when the walker has just read it: a tag outside it is then known to be
   * absent without a HEAD (cosign's three `sha256-HEX.sig|att|sbom` tags per manifest, mostly absent).
   */
  knowTags(tags: Iterable<string>): void {
    this.listed = new Set(tags)
  }

  referrers(subject: Digest): Promise<Descriptor[]> {
    return this.once(this.lists, subject, () => this.target.referrers(subject, { signal: this.signal }))
  }

  /** A tag's descriptor (HEAD on a registry), undefined when absent. */
  tag(tag: string): Promise<Descriptor | undefined> {
    if (this.listed && !this.listed.has(tag)) return Promise.resolve(undefined)
    return this.once(this.tags, tag, () => resolveIfPresent(this.target, tag, { signal: this.signal }))
  }

  private once<T>(cache: Map<string, Promise<T>>, key: string, read: () => Promise<T>): Promise<T> {
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
