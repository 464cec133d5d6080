import type { Target } from '../content/target.js'
import { SOURCE_DIGEST_ANNOTATION } from '../copy/platform-filter.js'
import { FerryError } from '../errors.js'
import { cosignTags, referrersTag } from '../naming/attachment-tags.js'
import type { Digest } from '../oci/digest.js'
import { annotationsOf, childrenOf, type Manifest } from '../oci/manifest.js'
import { isIndexMediaType } from '../oci/media-types.js'
import type { Descriptor, Platform } from '../oci/schemas.js'
import { formatRepository, parseRepository, type RegistryReference } from '../reference/index.js'
import type { RegistryClient } from '../registry/index.js'
import { imageSettings, planDestination, type SyncSpec } from '../spec/sync-spec.js'
import { selectTags } from '../spec/tag-filter.js'
import { resolveIfPresent } from '../targets/present.js'

/** One image to mirror: where from, where to, how. */
export interface SyncItem {
  source: RegistryReference
  /** `registry/repository`, e.g. reg.local:5000/cache/postgres */
  destination: { registry: string; repository: string }
  /** Tag to write at the destination; undefined for a source pinned by digest alone. */
  tag?: string
  platforms?: Platform[]
  referrers: boolean
}

export type Expanded = { item: SyncItem } | { failed: { source: string; error: unknown } }

/** Spec entries to single images: repositories become one item per tag their filter selects. */
export async function expandSpec(spec: SyncSpec, client: RegistryClient): Promise<Expanded[]> {
  const out: Expanded[] = []
  for (const image of spec.images) {
    const settings = imageSettings(spec, image)
    const repo = formatRepository(image.source)
    const destination = parseRepository(planDestination(repo, spec, image))
    const base = { destination, ...settings }
    if (image.source.tag || image.source.digest) {
      out.push({ item: { ...base, source: image.source, tag: image.source.tag } })
      continue
    }
    try {
      const available = await client.repository(image.source.registry, image.source.repository).listTags()
      const tags = selectTags(available, image.tags ?? {})
      if (tags.length === 0) throw new FerryError('NOT_FOUND', `${repo}: no tag matches the filter`)
      for (const tag of tags) out.push({ item: { ...base, source: { ...image.source, tag }, tag } })
    } catch (err) {
      out.push({ failed: { source: repo, error: err } })
    }
  }
  return out
}

/**
 * Whether the destination already holds what the source has, decided with HEAD requests on the
 * source (registries such as Docker Hub count manifest GETs, not HEADs, against pull limits); GETs go
 * to the destination only. Returns the source digest, and whether a copy is needed.
 */
export async function inSync(
  item: SyncItem,
  source: Target,
  destination: Target,
): Promise<{ sourceDigest: Digest; synced: boolean }> {
  const sourceDigest = (item.source.digest ??
    (await source.resolve(item.source.tag ?? 'latest')).digest) as Digest
  const at = await resolveIfPresent(destination, item.tag ?? sourceDigest)
  if (!at) return { sourceDigest, synced: false }
  let copied: Manifest | undefined
  if (at.digest !== sourceDigest) {
    // A platform-filtered copy is a new index that names the index it was cut from (GET on our side only).
    if (!item.platforms?.length) return { sourceDigest, synced: false }
    copied = await destination.fetchManifest(at.digest)
    const from = annotationsOf(copied)?.[SOURCE_DIGEST_ANNOTATION]
    if (from !== sourceDigest) return { sourceDigest, synced: false }
  }
  if (!item.referrers) return { sourceDigest, synced: true }
  // What a copy carries attachments for: every manifest of the copied graph, except a filtered index
  // itself (new content: nothing was attached to it at the source). Read on our side.
  const subjects = await attachmentSubjects(destination, at, copied)
  for (const subject of subjects) {
    if (!(await attachmentsInSync(source, destination, subject))) return { sourceDigest, synced: false }
  }
  return { sourceDigest, synced: true }
}

async function attachmentSubjects(destination: Target, at: Descriptor, filtered: Manifest | undefined) {
  if (!filtered && !isIndexMediaType(at.mediaType)) return [at.digest as Digest]
  const root = filtered ?? (await destination.fetchManifest(at.digest))
  const children = childrenOf(root).manifests.map((d) => d.digest as Digest)
  return filtered ? children : [root.digest, ...children]
}

/**
 * cosign tags and the referrers tag-schema index compared by HEAD on both sides. Only where they differ,
 * or where the source lists referrers through the API (no tag to HEAD), are the lists read.
 */
async function attachmentsInSync(source: Target, destination: Target, digest: Digest): Promise<boolean> {
  const head = (t: Target, tag: string) => resolveIfPresent(t, tag)
  for (const tag of cosignTags(digest)) {
    const [s, d] = await Promise.all([head(source, tag), head(destination, tag)])
    if (s && s.digest !== d?.digest) return false
  }
  const schema = referrersTag(digest)
  const [s, d] = await Promise.all([head(source, schema), head(destination, schema)])
  if (s && s.digest === d?.digest) return true
  // No tag-schema index where the source keeps referrers that way: nothing is attached by subject.
  if (!s && (await source.referrersListing()) === 'tag-schema') return true
  const [listed, have] = await Promise.all([source.referrers(digest), destination.referrers(digest)])
  const there = new Set(have.map((x) => x.digest))
  return listed.every((x) => there.has(x.digest))
}
