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

/**
 * Runs `fn` over `items` with at most `limit` at once, in order; every item runs, and the first failure
 * rejects once all have settled. At most `limit.size` items wait for a slot at any time: a sync of 10,000
 * images used to hold a promise, a closure and a queued slot request per image for the whole run.
 */
export async function forEachLimited<T>(items: readonly T[], limit: Limiter, fn: (item: T) => Promise<void>) {
  let next = 0
  let failure: { reason: unknown } | undefined
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++] as T
      try {
        await limit.run(() => fn(item))
      } catch (reason) {
        failure ??= { reason }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit.size, items.length) }, worker))
  if (failure) throw failure.reason
}
