import type { ReadOnlyTarget } from '../content/target.js'
import { FerryError } from '../errors.js'
import { closure } from '../graph/index.js'
import type { Descriptor } from '../oci/schemas.js'
import { forEachLimited, Limiter } from '../util/limit.js'
import type { ImageRecord } from './format.js'
import { type Destination, destinationPath, type MappingOptions } from './mapping.js'
import type { BundleReader } from './reader.js'

/** A left-out blob the destination holds in another repository: mounted (or copied) before the image. */
export interface MountPlan {
  desc: Descriptor
  /** Destination path of the repository that has it. */
  from: string
}

const MAX_LISTED = 10

/**
 * For a delta: every blob the bundle leaves out must already be at the destination, in the image's own
 * repository or (registries keep blobs per repository) in another one it can be mounted from: those the
 * bundle's other images go to, the base bundle's repositories mapped the same way, and the repositories
 * an inventory named. Only HEAD requests; throws NOT_FOUND listing what is missing, before any write.
 */
export async function checkOmittedPresent(
  bundle: BundleReader,
  placed: readonly { image: ImageRecord; path: string }[],
  dest: Destination,
  open: (path: string) => ReadOnlyTarget | undefined,
  opts: MappingOptions,
): Promise<Map<string, MountPlan[]>> {
  const mounts = new Map<string, MountPlan[]>()
  if (bundle.metadata.omitted.length === 0) return mounts
  const candidates = candidatePaths(bundle, placed, dest, opts)
  const known = new Map(bundle.metadata.omitted.map((o) => [o.digest, o.repositories ?? []]))
  const missing: string[] = []
  const limiter = new Limiter(8)
  for (const { image, path } of placed) {
    const own = open(path)
    const needed = await neededOmitted(bundle, image)
    await forEachLimited(needed, limiter, async (desc) => {
      if (own && (await own.hasBlob(desc))) return
      // An inventory names repositories on the registry it was taken from: only meaningful for a registry.
      const extra = dest.kind === 'registry' ? (known.get(desc.digest) ?? []) : []
      for (const from of [...candidates, ...extra]) {
        if (from === path) continue
        const other = open(from)
        if (other && (await other.hasBlob(desc))) {
          mounts.set(path, [...(mounts.get(path) ?? []), { desc, from }])
          return
        }
      }
      missing.push(`${desc.digest} (${desc.size} bytes, for ${image.source})`)
    })
  }
  if (missing.length > 0) {
    const base = bundle.metadata.base
    const hint = base ? `; import the base bundle ${base.name} ${base.version} there first` : ''
    const shown = missing.slice(0, MAX_LISTED).join(', ')
    const more = missing.length > MAX_LISTED ? ` and ${missing.length - MAX_LISTED} more` : ''
    throw new FerryError(
      'NOT_FOUND',
      `${bundle.name}: this delta bundle leaves out ${missing.length} blobs the destination ${dest.kind === 'registry' ? dest.registry : `oci:${dest.path}`} does not have: ${shown}${more}${hint}. Nothing was written.`,
    )
  }
  return mounts
}

function candidatePaths(
  bundle: BundleReader,
  placed: readonly { path: string }[],
  dest: Destination,
  opts: MappingOptions,
): string[] {
  const paths = new Set(placed.map((p) => p.path))
  for (const repository of bundle.metadata.base?.repositories ?? []) {
    try {
      paths.add(destinationPath(dest, repository, undefined, opts))
    } catch {
      // A base repository the mapping cannot place cannot hold anything for us either.
    }
  }
  return [...paths]
}

/** Blobs the image and what is attached to it need that the bundle does not carry. */
async function neededOmitted(bundle: BundleReader, image: ImageRecord): Promise<Descriptor[]> {
  const source = bundle.target(image.repository)
  const { blobs } = await closure(source, await source.fetchManifest(image.digest), { referrers: true })
  return [...blobs.values()].filter((b) => !bundle.has(b.digest))
}
