import type { IncomingMessage, ServerResponse } from 'node:http'
import { PassThrough, type Writable } from 'node:stream'
import { batchedWritable } from '../util/batches.js'
import { ApiError } from './errors.js'

export type Req = IncomingMessage
export type Res = ServerResponse

/** Answers with no body (HEAD and the many 201/202/204 answers of the push flow). */
export function sendEmpty(res: Res, status: number, headers: Record<string, string | number> = {}): void {
  // 204 must not carry Content-Length (RFC 9110 §8.6).
  res.writeHead(status, status === 204 ? headers : { ...headers, 'Content-Length': 0 })
  res.end()
}

/** JSON answer; HEAD gets the same headers and no body (node drops it for HEAD). */
export function sendJson(
  res: Res,
  status: number,
  value: unknown,
  headers: Record<string, string | number> = {},
  contentType = 'application/json',
): void {
  const body = Buffer.from(JSON.stringify(value))
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': body.byteLength, ...headers })
  res.end(body)
}

export function sendError(req: Req, res: Res, err: ApiError): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const body = Buffer.from(err.body())
  const headers: Record<string, string | number> = {
    ...err.headers,
    'Content-Type': 'application/json',
    'Content-Length': body.byteLength,
  }
  if (!req.complete) discardBody(req, headers)
  res.writeHead(err.status, headers)
  res.end(req.method === 'HEAD' ? undefined : body)
}

/** Bodies this large, declared up front, end the connection instead of being read for nothing. */
const DISCARD_MAX = 64 * 1024 * 1024
const DISCARD_MS = 10_000

/**
 * A refused request whose body was not read. Closing at once would make the kernel reset the connection
 * over the unread bytes, and the client could lose the error answer; so the rest is read and dropped
 * (bounded in bytes and time) and the connection stays usable. Only an announced huge body is cut off.
 */
function discardBody(req: Req, headers: Record<string, string | number>): void {
  const declared = Number(req.headers['content-length'] ?? Number.NaN)
  // A body already torn down (its reader failed) has nothing left to read: its socket goes with it.
  if (declared > DISCARD_MAX || req.destroyed) {
    headers.Connection = 'close'
    return
  }
  let discarded = 0
  // req.destroy, not req.socket.destroy: the socket is detached (null) once the answer is out.
  const timer = setTimeout(() => req.destroy(), DISCARD_MS)
  timer.unref()
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.byteLength
    if (discarded > DISCARD_MAX) req.destroy()
  })
  req.once('end', () => clearTimeout(timer))
  req.once('close', () => clearTimeout(timer))
  req.resume()
}

/** Reads a whole body of at most `max` bytes, refusing more as soon as it is known (Content-Length or count). */
export async function readBounded(req: Req, max: number, what: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN)
  const tooLarge = () =>
    new ApiError('MANIFEST_INVALID', `${what} is over the ${max}-byte limit`, { status: 413 })
  if (Number.isFinite(declared) && declared > max) throw tooLarge()
  // Events rather than for-await: leaving a for-await early destroys the socket, and the 413 must still
  // reach the client. The rest of an over-long body is left unread; sendError closes the connection.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength
      if (size <= max) return void chunks.push(chunk)
      cleanup()
      req.pause()
      reject(tooLarge())
    }
    const onEnd = () => {
      cleanup()
      resolve(Buffer.concat(chunks, size))
    }
    const onError = (err: Error) => {
      cleanup()
      reject(err)
    }
    const onClose = () => onError(new Error('client closed the connection mid-body'))
    const cleanup = () => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose)
    }
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose)
  })
}

/**
 * The request body as a stream a writer may fail on without tearing the request down: `pipeline(req, …)`
 * destroys `req` (and its socket) when the file write fails, and the client never hears why. `detach`
 * stops the flow; what is left of the body is then read and dropped by `sendError`.
 */
export function detachableBody(req: Req): { body: PassThrough; detach(): void } {
  const body = new PassThrough({ highWaterMark: 1024 * 1024 })
  // Failures surface through the consumer; this only keeps a late one from going unhandled.
  body.on('error', () => {})
  const abandon = () => {
    if (!req.complete) body.destroy(new Error('client closed the connection mid-body'))
  }
  req.once('close', abandon)
  req.pipe(body)
  return {
    body,
    detach() {
      req.off('close', abandon)
      req.unpipe(body)
    },
  }
}

/** Discards a body nobody needs (a POST that opens an upload session may still carry one). */
export async function drain(req: Req): Promise<void> {
  for await (const _ of req) {
    // discard
  }
}

/**
 * The body of `res` as a writable that sends in batches of about a megabyte (one writev each, see
 * Batches): a pipe sends every 64 KiB chunk it reads with a write of its own. Destroyed (the source
 * failed), it cuts the connection, so a client never sees a short body as a complete one; a client that
 * goes away destroys it.
 */
export function batchedResponse(res: Res): Writable {
  const sink = async (chunks: Buffer[]) => {
    if (res.destroyed) throw new Error('client closed the connection mid-download')
    res.cork()
    let ok = true
    for (const c of chunks) ok = res.write(c)
    res.uncork()
    if (!ok) await drained(res)
  }
  const body = batchedWritable(sink, (finished, err) => {
    if (!finished) {
      res.destroy(err ?? undefined)
      return Promise.resolve()
    }
    // end's callback never comes for a connection that closed first.
    return new Promise<void>((resolve) => {
      res.once('close', resolve)
      res.end(resolve)
    })
  })
  res.once('close', () => {
    if (!res.writableFinished) body.destroy(new Error('client closed the connection mid-download'))
  })
  return body
}

/** Resolves when the response's socket buffer drained; rejects when the client goes away first. */
export function drained(res: Res): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      res.off('close', onClose)
      resolve()
    }
    const onClose = () => {
      res.off('drain', onDrain)
      reject(new Error('client closed the connection mid-download'))
    }
    res.once('drain', onDrain).once('close', onClose)
  })
}
