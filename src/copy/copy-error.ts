import { Readable } from 'node:stream'
import { FerryError } from '../errors.js'

export type Side = 'source' | 'destination'

/**
 * A copy that failed where one of its sides answered: which side, to which call (`fetchBlob`,
 * `pushManifest`, `tag`…), and the failure itself (its code, and a registry's status and error codes,
 * in `--json` too). As oras-go's copyError: decided where copy calls each side, never guessed later
 * from host names (`docker.io` is served from `registry-1.docker.io`). `verb` is what the user ran:
 * `copy`, or `promote` (which runs copy's steps between its own gates).
 */
export class CopyError extends FerryError {
  constructor(
    readonly side: Side,
    readonly operation: string,
    readonly failure: FerryError,
    from: string,
    to: string,
    verb = 'copy',
  ) {
    super(failure.code, `${verb} ${from} to ${to}: the ${side} ${what(failure)}`, { cause: failure })
    this.name = 'CopyError'
  }

  override toJSON() {
    return {
      ...this.failure.toJSON(),
      code: this.code,
      message: this.message,
      side: this.side,
      operation: this.operation,
    }
  }
}

/**
 * A host that cannot be reached is named alone (`the destination HOST: connection refused`), not with
 * the blob whose request happened to fail first; anything else keeps its own words.
 */
function what(failure: FerryError): string {
  const { host, detail } = failure as { host?: unknown; detail?: unknown }
  return failure.code === 'NETWORK' && typeof host === 'string' && typeof detail === 'string'
    ? `${host}: ${detail}`
    : failure.message
}

/** Which side raised a failure, recorded the first time it passes a side (or by `blame` where the copy
 * knows better): a source stream's failure reaches the copy through the destination's upload, and stays
 * the source's. */
const raisedBy = new WeakMap<object, { side: Side; operation: string }>()
const originals = new WeakMap<object, object>()

export function blame(err: unknown, side: Side, operation: string): unknown {
  if (err instanceof FerryError && !raisedBy.has(err)) raisedBy.set(err, { side, operation })
  return err
}

/**
 * `target` as one side of a copy: every failure of its calls, and of the streams they return, is
 * recorded as that side's. Calls run on the target itself (a mount still sees the real source).
 */
export function onSide<T extends object>(target: T, side: Side): T {
  const view = new Proxy(target, {
    get(t, key) {
      const value: unknown = Reflect.get(t, key, t)
      if (typeof value !== 'function' || typeof key === 'symbol') return value
      return (...args: unknown[]) => {
        let out: unknown
        try {
          out = value.apply(
            t,
            args.map((a) => (a && typeof a === 'object' ? (originals.get(a) ?? a) : a)),
          )
        } catch (err) {
          throw blame(err, side, key)
        }
        if (!(out instanceof Promise)) return out
        return out.then(
          (v: unknown) => {
            if (v instanceof Readable) v.prependListener('error', (err) => blame(err, side, key))
            return v
          },
          (err: unknown) => {
            throw blame(err, side, key)
          },
        )
      }
    },
  })
  originals.set(view, target)
  return view
}

/** The failure as the copy `from` → `to` reports it: a CopyError when a side raised it, else as it is. */
export function copyFailure(err: unknown, from: string, to: string, verb = 'copy'): unknown {
  if (!(err instanceof FerryError) || err instanceof CopyError || err.code === 'ABORTED') return err
  const where = raisedBy.get(err)
  return where ? new CopyError(where.side, where.operation, err, from, to, verb) : err
}
