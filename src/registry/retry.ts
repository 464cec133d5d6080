/**
 * When to try again and how long to wait: exponential backoff with full jitter (AWS architecture blog,
 * "Exponential Backoff And Jitter"), bounded by attempts and by elapsed time; a server's `Retry-After`
 * replaces the computed delay. For a transfer the bounds count failures *without progress*: bytes that
 * reach further than ever before start the budget over, so a long blob on a flaky link finishes while
 * a link that moves nothing gives up.
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
  }

  get attempt(): number {
    return this.tries
  }

  /**
   * The delay before the next try, or undefined when the budget (attempts or elapsed time) is spent.
   * A `Retry-After` longer than what is left of the budget also ends it: waiting would be pointless.
   */
  next(retryAfterMs?: number): number | undefined {
    if (this.tries >= this.policy.attempts) return undefined
    const ceiling = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (this.tries - 1))
    const delay = retryAfterMs ?? Math.random() * ceiling
    if (this.now() - this.started + delay > this.policy.maxElapsedMs) return undefined
    this.tries++
    return delay
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
