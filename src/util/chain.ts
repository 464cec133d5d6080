import { finished, type Readable, type Writable } from 'node:stream'

/**
 * `source.pipe(dest)` under stream.pipeline's rules for two streams: a source that fails or closes
 * early destroys `dest` with that error, a `dest` that fails or is destroyed (a consumer that gave up)
 * stops the source, and `done` runs once, when `dest` has taken everything or either side failed.
 *
 * pipeline itself makes an AbortController per call and aborts it when done, which builds a
 * DOMException with a stack trace every time: per blob, three such pipelines were a measurable share
 * of a many-image sync's CPU (bench/README.md).
 */
export function chain(source: Readable, dest: Writable, done: (err?: Error) => void = () => {}): void {
  let settled = false
  const settle = (err?: Error | null) => {
    if (settled) return
    settled = true
    if (err) {
      if (!source.destroyed) source.destroy()
      if (!dest.destroyed) dest.destroy(err)
    }
    done(err ?? undefined)
  }
  finished(source, { writable: false }, (err) => {
    if (err) settle(err)
  })
  finished(dest, { readable: false }, settle)
  source.pipe(dest)
}
