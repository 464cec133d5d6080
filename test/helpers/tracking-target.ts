import type { ReadOnlyTarget } from '../../src/content/target.js'

/**
 * A target wrapped so that every call to it is recorded, as oras-go's `storageTracker` (copy_test.go):
 * what an algorithm skipped shows as a count of 0, and the order of writes (the tag last) as positions in
 * one log. Optional capabilities pass through unchanged (`canMount` sees what the wrapped target has).
 */

export interface Call {
  /** The wrapped target's `name`. */
  target: string
  method: string
  /**
   * What the call was about: a digest (a descriptor's, a manifest's, a subject's), the reference given
   * (`fetchManifest`, `resolve`, `untag`), or for `tag` the tag written.
   */
  key?: string
}

export class CallLog {
  readonly calls: Call[] = []

  /** Calls of `method` (about `key`, when given), on any target sharing this log. */
  count(method: string, key?: string): number {
    return this.of(method, key).length
  }

  /** The keys of every call of `method`, in order. */
  keys(method: string): (string | undefined)[] {
    return this.of(method).map((c) => c.key)
  }

  /** Positions of the calls of `method` in the log (to prove what came before what). */
  positions(method: string, key?: string): number[] {
    return this.calls.flatMap((c, i) =>
      c.method === method && (key === undefined || c.key === key) ? [i] : [],
    )
  }

  reset(): void {
    this.calls.length = 0
  }

  private of(method: string, key?: string): Call[] {
    return this.calls.filter((c) => c.method === method && (key === undefined || c.key === key))
  }
}

const digestOf = (arg: unknown): string | undefined =>
  typeof arg === 'string'
    ? arg
    : typeof (arg as { digest?: unknown } | undefined)?.digest === 'string'
      ? (arg as { digest: string }).digest
      : undefined

/**
 * `inner` with every method call recorded in `log` (a fresh one unless given: pass one log to a source
 * and a destination to see their calls interleaved). Methods run on `inner` itself, so its own internal
 * calls are not counted.
 */
export function tracking<T extends ReadOnlyTarget>(
  inner: T,
  log: CallLog = new CallLog(),
): { target: T; calls: CallLog } {
  const target = new Proxy(inner, {
    get(t, prop, receiver) {
      const value = Reflect.get(t, prop, receiver)
      if (typeof value !== 'function' || typeof prop !== 'string') return value
      return (...args: unknown[]) => {
        const key = prop === 'tag' ? (args[1] as string) : digestOf(args[0])
        log.calls.push({ target: t.name, method: prop, key })
        return (value as (...a: unknown[]) => unknown).apply(t, args)
      }
    },
  })
  return { target, calls: log }
}
