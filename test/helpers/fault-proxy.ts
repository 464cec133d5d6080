import {
  type ClientRequest,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/**
 * A loopback HTTP proxy in front of a real registry that injects faults per request: the failures a
 * real network produces (resets, bodies cut mid-stream in either direction, lost answers, flipped
 * bytes, overloaded servers) on demand. Bodies stream through in both directions, chunk by chunk, so
 * a cut lands in the middle of a transfer the registry is really processing. The Host header is
 * passed through, so the registry's Location headers point back at the proxy.
 */

export interface SeenRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  at: number
  /** Request body bytes received from the client so far (what a retry re-sent, summed over requests). */
  received: number
}

export type Fault =
  /** Drop the connection before anything reaches the registry. */
  | { kind: 'reset' }
  /** Forward the headers and the first `after` bytes of the request body, then cut both connections. */
  | { kind: 'cut-request'; after: number }
  /** Let the registry act on the whole request, then drop the connection instead of answering. */
  | { kind: 'lose-answer' }
  /** Answer ourselves (after draining the request body); the registry never sees the request. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /**
   * Forward, send the answer's headers and at most `after` bytes of its body (default: all of it as it
   * comes), then drop the connection; with `afterMs`, the drop comes that long after the answer began
   * (a link that stalls, then dies), else right after the last forwarded byte.
   */
  | { kind: 'cut'; after?: number; afterMs?: number }
  /** Forward, but flip one byte of the response body (same length): the middle one when the length is known. */
  | { kind: 'alter' }
  /** Forward, then replace the answer; the one fault that buffers the answer (meant for small ones). */
  | { kind: 'rewrite'; fn: (res: Upstream, req: SeenRequest) => Upstream }
  /**
   * Wait `ms`, or until `until` settles, before forwarding (a slow registry), e.g. to count requests in
   * flight or to change the registry while a client waits on its answer.
   */
  | { kind: 'hold'; ms?: number; until?: Promise<unknown> }
  /**
   * Never forward and never answer: the request is lost with its client (a process killed while a
   * request was on its way). The registry never sees it; the socket closes when the client goes.
   */
  | { kind: 'stall' }
  /**
   * Forward the answer's headers at once, then its body at `bytesPerSecond` (a link that crawls); with
   * `alter`, its middle byte flipped as well.
   */
  | { kind: 'trickle'; bytesPerSecond: number; alter?: boolean }

export interface Upstream {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
}

export type Rule = (req: SeenRequest) => Fault | undefined

export interface FaultProxy {
  /** `127.0.0.1:PORT` */
  host: string
  url: string
  seen: SeenRequest[]
  /** Most requests the proxy had open at once since it started or since `resetPeak`. */
  readonly peak: number
  resetPeak(): void
  setRule(rule: Rule | undefined): void
  stop(): Promise<void>
}

/** A rule that injects `fault` into the first `times` requests matching `method` and `path`. */
export function faultTimes(method: string, path: RegExp, times: number, fault: Fault): Rule {
  let left = times
  return (req) => {
    if (left > 0 && req.method === method && path.test(req.path)) {
      left--
      return fault
    }
    return undefined
  }
}

/** A rule that injects `fault` into the `n`th request (1-based) matching `method` and `path`, once. */
export function faultOnNth(method: string, path: RegExp, n: number, fault: Fault): Rule {
  let count = 0
  return (req) => (req.method === method && path.test(req.path) && ++count === n ? fault : undefined)
}

const hopByHop = ['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade']

function answerHeaders(up: IncomingMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !hopByHop.includes(k)) out[k] = v
  return out
}

async function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of stream) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

/** Streams the client's request body upstream; with `limit`, stops after that many bytes and calls `cut`. */
function sendBody(
  req: IncomingMessage,
  seen: SeenRequest,
  out: ClientRequest,
  limit?: number,
  cut?: () => void,
) {
  req.on('data', (chunk: Buffer) => {
    seen.received += chunk.length
    if (limit === undefined) {
      if (!out.write(chunk)) {
        req.pause()
        out.once('drain', () => req.resume())
      }
      return
    }
    const room = limit - (seen.received - chunk.length)
    if (room <= 0) return
    if (chunk.length < room) {
      out.write(chunk)
      return
    }
    req.pause()
    // Once the registry has been handed the bytes (flushed to its socket), both sides go.
    out.write(chunk.subarray(0, room), () => setTimeout(cut!, 50))
  })
  req.on('end', () => {
    if (limit === undefined) out.end()
  })
}

export async function startFaultProxy(upstreamUrl: string): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl)
  const seen: SeenRequest[] = []
  const sockets = new Set<Socket>()
  let rule: Rule | undefined
  let open = 0
  let peak = 0

  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
    r: SeenRequest,
    fault: Fault | undefined,
  ) => {
    const drop = () => req.socket.destroy()
    if (fault?.kind === 'reset') return drop()
    if (fault?.kind === 'status') {
      req.on('data', (c: Buffer) => {
        r.received += c.length
      })
      req.on('end', () => {
        res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers })
        res.end(fault.body ?? '')
      })
      return
    }
    if (fault?.kind === 'stall') return
    if (fault?.kind === 'hold') {
      if (fault.ms !== undefined) await new Promise((resolve) => setTimeout(resolve, fault.ms))
      if (fault.until) await fault.until.catch(() => undefined)
    }
    const out = httpRequest({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: r.path,
      headers: req.headers,
    })
    out.on('error', drop)
    if (fault?.kind === 'cut-request') {
      sendBody(req, r, out, fault.after, () => {
        out.destroy()
        drop()
      })
      return
    }
    sendBody(req, r, out)
    out.on('response', (up) => {
      if (fault?.kind === 'lose-answer') {
        up.resume()
        up.on('end', drop)
        return
      }
      if (fault?.kind === 'rewrite') {
        readBody(up).then((body) => {
          const answer = fault.fn({ status: up.statusCode ?? 502, headers: up.headers, body }, r)
          const headers = Object.fromEntries(
            Object.entries(answer.headers).filter(([, v]) => v !== undefined),
          )
          // A rewrite may ask for a chunked body: no Content-Length, so only counting can bound it.
          const chunked = headers['transfer-encoding'] === 'chunked'
          for (const h of hopByHop) delete headers[h]
          if (chunked) delete headers['content-length']
          else if (r.method !== 'HEAD') headers['content-length'] = String(answer.body.length)
          res.writeHead(answer.status, headers as Record<string, string>)
          res.end(r.method === 'HEAD' ? undefined : answer.body)
        }, drop)
        return
      }
      res.writeHead(up.statusCode ?? 502, answerHeaders(up))
      if (fault?.kind === 'cut') return cutAnswer(up, res, fault, drop)
      if (fault?.kind === 'trickle') return trickleAnswer(up, res, fault.bytesPerSecond, fault.alter)
      if (fault?.kind === 'alter') {
        const at = Math.floor(Number(up.headers['content-length'] ?? 0) / 2)
        let pos = 0
        up.on('data', (chunk: Buffer) => {
          if (at >= pos && at < pos + chunk.length) chunk[at - pos] = chunk[at - pos]! ^ 0xff
          pos += chunk.length
        })
      }
      up.pipe(res)
    })
  }

  const server: Server = createServer((req, res) => {
    const r: SeenRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
      at: Date.now(),
      received: 0,
    }
    seen.push(r)
    open++
    peak = Math.max(peak, open)
    let closed = false
    const socket = req.socket
    const done = () => {
      if (!closed) open--
      closed = true
      // One keep-alive socket carries many requests: a listener left per request would pile up.
      socket.off('close', done)
    }
    res.on('close', done)
    socket.on('close', done)
    handle(req, res, r, rule?.(r)).catch(() => req.socket.destroy())
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    seen,
    get peak() {
      return peak
    },
    resetPeak() {
      peak = open
    },
    setRule(r) {
      rule = r
    },
    async stop() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** Forwards at most `fault.after` bytes of the answer, then drops the connection (at `afterMs` if given). */
function cutAnswer(
  up: IncomingMessage,
  res: ServerResponse,
  fault: { after?: number; afterMs?: number },
  drop: () => void,
) {
  // The status line and headers go out at once, so even a cut at byte 0 is a cut answer, not a lost one.
  res.flushHeaders()
  const started = Date.now()
  const limit = fault.after ?? Number.POSITIVE_INFINITY
  let sent = 0
  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    up.destroy()
    const wait = fault.afterMs === undefined ? 20 : Math.max(0, started + fault.afterMs - Date.now())
    setTimeout(drop, wait)
  }
  if (fault.afterMs !== undefined) setTimeout(stop, fault.afterMs)
  if (limit === 0) return stop()
  up.on('data', (chunk: Buffer) => {
    if (stopped) return
    const part = chunk.subarray(0, limit - sent)
    sent += part.length
    const full = sent >= limit
    if (!res.write(part) && !full) {
      up.pause()
      res.once('drain', () => up.resume())
    }
    if (full) stop()
  })
  up.on('end', () => {
    if (!stopped) stop()
  })
}

/** Sends the answer body a few bytes at a time, `bytesPerSecond` in all, until the client goes. */
function trickleAnswer(up: IncomingMessage, res: ServerResponse, bytesPerSecond: number, alter = false) {
  res.flushHeaders()
  const TICKS = 10
  const perTick = Math.max(1, Math.round(bytesPerSecond / TICKS))
  const flipAt = alter ? Math.floor(Number(up.headers['content-length'] ?? 0) / 2) : -1
  let pending = Buffer.alloc(0)
  let ended = false
  let pos = 0
  up.on('data', (chunk: Buffer) => {
    if (flipAt >= pos && flipAt < pos + chunk.length) chunk[flipAt - pos] = chunk[flipAt - pos]! ^ 0xff
    pos += chunk.length
    pending = Buffer.concat([pending, chunk])
    up.pause()
  })
  up.on('end', () => {
    ended = true
  })
  const timer = setInterval(() => {
    if (pending.length === 0) {
      if (ended) {
        clearInterval(timer)
        res.end()
      } else up.resume()
      return
    }
    res.write(pending.subarray(0, perTick))
    pending = pending.subarray(perTick)
  }, 1000 / TICKS)
  res.on('close', () => {
    clearInterval(timer)
    up.destroy()
  })
}
