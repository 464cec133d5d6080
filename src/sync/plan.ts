import { resolveIfPresent } from '../content/present.js'
import type { ReadOnlyTarget } from '../content/target.js'
import { SOURCE_DIGEST_ANNOTATION } from '../copy/platform-filter.js'
import { FerryError } from '../errors.js'
import { ListedAttachments } from '../graph/listed-attachments.js'
import type { Digest } from '../oci/digest.js'
import { annotationsOf, childrenOf, type Manifest } from '../oci/manifest.js'
import { isIndexMediaType } from '../oci/media-types.js'
import type { Descriptor, Platform } from '../oci/schemas.js'
import { cosignTags, referrersTag } from '../reference/grammar.js'
import { formatLocation, type Location, parseRepository } from '../reference/index.js'
import { imageSettings, placeImage, type SyncImage, type SyncSpec } from '../spec/sync-spec.js'
import { selectTags } from '../spec/tag-filter.js'
import type { TargetSet } from '../targets/open.js'
import type { Limiter } from '../util/limit.js'

/** One image to mirror: where from, where to, how. */
export interface SyncItem {
  /** A registry, a layout or a bundle's image (the spec's `source`), with the tag chosen. */
  source: Location
  /** `registry/repository`, e.g. reg.local:5000/cache/postgres */
  destination: { registry: string; repository: string }
  /** Tag to write at the destination; undefined for a source pinned by digest alone. */
  tag?: string
  platforms?: Platform[]
  referrers: boolean
  /** The tag came from the source repository's own tag list (a repository entry), so it exists there. */
  listed?: boolean
  /** The attachment tags of that list, when the run listed the source repository (shared by its items). */
  sourceTags?: ListedAttachments
}

export type Expanded = { item: SyncItem } | { failed: { source: string; error: unknown } }

/** The source's repository as shown (`formatLocation` without a tag or digest, nor the `:latest` it adds). */
const repositoryOf = (source: Location) =>
  formatLocation({ ...source, tag: undefined, digest: undefined }).replace(/:latest$/, '')

/**
 * Spec entries to single images: repositories become one item per tag their filter selects. Each
 * source repository is listed once, `limit` at a time (an image pinned by tag in a repository another
 * entry lists shares that list); the items keep the spec's order.
 */
export async function expandSpec(spec: SyncSpec, sources: TargetSet, limit: Limiter): Promise<Expanded[]> {
  const listings = new Map<string, Promise<{ tags: string[]; attachments: ListedAttachments }>>()
  const list = (source: Location) => {
    const repo = repositoryOf(source)
    let listing = listings.get(repo)
    if (!listing) {
      listing = limit.run(async () => {
        const tags = await (await sources.openSource(source)).target.listTags()
        return { tags, attachments: new ListedAttachments(tags) }
      })
      listings.set(repo, listing)
    }
    return listing
  }
  const pinned = (image: SyncImage) => !!(image.source.tag || image.source.digest)
  for (const image of spec.images) if (!pinned(image)) void list(image.source).catch(() => {})
  return Promise.all(
    spec.images.map(async (image): Promise<Expanded[]> => {
      const settings = imageSettings(spec, image)
      const destination = parseRepository(placeImage(spec, image))
      const base = { destination, ...settings }
      const repo = repositoryOf(image.source)
      if (pinned(image)) {
        const listed = await listings.get(repo)?.catch(() => undefined)
        const sourceTags = listed?.attachments
        return [
          {
            item: {
              ...base,
              source: image.source,
              tag: image.source.tag,
              ...(sourceTags ? { sourceTags } : {}),
            },
          },
        ]
      }
      try {
        const { tags: available, attachments: sourceTags } = await list(image.source)
        const tags = selectTags(available, image.tags ?? {})
        if (tags.length === 0) throw new FerryError('NOT_FOUND', `${repo}: no tag matches the filter`)
        // Object.assign, not `{ ...image.source, tag }`: V8 gives each object whose spread a later key
        // overrides a hidden class of its own, and the items live for the whole run (~0.3 KiB an image).
        return tags.map((tag) => ({
          item: { ...base, source: Object.assign({}, image.source, { tag }), tag, listed: true, sourceTags },
        }))
      } catch (err) {
        return [{ failed: { source: repo, error: err } }]
      }
    }),
  ).then((perImage) => perImage.flat())
}

export interface SyncCheck {
  sourceDigest: Digest
  synced: boolean
  /** What the destination tag named (null: nothing), when it was looked at or known from its listing. */
  destinationDigest?: Digest | null
  /** The source manifest, when it was read rather than HEADed (a copy is certain: see `inSync`). */
  sourceManifest?: Manifest
}

export interface DestinationKnowledge {
  /** The destination repository's tags, listed at the start of the run. */
  tags?: ReadonlySet<string>
  /**
   * When the destination lacks a tag the source listed, read the source manifest by tag at once (one
   * GET) instead of a HEAD followed by the copy's GET. Off for dry runs, which read nothing they need
   * not; a tag named in the spec is still HEADed first, so one the source lacks costs no GET run after run.
   */
  fetchWhenAbsent?: boolean
}

/**
 * Whether the destination already holds what the source has, decided with HEAD requests on the
 * source (registries such as Docker Hub count manifest GETs, not HEADs, against pull limits); GETs go
 * to the destination only. Returns the source digest, and whether a copy is needed. The destination
 * repository's tag list, read at the start of the run, spares the HEAD of a tag it lacks; the copy that
 * then follows reads the source manifest anyway, so it is read here, by tag, in place of the HEAD.
 */
export async function inSync(
  item: SyncItem,
  source: ReadOnlyTarget,
  destination: ReadOnlyTarget,
  known: DestinationKnowledge = {},
): Promise<SyncCheck> {
  const absent = item.tag !== undefined && known.tags !== undefined && !known.tags.has(item.tag)
  if (absent && known.fetchWhenAbsent && item.listed && !item.source.digest) {
    const sourceManifest = await source.fetchManifest(item.source.tag ?? 'latest')
    return { sourceDigest: sourceManifest.digest, synced: false, destinationDigest: null, sourceManifest }
  }
  const sourceDigest = (item.source.digest ??
    (await source.resolve(item.source.tag ?? 'latest')).digest) as Digest
  if (absent) return { sourceDigest, synced: false, destinationDigest: null }
  const at = await resolveIfPresent(destination, item.tag ?? sourceDigest)
  if (!at) return { sourceDigest, synced: false, destinationDigest: null }
  const destinationDigest = at.digest as Digest
  return {
    sourceDigest,
    synced: await contentInSync(item, source, destination, at, sourceDigest, known),
    destinationDigest,
  }
}

/** The destination tag names the source's content (or its platform cut) and carries its attachments. */
async function contentInSync(
  item: SyncItem,
  source: ReadOnlyTarget,
  destination: ReadOnlyTarget,
  at: Descriptor,
  sourceDigest: Digest,
  known: DestinationKnowledge,
): Promise<boolean> {
  let copied: Manifest | undefined
  if (at.digest !== sourceDigest) {
    if (!item.platforms?.length) return false
    // A platform-filtered copy is a new index that names the index it was cut from (GET on our side only).
    copied = await destination.fetchManifest(at.digest)
    const from = annotationsOf(copied)?.[SOURCE_DIGEST_ANNOTATION]
    if (from !== sourceDigest) return false
  }
  if (!item.referrers) return true
  // The source's listing shows no attachment tag, and it keeps referrers in the tag schema: nothing is
  // attached to anything there, so no subject need be looked at (nor an index read for its children).
  if (item.sourceTags?.none && (await source.referrersListing()) === 'tag-schema') return true
  // What a copy carries attachments for: every manifest of the copied graph, except a filtered index
  // itself (new content: nothing was attached to it at the source). Read on our side.
  const subjects = await attachmentSubjects(destination, at, copied)
  const lookup = new AttachmentLookup(source, destination, item.sourceTags, known.tags)
  for (const subject of subjects) {
    if (!(await attachmentsInSync(lookup, subject))) return false
  }
  return true
}

async function attachmentSubjects(
  destination: ReadOnlyTarget,
  at: Descriptor,
  filtered: Manifest | undefined,
) {
  if (!filtered && !isIndexMediaType(at.mediaType)) return [at.digest as Digest]
  const root = filtered ?? (await destination.fetchManifest(at.digest))
  const children = childrenOf(root).manifests.map((d) => d.digest as Digest)
  return filtered ? children : [root.digest, ...children]
}

/** An attachment tag on both sides, by HEAD, except where a listing of that side shows it absent. */
class AttachmentLookup {
  constructor(
    readonly source: ReadOnlyTarget,
    readonly destination: ReadOnlyTarget,
    private readonly sourceTags?: ListedAttachments,
    private readonly destinationTags?: ReadonlySet<string>,
  ) {}

  /** Undefined on both sides when the source has no such tag: what the destination has is not asked. */
  async both(tag: string): Promise<[Descriptor | undefined, Descriptor | undefined]> {
    if (this.sourceTags?.absent(tag)) return [undefined, undefined]
    const there = this.destinationTags && !this.destinationTags.has(tag) ? undefined : this.destination
    return Promise.all([resolveIfPresent(this.source, tag), there ? resolveIfPresent(there, tag) : undefined])
  }
}

/**
 * cosign tags and the referrers tag-schema index compared by HEAD on both sides. Only where they differ,
 * or where the source lists referrers through the API (no tag to HEAD), are the lists read.
 */
async function attachmentsInSync(lookup: AttachmentLookup, digest: Digest): Promise<boolean> {
  const { source, destination } = lookup
  for (const tag of cosignTags(digest)) {
    const [s, d] = await lookup.both(tag)
    if (s && s.digest !== d?.digest) return false
  }
  const [s, d] = await lookup.both(referrersTag(digest))
  if (s && s.digest === d?.digest) return true
  // No tag-schema index where the source keeps referrers that way: nothing is attached by subject.
  if (!s && (await source.referrersListing()) === 'tag-schema') return true
  const [listed, have] = await Promise.all([source.referrers(digest), destination.referrers(digest)])
  const there = new Set(have.map((x) => x.digest))
  return listed.every((x) => there.has(x.digest))
}
