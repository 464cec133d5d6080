import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { lstat, readdir } from 'node:fs/promises'
import { basename, join, relative, resolve, sep } from 'node:path'
import type { Readable } from 'node:stream'
import { FerryError } from '../errors.js'
import { verifyingStream } from '../oci/digest.js'
import { chain } from '../util/chain.js'
import { errno, fileSystemReason } from '../util/files.js'
import { FILES_DIR, nameProblem } from './format.js'

/** A regular file to pack: its name in the pack, where it is, and what it held when hashed. */
export interface PackedFile {
  name: string
  path: string
  size: number
  sha256: string
}

const what = (mode: number): string => {
  const type = mode & 0o170000
  if (type === 0o120000) return 'a symbolic link'
  if (type === 0o020000) return 'a character device'
  if (type === 0o060000) return 'a block device'
  if (type === 0o010000) return 'a FIFO'
  if (type === 0o140000) return 'a socket'
  return 'not a regular file'
}

const notRegular = (path: string, mode: number) =>
  new FerryError(
    'USAGE',
    `${path} is ${what(mode)}; an evidence pack holds regular files only (copy what it points at, or move it out)`,
  )

async function lstatOrFail(path: string) {
  try {
    return await lstat(path)
  } catch (err) {
    // readdir decodes a name that is not UTF-8 with replacement characters: no such file then.
    if (errno(err) === 'ENOENT')
      throw new FerryError('USAGE', `${path}: no such file (or a name that is not UTF-8)`)
    throw new FerryError('USAGE', `${path}: ${fileSystemReason(err)}`)
  }
}

async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256')
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  } catch (err) {
    throw new FerryError('USAGE', `${path}: ${fileSystemReason(err)}`)
  }
  return hash.digest('hex')
}

/**
 * The regular files under each of `roots` (a directory, or a single file), named
 * `files/<basename of the root>/<path inside it>`, sorted, each hashed once. Symbolic links, devices,
 * FIFOs and sockets are refused, naming the first one: what they stand for is not in the pack, and a
 * link followed could lead outside what was meant to be captured. Empty directories leave no trace.
 */
export async function collectFiles(roots: readonly string[], output: string): Promise<PackedFile[]> {
  const out: PackedFile[] = []
  const bases = new Map<string, string>()
  const outputPath = resolve(output)
  for (const root of roots) {
    const absolute = resolve(root)
    const base = basename(absolute)
    const other = bases.get(base)
    if (other !== undefined)
      throw new FerryError('USAGE', `${other} and ${root} would both be packed as ${FILES_DIR}/${base}/`)
    bases.set(base, root)
    if (outputPath.startsWith(absolute + sep))
      throw new FerryError('USAGE', `the output ${output} is inside ${root}: the pack would hold itself`)
    const stats = await lstatOrFail(root)
    const found: { name: string; path: string; size: number }[] = []
    if (stats.isFile()) found.push({ name: `${FILES_DIR}/${base}`, path: root, size: stats.size })
    else if (stats.isDirectory()) await walk(root, absolute, base, found)
    else throw notRegular(root, stats.mode)
    for (const f of found) {
      const problem = nameProblem(f.name)
      if (problem) throw new FerryError('USAGE', `${f.path} ${problem}: sha256sum could not name it`)
      out.push({ ...f, sha256: await hashFile(f.path) })
    }
  }
  return out
}

async function walk(
  dir: string,
  absolute: string,
  base: string,
  found: { name: string; path: string; size: number }[],
): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    throw new FerryError('USAGE', `${dir}: ${fileSystemReason(err)}`)
  }
  for (const name of names.sort()) {
    const path = join(dir, name)
    const stats = await lstatOrFail(path)
    if (stats.isDirectory()) await walk(path, absolute, base, found)
    else if (stats.isFile()) {
      const inside = relative(absolute, resolve(path)).split(sep).join('/')
      found.push({ name: `${FILES_DIR}/${base}/${inside}`, path, size: stats.size })
    } else throw notRegular(path, stats.mode)
  }
}

/** The file's bytes for its tar entry, failing the write if they are no longer what was hashed. */
export async function openPackedFile(file: PackedFile): Promise<Readable> {
  const check = verifyingStream({
    digest: `sha256:${file.sha256}`,
    size: file.size,
    subject: `${file.path} changed while it was packed`,
  })
  chain(createReadStream(file.path), check)
  return check
}
