import type { Digest } from '../oci/digest.js'
import { type ServeContext, writableLayout } from './context.js'
import { detachableBody, drain, type Req } from './http.js'

/**
 * The length of a request that carries a whole blob by itself — a single-POST upload, or the closing PUT
 * of a session that has received nothing — when it can go straight into the layout: Content-Length
 * known, no Content-Range other than the whole body, and the blob not stored yet. Undefined: take the
 * temp-file path.
 */
export async function wholeBlobLength(
  ctx: ServeContext,
  req: Req,
  digest: Digest,
  offset: number,
): Promise<number | undefined> {
  const length = Number(req.headers['content-length'] ?? Number.NaN)
  if (offset !== 0 || !Number.isSafeInteger(length) || length <= 0) return undefined
  const range = req.headers['content-range']
  if (range !== undefined && range.trim() !== `0-${length - 1}`) return undefined
  // Present already: the temp-file path still checks the bytes, then skips the copy.
  if (await writableLayout(ctx).hasBlob(digest)) return undefined
  return length
}

/**
 * Streams the body into the layout's blob writer, which hashes it as it arrives and renames it into
 * place only once size and digest verify: one write of the bytes instead of a temp file and a copy.
 * The body is piped, not pipelined, so that the writer stopping early (another upload of the same blob
 * finished first) leaves the request to be drained and answered rather than destroyed.
 */
export async function streamWholeBlob(
  ctx: ServeContext,
  name: string,
  req: Req,
  digest: Digest,
  size: number,
): Promise<void> {
  const { body, detach } = detachableBody(req)
  try {
    await writableLayout(ctx)
      .target(name)
      .pushBlob({ mediaType: 'application/octet-stream', digest, size }, body)
  } finally {
    detach()
  }
  if (!req.complete) await drain(req)
}
