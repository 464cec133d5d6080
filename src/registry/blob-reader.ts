import { createHash, type Hash } from 'node:crypto'
import { Readable } from 'node:stream'
import { FerryError } from '../errors.js'
import { ContentMismatch, parseDigest } from '../oci/digest.js'
import type { Descriptor } from '../oci/schemas.js'

/** Where a segment started: the offset and the hash state there, to re-read from after a failure. */
export interface Mark {
  position: number
  hash: Hash | undefined
}

/**
 * Reads a blob's bytes off a source stream in segments, each handed on as a stream of its own (one
 * PATCH body), so nothing is buffered beyond the streams' own high-water marks. It hashes and counts
 * as bytes pass; `mark` snapshots the hash state (a copy of a few hundred bytes) so that after a lost
 * connection the bytes the registry did keep can be re-read from a fresh source and hashed again
 * without being sent twice.
 *
 * A reader that starts at a non-zero offset (a session a previous run left) cannot hash the bytes the
 * registry already holds: it checks sizes only, and the registry's digest check at commit is the check
 * of the whole.
 */
export class BlobReader {
  private it: AsyncIterator<Buffer>
  private hash: Hash | undefined
  private pending: Buffer | undefined
  private done = false
  /** The source failed or broke the size (as opposed to the destination): never retried here. */
  sourceError: unknown

  constructor(
    source: Readable,
    private readonly desc: Descriptor,
    private readonly what: string,
    public position = 0,
  ) {
    this.it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>
    this.hash = position === 0 ? createHash(parseDigest(desc.digest).algorithm) : undefined
  }

  get verifying(): boolean {
    return this.hash !== undefined
  }

  mark(): Mark {
    return { position: this.position, hash: this.hash?.copy() }
  }

  private longer(): FerryError {
    return new ContentMismatch(
      'SIZE_INVALID',
      this.what,
      `stream is longer than the declared ${this.desc.size} bytes`,
    )
  }

  /** The source ended before the declared size. */
  get short(): boolean {
    return this.done && !this.pending && this.position < this.desc.size
  }

  /** The next piece of at most `max` bytes, or undefined at the end of the source. */
  private async next(max: number): Promise<Buffer | undefined> {
    try {
      return await this.pull(max)
    } catch (err) {
      // Recorded so the uploader can tell a failing source (never retried here) from a failing destination.
      this.sourceError = err
      throw err
    }
  }

  private async pull(max: number): Promise<Buffer | undefined> {
    let buf = this.pending
    this.pending = undefined
    if (!buf) {
      if (this.done) return undefined
      const r = await this.it.next()
      if (r.done) {
        this.done = true
        return undefined
      }
      buf = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value)
    }
    if (buf.length > max) {
      this.pending = buf.subarray(max)
      buf = buf.subarray(0, max)
    }
    this.hash?.update(buf)
    this.position += buf.length
    if (this.position > this.desc.size) throw this.longer()
    return buf
  }

  /** Exactly `length` bytes as a stream (fewer only if the source ends early, which `finish` reports). */
  segment(length: number): Readable {
    let left = length
    const reader = this
    return Readable.from(
      (async function* () {
        while (left > 0) {
          const buf = await reader.next(left)
          if (!buf) return
          left -= buf.length
          yield buf
        }
      })(),
      { objectMode: false },
    )
  }

  /** Up to `max` bytes in memory, for small blobs sent in one request. */
  async read(max: number): Promise<Buffer> {
    const parts: Buffer[] = []
    let have = 0
    for (let buf = await this.next(max); buf; buf = have < max ? await this.next(max - have) : undefined) {
      parts.push(buf)
      have += buf.length
    }
    return Buffer.concat(parts, have)
  }

  /**
   * Continues from `mark` with a new source that yields bytes from `mark.position` on: the bytes up to
   * `to` (which the registry already holds) are hashed again and dropped, so the next segment starts at `to`.
   */
  async rewind(mark: Mark, source: Readable, to: number): Promise<void> {
    await this.it.return?.().catch(() => {})
    this.it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>
    this.hash = mark.hash?.copy()
    this.position = mark.position
    this.pending = undefined
    this.done = false
    this.sourceError = undefined
    while (this.position < to) {
      const buf = await this.next(to - this.position)
      if (!buf)
        throw new FerryError(
          'SIZE_INVALID',
          `${this.what}: the source ended at byte ${this.position} on re-read`,
        )
    }
  }

  /**
   * Starts over at byte 0 with a new source of the whole blob (a new upload session): the digest is
   * checked from the start again, even for a reader that began at an offset and could not hash.
   */
  async restart(source: Readable): Promise<void> {
    await this.rewind({ position: 0, hash: createHash(parseDigest(this.desc.digest).algorithm) }, source, 0)
  }

  /** After the last segment: exactly the declared size, and (when it could hash from byte 0) the digest. */
  async finish(): Promise<void> {
    if (!this.done && !this.pending) {
      const r = await this.it.next()
      if (!r.done) throw this.longer()
      this.done = true
    }
    if (this.pending || this.position !== this.desc.size) {
      throw new ContentMismatch(
        'SIZE_INVALID',
        this.what,
        `stream ends at byte ${this.position}, expected ${this.desc.size}`,
      )
    }
    const got = this.hash && `${parseDigest(this.desc.digest).algorithm}:${this.hash.digest('hex')}`
    if (got !== undefined && got !== this.desc.digest) {
      throw new ContentMismatch('DIGEST_MISMATCH', this.what, `stream content digest is ${got}`)
    }
  }

  /** Stops reading the source (on failure). */
  async cancel(): Promise<void> {
    await this.it.return?.()
  }
}
