import type { Server } from 'node:http'
import { FerryError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Req } from './http.js'

/**
 * How long a client may take, so that slow or silent ones cannot hold connections (and upload
 * sessions) for ever. Node enforces the first two; the third also covers a body trickled a byte at a
 * time, which keeps a plain socket timeout from ever firing.
 */
export interface ServeTimeouts {
  /** The request line and headers must be complete within this. Default 30 s. */
  headersMs?: number
  /**
   * The whole request, body included, must arrive within this. Default 0: no limit, since a layer of
   * many gigabytes may take hours on a slow link; the idle rule below still cuts a stalled one.
   */
  requestMs?: number
  /**
   * A connection that sends nothing for this long is closed, whether between requests (keep-alive) or
   * mid-body; and a request body that delivers less than 1 KiB within such a window is cut off as
   * stalled. Default 60 s; 0 turns both off.
   */
  idleMs?: number
}

const DEFAULTS = { headersMs: 30_000, requestMs: 0, idleMs: 60_000 }
// Below this per idle window a body is a trickle, not a slow link: 1 KiB a minute is 17 bytes/s.
const MIN_BODY_BYTES_PER_WINDOW = 1024

export function resolveTimeouts(t: ServeTimeouts = {}): Required<ServeTimeouts> {
  const r = { ...DEFAULTS, ...t }
  for (const [name, ms] of Object.entries(r)) {
    if (!Number.isSafeInteger(ms) || ms < 0) throw new FerryError('USAGE', `invalid ${name} timeout ${ms}`)
  }
  if (r.headersMs === 0) throw new FerryError('USAGE', 'the header timeout must be above 0')
  if (r.requestMs > 0 && r.headersMs > r.requestMs) {
    throw new FerryError('USAGE', 'the header timeout cannot be longer than the request timeout')
  }
  return r
}

/**
 * Node checks the header and request deadlines on a timer of its own (30 s by default, so a 1 s limit
 * would fire up to 30 s late); this makes it a quarter of the header deadline, within 100 ms-1 s.
 */
export function checkingIntervalMs(t: Required<ServeTimeouts>): number {
  return Math.max(100, Math.min(1000, Math.floor(t.headersMs / 4)))
}

export function applyTimeouts(server: Server, t: Required<ServeTimeouts>): void {
  server.headersTimeout = t.headersMs
  server.requestTimeout = t.requestMs
  server.keepAliveTimeout = t.idleMs
  // Socket inactivity in either direction; node destroys the socket when it fires.
  server.timeout = t.idleMs
}

/** Cuts the connection of a request whose body stops arriving or only trickles in (see `idleMs`). */
export function watchBody(req: Req, t: Required<ServeTimeouts>, logger: Logger): void {
  const hasBody =
    Number(req.headers['content-length'] ?? 0) > 0 || req.headers['transfer-encoding'] !== undefined
  if (t.idleMs === 0 || !hasBody || req.complete) return
  const socket = req.socket
  let seen = socket.bytesRead
  const timer = setInterval(() => {
    if (req.complete) return stop()
    const now = socket.bytesRead
    if (now - seen < MIN_BODY_BYTES_PER_WINDOW) {
      logger.debug(`${req.method} body stalled: ${now - seen} bytes in ${t.idleMs} ms; connection cut`)
      stop()
      socket.destroy()
    }
    seen = now
  }, t.idleMs)
  timer.unref()
  const stop = () => clearInterval(timer)
  req.once('end', stop)
  req.once('close', stop)
}
