import type { ReadOnlyTarget } from '../content/target.js'
import { FerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { childrenOf, type Manifest } from '../oci/manifest.js'
import { NONDISTRIBUTABLE_MEDIA_TYPES } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { type GraphReader, readerOf } from './reader.js'

/** Everything one image (or index) is made of, in the order it must be written. */
export interface ImageGraph {
  /** Manifests children first, each root last: pushing in this order never exposes a dangling reference. */
  manifests: Manifest[]
  /** Distinct blobs (configs and layers) by digest. */
  blobs: Map<string, Descriptor>
  /** Foreign layers left as references (not copied unless asked). */
  foreign: Descriptor[]
}

/** What a manifest points at: manifests to walk into, blobs to collect. */
export interface Successors {
  manifests: Descriptor[]
  blobs: Descriptor[]
}

/** Why `onMissing` was called: a manifest that could not be read, or (with `checkBlobs`) an absent blob. */
export interface Missing {
  kind: 'manifest' | 'blob'
  /** The read's failure (NOT_FOUND, SIZE_INVALID, DIGEST_MISMATCH, MANIFEST_INVALID, …). */
  error: unknown
}

/**
 * Something the graph names that the source cannot give: a manifest that is absent, is not the size
 * `from` declares, or does not parse; with `checkBlobs`, a blob the source does not hold at that size.
 * `from` is the digest of the manifest (or, for what is attached, the subject) that names it; undefined
 * for a root. Return to go on without it; throw (`missing.error`, or your own) to stop the walk.
 */
export type OnMissing = (desc: Descriptor, from: Digest | undefined, missing: Missing) => void

/** The hooks and switches of a walk (as oras-go's CopyGraphOptions), each with its default. */
export interface WalkOptions {
  /** Collect foreign (non-distributable) layers as blobs too. Default: left in `foreign`. */
  includeNondistributable?: boolean
  /**
   * What to follow from a manifest. Default `childrenOf`: an index's children, an image's config and
   * layers; never `subject`, so a walk goes down from an image, not up to what it is attached to. A
   * filter of the default skips part of the graph (a server leaves out manifests deleted by digest).
   */
  successors?: (m: Manifest) => Successors
  /** Default: the read's error is thrown. */
  onMissing?: OnMissing
  /**
   * Ask the source for every blob a manifest names (cached per walk), and report those it lacks (or
   * holds at another size) to `onMissing`. Default false: a copy reads the blobs later anyway.
   */
  checkBlobs?: boolean
}

/** A root: a manifest the caller holds, or a descriptor to read it by (size checked, missing reported). */
export type Root = Manifest | Descriptor

const isManifest = (root: Root): root is Manifest => 'bytes' in root

/**
 * Walks down from `roots` (one, or several sharing one visit of each manifest): every manifest they
 * reach and the blobs those name. Child manifests are read concurrently through `source`'s reader and
 * visited in order, so the result (and every report to `onMissing`) comes in the same order each run.
 * Several roots are walked one at a time, each once the one before is done; an array's are all read at
 * once first (a server walking thousands of index.json entries), an iterator's only as it is advanced.
 */
export async function walkGraph(
  source: ReadOnlyTarget | GraphReader,
  roots: Root | Iterable<Root>,
  opts: WalkOptions = {},
): Promise<ImageGraph> {
  const walk = new Walk(readerOf(source), opts)
  const all = Symbol.iterator in roots ? roots : [roots]
  const reads = Array.isArray(all)
    ? all.map((root) => (isManifest(root) ? undefined : walk.read(root, undefined)))
    : []
  let i = 0
  for (const root of all) {
    const read = reads[i++]
    if (isManifest(root)) {
      walk.reader.know(root)
      if (!walk.seen.has(root.digest)) await walk.visit(root)
    } else await walk.enter(root, undefined, read ?? walk.read(root, undefined))
  }
  return walk.graph
}

type Read = { manifest: Manifest } | { error: unknown }

class Walk {
  readonly graph: ImageGraph = { manifests: [], blobs: new Map(), foreign: [] }
  readonly seen = new Set<string>()
  private readonly successors: (m: Manifest) => Successors
  private readonly onMissing: OnMissing

  constructor(
    readonly reader: GraphReader,
    private readonly opts: WalkOptions,
  ) {
    this.successors = opts.successors ?? childrenOf
    this.onMissing =
      opts.onMissing ??
      ((_desc, _from, { error }) => {
        throw error
      })
  }

  /** Reads a manifest a descriptor names, checking its size; never rejects. */
  read(desc: Descriptor, from: Manifest | undefined): Promise<Read> {
    return this.reader.manifest(desc.digest).then(
      (manifest): Read => {
        if (manifest.bytes.byteLength === desc.size) return { manifest }
        const says = from ? `index ${from.digest} says` : 'its descriptor says'
        const error = new FerryError(
          'SIZE_INVALID',
          `${this.reader.name}@${desc.digest}: manifest is ${manifest.bytes.byteLength} bytes, ${says} ${desc.size}`,
        )
        return { error }
      },
      (error: unknown): Read => ({ error }),
    )
  }

  /** Visits what `desc` names once it is read, or reports it missing; each digest once per walk. */
  async enter(desc: Descriptor, from: Manifest | undefined, read: Promise<Read>): Promise<void> {
    if (this.seen.has(desc.digest)) return
    const r = await read
    if (this.seen.has(desc.digest)) return
    if ('manifest' in r) return this.visit(r.manifest)
    this.seen.add(desc.digest)
    this.onMissing(desc, from?.digest, { kind: 'manifest', error: r.error })
  }

  async visit(m: Manifest): Promise<void> {
    this.seen.add(m.digest)
    const { manifests, blobs } = this.successors(m)
    // Read every child at once (the reader bounds how many), then visit them in order.
    const reads = manifests.map((d) => (this.seen.has(d.digest) ? undefined : this.read(d, m)))
    for (const [i, child] of manifests.entries()) {
      const read = reads[i]
      if (read) await this.enter(child, m, read)
    }
    const checks = this.opts.checkBlobs
      ? blobs.map((b) => (this.isCollected(b) ? this.check(b) : undefined))
      : []
    for (const [i, blob] of blobs.entries()) {
      if (!this.isCollected(blob)) {
        this.graph.foreign.push(blob)
        continue
      }
      if (!this.graph.blobs.has(blob.digest)) this.graph.blobs.set(blob.digest, blob)
      const absent = await checks[i]
      if (absent) this.onMissing(blob, m.digest, { kind: 'blob', error: absent.error })
    }
    this.graph.manifests.push(m)
  }

  /** Undefined when the source holds the blob; never rejects. */
  private check(blob: Descriptor): Promise<{ error: unknown } | undefined> {
    const absent = () =>
      new FerryError('NOT_FOUND', `${this.reader.name}@${blob.digest}: blob of ${blob.size} bytes not found`)
    return this.reader.hasBlob(blob).then(
      (held) => (held ? undefined : { error: absent() }),
      (error: unknown) => ({ error }),
    )
  }

  private isCollected(blob: Descriptor): boolean {
    return this.opts.includeNondistributable || !isForeign(blob)
  }
}

/** Foreign layers carry `urls` and a non-distributable media type; registries are not meant to host them. */
export function isForeign(desc: Descriptor): boolean {
  return NONDISTRIBUTABLE_MEDIA_TYPES.includes(desc.mediaType)
}
