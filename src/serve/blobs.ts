import { open } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { canReadFrom, type RangedBlobSource } from '../content/capabilities.js'
import type { ReadOnlyTarget } from '../content/target.js'
import { isFerryError } from '../errors.js'
import type { Descriptor } from '../oci/schemas.js'
import type { Call, RouteOf } from './context.js'
import { ApiError } from './errors.js'
import { batchedResponse } from './http.js'
import { sendFileRange } from './send-file.js'
import type { BlobBytes } from './store.js'

export type ByteRange = { start: number; end: number }

/**
 * One `bytes=` range of RFC 9110 §14.1.2 against a blob of `size` bytes. Undefined means "send it all":
 * no header, a malformed one, or several ranges (a server may ignore Range, and a multipart answer helps
 * no registry client). 'unsatisfiable' is the 416 case.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): ByteRange | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '')
  if (!m || (m[1] === '' && m[2] === '')) return undefined
  if (m[1] === '') {
    const suffix = Number(m[2])
    if (suffix === 0 || size === 0) return 'unsatisfiable'
    return { start: Math.max(0, size - suffix), end: size - 1 }
  }
  const start = Number(m[1])
  if (m[2] !== '' && Number(m[2]) < start) return undefined
  if (start >= size) return 'unsatisfiable'
  return { start, end: m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1) }
}

type BlobCall = Call<RouteOf<'blob'>>

const unknownBlob = (route: RouteOf<'blob'>) =>
  new ApiError('BLOB_UNKNOWN', `blob ${route.digest} is unknown to ${route.name}`, {
    detail: { digest: route.digest },
  })

/**
 * GET/HEAD of a blob. Blobs live in one store shared by every repository of the root (or the bundle),
 * but each is served only through a repository that holds it (reachable.ts), as the spec asks.
 */
export async function getBlob(call: BlobCall): Promise<void> {
  if (!(await call.ctx.members.hasBlob(call.route.name, call.route.digest))) throw unknownBlob(call.route)
  const { ctx, route } = call
  const bytes = await ctx.store.openBlob(route.digest)
  if (!bytes) throw unknownBlob(route)
  try {
    if (bytes.kind === 'file') await sendBlobFile(call, bytes)
    else {
      const desc = { mediaType: 'application/octet-stream', digest: route.digest, size: bytes.size }
      await sendFromTarget(call, ctx.store.target(route.name), desc)
    }
  } catch (err) {
    // Bytes that no longer match their digest are worth an operator's attention, not only a cut download.
    if (isFerryError(err, 'DIGEST_MISMATCH') || isFerryError(err, 'SIZE_INVALID')) {
      call.ctx.logger.warn(`GET ${call.route.name} blob ${call.route.digest}: ${err.message}`)
    }
    throw err
  }
}

/**
 * Status and headers for a blob of `size` bytes; the range to send, or undefined when there is no body
 * (HEAD, an empty blob). Not `ranged`: a Range header is ignored (the whole blob, 200).
 */
function writeBlobHead({ req, res, route }: BlobCall, size: number, ranged = true): ByteRange | undefined {
  const range = ranged ? parseRange(req.headers.range, size) : undefined
  if (range === 'unsatisfiable') {
    // RFC 9110 §15.5.17; the spec's code list has no range code, so the status carries the meaning.
    throw new ApiError(
      'BLOB_UPLOAD_INVALID',
      `range ${req.headers.range} is outside blob ${route.digest} of ${size} bytes`,
      { status: 416, headers: { 'Content-Range': `bytes */${size}` } },
    )
  }
  const start = range?.start ?? 0
  const end = range?.end ?? size - 1
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': ranged ? 'bytes' : 'none',
    ETag: `"${route.digest}"`,
    // Content addressed: the bytes behind this URL never change.
    'Cache-Control': 'max-age=31536000, immutable',
    'Content-Length': end - start + 1,
  }
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`
  else headers['Docker-Content-Digest'] = route.digest
  res.writeHead(range ? 206 : 200, headers)
  if (req.method === 'HEAD' || size === 0) {
    res.end()
    return undefined
  }
  return { start, end }
}

/** A blob file to one client: headers, Range, and (when asked) hashing as it goes. */
export async function sendBlobFile(
  call: BlobCall,
  bytes: Extract<BlobBytes, { kind: 'file' }>,
): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(bytes.path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw unknownBlob(call.route)
    throw err
  }
  try {
    const st = await handle.stat()
    if (!st.isFile()) throw unknownBlob(call.route)
    bytes.checkOpened?.(st)
    const size = bytes.size ?? st.size
    const send = writeBlobHead(call, size)
    if (!send) return
    const whole = send.start === 0 && send.end === size - 1
    const verify = bytes.verify && whole ? { digest: call.route.digest } : undefined
    await sendFileRange(handle, call.res, bytes.offset + send.start, bytes.offset + send.end, verify)
  } finally {
    await handle.close()
  }
}

/**
 * A blob read through the storage contract: the whole by fetchBlob (which verifies as it flows), a Range
 * by fetchBlobFrom where the target can seek (elsewhere the Range is ignored and the whole sent, as RFC
 * 9110 allows). The read opens before the status goes out, so a failure to open (upstream has no such
 * blob, a download being joined failed) is answered, not a cut connection.
 */
export async function sendFromTarget(
  call: BlobCall,
  target: ReadOnlyTarget,
  desc: Descriptor,
): Promise<void> {
  const { req, res } = call
  const ranged = canReadFrom(target)
  const range = ranged ? parseRange(req.headers.range, desc.size) : undefined
  const part =
    range && range !== 'unsatisfiable' && range.end - range.start + 1 < desc.size ? range : undefined
  const none = req.method === 'HEAD' || desc.size === 0 || range === 'unsatisfiable'
  const body = none
    ? undefined
    : part
      ? firstBytes(
          await (target as ReadOnlyTarget & RangedBlobSource).fetchBlobFrom(desc, part.start),
          part.end - part.start + 1,
        )
      : await target.fetchBlob(desc)
  if (!writeBlobHead(call, desc.size, ranged) || !body) return
  await pipeline(body, part ? res : batchedResponse(res))
}

/** The first `n` bytes of a stream (which is then closed), failing if it ends before them. */
async function* firstBytes(source: Readable, n: number): AsyncGenerator<Buffer> {
  let left = n
  for await (const chunk of source as AsyncIterable<Buffer>) {
    if (chunk.byteLength >= left) {
      yield chunk.subarray(0, left)
      return
    }
    left -= chunk.byteLength
    yield chunk
  }
  throw new Error(`blob stream ended ${left} bytes early`)
}

/**
 * Blobs are shared by every repository of the root, and nothing tracks which manifests of which
 * repository still need one; deleting one here could break another repository. Refused, as
 * distribution does when deletion is disabled.
 */
export async function deleteBlob({ route }: Call<RouteOf<'blob'>>): Promise<void> {
  throw new ApiError('UNSUPPORTED', `deleting blobs is not supported (${route.digest} may be shared)`)
}
