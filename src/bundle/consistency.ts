import { isFerryError } from '../errors.js'
import { isForeign } from '../graph/index.js'
import { inView, REF_NAME_ANNOTATION, refNameFor } from '../layout/naming.js'
import type { Digest } from '../oci/digest.js'
import { childrenOf, type Manifest } from '../oci/manifest.js'
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
  const report = (p: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push(p)
  }
  const omitted = new Set(bundle.metadata.omitted.map((b) => b.digest))
  for (const d of omitted) if (bundle.has(d)) report(`blob ${d} is in the bundle and also listed as omitted`)

  const walker = new GraphWalker(bundle, omitted, report)
  for (const entry of bundle.index.manifests) {
    if (!isManifestMediaType(entry.mediaType)) {
      report(`${INDEX_NAME} entry ${entry.digest} has media type ${entry.mediaType}, not a manifest`)
      continue
    }
    await walker.visit(
      entry,
      `${INDEX_NAME} entry ${entry.annotations?.[REF_NAME_ANNOTATION] ?? entry.digest}`,
    )
  }
  for (const { digest } of bundle.metadata.blobs) {
    if (!walker.reached.has(digest))
      report(`blob ${digest} is in the bundle but nothing in ${INDEX_NAME} refers to it`)
  }
  for (const image of bundle.metadata.images) await checkImage(bundle, image, walker, report)
  return problems
}

async function checkImage(
  bundle: BundleReader,
  image: ImageRecord,
  walker: GraphWalker,
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
  await walker.collect(image.digest, blobs)
  for (const r of image.referrers) {
    if (!inRepo.some((e) => e.digest === r.digest))
      report(`${what}: referrer ${r.digest} has no ${INDEX_NAME} entry`)
    else await walker.collect(r.digest, blobs)
  }
  const total = [...blobs.values()].reduce((a, b) => a + b, 0)
  if (blobs.size !== image.blobCount || total !== image.totalBytes) {
    report(
      `${what}: says ${image.blobCount} blobs / ${image.totalBytes} bytes, its manifests name ${blobs.size} / ${total}`,
    )
  }
}

/** Loads each manifest once and remembers what it names. */
class GraphWalker {
  readonly reached = new Set<string>()
  private readonly manifests = new Map<string, Manifest | null>()

  constructor(
    private readonly bundle: BundleReader,
    private readonly omitted: Set<string>,
    private readonly report: (p: string) => void,
  ) {}

  async visit(desc: Descriptor, from: string): Promise<void> {
    if (this.manifests.has(desc.digest)) return
    this.reached.add(desc.digest)
    const m = await this.load(desc, from)
    this.manifests.set(desc.digest, m)
    if (!m) return
    const { manifests, blobs } = childrenOf(m)
    for (const child of manifests) await this.visit(child, `manifest ${m.digest}`)
    for (const blob of blobs) {
      this.reached.add(blob.digest)
      if (isForeign(blob)) continue
      const loc = this.bundle.location(blob.digest)
      if (!loc && !this.omitted.has(blob.digest)) {
        this.report(
          `blob ${blob.digest} of manifest ${m.digest} is neither in the bundle nor listed as omitted`,
        )
      } else if (loc && loc.size !== blob.size) {
        this.report(`blob ${blob.digest} is ${loc.size} bytes, manifest ${m.digest} says ${blob.size}`)
      }
    }
  }

  private async load(desc: Descriptor, from: string): Promise<Manifest | null> {
    const loc = this.bundle.location(desc.digest)
    if (!loc) {
      this.report(`manifest ${desc.digest} (from ${from}) is missing; a bundle always carries every manifest`)
      return null
    }
    if (loc.size !== desc.size) {
      this.report(`manifest ${desc.digest} is ${loc.size} bytes, ${from} says ${desc.size}`)
      return null
    }
    try {
      return await this.bundle.readManifest(
        desc.digest as Digest,
        desc.mediaType,
        `${this.bundle.name}@${desc.digest}`,
      )
    } catch (err) {
      if (!isFerryError(err)) throw err
      this.report(err.message)
      return null
    }
  }

  /** Adds the distinct non-foreign blobs under `digest` (already visited) to `into`. */
  async collect(digest: string, into: BlobSizes, seen = new Set<string>()): Promise<void> {
    if (seen.has(digest)) return
    seen.add(digest)
    const m = this.manifests.get(digest)
    if (!m) return
    const { manifests, blobs } = childrenOf(m)
    for (const child of manifests) await this.collect(child.digest, into, seen)
    for (const b of blobs) if (!isForeign(b)) into.set(b.digest, b.size)
  }
}
