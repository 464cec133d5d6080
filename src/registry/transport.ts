import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { Agent as AgentType, Dispatcher, Pool as PoolType } from 'undici'
import { FerryError } from '../errors.js'
import type { Logger } from '../log.js'
import { redact, silentLogger } from '../log.js'
import { apiHost, chosenScheme, type Scheme } from './hosts.js'
import { NetworkError, networkError } from './network-error.js'
import { GO_TLS_COMPLAINT, speaksTls } from './scheme-probe.js'
import { type HostTls, hostTls } from './tls.js'
import { DEFAULT_TRANSFER_LIMITS, type TransferLimits, watchSpeed } from './transfer-limits.js'
import { Agent, Pool } from './undici-core.js'

export type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE'

export interface Exchange {
  method: Method
  url: URL
  headers: Record<string, string>
  body?: Buffer | Readable
  /** Cancels the exchange (and the answer's body stream) when it fires. */
  signal?: AbortSignal
}

export interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Readable & { dump?: (opts?: { limit: number }) => Promise<void> }
  url: URL
}

export interface TransportOptions {
  insecure: readonly string[]
  plainHttp?: boolean
  caFiles: readonly string[]
  certsDir: string
  logger: Logger
  userAgent: string
  /** Default DEFAULT_TRANSFER_LIMITS. */
  limits?: TransferLimits
}

/** First value of a response header (undici lower-cases names). */
export function header(res: RawResponse, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()]
  return Array.isArray(v) ? v[0] : v
}

/** URL for logs and messages: never user info, and no query on hosts other than registries (presigned URLs). */
export function displayUrl(url: URL, withQuery = true): string {
  const u = new URL(url)
  u.username = ''
  u.password = ''
  if (!withQuery) u.search = ''
  return u.toString()
}

/**
 * One undici dispatcher for the whole client: an Agent holding a keep-alive Pool per origin, each with
 * the trust that origin needs. Sends exactly one HTTP exchange per call; retries and auth live above.
 */
export class Transport {
  private readonly agent: AgentType
  private readonly tlsByOrigin = new Map<string, Promise<HostTls>>()
  private readonly readyTls = new Map<string, HostTls>()
  private readonly limits: TransferLimits
  /** Per loopback host left open, the scheme it turned out to speak (see `schemeOf`). */
  private readonly decided = new Map<string, Scheme>()
  private readonly certsDirHas = new Map<string, Promise<boolean>>()
  private readonly tlsChecks = new Map<string, Promise<boolean>>()
  private readonly fixed = new Map<string, Scheme | undefined>()
  /** Per host, the scheme a reference spelled out (`https://HOST/…`): see `spell`. */
  private readonly spelled: Record<string, Scheme> = {}

  constructor(private readonly opts: TransportOptions) {
    this.limits = opts.limits ?? DEFAULT_TRANSFER_LIMITS
    this.agent = new Agent({
      factory: (origin: string | URL, poolOpts: object): Dispatcher => {
        const key = new URL(String(origin)).origin
        const tls = this.readyTls.get(key)
        return new Pool(origin, {
          ...(poolOpts as PoolType.Options),
          ...(tls ? { connect: { ...tls } } : {}),
        })
      },
      connections: 16,
    })
  }

  /**
   * `https://registry-1.docker.io` for `docker.io`; `http://` for insecure hosts. A loopback host
   * nobody chose a scheme for says `http` until it turned out to speak TLS.
   */
  baseUrl(registry: string): URL {
    const host = apiHost(registry)
    return new URL(`${this.fixedScheme(host) ?? this.decided.get(host) ?? 'http'}://${host}`)
  }

  /**
   * The scheme a reference spelled out for its registry (`https://HOST/…`): the host is reached over it
   * by every repository of this transport, whatever the options say. One host written with both
   * schemes is refused.
   */
  spell(registry: string, scheme: Scheme): void {
    const host = apiHost(registry)
    const before = this.spelled[host]
    if (before === scheme) return
    if (before) throw new FerryError('USAGE', `${host} is written both ${before}:// and ${scheme}://`)
    this.spelled[host] = scheme
    this.fixed.delete(host)
  }

  /** Decided by the options and the spelled-out schemes, which never change: worked out once per host. */
  private fixedScheme(host: string): Scheme | undefined {
    if (this.fixed.has(host)) return this.fixed.get(host)
    const scheme = chosenScheme(host, {
      insecure: this.opts.insecure,
      plainHttp: this.opts.plainHttp,
      schemes: this.spelled,
    })
    this.fixed.set(host, scheme)
    return scheme
  }

  /** A loopback host whose scheme is still open: tried plain, and switched when it answers as TLS. */
  private tentative(url: URL): boolean {
    return url.protocol === 'http:' && !this.fixedScheme(url.host) && !this.decided.has(url.host)
  }

  /**
   * The scheme for a registry host. A loopback host nobody chose one for uses HTTPS when docker's
   * certs.d has a directory for it; else its first plain request finds out (see `send`): one that a
   * TLS server drops, or Go's "HTTP request to an HTTPS server" answer, switches the host to HTTPS.
   * `--ca-file` alone decides nothing, so one command can copy between a plain and a TLS registry.
   */
  async schemeOf(host: string): Promise<Scheme> {
    const fixed = this.fixedScheme(host) ?? this.decided.get(host)
    if (fixed) return fixed
    let has = this.certsDirHas.get(host)
    if (!has) {
      has = exists(join(this.opts.certsDir, host))
      this.certsDirHas.set(host, has)
    }
    if (await has) this.decided.set(host, 'https')
    return this.decided.get(host) ?? 'http'
  }

  /** `url` with the registry's scheme, when it points at the registry's own host. */
  async settle(registry: string, url: URL): Promise<URL> {
    const host = apiHost(registry)
    if (url.host !== host) return url
    const scheme = await this.schemeOf(host)
    if (url.protocol === `${scheme}:`) return url
    const out = new URL(url)
    out.protocol = `${scheme}:`
    return out
  }

  /** Whether the host's port completes a TLS handshake; asked once per host. */
  private speaksTls(host: string): Promise<boolean> {
    let p = this.tlsChecks.get(host)
    if (!p) {
      p = speaksTls(host, this.limits.idleTimeoutMs)
      this.tlsChecks.set(host, p)
    }
    return p
  }

  /** The same exchange over HTTPS, for a loopback host that turned out to speak TLS. */
  private async overTls(x: Exchange, opts: { logQuery?: boolean }): Promise<RawResponse> {
    this.decided.set(x.url.host, 'https')
    this.log(`${x.url.host}: speaks TLS, using https`)
    // A stream already read in part cannot be sent again; its caller starts over (now over HTTPS).
    if (x.body && !Buffer.isBuffer(x.body)) {
      throw new NetworkError(x.url.host, 'TLS_SWITCHED', 'speaks TLS: switched to https, send again')
    }
    const url = new URL(x.url)
    url.protocol = 'https:'
    return this.send({ ...x, url }, opts)
  }

  private async prepareTls(url: URL): Promise<void> {
    if (url.protocol !== 'https:' || this.readyTls.has(url.origin)) return
    let p = this.tlsByOrigin.get(url.origin)
    if (!p) {
      p = hostTls(url.host, this.opts.caFiles, this.opts.certsDir)
      this.tlsByOrigin.set(url.origin, p)
    }
    this.readyTls.set(url.origin, await p)
  }

  async send(x: Exchange, opts: { logQuery?: boolean } = {}): Promise<RawResponse> {
    const started = Date.now()
    // Built only for a logger that listens: a sync sends hundreds of requests nobody logs.
    const shown = () => `${x.method} ${displayUrl(x.url, opts.logQuery !== false)}`
    const tentative = this.tentative(x.url)
    const chosenPlain = this.fixedScheme(x.url.host) === 'http'
    await this.prepareTls(x.url)
    const follower = x.signal && requestSignal(x.signal)
    let res: Dispatcher.ResponseData
    try {
      res = await this.agent.request({
        origin: x.url.origin,
        path: `${x.url.pathname}${x.url.search}`,
        method: x.method,
        headers: { 'user-agent': this.opts.userAgent, ...x.headers },
        body: x.body,
        signal: follower?.signal,
        // undici closes the connection after every HEAD unless told not to (for servers that send a
        // body anyway); registries do not, and a sync is mostly HEADs: a new TCP connection each cost
        // both ends more than the request itself.
        reset: false,
        headersTimeout: this.limits.idleTimeoutMs,
        bodyTimeout: this.limits.idleTimeoutMs,
      })
    } catch (err) {
      follower?.release()
      // Cancelled by the caller: not a network failure, and never retried.
      if (x.signal?.aborted) throw cancelled(x.url.host, x.signal)
      let wrapped = networkError(x.url.host, err)
      this.log(() => `${shown()} failed: ${wrapped.errno} (${Date.now() - started} ms)`)
      // A host already heard speaking plain HTTP that drops a request is only a dropped request.
      if (
        (tentative || chosenPlain) &&
        DROPPED.includes(wrapped.errno) &&
        (await this.speaksTls(x.url.host))
      ) {
        if (tentative) return this.overTls(x, opts)
        wrapped = tlsRequired(x.url.host)
      }
      throw wrapped
    }
    this.log(() => `${shown()} -> ${res.statusCode} (${Date.now() - started} ms)`)
    // undici's body closes once read to the end, destroyed or failed: the request is over then.
    if (follower) res.body.once('close', follower.release)
    let body: RawResponse['body'] = res.body
    if ((tentative || chosenPlain) && res.statusCode === 400) {
      // Go's TLS servers (and ferry serve) answer plain HTTP with a 400 and one line of text. The answer
      // to a HEAD has no text to read, so there the port itself is asked.
      const text = await res.body.text().catch(() => '')
      if (text.includes(GO_TLS_COMPLAINT) || (x.method === 'HEAD' && (await this.speaksTls(x.url.host)))) {
        if (tentative) return this.overTls(x, opts)
        throw tlsRequired(x.url.host)
      }
      body = Readable.from([Buffer.from(text)])
    }
    if (tentative) this.decided.set(x.url.host, 'http')
    // Downloads (blobs, manifests) are watched for a crawl; small error bodies need not be.
    const download = x.method === 'GET' && (res.statusCode === 200 || res.statusCode === 206)
    if (download) body = watchSpeed(res.body, x.url.host, this.limits)
    return { status: res.statusCode, headers: res.headers, body, url: x.url }
  }

  /** A line, or a function making it (called only when a logger listens). */
  log(line: string | (() => string)): void {
    // Redacted here too, whatever logger a library caller passes; skipped when nobody listens.
    if (this.opts.logger === silentLogger) return
    this.opts.logger.debug(redact(typeof line === 'string' ? line : line()))
  }

  async close(): Promise<void> {
    await this.agent.close()
  }
}

/** Per caller's signal, the requests of it in flight (see `requestSignal`). */
const inFlight = new WeakMap<AbortSignal, Set<AbortController>>()

/**
 * A signal of this request's own that follows the caller's, until `release` (the answer is read). undici
 * adds an "abort" listener to the signal it is given for every request until the answer is in: a sync
 * passes one signal (Ctrl-C) to dozens of requests in flight at once, and Node warned of a leak
 * (MaxListenersExceededWarning) past ten. So a caller's signal gets one listener, which aborts its
 * requests in flight. `AbortSignal.any([signal])` did this too, but Node 20 keeps a reference per call in
 * the caller's signal for as long as that lives: ~60 bytes per request, a sync's whole run.
 */
function requestSignal(signal: AbortSignal): { signal: AbortSignal; release: () => void } {
  const own = new AbortController()
  if (signal.aborted) {
    own.abort(signal.reason)
    return { signal: own.signal, release: () => {} }
  }
  let requests = inFlight.get(signal)
  if (!requests) {
    const set = new Set<AbortController>()
    inFlight.set(signal, set)
    signal.addEventListener('abort', () => {
      for (const c of set) c.abort(signal.reason)
      set.clear()
    })
    requests = set
  }
  const mine = requests
  mine.add(own)
  return { signal: own.signal, release: () => mine.delete(own) }
}

const tlsRequired = (host: string) =>
  new NetworkError(
    host,
    'TLS_REQUIRED',
    'speaks TLS, but plain HTTP was asked for (--plain-http, --insecure-registry or http://): leave those out, or write https://',
  )

/** How a TLS server treats a plain request: it hangs up (Node's), or answers 400 (Go's; see GO_TLS_COMPLAINT). */
const DROPPED = ['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'HPE_INVALID_CONSTANT']

async function exists(path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

/** Reads a (small) body as text, refusing more than `limit` bytes; a lost connection is a NetworkError. */
export async function readLimited(res: RawResponse, limit: number): Promise<string> {
  return (await readBytes(res, limit)).toString('utf8')
}

/** The whole body, at most `limit` bytes: more is cut off, or refused with `tooLarge(n)` when given. */
export async function readBytes(
  res: RawResponse,
  limit: number,
  tooLarge?: (n: number) => Error,
): Promise<Buffer> {
  const chunks: Buffer[] = []
  let total = 0
  let overflow = false
  try {
    for await (const chunk of res.body) {
      total += (chunk as Buffer).length
      if (total > limit) {
        overflow = true
        res.body.destroy()
        break
      }
      chunks.push(chunk as Buffer)
    }
  } catch (err) {
    throw networkError(res.url.host, err)
  }
  if (overflow && tooLarge) throw tooLarge(total)
  return Buffer.concat(chunks)
}

/** The error a cancelled operation fails with: the signal's own reason when it is a FerryError. */
export function cancelled(host: string, signal: AbortSignal): FerryError {
  if (signal.reason instanceof FerryError) return signal.reason
  return new FerryError('ABORTED', `${host}: cancelled`)
}
