import type { FileHandle } from 'node:fs/promises'
import { Writable } from 'node:stream'

/**
 * How many bytes are gathered before one write. Every file operation is a round trip to libuv's thread
 * pool, and every socket write wakes the reader: on a 2-core VM both cost more than the copy itself.
 * 256 MiB written to a file in 64 KiB chunks took 0.34–0.82 CPU-seconds, in 1 MiB writes 0.07–0.08;
 * sent to a socket in 64 KiB writes 0.20–0.34, in 1 MiB writes 0.13–0.18 (bench/README.md).
 */
export const BATCH_BYTES = 1024 * 1024

/** Reads of this size, for the same reason: 64 KiB reads of 256 MiB cost 0.33–0.67 CPU-s, 1 MiB ones 0.07–0.09. */
export const READ_BYTES = 1024 * 1024

/**
 * A batch that is not full goes after this long: what a slow sender sent moves on soon, to readers of a
 * growing file, to a client, to anyone looking at a partial upload.
 */
const BATCH_DELAY_MS = 20

/** Where a batch goes; it resolves once the chunks are written. */
export type BatchSink = (chunks: Buffer[]) => Promise<void>

/**
 * Chunks handed on in batches of at least BATCH_BYTES (or after BATCH_DELAY_MS). The chunks are kept
 * until written: a producer must not reuse a buffer it handed over (sockets and read streams do not).
 * Batches are written one after the other; a failed one fails every later add and flush.
 */
export class Batches {
  private pending: Buffer[] = []
  private pendingBytes = 0
  private writing: Promise<void> = Promise.resolve()
  private timer: NodeJS.Timeout | undefined

  constructor(private readonly sink: BatchSink) {}

  /** Takes the chunk; resolves once any batch being written is done (at once, mostly), rejects if one failed. */
  add(chunk: Buffer): Promise<void> {
    this.pending.push(chunk)
    this.pendingBytes += chunk.byteLength
    if (this.pendingBytes >= BATCH_BYTES) return this.flush()
    // The failure, if any, stays in `writing` for the next add or flush to report.
    this.timer ??= setTimeout(() => this.flush().catch(() => {}), BATCH_DELAY_MS)
    return this.writing
  }

  /** Writes what waits; resolves once everything handed over so far is written. */
  flush(): Promise<void> {
    const batch = this.take()
    if (batch.length > 0) this.writing = this.writing.then(() => this.sink(batch))
    return this.writing
  }

  /** Drops what waits (the writer is being torn down); resolves after the batch in flight. */
  discard(): Promise<void> {
    this.take()
    return this.writing.catch(() => {})
  }

  private take(): Buffer[] {
    clearTimeout(this.timer)
    this.timer = undefined
    const batch = this.pending
    this.pending = []
    this.pendingBytes = 0
    return batch
  }
}

/**
 * A writable that hands its chunks on in batches. `close` runs once: with `finished` after everything
 * was written, or without it when the stream was destroyed first (a failed source, a failed batch).
 */
export function batchedWritable(
  sink: BatchSink,
  close: (finished: boolean, err?: Error | null) => Promise<void>,
): Writable {
  const batches = new Batches(sink)
  let closing: Promise<void> | undefined
  const closeOnce = (finished: boolean, err?: Error | null) => {
    closing ??= (finished ? Promise.resolve() : batches.discard()).then(() => close(finished, err))
    return closing
  }
  return new Writable({
    highWaterMark: BATCH_BYTES,
    write(chunk: Buffer, _enc, cb) {
      batches.add(chunk).then(() => cb(), cb)
    },
    final(cb) {
      batches
        .flush()
        .then(() => closeOnce(true))
        .then(() => cb(), cb)
    },
    // Destroy also follows a finish (autoDestroy); `closing` is set by then.
    destroy(err, cb) {
      closeOnce(false, err).then(
        () => cb(err),
        () => cb(err),
      )
    },
  })
}

/** writev until everything is written (a short write continues with what is left); the bytes written. */
export async function writevAll(handle: FileHandle, buffers: Buffer[], position?: number): Promise<number> {
  let pending = buffers
  let total = 0
  while (pending.length > 0) {
    let { bytesWritten } = await handle.writev(pending, position === undefined ? undefined : position + total)
    total += bytesWritten
    const rest: Buffer[] = []
    for (const b of pending) {
      if (bytesWritten >= b.byteLength) bytesWritten -= b.byteLength
      else {
        rest.push(b.subarray(bytesWritten))
        bytesWritten = 0
      }
    }
    pending = rest
  }
  return total
}

/** Batches written to a file from `position` on; `flushed` hears the byte count on disk after each. */
export function fileSink(handle: FileHandle, position = 0, flushed?: (written: number) => void): BatchSink {
  let written = 0
  return async (chunks) => {
    written += await writevAll(handle, chunks, position + written)
    flushed?.(written)
  }
}

/** A file written in batches from `position` on, closed when the stream finishes or is destroyed. */
export function batchedFileWritable(
  handle: FileHandle,
  opts: { position?: number; flushed?: (written: number) => void } = {},
): Writable {
  return batchedWritable(fileSink(handle, opts.position, opts.flushed), () => handle.close())
}
