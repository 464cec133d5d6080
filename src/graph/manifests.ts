import type { ReadOnlyTarget } from '../content/target.js'
import { FerryError, ifPresent } from '../errors.js'
import { childrenOf, type Manifest } from '../oci/manifest.js'
import { NONDISTRIBUTABLE_MEDIA_TYPES } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { type GraphReader, readerOf } from './reader.js'

/** Everything one image (or index) is made of, in the order it must be written. */
export interface ImageGraph {
  /** Manifests children first, the root last: pushing in this order never exposes a dangling reference. */
  manifests: Manifest[]
  /** Distinct blobs (configs and layers) by digest. */
  blobs: Map<string, Descriptor>
  /** Foreign layers left as references (not copied unless asked). */
  foreign: Descriptor[]
}

export interface WalkOptions {
  includeNondistributable?: boolean
  /**
   * Called for a child manifest the source does not have, and the walk goes on without it (what a garbage
   * collector needs: nothing is reachable through a missing manifest). Default: the walk fails NOT_FOUND.
   */
  onMissing?: (child: Descriptor, parent: Manifest) => void
}

/** Fetches every child manifest of `root` and collects the blobs they name. */
export async function walkGraph(
  source: ReadOnlyTarget | GraphReader,
  root: Manifest,
  opts: WalkOptions = {},
): Promise<ImageGraph> {
  const reader = readerOf(source)
  reader.know(root)
  const graph: ImageGraph = { manifests: [], blobs: new Map(), foreign: [] }
  await visit(reader, root, graph, new Set(), opts)
  return graph
}

async function visit(
  reader: GraphReader,
  manifest: Manifest,
  graph: ImageGraph,
  seen: Set<string>,
  opts: WalkOptions,
): Promise<void> {
  if (seen.has(manifest.digest)) return
  seen.add(manifest.digest)
  const { manifests, blobs } = childrenOf(manifest)
  const children = await Promise.all(manifests.map((d) => fetchChild(reader, d, manifest, opts)))
  for (const child of children) if (child) await visit(reader, child, graph, seen, opts)
  for (const blob of blobs) {
    if (!opts.includeNondistributable && isForeign(blob)) {
      graph.foreign.push(blob)
      continue
    }
    if (!graph.blobs.has(blob.digest)) graph.blobs.set(blob.digest, blob)
  }
  graph.manifests.push(manifest)
}

async function fetchChild(
  reader: GraphReader,
  desc: Descriptor,
  parent: Manifest,
  opts: WalkOptions,
): Promise<Manifest | undefined> {
  const child = opts.onMissing
    ? await ifPresent(reader.manifest(desc.digest))
    : await reader.manifest(desc.digest)
  if (!child) {
    opts.onMissing?.(desc, parent)
    return undefined
  }
  if (child.bytes.byteLength !== desc.size) {
    throw new FerryError(
      'SIZE_INVALID',
      `${reader.name}@${desc.digest}: manifest is ${child.bytes.byteLength} bytes, index ${parent.digest} says ${desc.size}`,
    )
  }
  return child
}

/** Foreign layers carry `urls` and a non-distributable media type; registries are not meant to host them. */
export function isForeign(desc: Descriptor): boolean {
  return NONDISTRIBUTABLE_MEDIA_TYPES.includes(desc.mediaType)
}
