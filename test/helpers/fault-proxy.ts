import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/**
 * A loopback HTTP proxy in front of a real registry that injects faults per request: the failures a
 * real network produces (resets, cut bodies, flipped bytes, overloaded servers) on demand. The Host
 * header is passed through, so the registry's Location headers point back at the proxy.
 */

export interface SeenRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  at: number
}

export type Fault =
  /** Drop the connection before anything reaches the registry. */
  | { kind: 'reset' }
  /** Let the registry act on the request, then drop the connection instead of answering. */
  | { kind: 'lose-answer' }
  /** Answer ourselves; the registry never sees the request. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /** Forward, send the headers and the first `after` bytes of the body, then drop the connection. */
  | { kind: 'cut'; after: number }
  /** Forward, but change one byte of the body (same length). */
  | { kind: 'alter' }
  /** Forward, then replace the answer. */
  | { kind: 'rewrite'; fn: (res: Upstream, req: SeenRequest) => Upstream }

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

async function readBody(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = []
  for await (const c of stream) parts.push(c as Buffer)
  return Buffer.concat(parts)
}

function forward(upstream: URL, req: SeenRequest, body: Buffer): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const out = httpRequest(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.path,
        headers: req.headers,
      },
      (res) => {
        readBody(res).then(
          (b) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: b }),
          reject,
        )
      },
    )
    out.on('error', reject)
    out.end(body)
  })
}

export async function startFaultProxy(upstreamUrl: string): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl)
  const seen: SeenRequest[] = []
  const sockets = new Set<Socket>()
  let rule: Rule | undefined
  const server: Server = createServer(async (req, res) => {
    const r: SeenRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
      at: Date.now(),
    }
    seen.push(r)
    const fault = rule?.(r)
    if (fault?.kind === 'reset') {
      req.socket.destroy()
      return
    }
    if (fault?.kind === 'status') {
      await readBody(req)
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers })
      res.end(fault.body ?? '')
      return
    }
    try {
      const body = await readBody(req)
      let answer = await forward(upstream, r, body)
      if (fault?.kind === 'lose-answer') {
        req.socket.destroy()
        return
      }
      if (fault?.kind === 'rewrite') answer = fault.fn(answer, r)
      if (fault?.kind === 'alter' && answer.body.length > 0) {
        const i = Math.floor(answer.body.length / 2)
        answer.body[i] = answer.body[i]! ^ 0xff
      }
      const headers = Object.fromEntries(Object.entries(answer.headers).filter(([, v]) => v !== undefined))
      // A rewrite may ask for a chunked body: no Content-Length, so only counting can bound it.
      const chunked = fault?.kind === 'rewrite' && headers['transfer-encoding'] === 'chunked'
      delete headers['transfer-encoding']
      delete headers.connection
      if (chunked) delete headers['content-length']
      else if (r.method !== 'HEAD') headers['content-length'] = String(answer.body.length)
      res.writeHead(answer.status, headers)
      if (fault?.kind === 'cut') {
        res.write(answer.body.subarray(0, fault.after), () => setTimeout(() => req.socket.destroy(), 20))
        return
      }
      res.end(r.method === 'HEAD' ? undefined : answer.body)
    } catch {
      req.socket.destroy()
    }
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
    setRule(r) {
      rule = r
    },
    async stop() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
