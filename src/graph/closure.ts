import type { ReadOnlyTarget } from '../content/target.js'
import type { Manifest } from '../oci/manifest.js'
import type { Descriptor } from '../oci/schemas.js'
import { type AttachedNode, discoverAttached, flattenAttached, isFound } from './attached.js'
import { type ImageGraph, walkGraph } from './manifests.js'
import { type GraphReader, readerOf } from './reader.js'

export interface ClosureOptions {
  /** Also follow what is attached (referrers by API or tag schema, cosign tags), recursively. */
  referrers?: boolean
  includeNondistributable?: boolean
}

/** Everything a manifest needs and everything attached to it: what a copy moves and retention keeps. */
export interface Closure {
  root: Manifest
  /** The root's own graph: children first, the root last. */
  graph: ImageGraph
  /** Attached artifacts, parents before what is attached to them; `graphs[i]` is `attached[i]`'s own graph. */
  attached: AttachedNode[]
  graphs: ImageGraph[]
  /** Every distinct blob of the root and the attached artifacts. */
  blobs: Map<string, Descriptor>
  /** Foreign layers left as references. */
  foreign: Descriptor[]
}

/** The closure of `root` in `source`; reads go through one cached, bounded reader. */
export async function closure(
  source: ReadOnlyTarget | GraphReader,
  root: Manifest,
  opts: ClosureOptions = {},
): Promise<Closure> {
  const reader = readerOf(source)
  const walk = { includeNondistributable: opts.includeNondistributable }
  const graph = await walkGraph(reader, root, walk)
  // Without onMissing nothing comes back missing (a referrer that cannot be read fails the closure).
  const attached = opts.referrers
    ? flattenAttached(
        await discoverAttached(
          reader,
          graph.manifests.map((m) => m.digest),
          { cosignTags: true },
        ),
      ).filter(isFound)
    : []
  const graphs = await Promise.all(attached.map((n) => walkGraph(reader, n.manifest, walk)))
  const blobs = new Map(graph.blobs)
  for (const g of graphs) for (const [d, b] of g.blobs) blobs.set(d, b)
  return {
    root,
    graph,
    attached,
    graphs,
    blobs,
    foreign: [...graph.foreign, ...graphs.flatMap((g) => g.foreign)],
  }
}
