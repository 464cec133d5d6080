import { createHash } from 'node:crypto'
import { type FileHandle, open, readFile, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { FerryError } from '../errors.js'
import { errno } from '../util/files.js'
import { PARTS_INDEX_SUFFIX, type PartsIndex, partsIndexSchema } from './format.js'

/**
 * The bytes of a bundle, whether one file or the parts `--split-size` wrote: random access (to serve a
 * blob from its recorded offset) and one sequential pass that checks every part's digest as it ends.
 */
export interface BundleSource {
  /** The path the user gave, for messages. */
  readonly name: string
  readonly size: number
  /** The part files, when split. */
  readonly parts?: readonly string[]
  readAt(position: number, length: number): Promise<Buffer>
  /** Fills `buf[0, length)` from `position`; fails if the file is shorter than it was when opened. */
  readInto(buf: Buffer, length: number, position: number): Promise<void>
  /** Bytes `[start, end)`, in fresh buffers (consumers may keep them). */
  range(start: number, end: number): Readable
  /**
   * For a pass that reads every byte once, in order: feed each piece to the returned function, which
   * hashes each part and throws, naming the part, when one ends with a digest other than the index's.
   */
  partChecker(): (chunk: Buffer) => void
  /** For messages: ` (in part FILE.001)` for bytes of a split bundle, else nothing. */
  where(start: number, length: number): string
  close(): Promise<void>
}

/** Reads for blobs served from the bundle: small enough that concurrent readers hold little. */
const READ_CHUNK = 256 * 1024
const MAX_PARTS_INDEX_BYTES = 4 * 1024 * 1024

interface Piece {
  path: string
  handle: FileHandle
  start: number
  size: number
  sha256?: string
}

/** Opens `path`: a bundle file, a parts index `FILE.parts.json`, its first part `FILE.000`, or `FILE` when only parts exist. */
export async function openBundleSource(path: string): Promise<BundleSource> {
  const indexPath = await partsIndexFor(path)
  if (!indexPath) {
    const handle = await openFile(path, path)
    const { size } = await handle.stat()
    return new PiecedSource(path, [{ path, handle, start: 0, size }], false)
  }
  const index = await readPartsIndex(indexPath)
  const pieces: Piece[] = []
  try {
    let start = 0
    for (const part of index.parts) {
      const file = join(dirname(indexPath), part.name)
      const handle = await openFile(file, path, `part ${part.name} is missing`)
      pieces.push({ path: file, handle, start, size: part.size, sha256: part.sha256 })
      const actual = (await handle.stat()).size
      if (actual !== part.size) {
        throw new FerryError(
          'VERIFY_FAILED',
          `${path}: part ${part.name} is ${actual} bytes, ${basename(indexPath)} says ${part.size} (stale or incomplete part)`,
        )
      }
      start += part.size
    }
    if (start !== index.size) {
      throw new FerryError(
        'VERIFY_FAILED',
        `${indexPath}: parts add up to ${start} bytes, the index says ${index.size}`,
      )
    }
  } catch (err) {
    await Promise.all(pieces.map((p) => p.handle.close()))
    throw err
  }
  return new PiecedSource(path, pieces, true)
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}

async function partsIndexFor(path: string): Promise<string | undefined> {
  if (path.endsWith(PARTS_INDEX_SUFFIX)) return path
  const part = /^(.*)\.\d{3,}$/.exec(path)
  if (part && (await exists(`${part[1]}${PARTS_INDEX_SUFFIX}`))) return `${part[1]}${PARTS_INDEX_SUFFIX}`
  if (!(await exists(path)) && (await exists(`${path}${PARTS_INDEX_SUFFIX}`)))
    return `${path}${PARTS_INDEX_SUFFIX}`
  return undefined
}

async function openFile(file: string, bundle: string, missing = 'no such file'): Promise<FileHandle> {
  try {
    const handle = await open(file, 'r')
    if (!(await handle.stat()).isFile()) {
      await handle.close()
      throw new FerryError('USAGE', `${bundle}: ${file} is not a regular file`)
    }
    return handle
  } catch (err) {
    if (errno(err) === 'ENOENT') throw new FerryError('NOT_FOUND', `${bundle}: ${missing}`)
    throw err
  }
}

async function readPartsIndex(path: string): Promise<PartsIndex> {
  const size = (await stat(path).catch(() => undefined))?.size
  if (size === undefined) throw new FerryError('NOT_FOUND', `${path}: no such parts index`)
  if (size > MAX_PARTS_INDEX_BYTES)
    throw new FerryError('VERIFY_FAILED', `${path}: ${size} bytes, too large for a parts index`)
  let doc: unknown
  try {
    doc = JSON.parse(await readFile(path, 'utf8'))
  } catch {
    throw new FerryError('VERIFY_FAILED', `${path}: not valid JSON`)
  }
  const parsed = partsIndexSchema.safeParse(doc)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new FerryError(
      'VERIFY_FAILED',
      `${path}: not a parts index at ${issue?.path.join('.')}: ${issue?.message}`,
    )
  }
  return parsed.data
}

class PiecedSource implements BundleSource {
  readonly size: number
  readonly parts?: readonly string[]

  constructor(
    readonly name: string,
    private readonly pieces: Piece[],
    split: boolean,
  ) {
    this.size = pieces.reduce((n, p) => n + p.size, 0)
    if (split) this.parts = pieces.map((p) => p.path)
  }

  async readAt(position: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(length)
    await this.readInto(out, length, position)
    return out
  }

  async readInto(buf: Buffer, length: number, position: number): Promise<void> {
    if (position < 0 || position + length > this.size) {
      throw new FerryError(
        'INTERNAL',
        `${this.name}: read [${position}, ${position + length}) outside the bundle`,
      )
    }
    let filled = 0
    for (const piece of this.pieces) {
      const at = position + filled
      if (filled === length) break
      if (at >= piece.start + piece.size) continue
      const want = Math.min(length - filled, piece.start + piece.size - at)
      let got = 0
      while (got < want) {
        const { bytesRead } = await piece.handle.read(buf, filled + got, want - got, at - piece.start + got)
        if (bytesRead === 0) {
          throw new FerryError(
            'VERIFY_FAILED',
            `${this.name}: ${piece.path} ended early (changed while being read)`,
          )
        }
        got += bytesRead
      }
      filled += want
    }
  }

  range(start: number, end: number): Readable {
    return Readable.from(this.chunks(start, end), { objectMode: false, highWaterMark: READ_CHUNK })
  }

  private async *chunks(start: number, end: number): AsyncGenerator<Buffer> {
    for (let at = start; at < end; ) {
      const want = Math.min(READ_CHUNK, end - at)
      // A fresh buffer per read: downstream consumers keep chunks (upload chunks, pending writes).
      const buf = Buffer.allocUnsafe(want)
      await this.readInto(buf, want, at)
      at += want
      yield buf
    }
  }

  where(start: number, length: number): string {
    if (!this.parts) return ''
    const names = this.pieces
      .filter((p) => p.start < start + Math.max(length, 1) && start < p.start + p.size)
      .map((p) => basename(p.path))
    return names.length ? ` (in part ${names.join(', ')})` : ''
  }

  partChecker(): (chunk: Buffer) => void {
    const pieces = this.pieces.filter((p) => p.sha256)
    if (pieces.length === 0) return () => {}
    let index = 0
    let seen = 0
    let hash = createHash('sha256')
    return (chunk) => {
      let rest = chunk
      while (rest.byteLength > 0) {
        const piece = pieces[index]
        if (!piece) return
        const take = Math.min(rest.byteLength, piece.size - seen)
        hash.update(rest.subarray(0, take))
        seen += take
        rest = rest.subarray(take)
        if (seen === piece.size) {
          if (hash.digest('hex') !== piece.sha256) {
            throw new FerryError(
              'DIGEST_MISMATCH',
              `${this.name}: part ${basename(piece.path)} does not match the sha256 in its parts index (stale or corrupt part)`,
            )
          }
          index++
          seen = 0
          hash = createHash('sha256')
        }
      }
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.pieces.map((p) => p.handle.close().catch(() => {})))
  }
}
