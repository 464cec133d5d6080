import type { Readable } from 'node:stream'
import { FerryError } from '../errors.js'
import { Hasher, parseDigest } from '../oci/digest.js'
import type { Descriptor } from '../oci/schemas.js'

/**
 * A run of bytes kept as the pieces the stream delivered: joining them would hold every chunk twice
 * at its peak, and undici sends an array of buffers as one body.
 */
export interface Chunk {
  parts: Buffer[]
  length: number
}

/** The chunk from byte `offset` on, sharing memory with it. */
export function chunkFrom(chunk: Chunk, offset: number): Buffer[] {
  const out: Buffer[] = []
  let skip = offset
  for (const part of chunk.parts) {
    if (skip >= part.length) {
      skip -= part.length
      continue
    }
    out.push(skip ? part.subarray(skip) : part)
    skip = 0
  }
  return out
}

/**
 * Pulls a stream apart into chunks of at most N bytes, hashing and counting as it goes: only the
 * chunk being sent is ever held in memory, and the source is paused (backpressure) in between.
 */
export class ChunkReader {
  private readonly it: AsyncIterator<Buffer>
  private readonly hasher: Hasher
  private pending: Buffer | undefined
  private done = false

  constructor(
    source: Readable,
    private readonly desc: Descriptor,
    private readonly what: string,
  ) {
    this.it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>
    this.hasher = new Hasher(parseDigest(desc.digest).algorithm)
  }

  /** Bytes read so far. */
  get position(): number {
    return this.hasher.size
  }

  /** Up to `max` bytes; fewer only at the end of the stream; fails as soon as the stream passes the declared size. */
  async read(max: number): Promise<Chunk> {
    const parts: Buffer[] = []
    let have = 0
    while (have < max) {
      let buf = this.pending
      this.pending = undefined
      if (!buf) {
        if (this.done) break
        const r = await this.it.next()
        if (r.done) {
          this.done = true
          break
        }
        buf = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value)
      }
      const take = Math.min(buf.length, max - have)
      if (take < buf.length) this.pending = buf.subarray(take)
      const part = buf.subarray(0, take)
      this.hasher.update(part)
      if (this.hasher.size > this.desc.size) {
        throw new FerryError(
          'SIZE_INVALID',
          `${this.what}: stream is longer than the declared ${this.desc.size} bytes`,
        )
      }
      parts.push(part)
      have += take
    }
    return { parts, length: have }
  }

  /** After the last chunk: the stream must have been exactly the descriptor's size and digest. */
  async finish(): Promise<void> {
    if (!this.done && !this.pending) {
      const r = await this.it.next()
      if (!r.done)
        throw new FerryError(
          'SIZE_INVALID',
          `${this.what}: stream is longer than the declared ${this.desc.size} bytes`,
        )
      this.done = true
    }
    if (this.pending || this.hasher.size !== this.desc.size) {
      throw new FerryError(
        'SIZE_INVALID',
        `${this.what}: stream has ${this.hasher.size} bytes, expected ${this.desc.size}`,
      )
    }
    const got = this.hasher.digest()
    if (got !== this.desc.digest)
      throw new FerryError('DIGEST_MISMATCH', `${this.what}: stream content digest is ${got}`)
  }

  /** Stops reading the source (on failure). */
  async cancel(): Promise<void> {
    await this.it.return?.()
  }
}
