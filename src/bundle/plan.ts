import type { ReadOnlyTarget } from '../content/target.js'
import { filterIndex } from '../copy/platform-filter.js'
import { FerryError } from '../errors.js'
import { closure, GraphReader } from '../graph/index.js'
import { ListedAttachments } from '../graph/listed-attachments.js'
import { readConfigBytes } from '../inspect.js'
import type { Manifest } from '../oci/manifest.js'
import { formatPlatform } from '../oci/platform.js'
import type { Descriptor, ImageConfig } from '../oci/schemas.js'
import { isAttachmentTag } from '../reference/grammar.js'
import {
  formatReference,
  formatRepository,
  manifestReference,
  type RegistryReference,
} from '../reference/index.js'
import { CREATED_ANNOTATION } from '../sign/bundle.js'
import { missingTags, selectTags } from '../spec/tag-filter.js'
import { effectiveArtifactType } from '../supply/kinds.js'
import { forEachLimited, Limiter } from '../util/limit.js'
import { attachedEntry, dedupeEntries, imageEntries } from './entries.js'
import type { ImageRecord, ReferrerRecord } from './format.js'
import type { BundleImageSpec, BundleSpec } from './spec.js'

export interface PlannedBlob {
  desc: Descriptor
  /** Where to read it from when the tar is written. */
  source: ReadOnlyTarget
  /** Its bytes, when planning read them already (a config, small): written from memory, not fetched again. */
  bytes?: Uint8Array
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
  /** Every time the images carry (configs' `created`, manifests' created annotation): the bundle's time comes from these. */
  times: string[]
}

export interface PlanOptions {
  /** Where a spec image's repository is read (a registry client's repository; memory in tests). */
  repository: (ref: RegistryReference) => ReadOnlyTarget
  /** Images resolved at once. Default 4. */
  concurrency?: number
}

interface Item {
  spec: BundleImageSpec
  reference: RegistryReference
  original: string
  /** The attachment tags of its repository's listing, when the spec's tag filter made one. */
  listed?: ListedAttachments
}

interface PlannedImage {
  record: ImageRecord
  entries: Descriptor[]
  manifests: Manifest[]
  blobs: PlannedBlob[]
  times: string[]
}

/** Resolves every image of the spec, walks its graph and what is attached to it, and collects the content. */
export async function planBundle(spec: BundleSpec, opts: PlanOptions): Promise<BundlePlan> {
  const items = (await Promise.all(spec.images.map((image) => expand(image, opts.repository)))).flat()
  const planned: PlannedImage[] = new Array(items.length)
  await forEachLimited(
    items.map((item, i) => ({ item, i })),
    new Limiter(opts.concurrency ?? 4),
    async ({ item, i }) => {
      planned[i] = await planImage(item, opts.repository)
    },
  )
  const plan: BundlePlan = { images: [], entries: [], manifests: new Map(), blobs: new Map(), times: [] }
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
    plan.times.push(...p.times)
  }
  plan.entries = dedupeEntries(plan.entries)
  return plan
}

/** A pinned image as is; a repository with a tag filter as one item per selected tag. */
async function expand(image: BundleImageSpec, open: PlanOptions['repository']): Promise<Item[]> {
  const ref = image.reference
  if (!image.tags) return [{ spec: image, reference: ref, original: image.original }]
  const repo = open(ref)
  const all = await repo.listTags()
  const listed = new ListedAttachments(all)
  // Attachment tags are not images: they travel with their image as referrers.
  const available = all.filter((t) => !isAttachmentTag(t))
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
    listed,
  }))
}

async function planImage(item: Item, open: PlanOptions['repository']): Promise<PlannedImage> {
  const ref = item.reference
  const repository = formatRepository(ref)
  const source = open(ref)
  // The repository's listing, when there is one, answers which attachment tags exist.
  const reader = new GraphReader(source)
  if (item.listed) reader.knowTags(item.listed)
  const subject = formatReference(ref)
  const original = await source.fetchManifest(manifestReference(ref))
  const root = filterIndex(original, item.spec.platforms ?? [], subject)
  const {
    graph,
    attached,
    graphs: attachedGraphs,
    blobs,
  } = await closure(reader, root, {
    referrers: item.spec.referrers,
  })
  const configs = await configsOf(source, graph.manifests)
  const configBytes = new Map([...configs.values()].flatMap((c) => (c ? [[c.digest, c.bytes]] : [])))
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
    platforms: platformsOf(root, configs),
    referrers,
    blobCount: blobs.size,
    totalBytes: [...blobs.values()].reduce((n, b) => n + b.size, 0),
    ...(item.spec.destination ? { destination: item.spec.destination } : {}),
  }
  return {
    record,
    entries: [
      ...imageEntries(root, repository, ref.tag, item.original),
      ...attached.map((n) => attachedEntry(n.manifest, repository, n.tag)),
    ],
    manifests: [...graph.manifests, ...attachedGraphs.flatMap((g) => g.manifests)],
    blobs: [...blobs.values()].map((desc) => {
      const bytes = configBytes.get(desc.digest)
      return bytes ? { desc, source, bytes } : { desc, source }
    }),
    // The image's own times only: a signature attached later says when it was signed, not made.
    times: [
      ...[...configs.values()].flatMap((c) => (c?.config?.created ? [c.config.created] : [])),
      ...graph.manifests.flatMap((m) => createdAnnotation(m) ?? []),
    ],
  }
}

interface ReadConfig {
  digest: string
  bytes: Uint8Array
  /** Undefined: not an image config. */
  config: ImageConfig | undefined
}

/** The config of each image manifest under the root, by manifest digest (undefined: too large to read). */
async function configsOf(
  source: ReadOnlyTarget,
  manifests: readonly Manifest[],
): Promise<Map<string, ReadConfig | undefined>> {
  const configs = new Map<string, ReadConfig | undefined>()
  await forEachLimited(manifests, new Limiter(4), async (m) => {
    if (m.kind !== 'image') return
    const read = await readConfigBytes(source, m.image.config)
    configs.set(m.digest, read && { digest: m.image.config.digest, ...read })
  })
  return configs
}

function createdAnnotation(m: Manifest): string | undefined {
  // Docker schema 2 has no annotations; one that carries some anyway is read with the same care.
  const { annotations } = (m.kind === 'index' ? m.index : m.image) as { annotations?: unknown }
  const created = (annotations as Record<string, unknown> | undefined)?.[CREATED_ANNOTATION]
  return typeof created === 'string' ? created : undefined
}

/** Children's platforms for an index; for an image, the platform its config declares. */
function platformsOf(root: Manifest, configs: ReadonlyMap<string, ReadConfig | undefined>): string[] {
  if (root.kind === 'index') {
    return root.index.manifests.flatMap((d) => (d.platform ? [formatPlatform(d.platform)] : []))
  }
  const config = configs.get(root.digest)?.config
  if (!config?.os || !config.architecture) return []
  const { os, architecture, variant } = config
  return [formatPlatform({ os, architecture, ...(variant ? { variant } : {}) })]
}
