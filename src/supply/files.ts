import { constants } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { FerryError } from '../errors.js'

/** Key files are a few hundred bytes; anything near this is not a key (and /dev/zero never ends). */
export const KEY_FILE_MAX_BYTES = 64 * 1024

export interface ReadInputOptions {
  /** Refuse a file larger than this. Default: no cap. */
  maxBytes?: number
}

function cannotRead(what: string, path: string, err: unknown): FerryError {
  const code = (err as NodeJS.ErrnoException).code
  return new FerryError(
    'USAGE',
    `${what} ${path}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code})`}`,
  )
}

/**
 * A whole input file (key, SBOM, artifact); a missing or unreadable file is a USAGE error naming it.
 * Only regular files are read: O_NONBLOCK keeps the open of a FIFO from waiting for a writer, and the
 * fstat on the opened handle (not the path) is what decides, so a swap after the check cannot matter.
 */
export async function readInputFile(
  path: string,
  what = 'file',
  opts: ReadInputOptions = {},
): Promise<Uint8Array> {
  let handle: FileHandle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    throw cannotRead(what, path, err)
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) {
      throw new FerryError('USAGE', `${what} ${path}: not a regular file`)
    }
    const max = opts.maxBytes
    if (max === undefined) return new Uint8Array(await handle.readFile())
    if (info.size > max) {
      throw new FerryError('USAGE', `${what} ${path}: ${info.size} bytes is more than the ${max} allowed`)
    }
    // The file can grow between fstat and read: read at most one byte past the cap to notice.
    const buf = Buffer.alloc(max + 1)
    let filled = 0
    while (filled < buf.length) {
      const { bytesRead } = await handle.read(buf, filled, buf.length - filled, filled)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    if (filled > max) throw new FerryError('USAGE', `${what} ${path}: more than the ${max} bytes allowed`)
    return new Uint8Array(buf.buffer, buf.byteOffset, filled)
  } catch (err) {
    if (err instanceof FerryError) throw err
    throw cannotRead(what, path, err)
  } finally {
    await handle.close()
  }
}
