import { type Digest, digestOf } from '../oci/digest.js'
import type { BundleMetadata, OmittedBlob } from './format.js'
import { loadInventory } from './inventory.js'
import type { BundlePlan } from './plan.js'
import { readBundleMetadata } from './reader.js'

/** What the receiving side is known to hold, and where that knowledge came from. */
export interface Omission {
  /** Blob digest → repositories known to hold it there (empty when not known per repository). */
  present: Map<string, string[]>
  base?: NonNullable<BundleMetadata['base']>
  against?: NonNullable<BundleMetadata['against']>
}

const MAX_LOCATIONS = 4

/**
 * From `--base OLD.tar` (everything the old bundle carried or itself left out, since importing it
 * required those) and `--against INVENTORY.json`. The base is read up to its metadata only.
 */
export async function loadOmission(opts: { base?: string; against?: string }): Promise<Omission> {
  const omission: Omission = { present: new Map() }
  if (opts.base) {
    const base = await readBundleMetadata(opts.base)
    for (const b of [...base.metadata.blobs, ...base.metadata.omitted]) omission.present.set(b.digest, [])
    omission.base = {
      digest: digestOf(base.metadataBytes),
      name: base.metadata.name,
      version: base.metadata.version,
      repositories: [...new Set(base.metadata.images.map((i) => i.repository))].sort(),
    }
  }
  if (opts.against) {
    const { inventory, digest } = await loadInventory(opts.against)
    for (const repo of inventory.repositories) {
      for (const b of repo.blobs) {
        const where = omission.present.get(b.digest) ?? []
        if (where.length < MAX_LOCATIONS) where.push(repo.name)
        omission.present.set(b.digest, where)
      }
    }
    omission.against = { digest, source: inventory.source }
  }
  return omission
}

/**
 * Splits the plan's blobs into those the tar carries and those it leaves out. Manifests are always
 * carried: they are small, and import needs them to know what to check and push.
 */
export function applyOmission(plan: BundlePlan, omission: Omission): OmittedBlob[] {
  const omitted: OmittedBlob[] = []
  for (const [digest, blob] of plan.blobs) {
    const where = omission.present.get(digest)
    if (where === undefined || plan.manifests.has(digest)) continue
    plan.blobs.delete(digest)
    const entry: OmittedBlob = { digest: digest as Digest, size: blob.desc.size }
    if (where.length > 0) entry.repositories = where
    omitted.push(entry)
  }
  return omitted.sort((a, b) => (a.digest < b.digest ? -1 : 1))
}
