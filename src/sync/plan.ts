import { resolveIfPresent } from '../content/present.js'
import type { Target } from '../content/target.js'
import { SOURCE_DIGEST_ANNOTATION } from '../copy/platform-filter.js'
import { COSIGN_TAG_SUFFIXES, digestTag } from '../copy/referrers.js'
import { FerryError } from '../errors.js'
import type { Digest } from '../oci/digest.js'
import { annotationsOf, type Manifest } from '../oci/manifest.js'
import type { Platform } from '../oci/schemas.js'
import { formatRepository, parseRepository, type RegistryReference } from '../reference/index.js'
import type { RegistryClient } from '../registry/index.js'
import { imageSettings, planDestination, type SyncSpec } from '../spec/sync-spec.js'
import { selectTags } from '../spec/tag-filter.js'

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
 * source (registries such as Docker Hub count manifest GETs, not HEADs, against pull limits).
 * Returns the source digest when in sync, undefined when a copy is needed.
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
  if (at.digest !== sourceDigest) {
    // A platform-filtered copy is a new index that names the index it was cut from (GET on our side only).
    if (!item.platforms?.length) return { sourceDigest, synced: false }
    const copied: Manifest = await destination.fetchManifest(at.digest)
    const from = annotationsOf(copied)?.[SOURCE_DIGEST_ANNOTATION]
    if (from !== sourceDigest) return { sourceDigest, synced: false }
  }
  if (item.referrers && !(await referrersInSync(source, destination, sourceDigest))) {
    return { sourceDigest, synced: false }
  }
  return { sourceDigest, synced: true }
}

/** cosign tags compared by HEAD; referrers compared by listing (one request a side). */
async function referrersInSync(source: Target, destination: Target, digest: Digest): Promise<boolean> {
  for (const suffix of COSIGN_TAG_SUFFIXES) {
    const tag = `${digestTag(digest)}.${suffix}`
    const [s, d] = await Promise.all([resolveIfPresent(source, tag), resolveIfPresent(destination, tag)])
    if (s && s.digest !== d?.digest) return false
  }
  const [s, d] = await Promise.all([source.referrers(digest), destination.referrers(digest)])
  const have = new Set(d.map((x) => x.digest))
  return s.every((x) => have.has(x.digest))
}
