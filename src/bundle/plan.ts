import { buffer } from 'node:stream/consumers'
import type { Target } from '../content/target.js'
import { filterIndex } from '../copy/platform-filter.js'
import { FerryError } from '../errors.js'
import { closure } from '../graph/index.js'
import type { Manifest } from '../oci/manifest.js'
import { formatPlatform } from '../oci/platform.js'
import { type Descriptor, imageConfigSchema } from '../oci/schemas.js'
import {
  formatReference,
  formatRepository,
  manifestReference,
  type RegistryReference,
} from '../reference/index.js'
import type { RegistryClient } from '../registry/index.js'
import { missingTags, selectTags } from '../spec/tag-filter.js'
import { effectiveArtifactType } from '../supply/kinds.js'
import { forEachLimited, Limiter } from '../util/limit.js'
import { attachedEntry, dedupeEntries, imageEntry } from './entries.js'
import type { ImageRecord, ReferrerRecord } from './format.js'
import type { BundleImageSpec, BundleSpec } from './spec.js'

export interface PlannedBlob {
  desc: Descriptor
  /** Where to read it from when the tar is written. */
  source: Target
}

/** Everything a bundle will hold, known before the first tar byte is written. */
export interface BundlePlan {
  images: ImageRecord[]
  /** index.json entries, in spec order. */
  entries: Descriptor[]
  /** Manifest bytes by digest (small; kept in memory). */
  manifests: Map<string, Uint8Array>
  /** Blobs by digest, each once. */
  blobs: Map<string, PlannedBlob>
}

export interface PlanOptions {
  client: RegistryClient
  /** Images resolved at once. Default 4. */
  concurrency?: number
}

/** Tags that are attachments, not images: they travel with their image as referrers. */
const ATTACHMENT_TAG_RE = /^sha(256|512)-[a-f0-9]{64,128}(\.(sig|att|sbom))?$/
const MAX_CONFIG_BYTES = 4 * 1024 * 1024

interface Item {
  spec: BundleImageSpec
  reference: RegistryReference
  original: string
}

interface PlannedImage {
  record: ImageRecord
  entries: Descriptor[]
  manifests: Manifest[]
  blobs: PlannedBlob[]
}

/** Resolves every image of the spec, walks its graph and what is attached to it, and collects the content. */
export async function planBundle(spec: BundleSpec, opts: PlanOptions): Promise<BundlePlan> {
  const items = (await Promise.all(spec.images.map((image) => expand(image, opts.client)))).flat()
  const planned: PlannedImage[] = new Array(items.length)
  await forEachLimited(
    items.map((item, i) => ({ item, i })),
    new Limiter(opts.concurrency ?? 4),
    async ({ item, i }) => {
      planned[i] = await planImage(item, opts.client)
    },
  )
  const plan: BundlePlan = { images: [], entries: [], manifests: new Map(), blobs: new Map() }
  const byName = new Map<string, string>()
  for (const p of planned) {
    const name =
      p.record.tag === undefined
        ? `${p.record.repository}@${p.record.digest}`
        : `${p.record.repository}:${p.record.tag}`
    const previous = byName.get(name)
    if (previous === p.record.digest) continue
    if (previous !== undefined) {
      throw new FerryError(
        'USAGE',
        `${name} is listed twice with different content (${previous}, ${p.record.digest}): different platform filters?`,
      )
    }
    byName.set(name, p.record.digest)
    plan.images.push(p.record)
    plan.entries.push(...p.entries)
    for (const m of p.manifests) plan.manifests.set(m.digest, m.bytes)
    for (const b of p.blobs) if (!plan.blobs.has(b.desc.digest)) plan.blobs.set(b.desc.digest, b)
  }
  plan.entries = dedupeEntries(plan.entries)
  return plan
}

/** A pinned image as is; a repository with a tag filter as one item per selected tag. */
async function expand(image: BundleImageSpec, client: RegistryClient): Promise<Item[]> {
  const ref = image.reference
  if (!image.tags) return [{ spec: image, reference: ref, original: image.original }]
  const repo = client.repository(ref.registry, ref.repository)
  const available = (await repo.listTags()).filter((t) => !ATTACHMENT_TAG_RE.test(t))
  const missing = missingTags(available, image.tags)
  if (missing.length > 0) {
    throw new FerryError(
      'NOT_FOUND',
      `${repo.name}: tags ${missing.join(', ')} named in the spec do not exist`,
    )
  }
  const tags = selectTags(available, image.tags)
  if (tags.length === 0) throw new FerryError('NOT_FOUND', `${repo.name}: the tag filter selects no tag`)
  return tags.map((tag) => ({
    spec: image,
    reference: { ...ref, tag },
    original: `${image.original}:${tag}`,
  }))
}

async function planImage(item: Item, client: RegistryClient): Promise<PlannedImage> {
  const ref = item.reference
  const repository = formatRepository(ref)
  const source = client.repository(ref.registry, ref.repository)
  const subject = formatReference(ref)
  const original = await source.fetchManifest(manifestReference(ref))
  const root = filterIndex(original, item.spec.platforms ?? [], subject)
  const {
    graph,
    attached,
    graphs: attachedGraphs,
    blobs,
  } = await closure(source, root, {
    referrers: item.spec.referrers,
  })
  const referrers: ReferrerRecord[] = attached.map((n) => {
    const r: ReferrerRecord = {
      digest: n.manifest.digest,
      mediaType: n.manifest.mediaType,
      size: n.manifest.bytes.byteLength,
      subject: n.subject,
    }
    // cosign's .sig images carry a generic config; what they are shows in the layers (as cosign reads them).
    const type = effectiveArtifactType(n.manifest, n.descriptor)
    if (type) r.artifactType = type
    if (n.tag) r.tag = n.tag
    return r
  })
  const record: ImageRecord = {
    source: subject,
    original: item.original,
    repository,
    ...(ref.tag === undefined ? {} : { tag: ref.tag }),
    digest: root.digest,
    mediaType: root.mediaType,
    ...(root !== original ? { sourceDigest: original.digest } : {}),
    platforms: await platformsOf(source, root),
    referrers,
    blobCount: blobs.size,
    totalBytes: [...blobs.values()].reduce((n, b) => n + b.size, 0),
    ...(item.spec.destination ? { destination: item.spec.destination } : {}),
  }
  return {
    record,
    entries: [
      imageEntry(root, repository, ref.tag, item.original),
      ...attached.map((n) => attachedEntry(n.manifest, repository, n.tag)),
    ],
    manifests: [...graph.manifests, ...attachedGraphs.flatMap((g) => g.manifests)],
    blobs: [...blobs.values()].map((desc) => ({ desc, source })),
  }
}

/** Children's platforms for an index; for an image, the platform its config declares. */
async function platformsOf(source: Target, root: Manifest): Promise<string[]> {
  if (root.kind === 'index') {
    return root.index.manifests.flatMap((d) => (d.platform ? [formatPlatform(d.platform)] : []))
  }
  const config = root.image.config
  if (config.size > MAX_CONFIG_BYTES) return []
  let doc: unknown
  try {
    doc = JSON.parse((await buffer(await source.fetchBlob(config))).toString('utf8'))
  } catch (err) {
    if (err instanceof SyntaxError) return [] // an artifact's config need not be JSON
    throw err
  }
  const parsed = imageConfigSchema.safeParse(doc)
  if (!parsed.success || !parsed.data.os || !parsed.data.architecture) return []
  const { os, architecture, variant } = parsed.data
  return [formatPlatform({ os, architecture, ...(variant ? { variant } : {}) })]
}
