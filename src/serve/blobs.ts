import { open } from 'node:fs/promises'
import type { Call, RouteOf } from './context.js'
import { ApiError } from './errors.js'
import { sendFileRange } from './send-file.js'

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

/**
 * GET/HEAD of a blob, streamed from its file. Blobs live in one store shared by every repository of the
 * root, so any valid repository name reaches them (as after a cross-repository mount everywhere).
 */
export async function getBlob({ ctx, req, res, route }: Call<RouteOf<'blob'>>): Promise<void> {
  const unknown = () =>
    new ApiError('BLOB_UNKNOWN', `blob ${route.digest} is unknown to ${route.name}`, {
      detail: { digest: route.digest },
    })
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(ctx.layout.blobPath(route.digest), 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw unknown()
    throw err
  }
  try {
    const st = await handle.stat()
    if (!st.isFile()) throw unknown()
    const size = st.size
    const common = {
      'Content-Type': 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: `"${route.digest}"`,
      // Content addressed: the bytes behind this URL never change.
      'Cache-Control': 'max-age=31536000, immutable',
    }
    const range = parseRange(req.headers.range, size)
    if (range === 'unsatisfiable') {
      throw new ApiError(
        'RANGE_INVALID',
        `range ${req.headers.range} is outside blob ${route.digest} of ${size} bytes`,
        {
          headers: { 'Content-Range': `bytes */${size}` },
        },
      )
    }
    const start = range?.start ?? 0
    const end = range?.end ?? size - 1
    const headers: Record<string, string | number> = { ...common, 'Content-Length': end - start + 1 }
    if (range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`
    else headers['Docker-Content-Digest'] = route.digest
    res.writeHead(range ? 206 : 200, headers)
    if (req.method === 'HEAD' || size === 0) {
      res.end()
      return
    }
    await sendFileRange(handle, res, start, end)
  } finally {
    await handle.close()
  }
}

/**
 * Blobs are shared by every repository of the root, and nothing tracks which manifests of which
 * repository still need one; deleting one here could break another repository. Refused, as
 * distribution does when deletion is disabled.
 */
export async function deleteBlob({ route }: Call<RouteOf<'blob'>>): Promise<void> {
  throw new ApiError('UNSUPPORTED', `deleting blobs is not supported (${route.digest} may be shared)`)
}
