import { createHash, type Hash } from 'node:crypto'
import { type FileHandle, open, rename, rm, unlink } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { FerryError } from '../errors.js'
import { writevAll } from '../util/batches.js'
import { errno, fsyncDir, writeFileAtomic } from '../util/files.js'
import {
  encodeJson,
  PARTS_INDEX_SUFFIX,
  type PartsIndex,
  partName,
  SIDE_FILE_FORMAT_VERSION,
} from './format.js'

/** Where the tar bytes go: one file, or parts of at most `splitSize` bytes. Nothing is visible until commit. */
export interface BundleOutput {
  write(chunk: Buffer): Promise<void>
  /** Renames everything into place (parts first, the parts index last) and reports what was written. */
  commit(): Promise<WrittenBundle>
  /** Removes every partial file. */
  abort(): Promise<void>
}

export interface WrittenBundle {
  /** The files a reader opens: the bundle, or the parts index then the parts. */
  files: string[]
  size: number
  sha256: string
  parts?: PartsIndex['parts']
}

const FLUSH_BYTES = 4 * 1024 * 1024

interface Part {
  final: string
  temp: string
  handle: FileHandle
  size: number
  /** Only when split: a single file's digest is the whole stream's. */
  hash?: Hash
}

/**
 * Writes `output` (or `output.000`, `output.001`, … with `splitSize`) under `.partial` names and renames
 * on commit, so an interrupted create never leaves a file that looks like a bundle. Writes are gathered
 * into 4 MiB batches written with one writev each: the tar arrives in header-sized and network-sized pieces.
 */
export async function openOutput(output: string, splitSize?: number): Promise<BundleOutput> {
  const whole = createHash('sha256')
  const parts: Part[] = []
  let total = 0
  let batch: Buffer[] = []
  let batchBytes = 0

  const newPart = async (): Promise<Part> => {
    const final = splitSize === undefined ? output : partName(output, parts.length)
    const temp = `${final}.partial`
    const hash = splitSize === undefined ? undefined : createHash('sha256')
    const part: Part = { final, temp, handle: await open(temp, 'w'), size: 0, hash }
    parts.push(part)
    return part
  }
  await newPart()

  const flush = async () => {
    if (batchBytes === 0) return
    const pieces = batch
    batch = []
    batchBytes = 0
    // Slices for the current part, written with one writev; a part boundary flushes them first.
    let slices: Buffer[] = []
    const writeSlices = async () => {
      if (slices.length > 0) await writevAll(parts[parts.length - 1]!.handle, slices)
      slices = []
    }
    for (let piece of pieces) {
      while (piece.byteLength > 0) {
        let part = parts[parts.length - 1]!
        if (splitSize !== undefined && part.size === splitSize) {
          await writeSlices()
          part = await newPart()
        }
        const room =
          splitSize === undefined ? piece.byteLength : Math.min(piece.byteLength, splitSize - part.size)
        const slice = piece.subarray(0, room)
        slices.push(slice)
        part.hash?.update(slice)
        part.size += room
        piece = piece.subarray(room)
      }
    }
    await writeSlices()
  }

  return {
    async write(chunk) {
      whole.update(chunk)
      total += chunk.byteLength
      batch.push(chunk)
      batchBytes += chunk.byteLength
      if (batchBytes >= FLUSH_BYTES) await flush()
    },
    async commit() {
      await flush()
      for (const p of parts) {
        await p.handle.sync()
        await p.handle.close()
      }
      for (const p of parts) await rename(p.temp, p.final)
      const sha256 = whole.digest('hex')
      if (splitSize === undefined) {
        await fsyncDir(dirname(output))
        return { files: [output], size: total, sha256 }
      }
      const index: PartsIndex = {
        formatVersion: SIDE_FILE_FORMAT_VERSION,
        bundle: basename(output),
        size: total,
        sha256,
        parts: parts.map((p) => ({ name: basename(p.final), size: p.size, sha256: p.hash!.digest('hex') })),
      }
      const indexPath = `${output}${PARTS_INDEX_SUFFIX}`
      await writeFileAtomic(indexPath, encodeJson(index))
      await removeStale(output, parts.length)
      return { files: [indexPath, ...parts.map((p) => p.final)], size: total, sha256, parts: index.parts }
    },
    async abort() {
      for (const p of parts) {
        await p.handle.close().catch(() => {})
        await rm(p.temp, { force: true })
      }
    },
  }
}

/** An earlier, larger split (or unsplit) bundle under the same name would otherwise be mistaken for this one. */
async function removeStale(output: string, count: number): Promise<void> {
  await unlink(output).catch(ignoreMissing)
  for (let i = count; ; i++) {
    try {
      await unlink(partName(output, i))
    } catch (err) {
      ignoreMissing(err)
      return
    }
  }
}

function ignoreMissing(err: unknown): void {
  if (errno(err) !== 'ENOENT') throw err
}

/** `4G`, `700M`, `512K`, `1048576`: binary multiples (G = 2^30 bytes). */
export function parseSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(value.trim())
  const units: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }
  const bytes = m ? Math.floor(Number(m[1]) * units[m[2]!.toUpperCase()]!) : Number.NaN
  if (!Number.isSafeInteger(bytes) || bytes < 1024) {
    throw new FerryError(
      'USAGE',
      `invalid size "${value}": expected a number with an optional K, M, G or T suffix, at least 1K (e.g. 4G, 700M)`,
    )
  }
  return bytes
}
