import { fetchManifestIfPresent, resolveIfPresent } from '../content/present.js'
import { storeManifest, storeTagged } from '../content/store.js'
import type { OperationOptions, ReadOnlyTarget, TagPrecondition, Target } from '../content/target.js'
import { FerryError, isFerryError } from '../errors.js'
import { type AttachedNode, type Closure, closure, GraphReader, type ImageGraph } from '../graph/index.js'
import type { ListedAttachments } from '../graph/listed-attachments.js'
import { requireImagePlatform } from '../inspect.js'
import type { Logger } from '../log.js'
import type { Digest } from '../oci/digest.js'
import type { Manifest } from '../oci/manifest.js'
import type { Platform } from '../oci/schemas.js'
import { ignoreProgress, type ProgressEvent, type ProgressSink } from '../progress.js'
import { referrersTag } from '../reference/grammar.js'
import { nameWithReference } from '../reference/index.js'
import { Limiter } from '../util/limit.js'
import { transferBlobs } from './blobs.js'
import { copyFailure, onSide } from './copy-error.js'
import { mergeCosignTag } from './cosign-merge.js'
import { filterIndex } from './platform-filter.js'
import { defaultJournalPath, UploadJournal } from './upload-journal.js'

export const DEFAULT_CONCURRENCY = 4

/** Gates and records around a copy's writes. */
export interface CopyHooks {
  /**
   * Runs once the source is read and before anything is sent to the destination: throwing refuses the
   * copy with the destination untouched (the policy gate, governance/governed.ts). What it answers is the
   * condition the tag is then written on, unless the options give one.
   */
  beforeWrite?: (plan: CopyPlan) => Promise<TagPrecondition | undefined> | TagPrecondition | undefined
  /** Runs after everything is in place and before the tag is written; throwing refuses the copy (a policy gate). */
  beforeCommit?: (plan: CopyPlan) => Promise<void> | void
  /** Runs once the tag names the new content (a ledger entry). */
  afterCommit?: (plan: CopyPlan, result: CopyResult) => Promise<void> | void
}

export interface CopyOptions extends OperationOptions {
  /**
   * Copy only these children of an index (a new index is written when that drops any). A single-platform
   * image that is none of them is refused.
   */
  platforms?: readonly Platform[]
  /**
   * When `platforms` keeps exactly one child, copy that child's own manifest (its digest unchanged, as
   * crane does) instead of a one-child index. sync and bundles keep the index, which names its source.
   */
  platformImage?: boolean
  /** Also copy signatures, SBOMs and attestations attached to the image and its children, recursively. */
  referrers?: boolean
  /** Blobs in flight at once. Default 4. */
  concurrency?: number
  /** Copy foreign (non-distributable) layers instead of leaving them as references. */
  includeNondistributable?: boolean
  /** The source must be this digest: what is fetched is checked, so a tag that moves meanwhile is refused. */
  expectDigest?: Digest
  /**
   * A condition on the destination tag, checked when it is written: `{ ifAbsent: true }` for release
   * tags that never move, `{ ifMatch }` for a tag that must still be where a plan saw it. Default: none
   * (the tag moves, as `crane copy` and `skopeo copy` move it).
   */
  tagPrecondition?: TagPrecondition
  hooks?: CopyHooks
  /** Where the copy reports its bytes, blobs and manifests as they go (phase `copy`, subject the image). */
  progress?: ProgressSink
  /**
   * Where large uploads are recorded so that a later run continues them instead of starting over.
   * Default: `$XDG_STATE_HOME/ferry/uploads.json`; `false` keeps nothing.
   */
  journal?: UploadJournal | false
  /** Receives resume decisions and journal warnings; never an upload URL's query. */
  logger?: Logger
}

/**
 * What a caller running many copies already holds and hands over, so that nothing is read or budgeted
 * twice (sync, bundle import). Not options a user sets: `copyReference` and the CLI take `CopyOptions`.
 */
export interface CopyPlumbing {
  /** One budget shared across several copies (sync); overrides `concurrency`. */
  limiter?: Limiter
  /**
   * What the destination tag named when the caller just looked (null: nothing): without a precondition
   * the tag is then written without asking the registry again. sync passes what its plan saw.
   */
  destinationTagDigest?: Digest | null
  /** The source manifest, when the caller already read it (sync, by the tag it copies): not read again. */
  sourceManifest?: Manifest
  /**
   * What a complete tag listing of the source repository showed (sync lists it anyway): attachment tags
   * it lacks are not asked for.
   */
  sourceTags?: ListedAttachments
}

/** A copy's options and plumbing together, as plan, apply and commit take them. */
export type CopyRun = CopyOptions & CopyPlumbing

/** What a copy will do, decided by reading only: the source's closure and the destination tag's value. */
export interface CopyPlan {
  source: ReadOnlyTarget
  sourceReference: string
  destination: Target
  destinationTag?: string
  /** The source manifest as fetched. */
  original: Manifest
  /** What lands at the destination: `original`, or the index cut down to `platforms`. */
  root: Manifest
  closure: Closure
  /** `destination.name:tag` (or the name alone), for messages and events. */
  image: string
}

export interface CopyResult {
  source: { name: string; reference: string; digest: Digest }
  destination: { name: string; tag?: string; digest: Digest }
  /** True when a platform filter changed what is copied: a new index, or one child's own manifest. */
  filtered: boolean
  /** True when that is one child's own manifest (`platformImage`). */
  platformChild: boolean
  manifests: { pushed: number; skipped: number }
  blobs: { copied: number; skipped: number; mounted: number; foreign: number }
  referrers: number
  /** cosign tags whose destination image held signatures the source lacks: merged, none dropped. */
  merged: number
  bytes: number
  durationMs: number
}

/**
 * Copies one image or index, byte for byte: plan (read the source's closure), apply (blobs, then
 * manifests children first, then attached artifacts), commit (the tag, last, under its precondition and
 * between the hooks), so no reader ever sees a tag whose content is incomplete. Anything already
 * present at the destination is skipped.
 */
export async function copyImage(
  source: ReadOnlyTarget,
  sourceReference: string,
  destination: Target,
  destinationTag: string | undefined,
  opts: CopyRun = {},
): Promise<CopyResult> {
  const started = performance.now()
  const image = `${destination.name}${destinationTag ? `:${destinationTag}` : ''}`
  const from = onSide(source, 'source')
  const to = onSide(destination, 'destination')
  try {
    const plan = await planCopy(from, sourceReference, to, destinationTag, opts)
    const judged = await opts.hooks?.beforeWrite?.(plan)
    const committing = judged && !opts.tagPrecondition ? { ...opts, tagPrecondition: judged } : opts
    const applied = await applyCopy(plan, opts)
    const result = await commitCopy(plan, applied, committing)
    result.durationMs = Math.round(performance.now() - started)
    return result
  } catch (err) {
    throw copyFailure(err, nameWithReference(source.name, sourceReference), image)
  }
}

export async function planCopy(
  source: ReadOnlyTarget,
  sourceReference: string,
  destination: Target,
  destinationTag: string | undefined,
  opts: CopyRun = {},
): Promise<CopyPlan> {
  const reader = new GraphReader(source, { signal: opts.signal })
  if (opts.sourceManifest) reader.know(opts.sourceManifest)
  if (opts.sourceTags) reader.knowTags(opts.sourceTags)
  const original = await reader.manifest(sourceReference)
  const subject = nameWithReference(source.name, sourceReference)
  if (opts.expectDigest && original.digest !== opts.expectDigest) {
    throw new FerryError(
      'CONFLICT',
      `${subject} is now ${original.digest}, not ${opts.expectDigest}; nothing copied`,
    )
  }
  const platforms = opts.platforms ?? []
  await requireImagePlatform(source, subject, original, platforms)
  let root = filterIndex(original, platforms, subject)
  if (
    opts.platformImage &&
    platforms.length > 0 &&
    root.kind === 'index' &&
    root.index.manifests.length === 1
  ) {
    root = await reader.manifest(root.index.manifests[0]!.digest)
  }
  // A filtered index is new content: what was attached to the source index does not describe it.
  const image = `${destination.name}${destinationTag ? `:${destinationTag}` : ''}`
  const found = await closure(reader, root, {
    referrers: opts.referrers,
    includeNondistributable: opts.includeNondistributable,
  })
  return { source, sourceReference, destination, destinationTag, original, root, closure: found, image }
}

export interface Applied {
  manifests: { pushed: number; skipped: number }
  blobs: { copied: number; skipped: number; mounted: number; bytes: number }
  merged: number
}

/** Writes everything the plan needs except the destination tag. */
export async function applyCopy(plan: CopyPlan, opts: CopyRun = {}): Promise<Applied> {
  const { destination, closure: c, image } = plan
  const progress = opts.progress ?? ignoreProgress
  const blobs = c.blobs
  progress({
    type: 'start',
    phase: 'copy',
    subject: image,
    unit: 'bytes',
    total: sum([...blobs.values()].map((b) => b.size)),
    items: blobs.size,
  })
  const limiter = opts.limiter ?? new Limiter(opts.concurrency ?? DEFAULT_CONCURRENCY)
  const journal =
    opts.journal === false
      ? undefined
      : (opts.journal ?? new UploadJournal(defaultJournalPath(), { logger: opts.logger }))
  const tally = await transferBlobs(plan.source, destination, blobs.values(), limiter, image, progress, {
    journal,
    logger: opts.logger,
    signal: opts.signal,
  })

  const manifests = { pushed: 0, skipped: 0 }
  const done = (m: Manifest, pushed: boolean, tag?: string) => {
    manifests[pushed ? 'pushed' : 'skipped']++
    progress(manifestDone(image, m, pushed, tag))
  }
  const store = async (m: Manifest) => {
    const present = await destination.hasManifest(m.digest, opts)
    if (!present) await storeManifest(destination, m, opts)
    done(m, !present)
  }
  // The root goes in by digest first only when artifacts must land before the tag names it.
  const rootByDigest = !plan.destinationTag || c.attached.length > 0
  for (const m of rootByDigest ? c.graph.manifests : c.graph.manifests.slice(0, -1)) await store(m)
  let merged = 0
  for (const [i, node] of c.attached.entries()) {
    const graph: ImageGraph = c.graphs[i]!
    for (const m of graph.manifests.slice(0, -1)) await store(m)
    if (node.tag) {
      const outcome = await copyCosignTag(plan, node, opts)
      if (outcome === 'merged') merged++
      done(node.manifest, outcome !== 'skipped', node.tag)
    } else await store(node.manifest)
  }
  if (c.attached.length > 0) await alignReferrersIndexes(plan, opts)
  return { manifests, blobs: tally, merged }
}

/**
 * Where both sides keep referrers in the tag schema, the destination's `sha256-HEX` index is made the
 * source's very bytes when it lists nothing the source lacks: a later re-sync then compares the two by
 * HEAD alone. One the destination added to (an SBOM attached there) keeps its own entries.
 */
async function alignReferrersIndexes(plan: CopyPlan, opts: OperationOptions) {
  const { source, destination } = plan
  const [from, to] = await Promise.all([source.referrersListing(opts), destination.referrersListing(opts)])
  if (from !== 'tag-schema' || to !== 'tag-schema') return
  const subjects = new Set(plan.closure.attached.filter((n) => n.scheme === 'referrer').map((n) => n.subject))
  for (const subject of subjects) {
    const tag = referrersTag(subject)
    const theirs = await fetchManifestIfPresent(source, tag, opts)
    const ours = await fetchManifestIfPresent(destination, tag, opts)
    if (!theirs || theirs.kind !== 'index' || !ours || ours.kind !== 'index' || ours.digest === theirs.digest)
      continue
    const listed = new Set(theirs.index.manifests.map((d) => d.digest))
    if (!ours.index.manifests.every((d) => listed.has(d.digest))) continue
    // Another writer changed the index meanwhile: its entries stand, and only the HEAD-only re-sync is lost.
    await storeTagged(destination, theirs, tag, { ...opts, precondition: { ifMatch: ours.digest } }).catch(
      (err: unknown) => {
        if (!isFerryError(err, 'CONFLICT')) throw err
      },
    )
  }
}

/**
 * A cosign tag is a read-modify-write object: signing at the destination appends layers to it. When the
 * destination's image differs from the source's, the two are merged (the destination's signatures first,
 * then the source's it lacks) instead of the source's replacing it.
 */
async function copyCosignTag(plan: CopyPlan, node: AttachedNode, opts: OperationOptions) {
  const { destination } = plan
  const tag = node.tag!
  const there = await resolveIfPresent(destination, tag, opts)
  if (there?.digest === node.manifest.digest) return 'skipped' as const
  if (!there) {
    await storeTagged(destination, node.manifest, tag, { ...opts, precondition: { ifAbsent: true } })
    return 'pushed' as const
  }
  const merged = await mergeCosignTag(destination, tag, there.digest as Digest, node.manifest, opts)
  if (!merged) return 'skipped' as const
  await storeTagged(destination, merged, tag, { ...opts, precondition: { ifMatch: there.digest as Digest } })
  return merged.digest === node.manifest.digest ? ('pushed' as const) : ('merged' as const)
}

/** Writes the destination tag (if any) under the plan's precondition, between the hooks. */
export async function commitCopy(plan: CopyPlan, applied: Applied, opts: CopyRun = {}): Promise<CopyResult> {
  const { destination, destinationTag: tag, root, closure: c } = plan
  await opts.hooks?.beforeCommit?.(plan)
  const manifests = { ...applied.manifests }
  if (tag) {
    const precondition = opts.tagPrecondition
    const seen = async () =>
      opts.destinationTagDigest !== undefined
        ? opts.destinationTagDigest
        : (await resolveIfPresent(destination, tag, opts))?.digest
    const present = !precondition && (await seen()) === root.digest
    const changed = present
      ? false
      : (await destination.tag(root, tag, { signal: opts.signal, precondition })).changed
    manifests[changed ? 'pushed' : 'skipped']++
    opts.progress?.(manifestDone(plan.image, root, changed, tag))
  }
  const result: CopyResult = {
    source: { name: plan.source.name, reference: plan.sourceReference, digest: plan.original.digest },
    destination: { name: destination.name, tag, digest: root.digest },
    filtered: root !== plan.original,
    platformChild: plan.original.kind === 'index' && root.kind === 'image',
    manifests,
    blobs: {
      copied: applied.blobs.copied,
      skipped: applied.blobs.skipped,
      mounted: applied.blobs.mounted,
      foreign: c.foreign.length,
    },
    referrers: c.attached.length,
    merged: applied.merged,
    bytes: applied.blobs.bytes,
    durationMs: 0,
  }
  await opts.hooks?.afterCommit?.(plan, result)
  return result
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)

const manifestDone = (image: string, m: Manifest, pushed: boolean, tag?: string): ProgressEvent => ({
  type: 'item',
  phase: 'copy',
  subject: image,
  kind: 'manifest',
  digest: m.digest,
  size: m.bytes.byteLength,
  outcome: pushed ? 'pushed' : 'skipped',
  ...(tag === undefined ? {} : { tag }),
})
