import { describe, expect, it } from 'vitest'
import { WriteGate } from '../../../src/serve/write-gate.js'

/** A promise and the function that settles it: a write or a collection held open until the test says. */
function held(): { done: Promise<void>; release: () => void } {
  let release!: () => void
  const done = new Promise<void>((r) => {
    release = r
  })
  return { done, release }
}

const tick = () => new Promise((r) => setImmediate(r))

describe('WriteGate', () => {
  it('writes run together; a collection waits for those running and runs alone', async () => {
    const gate = new WriteGate()
    const order: string[] = []
    const a = held()
    const b = held()
    const writeA = gate.shared(async () => {
      order.push('a in')
      await a.done
      order.push('a out')
    })
    const writeB = gate.shared(async () => {
      order.push('b in')
      await b.done
      order.push('b out')
    })
    const collect = gate.exclusive(async () => {
      order.push('gc')
    })
    await tick()
    expect(order).toEqual(['a in', 'b in'])
    a.release()
    await tick()
    expect(order).toEqual(['a in', 'b in', 'a out'])
    b.release()
    await Promise.all([writeA, writeB, collect])
    expect(order).toEqual(['a in', 'b in', 'a out', 'b out', 'gc'])
  })

  it('a write that comes while a collection waits or runs starts after it: pushes cannot starve it', async () => {
    const gate = new WriteGate()
    const order: string[] = []
    const first = held()
    const sweep = held()
    const writeFirst = gate.shared(async () => {
      await first.done
      order.push('first')
    })
    const collect = gate.exclusive(async () => {
      order.push('gc in')
      await sweep.done
      order.push('gc out')
    })
    const later = gate.shared(async () => {
      order.push('later')
    })
    await tick()
    expect(order).toEqual([])
    first.release()
    await tick()
    await tick()
    expect(order).toEqual(['first', 'gc in'])
    sweep.release()
    await Promise.all([writeFirst, collect, later])
    expect(order).toEqual(['first', 'gc in', 'gc out', 'later'])
  })

  it('a write that fails lets the collection through', async () => {
    const gate = new WriteGate()
    await expect(gate.shared(() => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full')
    await expect(gate.exclusive(async () => 'swept')).resolves.toBe('swept')
  })
})
