import { Readable } from 'node:stream'
import { Limiter } from '../util/limit.js'
import type { Authenticator } from './auth.js'
import { RegistryError, type RegistryErrorEntry, registryError } from './errors.js'
import { aboutSubject, mayHaveApplied, NetworkError } from './network-error.js'
import { DEFAULT_REQUESTS_PER_HOST } from './options.js'
import {
  type Backoff,
  isRetryableStatus,
  parseRetryAfter,
  type RetryPolicy,
  type RetryReason,
  retryLine,
  statusProvesNotApplied,
  withRetry,
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
  /**
   * The budget of the operation this request belongs to (a blob transfer, an upload): its retries are
   * drawn from it, so the operation's own loop and this layer's are counted once. Default: its own.
   */
  budget?: Backoff
  /**
   * A non-idempotent DELETE sent again after a try whose answer was lost: a 404 then means that try
   * worked, and is returned as the answer instead of thrown.
   */
  notFoundAfterLoss?: boolean
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

/** What a write's caller gets back when its check found that a try whose answer was lost took effect. */
const LANDED = Symbol('landed')

/**
 * Registry requests with authentication and retries. This is where requests are retried, and the
 * only place: transport failures and retryable statuses (429, 5xx), each retry drawn from one budget
 * (retry.ts). A request is repeated only when that cannot do harm: idempotent methods on network
 * errors, 429 and 5xx; others only when the failure proves the server did not act (refused connection,
 * 429, 503), or when the caller gives the read that tells whether a try whose answer was lost took
 * effect (`write`). Callers add that check and nothing else: no loop, no backoff of their own. Only a
 * resumable transfer (a blob read resumed with Range, an upload continued from the registry's offset)
 * loops itself, and passes its budget down (`budget`) so that its retries and these are counted once.
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

  /** The answer, its body unread. */
  async request(req: RegistryRequest): Promise<RawResponse> {
    return (await this.exchange(req, async (res) => res)) as RawResponse
  }

  /**
   * An idempotent request whose body is read whole by `read`: a connection lost in the middle of the
   * body is retried like one lost before the answer, from the same budget.
   */
  async fetch<T>(
    req: RegistryRequest,
    read: (res: RawResponse) => Promise<T>,
  ): Promise<{ res: RawResponse; value: T }> {
    return (await this.exchange(req, async (res) => ({ res, value: await read(res) }))) as {
      res: RawResponse
      value: T
    }
  }

  /**
   * A write that may be sent again after a try whose answer was lost (a reset after sending, a 502 or
   * 504), once `landed` (one read, e.g. a HEAD, not retried) says that try did not take effect.
   * Undefined when it did: there is no answer to give then.
   */
  async write(req: RegistryRequest, landed: () => Promise<boolean>): Promise<RawResponse | undefined> {
    const res = await this.exchange(req, async (r) => r, landed)
    return res === LANDED ? undefined : res
  }

  private async exchange<T>(
    given: RegistryRequest,
    answer: (res: RawResponse) => Promise<T>,
    landed?: () => Promise<boolean>,
  ): Promise<T | typeof LANDED> {
    // Built with `baseUrl` before a loopback host's scheme was known: now it is.
    const req = { ...given, url: await this.transport.settle(given.registry, given.url) }
    const idempotent = req.idempotent ?? IDEMPOTENT.includes(req.method)
    const checksLoss = landed !== undefined || req.notFoundAfterLoss === true
    // A streamed body can be sent once: another try is the caller's, from its source.
    const streamed = req.body instanceof Readable
    let lost = false
    const classify = (err: unknown): RetryReason | undefined => {
      if (streamed) return undefined
      if (err instanceof NetworkError) {
        const again = err.transient && (idempotent || !err.sent || checksLoss)
        return again ? { reason: err.errno } : undefined
      }
      if (!(err instanceof RegistryError)) return undefined
      const again = idempotent
        ? isRetryableStatus(err.status, true)
        : statusProvesNotApplied(err.status) || (checksLoss && mayHaveApplied(err))
      return again ? { reason: `HTTP ${err.status}`, retryAfterMs: err.retryAfterMs } : undefined
    }
    try {
      return await withRetry(
        req.budget ?? this.policy,
        async (budget) => {
          if (this.signal?.aborted) throw cancelled(req.registry, this.signal)
          try {
            const res = await this.sendAuthenticated(req, budget)
            if (lost && req.notFoundAfterLoss && res.status === 404) return answer(res)
            if (!req.expect.includes(res.status)) throw await this.errorFrom(req, res)
            try {
              return await answer(res)
            } catch (err) {
              res.body.destroy()
              throw err
            }
          } catch (err) {
            if (!idempotent && mayHaveApplied(err)) {
              lost = true
              if (landed && (await landed().catch(() => false))) {
                this.transport.log(`${req.method} ${req.url.pathname}: answer lost, but it took effect`)
                return LANDED
              }
            }
            throw err
          }
        },
        {
          classify,
          onRetry: (e) => this.transport.log(retryLine(`${req.method} ${req.url.pathname}`, e)),
          signal: this.signal,
        },
      )
    } catch (err) {
      if (err instanceof NetworkError) throw aboutSubject(err, req.subject)
      if (
        err instanceof RegistryError &&
        err.status === 401 &&
        !(await this.auth.hasCredential(req.registry).catch(() => true))
      ) {
        err.message += `; no credentials stored for ${req.registry}`
      }
      throw err
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
  private async sendAuthenticated(req: RegistryRequest, budget: Backoff): Promise<RawResponse> {
    const own = this.ownOrigin(req)
    // A token fetch spends the request's budget: its retries are this request's.
    const first = own ? await this.auth.authorization(req.registry, req.scopes, false, budget) : undefined
    const res = await this.send(req, first, own)
    if (res.status !== 401 || !own || req.body instanceof Readable) return res
    const scopes = await this.auth.onUnauthorized(req.registry, res, req.scopes, first !== undefined)
    if (!scopes) return res
    await discard(res)
    const second = await this.auth.authorization(req.registry, scopes, true, budget)
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
