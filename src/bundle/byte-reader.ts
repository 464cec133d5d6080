import { FerryError } from '../errors.js'
import type { BundleSource } from './source.js'

/**
 * Access to a bundle's bytes for the tar parser, by position: `read` for headers and JSON (fresh
 * buffers the caller keeps), `forward` for bodies. In a verifying pass every byte is read, in order,
 * through one reused buffer (bodies are only hashed, so nothing of them needs to outlive the call, and a
 * gigabyte of blobs makes no garbage) and handed to the source's part checker; a metadata read jumps
 * over bodies without reading them.
 */
export interface ByteReader {
  /** Bytes consumed so far: the offset of the next byte in the bundle. */
  readonly position: number
  /** Exactly `n` bytes, or undefined at a clean end of input (nothing left); fewer than `n` is truncation. */
  read(n: number): Promise<Buffer | undefined>
  /** Moves past `n` bytes, handing each piece to `onChunk` (valid only during the call) when given. */
  forward(n: number, onChunk?: (chunk: Buffer) => void): Promise<void>
  /** Whether everything after this point is zero bytes (the tar's end padding). */
  restIsZero(): Promise<boolean>
}

const SCRATCH_BYTES = 1024 * 1024

const truncated = (name: string, at: number) =>
  new FerryError('VERIFY_FAILED', `${name}: truncated at byte ${at} (the tar ends in the middle of an entry)`)

export class SourceByteReader implements ByteReader {
  position = 0
  private readonly scratch: Buffer | undefined
  private readonly check: ((chunk: Buffer) => void) | undefined

  /** `sequential`: read every byte (verifying); otherwise bodies without `onChunk` are skipped. */
  constructor(
    private readonly source: BundleSource,
    sequential: boolean,
  ) {
    this.scratch = sequential ? Buffer.allocUnsafe(SCRATCH_BYTES) : undefined
    this.check = sequential ? source.partChecker() : undefined
  }

  async read(n: number): Promise<Buffer | undefined> {
    if (this.position === this.source.size && n > 0) return undefined
    if (this.position + n > this.source.size) throw truncated(this.source.name, this.source.size)
    const bytes = Buffer.allocUnsafe(n)
    await this.source.readInto(bytes, n, this.position)
    this.check?.(bytes)
    this.position += n
    return bytes
  }

  async forward(n: number, onChunk?: (chunk: Buffer) => void): Promise<void> {
    if (this.position + n > this.source.size) {
      // Still hash what is there, so a verifying pass reports the truncation, not a digest error.
      throw truncated(this.source.name, this.source.size)
    }
    if (!this.scratch) {
      if (onChunk) throw new FerryError('INTERNAL', 'a metadata read cannot stream a body')
      this.position += n
      return
    }
    let left = n
    while (left > 0) {
      const want = Math.min(left, this.scratch.byteLength)
      const chunk = this.scratch.subarray(0, want)
      await this.source.readInto(chunk, want, this.position)
      this.check!(chunk)
      onChunk?.(chunk)
      this.position += want
      left -= want
    }
  }

  async restIsZero(): Promise<boolean> {
    if (!this.scratch) return true // a metadata read stops long before the end
    while (this.position < this.source.size) {
      const want = Math.min(this.source.size - this.position, this.scratch.byteLength)
      const chunk = this.scratch.subarray(0, want)
      await this.source.readInto(chunk, want, this.position)
      this.check!(chunk)
      this.position += want
      if (chunk.some((b) => b !== 0)) return false
    }
    return true
  }
}
