import { resolveIfPresent } from '../content/present.js'
import type { Target } from '../content/target.js'
import type { Logger } from '../log.js'
import type { Digest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import type { Platform } from '../oci/schemas.js'
import { Limiter } from '../util/limit.js'
import { transferBlobs } from './blobs.js'
import type { CopyEventSink } from './events.js'
import { type ImageGraph, walkGraph } from './graph.js'
import { filterIndex } from './platform-filter.js'
import { type AttachedNode, discoverAttached, flattenAttached } from './referrers.js'
import { defaultJournalPath, UploadJournal } from './upload-journal.js'

export const DEFAULT_CONCURRENCY = 4

export interface CopyOptions {
  /** Copy only these children of an index (a new index is written when that drops any). */
  platforms?: readonly Platform[]
  /** Also copy signatures, SBOMs and attestations attached to the image and its children, recursively. */
  referrers?: boolean
  /** Blobs in flight at once. Default 4. */
  concurrency?: number
  /** Share one budget across several copies (sync); overrides `concurrency`. */
  limiter?: Limiter
  /** Copy foreign (non-distributable) layers instead of leaving them as references. */
  includeNondistributable?: boolean
  onEvent?: CopyEventSink
  /**
   * Where large uploads are recorded so that a later run continues them instead of starting over.
   * Default: `$XDG_STATE_HOME/ferry/uploads.json`; `false` keeps nothing.
   */
  journal?: UploadJournal | false
  /** Receives resume decisions and journal warnings; never an upload URL's query. */
  logger?: Logger
}

export interface CopyResult {
  source: { name: string; reference: string; digest: Digest }
  destination: { name: string; tag?: string; digest: Digest }
  /** True when a platform filter produced a new index (its digest is not the source's). */
  filtered: boolean
  manifests: { pushed: number; skipped: number }
  blobs: { copied: number; skipped: number; mounted: number; foreign: number }
  referrers: number
  bytes: number
  durationMs: number
}

/**
 * Copies one image or index, byte for byte, from `source` to `destination`: blobs first, then
 * manifests children first, then attached artifacts, and the tag last, so no reader ever sees a tag
 * whose content is incomplete. Anything already present at the destination is skipped.
 */
export async function copyImage(
  source: Target,
  sourceReference: string,
  destination: Target,
  destinationTag: string | undefined,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  const started = performance.now()
  const emit = opts.onEvent ?? (() => {})
  const image = `${destination.name}${destinationTag ? `:${destinationTag}` : ''}`
  const original = await source.fetchManifest(sourceReference)
  const root = filterIndex(original, opts.platforms ?? [], `${source.name}:${sourceReference}`)
  const walk = { includeNondistributable: opts.includeNondistributable }
  const graph = await walkGraph(source, root, walk)

  // A filtered index is new content: what was attached to the source index does not describe it.
  const attached = opts.referrers
    ? flattenAttached(
        await discoverAttached(
          source,
          graph.manifests.map((m) => m.digest),
          { cosignTags: true },
        ),
      )
    : []
  const attachedGraphs = await Promise.all(attached.map((n) => walkGraph(source, n.manifest, walk)))

  const blobs = new Map(graph.blobs)
  for (const g of attachedGraphs) for (const [d, b] of g.blobs) blobs.set(d, b)
  emit({ type: 'plan', image, blobs: blobs.size, bytes: sum([...blobs.values()].map((b) => b.size)) })

  const limiter = opts.limiter ?? new Limiter(opts.concurrency ?? DEFAULT_CONCURRENCY)
  const journal =
    opts.journal === false
      ? undefined
      : (opts.journal ?? new UploadJournal(defaultJournalPath(), { logger: opts.logger }))
  const tally = await transferBlobs(source, destination, blobs.values(), limiter, image, emit, {
    journal,
    logger: opts.logger,
  })

  const manifests = { pushed: 0, skipped: 0 }
  const push = async (m: Manifest, tag?: string) => {
    const present = tag
      ? await tagPointsAt(destination, tag, m.digest)
      : await destination.hasManifest(m.digest)
    if (present) manifests.skipped++
    else {
      await destination.pushManifest(m, tag)
      manifests.pushed++
    }
    emit({ type: 'manifest-done', image, digest: m.digest, outcome: present ? 'skipped' : 'pushed', tag })
  }
  // The root goes in by digest first only when artifacts must land before the tag names it.
  const rootByDigest = !destinationTag || attached.length > 0
  await pushGraph(rootByDigest ? graph.manifests : graph.manifests.slice(0, -1), push)
  await pushAttached(attached, attachedGraphs, push)
  if (destinationTag) await push(root, destinationTag)

  return {
    source: { name: source.name, reference: sourceReference, digest: original.digest },
    destination: { name: destination.name, tag: destinationTag, digest: root.digest },
    filtered: root !== original,
    manifests,
    blobs: {
      copied: tally.copied,
      skipped: tally.skipped,
      mounted: tally.mounted,
      foreign: graph.foreign.length + attachedGraphs.reduce((n, g) => n + g.foreign.length, 0),
    },
    referrers: attached.length,
    bytes: tally.bytes,
    durationMs: Math.round(performance.now() - started),
  }
}

/** Children first, root last, each by digest only. */
async function pushGraph(manifests: readonly Manifest[], push: (m: Manifest, tag?: string) => Promise<void>) {
  for (const m of manifests) await push(m)
}

/** Parents before what is attached to them (flattenAttached's order), each after its own children. */
async function pushAttached(
  nodes: readonly AttachedNode[],
  graphs: readonly ImageGraph[],
  push: (m: Manifest, tag?: string) => Promise<void>,
) {
  for (const [i, node] of nodes.entries()) {
    const graph = graphs[i]!
    for (const m of graph.manifests.slice(0, -1)) await push(m)
    await push(node.manifest, node.tag)
  }
}

export async function tagPointsAt(target: Target, tag: string, digest: Digest): Promise<boolean> {
  return (await resolveIfPresent(target, tag))?.digest === digest
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
