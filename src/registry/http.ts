import { Readable } from 'node:stream'
import { Limiter } from '../util/limit.js'
import type { Authenticator } from './auth.js'
import { type RegistryErrorEntry, registryError } from './errors.js'
import { aboutSubject, NetworkError } from './network-error.js'
import { DEFAULT_REQUESTS_PER_HOST } from './options.js'
import {
  Backoff,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
  sleep,
  statusProvesNotApplied,
} from './retry.js'
import { cancelled, header, type Method, type RawResponse, readLimited, type Transport } from './transport.js'

export interface RegistryRequest {
  registry: string
  method: Method
  url: URL
  headers?: Record<string, string>
  /** A stream is sent once: never retried or re-sent with fresh credentials here (the caller recovers). */
  body?: Buffer | Readable
  /** Token scopes this request needs, e.g. `repository:team/app:pull`. */
  scopes: string[]
  /** Names the image or repository in error messages. */
  subject: string
  /** Statuses that are answers rather than errors. */
  expect: number[]
  /** For a HEAD (no body): the registry code a 404 stands for. */
  notFound?: RegistryErrorEntry
  /** Override the method's own idempotency (e.g. a blob upload POST, harmless to repeat). */
  idempotent?: boolean
}

const IDEMPOTENT: Method[] = ['GET', 'HEAD', 'DELETE']
const ERROR_BODY_LIMIT = 64 * 1024

export async function discard(res: RawResponse): Promise<void> {
  try {
    await res.body.dump?.({ limit: 64 * 1024 })
  } catch {
    res.body.destroy()
  }
}

/**
 * Registry requests with authentication and retries. A request is repeated only when that cannot do
 * harm: idempotent methods on network errors, 429 and 5xx; others only when the failure proves the
 * server did not act (refused connection, 429, 503). The callers of non-idempotent requests check
 * the registry's state before trying again (see `mayHaveApplied`).
 */
export class RegistryHttp {
  private readonly limits = new Map<string, Limiter>()
  /** Set on a view made by `withSignal`: every exchange through it is cancelled when it fires. */
  readonly signal: AbortSignal | undefined = undefined

  /** The same client (pool, tokens, limits) with every request cancelled when `signal` fires. */
  withSignal(signal: AbortSignal | undefined): RegistryHttp {
    if (!signal || signal === this.signal) return this
    const view = Object.create(this) as RegistryHttp
    Object.defineProperty(view, 'signal', { value: signal })
    return view
  }

  /** @param perHost requests in flight to one host at once (sent, their answer not yet begun). */
  constructor(
    readonly transport: Transport,
    readonly auth: Authenticator,
    readonly policy: RetryPolicy,
    private readonly perHost = DEFAULT_REQUESTS_PER_HOST,
  ) {}

  // Per host, not per client or per copy: sync's copies and a copy's blobs all draw on one budget, so
  // a registry (or its storage host) sees at most `perHost` requests at once from this process. The
  // slot is held until the answer begins, never while an answer's body streams, so a download feeding
  // an upload to the same host does not hold the slot that upload needs.
  private limiter(host: string): Limiter {
    let limit = this.limits.get(host)
    if (!limit) {
      limit = new Limiter(this.perHost)
      this.limits.set(host, limit)
    }
    return limit
  }

  async request(given: RegistryRequest): Promise<RawResponse> {
    // Built with `baseUrl` before a loopback host's scheme was known: now it is.
    const req = { ...given, url: await this.transport.settle(given.registry, given.url) }
    const idempotent = req.idempotent ?? IDEMPOTENT.includes(req.method)
    const backoff = new Backoff(req.body instanceof Readable ? { ...this.policy, attempts: 1 } : this.policy)
    for (;;) {
      if (this.signal?.aborted) throw cancelled(req.registry, this.signal)
      let res: RawResponse
      try {
        res = await this.sendAuthenticated(req)
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err
        const delay = err.transient && (idempotent || !err.sent) ? backoff.next() : undefined
        if (delay === undefined) throw aboutSubject(err, req.subject)
        this.transport.log(
          `${req.method} ${req.url.pathname}: ${err.errno}, retry ${backoff.attempt} in ${Math.round(delay)} ms`,
        )
        await sleep(delay)
        continue
      }
      if (req.expect.includes(res.status)) return res
      const retryable = idempotent ? isRetryableStatus(res.status, true) : statusProvesNotApplied(res.status)
      const retryAfter = parseRetryAfter(header(res, 'retry-after'))
      const delay = retryable ? backoff.next(retryAfter) : undefined
      if (delay !== undefined) {
        await discard(res)
        this.transport.log(
          `${req.method} ${req.url.pathname}: HTTP ${res.status}, retry ${backoff.attempt} in ${Math.round(delay)} ms${retryAfter !== undefined ? ' (Retry-After)' : ''}`,
        )
        await sleep(delay)
        continue
      }
      // A streamed body is the caller's to send again (an upload PATCH retries in place).
      if (retryable && !(req.body instanceof Readable))
        this.transport.log(`${req.method} ${req.url.pathname}: HTTP ${res.status}, giving up`)
      const err = await this.errorFrom(req, res)
      if (res.status === 401 && !(await this.auth.hasCredential(req.registry).catch(() => true))) {
        err.message += `; no credentials stored for ${req.registry}`
      }
      throw err
    }
  }

  /**
   * An idempotent request whose body is read whole by `read`: a connection lost in the middle of the
   * body is retried like one lost before the answer.
   */
  async fetch<T>(
    req: RegistryRequest,
    read: (res: RawResponse) => Promise<T>,
  ): Promise<{ res: RawResponse; value: T }> {
    const backoff = new Backoff(this.policy)
    for (;;) {
      const res = await this.request(req)
      try {
        return { res, value: await read(res) }
      } catch (err) {
        res.body.destroy()
        const delay = err instanceof NetworkError && err.transient ? backoff.next() : undefined
        if (delay === undefined) throw err instanceof NetworkError ? aboutSubject(err, req.subject) : err
        this.transport.log(
          `${req.method} ${req.url.pathname}: body lost (${(err as NetworkError).errno}), retry ${backoff.attempt} in ${Math.round(delay)} ms`,
        )
        await sleep(delay)
      }
    }
  }

  async errorFrom(req: Pick<RegistryRequest, 'subject' | 'notFound' | 'method'>, res: RawResponse) {
    const text = req.method === 'HEAD' ? '' : await readLimited(res, ERROR_BODY_LIMIT).catch(() => '')
    if (req.method === 'HEAD') await discard(res)
    const err = registryError(req.subject, res.status, text, res.status === 404 ? req.notFound : undefined)
    err.retryAfterMs = parseRetryAfter(header(res, 'retry-after'))
    return err
  }

  /** Authorization goes only to the registry's own origin, never to another host, scheme or port. */
  private ownOrigin(req: RegistryRequest): boolean {
    return req.url.origin === this.transport.baseUrl(req.registry).origin
  }

  /** One exchange, plus one more with fresh credentials when the registry answers 401. */
  private async sendAuthenticated(req: RegistryRequest): Promise<RawResponse> {
    const own = this.ownOrigin(req)
    const first = own ? await this.auth.authorization(req.registry, req.scopes) : undefined
    const res = await this.send(req, first, own)
    if (res.status !== 401 || !own || req.body instanceof Readable) return res
    const scopes = await this.auth.onUnauthorized(req.registry, res, req.scopes, first !== undefined)
    if (!scopes) return res
    await discard(res)
    const second = await this.auth.authorization(req.registry, scopes, true)
    // The first exchange may have found that a loopback port speaks TLS: the second goes there too.
    const again = { ...req, url: await this.transport.settle(req.registry, req.url) }
    if (second === undefined) return this.send(again, undefined, own)
    this.transport.log(
      `${req.method} ${req.url.pathname}: 401, again with ${second.split(' ')[0]} credentials`,
    )
    return this.send(again, second, own)
  }

  // Query strings are logged for the registry only: another host's (a storage redirect) may be a signature.
  private send(req: RegistryRequest, authorization: string | undefined, own: boolean): Promise<RawResponse> {
    const headers = { ...req.headers }
    if (authorization) headers.authorization = authorization
    return this.limiter(req.url.host).run(() =>
      this.transport.send(
        { method: req.method, url: req.url, headers, body: req.body, signal: this.signal },
        { logQuery: own },
      ),
    )
  }
}
