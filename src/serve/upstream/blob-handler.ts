import { isFerryError } from '../../errors.js'
import { sendBlobFile, sendFromTarget } from '../blobs.js'
import type { Call, RouteOf } from '../context.js'
import { ApiError, toApiError } from '../errors.js'
import type { Mirror } from './mirror.js'

/**
 * GET/HEAD of a blob through the pull-through cache: a cached blob is sent from its file (as a layout's
 * is); a whole GET of one that is not cached reads the repository's CachingTarget as it arrives from
 * upstream (fetchBlob: the tee into the cache); a HEAD or a Range waits until the blob is in the cache,
 * so a blob upstream cannot deliver whole and verified is never announced (502, as the download's).
 */
export async function getCachedBlob(call: Call<RouteOf<'blob'>>, mirror: Mirror): Promise<void> {
  const { req, route } = call
  // From the request on, while it downloads too: eviction keeps the blob, and the manifests that list it.
  const release = mirror.reading(route.digest)
  try {
    const target = mirror.target(route.name, call.query)
    const whole = req.method === 'GET' && req.headers.range === undefined
    const hit = await target.cachedBlob(route.digest)
    if (hit) {
      // Counted before the answer goes out: a scrape right after the pull sees it.
      if (whole) mirror.stats.bytesFromCache += hit.size
      return await sendBlobFile(call, { kind: 'file', path: hit.path, offset: 0, verify: false })
    }
    // The size the manifests of this repository give, never another's (sweep H2); the bytes are then
    // verified against digest and size.
    const size = target.blobSize(route.digest)
    if (size === undefined) {
      throw new ApiError(
        'BLOB_UNKNOWN',
        `blob ${route.digest} is in no manifest of ${route.name} pulled through this cache`,
        { detail: { digest: route.digest } },
      )
    }
    const desc = { mediaType: 'application/octet-stream', digest: route.digest, size }
    if (whole && size > 0) return await sendFromTarget(call, target, desc)
    const path = await target.fill(desc)
    await sendBlobFile(call, { kind: 'file', path, offset: 0, verify: false })
  } catch (err) {
    if (isFerryError(err, 'NOT_FOUND')) throw toApiError(err, 'BLOB_UNKNOWN')
    throw err
  } finally {
    release()
  }
}
