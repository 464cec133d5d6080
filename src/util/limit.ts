/**
 * A counting semaphore. `run` holds a slot only while `fn` runs; callers that wait on children must not
 * hold a slot meanwhile, or a deep graph deadlocks a small budget.
 */
export class Limiter {
  private active = 0
  private readonly queue: (() => void)[] = []

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`concurrency must be a positive integer, got ${size}`)
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.queue.push(resolve))
    this.active++
    try {
      return await fn()
    } finally {
      this.active--
      this.queue.shift()?.()
    }
  }
}

/** Runs `fn` over `items` with at most `limit` at once; the first failure rejects, after the started ones settle. */
export async function forEachLimited<T>(items: readonly T[], limit: Limiter, fn: (item: T) => Promise<void>) {
  const results = await Promise.allSettled(items.map((item) => limit.run(() => fn(item))))
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed) throw failed.reason
}
