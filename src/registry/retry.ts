/**
 * When to try again and how long to wait: exponential backoff with full jitter (AWS architecture blog,
 * "Exponential Backoff And Jitter"), bounded by attempts and by elapsed time; a server's `Retry-After`
 * replaces the computed delay. For a transfer the bounds count failures *without progress*: bytes that
 * reach further than ever before start the budget over, so a long blob on a flaky link finishes while
 * a link that moves nothing gives up.
 *
 * `withRetry` is the only retry loop. `RegistryHttp` (http.ts) runs it per request; a resumable transfer
 * (blobs.ts, upload.ts) runs it once and hands its `Backoff` to every request it makes, so one budget
 * counts every retry of the operation, at whichever level it happens.
 */
export interface RetryPolicy {
  /** Tries without progress, the first included. Default 5. */
  attempts: number
  /** Give up once this much time has passed without progress. Default 60 s. */
  maxElapsedMs: number
  /** First backoff ceiling; doubles per retry. Default 250 ms. */
  baseDelayMs: number
  /** Largest computed backoff. Default 8 s. */
  maxDelayMs: number
}

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 5,
  maxElapsedMs: 60_000,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
}

export function retryPolicy(opts: Partial<RetryPolicy> = {}): RetryPolicy {
  const p = { ...DEFAULT_RETRY }
  for (const key of Object.keys(p) as (keyof RetryPolicy)[]) {
    const v = opts[key]
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) p[key] = v
  }
  p.attempts = Math.max(1, Math.floor(p.attempts))
  return p
}

/** `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT` (RFC 9110 §10.2.3), in ms. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  const at = Date.parse(v)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** Statuses worth another try; 500 only when repeating the request cannot do harm. */
export function isRetryableStatus(status: number, idempotent: boolean): boolean {
  if (status === 429 || status === 503) return true
  if (status === 502 || status === 504 || status === 500) return idempotent
  return false
}

/** 429 and 503 say the server did not act on the request; other failures leave that open. */
export const statusProvesNotApplied = (status: number): boolean => status === 429 || status === 503

/** One retry budget for one logical operation (a request, or a whole blob transfer). */
export class Backoff {
  private tries = 1
  private started: number
  private best = 0
  private exhausted = false

  constructor(
    readonly policy: RetryPolicy,
    private readonly now: () => number = Date.now,
  ) {
    this.started = now()
  }

  /**
   * The transfer stands at byte `position`. Beyond the furthest point reached so far, the failures
   * behind it were not in vain and the budget starts over; re-sending bytes already sent once (a new
   * upload session) is not progress, so a session lost again and again still runs out.
   */
  reached(position: number): void {
    if (position <= this.best) return
    this.best = position
    this.tries = 1
    this.started = this.now()
    this.exhausted = false
  }

  /** `next` has said no: a loop that shares this budget with an inner one need not say so again. */
  get spent(): boolean {
    return this.exhausted
  }

  get attempt(): number {
    return this.tries
  }

  /**
   * The delay before the next try, or undefined when the budget (attempts or elapsed time) is spent.
   * A `Retry-After` longer than what is left of the budget also ends it: waiting would be pointless.
   */
  next(retryAfterMs?: number): number | undefined {
    const ceiling = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (this.tries - 1))
    const delay = retryAfterMs ?? Math.random() * ceiling
    if (this.tries >= this.policy.attempts || this.now() - this.started + delay > this.policy.maxElapsedMs) {
      this.exhausted = true
      return undefined
    }
    this.tries++
    this.exhausted = false
    return delay
  }
}

/** Why a failed try is worth another: what went wrong, for the log line, and the server's `Retry-After`. */
export interface RetryReason {
  /** `HTTP 503`, `ECONNRESET`, `ECONNRESET at byte 1000`… */
  reason: string
  retryAfterMs?: number
}

/** A retry about to happen (`delayMs` set) or a budget spent on a failure worth retrying (`delayMs` unset). */
export interface RetryEvent extends RetryReason {
  /** The try about to be made, or the last one made when giving up. */
  attempt: number
  /** The budget's attempts. */
  of: number
  delayMs?: number
}

export interface RetryHooks {
  /** Whether `err` is worth another try; undefined throws it at once. */
  classify(err: unknown): RetryReason | undefined
  onRetry?(event: RetryEvent): void
  /** Cuts a backoff short; the next try is then the one to notice the cancellation. */
  signal?: AbortSignal
}

/**
 * The one retry loop: `attempt` until it succeeds, `classify` refuses its failure or `budget` is spent.
 * Given a `Backoff` rather than a policy, the tries are drawn from that budget, which the attempt may
 * hand on to the requests it makes: each retry, at whichever level it happens, spends one try, so loops
 * nested this way share one count instead of multiplying theirs.
 */
export async function withRetry<T>(
  budget: RetryPolicy | Backoff,
  attempt: (budget: Backoff) => Promise<T>,
  hooks: RetryHooks,
): Promise<T> {
  const backoff = budget instanceof Backoff ? budget : new Backoff(budget)
  for (;;) {
    try {
      return await attempt(backoff)
    } catch (err) {
      const why = hooks.classify(err)
      if (!why) throw err
      const told = backoff.spent
      const delayMs = backoff.next(why.retryAfterMs)
      // A budget an inner loop already found spent was reported there.
      if (delayMs !== undefined || !told) {
        hooks.onRetry?.({ ...why, attempt: backoff.attempt, of: backoff.policy.attempts, delayMs })
      }
      if (delayMs === undefined) throw err
      await sleep(delayMs, hooks.signal)
    }
  }
}

/** Every retry is logged in this one form: `WHAT: REASON, retry N of M in D ms`. */
export function retryLine(what: string, e: RetryEvent): string {
  if (e.delayMs === undefined) {
    return `${what}: ${e.reason}, giving up after ${e.attempt} ${e.attempt === 1 ? 'try' : 'tries'}`
  }
  const told = e.retryAfterMs === undefined ? '' : ' (Retry-After)'
  return `${what}: ${e.reason}, retry ${e.attempt} of ${e.of} in ${Math.round(e.delayMs)} ms${told}`
}

/** A budget of one try: for the read that checks whether a write took effect (never a loop of its own). */
export const singleTry = (policy: RetryPolicy): Backoff => new Backoff({ ...policy, attempts: 1 })

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
