import { isFerryError } from '../errors.js'
import { GraphReader, walkGraph } from '../graph/index.js'
import { inView, REF_NAME_ANNOTATION, refNameFor } from '../layout/naming.js'
import type { Digest } from '../oci/digest.js'
import { isManifestMediaType } from '../oci/media-types.js'
import type { Descriptor } from '../oci/schemas.js'
import { type ImageRecord, INDEX_NAME, METADATA_NAME } from './format.js'
import type { BundleReader } from './reader.js'

const MAX_PROBLEMS = 50

/** Distinct blobs (not manifests) an image needs, by digest, with their sizes. */
export type BlobSizes = Map<string, number>

/**
 * After the verifying pass: everything index.json names is there (manifests always, blobs unless the
 * delta lists them as omitted), nothing is there that nothing names, and ferry-bundle.json describes
 * what index.json and the manifests say. Returns problems, first ones first; empty when consistent.
 */
export async function checkConsistency(bundle: BundleReader): Promise<string[]> {
  const problems: string[] = []
  const report = (p: string | undefined) => {
    if (p && problems.length < MAX_PROBLEMS) problems.push(p)
  }
  const omitted = new Set(bundle.metadata.omitted.map((b) => b.digest))
  for (const d of omitted) if (bundle.has(d)) report(`blob ${d} is in the bundle and also listed as omitted`)

  // A root is named in reports by the first index.json entry of its digest.
  const entryNames = new Map<string, string>()
  // Taken by the walk one at a time, so each problem is reported in index.json's order.
  function* roots(): Generator<Descriptor> {
    for (const entry of bundle.index.manifests) {
      if (!isManifestMediaType(entry.mediaType)) {
        report(`${INDEX_NAME} entry ${entry.digest} has media type ${entry.mediaType}, not a manifest`)
        continue
      }
      const name = `${INDEX_NAME} entry ${entry.annotations?.[REF_NAME_ANNOTATION] ?? entry.digest}`
      if (!entryNames.has(entry.digest)) entryNames.set(entry.digest, name)
      yield entry
    }
  }
  // Every repository view reads a manifest by digest alike: the whole bundle is walked through one.
  const reader = new GraphReader(bundle.target(undefined))
  const unreadable = new Set<string>()
  const graph = await walkGraph(reader, roots(), {
    checkBlobs: true,
    onMissing: (desc, from, { kind, error }) => {
      if (kind === 'blob') return report(blobProblem(bundle, omitted, desc, from!))
      unreadable.add(desc.digest)
      report(manifestProblem(bundle, desc, from ? `manifest ${from}` : entryNames.get(desc.digest)!, error))
    },
  })
  const reached = new Set<string>([
    ...graph.manifests.map((m) => m.digest),
    ...unreadable,
    ...graph.blobs.keys(),
    ...graph.foreign.map((b) => b.digest),
  ])
  for (const { digest } of bundle.metadata.blobs) {
    if (!reached.has(digest))
      report(`blob ${digest} is in the bundle but nothing in ${INDEX_NAME} refers to it`)
  }
  for (const image of bundle.metadata.images) await checkImage(bundle, image, reader, report)
  return problems
}

/** Why a manifest the walk could not read is wrong, as the bundle's own record shows it. */
function manifestProblem(bundle: BundleReader, desc: Descriptor, from: string, error: unknown): string {
  const loc = bundle.location(desc.digest)
  if (!loc) return `manifest ${desc.digest} (from ${from}) is missing; a bundle always carries every manifest`
  if (loc.size !== desc.size) return `manifest ${desc.digest} is ${loc.size} bytes, ${from} says ${desc.size}`
  if (!isFerryError(error)) throw error
  return error.message
}

/** A blob the bundle lacks (unless the delta omits it) or holds at another size. */
function blobProblem(
  bundle: BundleReader,
  omitted: ReadonlySet<string>,
  blob: Descriptor,
  from: Digest,
): string | undefined {
  const loc = bundle.location(blob.digest)
  if (!loc) {
    if (omitted.has(blob.digest)) return undefined
    return `blob ${blob.digest} of manifest ${from} is neither in the bundle nor listed as omitted`
  }
  return `blob ${blob.digest} is ${loc.size} bytes, manifest ${from} says ${blob.size}`
}

async function checkImage(
  bundle: BundleReader,
  image: ImageRecord,
  reader: GraphReader,
  report: (p: string) => void,
): Promise<void> {
  const what = `${METADATA_NAME} image ${image.source}`
  const inRepo = bundle.index.manifests.filter((e) => inView(e, image.repository))
  const entry =
    image.tag === undefined
      ? inRepo.find((e) => e.digest === image.digest)
      : inRepo.find((e) => e.annotations?.[REF_NAME_ANNOTATION] === refNameFor(image.repository, image.tag!))
  if (!entry) return report(`${what}: no ${INDEX_NAME} entry for it`)
  if (entry.digest !== image.digest)
    return report(`${what}: ${INDEX_NAME} says ${entry.digest}, not ${image.digest}`)
  if (entry.mediaType !== image.mediaType) report(`${what}: media type differs from ${INDEX_NAME}`)
  const blobs: BlobSizes = new Map()
  await collect(reader, image.digest, blobs)
  for (const r of image.referrers) {
    if (!inRepo.some((e) => e.digest === r.digest))
      report(`${what}: referrer ${r.digest} has no ${INDEX_NAME} entry`)
    else await collect(reader, r.digest, blobs)
  }
  const total = [...blobs.values()].reduce((a, b) => a + b, 0)
  if (blobs.size !== image.blobCount || total !== image.totalBytes) {
    report(
      `${what}: says ${image.blobCount} blobs / ${image.totalBytes} bytes, its manifests name ${blobs.size} / ${total}`,
    )
  }
}

/**
 * Adds the distinct non-foreign blobs the manifests under `digest` name to `into`. The first walk
 * already read (and reported) them: what could not be read adds nothing here.
 */
async function collect(reader: GraphReader, digest: string, into: BlobSizes): Promise<void> {
  const root = await reader.manifest(digest).catch(() => undefined)
  if (!root) return
  const { blobs } = await walkGraph(reader, root, { onMissing: () => {} })
  for (const b of blobs.values()) into.set(b.digest, b.size)
}
