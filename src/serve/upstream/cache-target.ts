import type { Readable } from 'node:stream'
import type { ReadOnlyTarget, ReferrersListing } from '../../content/target.js'
import { FerryError, ifPresent } from '../../errors.js'
import { descriptorOf } from '../../oci/descriptor.js'
import type { Digest } from '../../oci/digest.js'
import type { Manifest } from '../../oci/manifest.js'
import type { Descriptor } from '../../oci/schemas.js'
import { ApiError } from '../errors.js'

/** What the pull-through cache reads for one upstream repository, each through the cache. */
export interface CacheReads {
  name: string
  /** A tag or digest's manifest, fetched into the cache when it is not there. */
  manifest(reference: string): Promise<Manifest>
  /** A blob, downloaded into the cache first when it is not there; verified as it is read. */
  blob(desc: Descriptor): Promise<Readable>
  hasBlob(desc: Descriptor): Promise<boolean>
  referrers(digest: Digest): Promise<Descriptor[]>
  tags(): Promise<string[]>
}

/** "Not there" in the cache's words (a 404 ApiError) in the library's (NOT_FOUND), so ifPresent works. */
async function found<T>(read: Promise<T>): Promise<T> {
  try {
    return await read
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) throw new FerryError('NOT_FOUND', err.message)
    throw err
  }
}

/**
 * One upstream repository as a ReadOnlyTarget (it has no writes) whose every read goes through the cache: what the
 * policy's verify reads (a signature, an SBOM) is cached as a client's pull of it would be, and served
 * from the cache when upstream is down.
 */
export function cacheTarget(reads: CacheReads): ReadOnlyTarget {
  return {
    name: reads.name,
    fetchManifest: (reference) => found(reads.manifest(reference)),
    resolve: async (reference) =>
      descriptorOf(await found(reads.manifest(reference)), { artifactType: 'referrers' }),
    fetchBlob: (desc) => found(reads.blob(desc)),
    hasBlob: (desc) => reads.hasBlob(desc),
    hasManifest: async (digest) => (await ifPresent(found(reads.manifest(digest)))) !== undefined,
    listTags: () => reads.tags(),
    referrers: (digest, opts = {}) =>
      reads
        .referrers(digest)
        .then((all) => (opts.artifactType ? all.filter((d) => d.artifactType === opts.artifactType) : all)),
    referrersListing: async (): Promise<ReferrersListing> => 'api',
    close: async () => {},
  }
}
