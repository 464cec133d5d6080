import { type FileHandle, open } from 'node:fs/promises'
import { Readable, type Writable } from 'node:stream'
import { batchedFileWritable, READ_BYTES } from '../../util/batches.js'

/**
 * A download's file while it is being written: how many bytes are on disk so far, and a way to wait for
 * more. Readers open it by path while it grows; their descriptor stays valid after the file is renamed
 * into the store (or removed, when the download fails).
 */
export class GrowingFile {
  private bytes = 0
  private ended = false
  private waiters: (() => void)[] = []

  private constructor(readonly path: string) {}

  /** Creates `path` (which must not exist) and the writer that fills it (in batches, see Batches). */
  static async create(path: string): Promise<{ file: GrowingFile; writer: Writable }> {
    const handle = await open(path, 'wx')
    const file = new GrowingFile(path)
    const writer = batchedFileWritable(handle, { flushed: (written) => file.grew(written) })
    writer.once('close', () => file.end())
    return { file, writer }
  }

  private grew(written: number): void {
    this.bytes = written
    this.wake()
  }

  private end(): void {
    this.ended = true
    this.wake()
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w()
  }

  /** Resolves once more bytes are on disk, or the writer stopped. */
  private more(seen: number): Promise<void> {
    if (this.bytes > seen || this.ended) return Promise.resolve()
    return new Promise((resolve) => this.waiters.push(resolve))
  }

  /**
   * The blob's `size` bytes as they reach the disk, as a stream. The last byte waits for `verified`
   * (upstream's answer matched its digest), so a corrupt download reaches this reader as an error, never
   * as a clean end. Undefined, having read nothing, when the file is gone (adopted into the store, or
   * removed after a failure): the caller then reads the store.
   */
  async reader(size: number, verified: Promise<void>): Promise<Readable | undefined> {
    let handle: FileHandle
    try {
      handle = await open(this.path, 'r')
    } catch {
      return undefined
    }
    return Readable.from(this.chunks(handle, size, verified), { objectMode: false })
  }

  private async *chunks(handle: FileHandle, size: number, verified: Promise<void>): AsyncGenerator<Buffer> {
    try {
      let sent = 0
      while (sent < size) {
        await this.more(sent)
        if (this.bytes <= sent) throw new Error(`download stopped at byte ${sent} of ${size}`)
        let end = Math.min(this.bytes, sent + READ_BYTES)
        // Everything but the last byte goes as it arrives; the last byte waits for the verdict.
        if (end === size && sent === size - 1) await verified
        else end = Math.min(end, size - 1)
        // A buffer per chunk: the socket may still hold the previous one after write() returned.
        const buffer = Buffer.allocUnsafe(end - sent)
        const { bytesRead } = await handle.read(buffer, 0, end - sent, sent)
        if (bytesRead === 0) throw new Error(`file ended at byte ${sent} of ${size}`)
        sent += bytesRead
        yield buffer.subarray(0, bytesRead)
      }
    } finally {
      await handle.close()
    }
  }
}
