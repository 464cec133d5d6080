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
 *
 * A reader that starts at `start` > 0 holds only the rest of a blob (a resumed upload): the bytes
 * before it were never read here, so only the size can be checked, not the digest.
 */
export class ChunkReader {
  private readonly it: AsyncIterator<Buffer>
  private readonly hasher: Hasher | undefined
  private count = 0
  private pending: Buffer | undefined
  private done = false

  constructor(
    source: Readable,
    private readonly desc: Descriptor,
    private readonly what: string,
    private readonly start = 0,
  ) {
    this.it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>
    const { algorithm } = parseDigest(desc.digest)
    this.hasher = start === 0 ? new Hasher(algorithm) : undefined
  }

  /** Offset in the blob of the next byte to be read. */
  get position(): number {
    return this.start + this.count
  }

  private longer(): FerryError {
    return new FerryError(
      'SIZE_INVALID',
      `${this.what}: stream is longer than the declared ${this.desc.size} bytes`,
    )
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
      this.hasher?.update(part)
      this.count += take
      if (this.position > this.desc.size) throw this.longer()
      parts.push(part)
      have += take
    }
    return { parts, length: have }
  }

  /** After the last chunk: the stream must have been exactly the descriptor's size (and digest, from 0). */
  async finish(): Promise<void> {
    if (!this.done && !this.pending) {
      const r = await this.it.next()
      if (!r.done) throw this.longer()
      this.done = true
    }
    if (this.pending || this.position !== this.desc.size) {
      throw new FerryError(
        'SIZE_INVALID',
        this.start === 0
          ? `${this.what}: stream has ${this.count} bytes, expected ${this.desc.size}`
          : `${this.what}: stream has ${this.count} bytes after byte ${this.start}, expected ${this.desc.size - this.start}`,
      )
    }
    const got = this.hasher?.digest()
    if (got !== undefined && got !== this.desc.digest)
      throw new FerryError('DIGEST_MISMATCH', `${this.what}: stream content digest is ${got}`)
  }

  /** Stops reading the source (on failure). */
  async cancel(): Promise<void> {
    await this.it.return?.()
  }
}

/** Hands `send` a reader over `body` (bytes from `start` on); when `send` fails, the source is stopped too. */
export async function readChunks(
  body: Readable,
  desc: Descriptor,
  what: string,
  start: number,
  send: (reader: ChunkReader) => Promise<void>,
): Promise<void> {
  const reader = new ChunkReader(body, desc, `blob ${what}`, start)
  try {
    await send(reader)
  } catch (err) {
    await reader.cancel().catch(() => {})
    body.destroy()
    throw err
  }
}
