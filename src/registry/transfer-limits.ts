import { type Readable, Transform } from 'node:stream'
import { finished } from 'node:stream/promises'
import { chain } from '../util/chain.js'
import { NetworkError } from './network-error.js'

/**
 * How long ferry waits on a registry that stops talking, and how slow a download may crawl. Without
 * them undici waits 300 s for headers and 300 s between body chunks, so a silent server cost 5 minutes
 * per request and one sending a byte a second never failed at all (curl's --speed-limit/--speed-time).
 */
export interface TransferLimits {
  /** No response headers, or no body bytes, for this long fails the request (retried like a reset). */
  idleTimeoutMs: number
  /** A download that delivers fewer than `lowSpeedBytes` in `lowSpeedWindowMs` fails; 0 turns it off. */
  lowSpeedBytes: number
  lowSpeedWindowMs: number
}

export const DEFAULT_TRANSFER_LIMITS: TransferLimits = {
  idleTimeoutMs: 30_000,
  lowSpeedBytes: 1024,
  lowSpeedWindowMs: 30_000,
}

/** LOW_SPEED is not transient: resuming a crawling link would make progress, and so never end. */
export const LOW_SPEED = 'LOW_SPEED'

type Body = Readable & { dump?: (opts?: { limit: number }) => Promise<void> }

/**
 * The body, passed through a counter that fails it with a NETWORK error naming `host` when a window
 * goes by with fewer than `lowSpeedBytes`. A window in which bytes wait unread on our side is not
 * counted: then the reader (a slow destination, a busy disk) is what is slow, not the registry.
 */
export function watchSpeed(body: Body, host: string, limits: TransferLimits): Body {
  if (limits.lowSpeedBytes <= 0) return body
  let count = 0
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      count += chunk.length
      cb(null, chunk)
    },
  })
  const watched: Body = counter
  const timer = setInterval(() => {
    const readerIsSlow = watched.readableLength > 0 || body.readableLength > 0
    if (!readerIsSlow && count < limits.lowSpeedBytes) {
      const seconds = limits.lowSpeedWindowMs / 1000
      watched.destroy(
        new NetworkError(
          host,
          LOW_SPEED,
          `transfer too slow: ${count} bytes in ${seconds} s, under the low-speed limit of ${limits.lowSpeedBytes} bytes per ${seconds} s`,
        ),
      )
    }
    count = 0
  }, limits.lowSpeedWindowMs)
  timer.unref()
  chain(body, counter, () => clearInterval(timer))
  watched.once('close', () => clearInterval(timer))
  // Callers drain a body they do not want (keeping the connection reusable); that still works.
  watched.dump = async (opts = { limit: 128 * 1024 }) => {
    let seen = 0
    watched.on('data', (c: Buffer) => {
      seen += c.length
      if (seen > opts.limit) watched.destroy()
    })
    await finished(watched).catch(() => {})
  }
  return watched
}
