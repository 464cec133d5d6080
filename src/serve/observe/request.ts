import type { Socket } from 'node:net'
import type { Req, Res } from '../http.js'
import { type AccessLogFormat, formatAccess, loggedTarget } from './access-log.js'
import type { ServerMetrics } from './server-metrics.js'

/** Where access log lines go (stderr, or the file of --access-log), and in which format. */
export interface AccessLogSink {
  format: AccessLogFormat
  write(line: string): void
}

/** What the handlers learn about a request that the log and the metrics want. */
export interface RequestInfo {
  /** The route template; `other` until a route matched. */
  route: string
  /** The authenticated htpasswd user. */
  user?: string
  /** The digest the request named, when the answer does not carry one. */
  digest?: string
}

// nginx's code for a client that went away before the answer started: no status was ever sent.
const CLIENT_CLOSED = 499

/** Each connection's byte counters when its last request ended: the next request's bytes start there. */
const counted = new WeakMap<Socket, { read: number; written: number }>()

/**
 * Watches one request to its end, then records it: a metrics sample and an access log line. Its bytes
 * are what its connection read and wrote since the request before it on that connection ended (headers
 * included, as Apache's %I and %O): a small body arrives with its headers, before the request is seen,
 * so a count from the request's start would miss it. Over a connection the counts add up to its traffic.
 */
export function observeRequest(
  req: Req,
  res: Res,
  metrics: ServerMetrics,
  accessLog: AccessLogSink | undefined,
): RequestInfo {
  const info: RequestInfo = { route: 'other' }
  const started = performance.now()
  const time = new Date()
  const socket: Socket = req.socket
  res.once('close', () => {
    const status = res.headersSent ? res.statusCode : CLIENT_CLOSED
    const before = counted.get(socket) ?? { read: 0, written: 0 }
    const now = { read: socket.bytesRead, written: socket.bytesWritten }
    counted.set(socket, now)
    const bytesIn = Math.max(0, now.read - before.read)
    const bytesOut = Math.max(0, now.written - before.written)
    const method = req.method ?? 'GET'
    metrics.record({ method, route: info.route, status, bytesIn, bytesOut })
    if (!accessLog) return
    const answered = res.getHeader('Docker-Content-Digest')
    const line = formatAccess(
      {
        time,
        remote: socket.remoteAddress ?? '-',
        user: info.user,
        method,
        target: loggedTarget(req.url ?? ''),
        status,
        bytes: bytesOut,
        durationMs: performance.now() - started,
        digest: typeof answered === 'string' ? answered : info.digest,
        userAgent: req.headers['user-agent'],
      },
      accessLog.format,
    )
    accessLog.write(line)
  })
  return info
}
