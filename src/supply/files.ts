import { readFile } from 'node:fs/promises'
import { FerryError } from '../errors.js'

/** A whole input file (key, SBOM, artifact); a missing or unreadable file is a USAGE error naming it. */
export async function readInputFile(path: string, what = 'file'): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new FerryError(
      'USAGE',
      `${what} ${path}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code})`}`,
    )
  }
}
