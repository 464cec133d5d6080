import { describe, expect, it } from 'vitest'
import { forEachLimited, Limiter } from '../../../src/util/limit.js'

/** A limiter that counts the calls to `run` not yet finished: waiting for a slot, or running. */
class CountingLimiter extends Limiter {
  pending = 0
  maxPending = 0
  override async run<T>(fn: () => Promise<T>): Promise<T> {
    this.pending++
    this.maxPending = Math.max(this.maxPending, this.pending)
    try {
      return await super.run(fn)
    } finally {
      this.pending--
    }
  }
}

const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('forEachLimited', () => {
  // Issue 30, goal 5: a sync of N images held N queued slot requests (a promise and a closure each) for the run.
  it('keeps no more items waiting than the limit, however many there are', async () => {
    const limit = new CountingLimiter(2)
    let running = 0
    let maxRunning = 0
    await forEachLimited([...Array(500).keys()], limit, async () => {
      maxRunning = Math.max(maxRunning, ++running)
      await tick()
      running--
    })
    expect(maxRunning).toBe(2)
    expect(limit.maxPending).toBe(2)
  })

  it('runs every item in order, and rejects with the first failure once all have settled', async () => {
    const started: number[] = []
    const finished: number[] = []
    const run = forEachLimited([0, 1, 2, 3, 4, 5], new Limiter(2), async (i) => {
      started.push(i)
      await tick()
      finished.push(i)
      if (i === 1 || i === 4) throw new Error(`item ${i}`)
    })
    await expect(run).rejects.toThrow('item 1')
    expect(started).toEqual([0, 1, 2, 3, 4, 5])
    expect(finished.sort()).toEqual([0, 1, 2, 3, 4, 5])
  })

  it('does nothing for no items', async () => {
    let calls = 0
    await forEachLimited([], new Limiter(3), async () => {
      calls++
    })
    expect(calls).toBe(0)
  })
})
