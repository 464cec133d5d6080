import { randomBytes } from 'node:crypto'
import { link, lstat, mkdir, open, readlink, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'

export const errno = (err: unknown): string | undefined =>
  err && typeof err === 'object' && 'code' in err ? String(err.code) : undefined

const FILE_SYSTEM_REASONS: Record<string, string> = {
  ENOTDIR: 'is not a directory',
  EISDIR: 'is a directory',
  ENOENT: 'does not exist and cannot be created there',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EIO: 'input/output error',
  EBUSY: 'in use',
}

/** What the file system refused, for one line after a path: `permission denied (EACCES)`. */
export function fileSystemReason(err: unknown): string {
  const code = errno(err)
  return code && FILE_SYSTEM_REASONS[code] ? `${FILE_SYSTEM_REASONS[code]} (${code})` : (err as Error).message
}

/** A name next to `path` that no other writer (thread, process or host) will pick. */
export function siblingTemp(path: string, suffix = 'tmp'): string {
  return join(dirname(path), `${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.${suffix}`)
}

/** Makes a rename durable: the directory entry, not only the file data, must reach the disk. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch (err) {
    // Some file systems refuse fsync on a directory; the rename itself is still atomic there.
    if (!['EISDIR', 'EINVAL', 'EPERM', 'EBADF'].includes(errno(err) ?? '')) throw err
  } finally {
    await handle?.close()
  }
}

/** Writes a file that must not exist yet, and syncs its data before returning. */
export async function writeNewFileSynced(path: string, bytes: Uint8Array, mode = 0o644): Promise<void> {
  const handle = await open(path, 'wx', mode)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/**
 * Replaces `path` atomically: readers see the old or the new content, never a mix or an empty file.
 * `mode` applies from the first byte (0o600 for files that hold capabilities), not after a chmod.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array, mode = 0o644): Promise<void> {
  const temp = siblingTemp(path)
  try {
    await writeNewFileSynced(temp, bytes, mode)
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
  await fsyncDir(dirname(path))
}

/**
 * Creates `path` with `bytes` unless it exists. link(2) fails on an existing name, so two processes
 * creating the same layout at once both succeed and the file is never seen half written.
 */
export async function createFileExclusive(path: string, bytes: Uint8Array): Promise<void> {
  const temp = siblingTemp(path)
  try {
    await writeNewFileSynced(temp, bytes)
    await link(temp, path).catch((err: unknown) => {
      if (errno(err) !== 'EEXIST') throw err
    })
  } finally {
    await unlink(temp).catch(() => {})
  }
  await fsyncDir(dirname(path))
}

/** The nearest existing level of `path` and the levels below it that are missing (outermost first). */
async function existingAncestor(
  path: string,
): Promise<{ at: string; isDirectory: boolean; missing: string[] }> {
  const missing: string[] = []
  for (let at = resolve(path); ; at = dirname(at)) {
    const found = await stat(at).catch((err: unknown) => {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return undefined
      throw err
    })
    if (found || dirname(at) === at) return { at, isDirectory: !!found?.isDirectory(), missing }
    missing.unshift(at)
  }
}

/** ENOTDIR naming the file in the way (`path`), for a path below a file. */
export async function notDirectoryError(path: string): Promise<Error> {
  const { at } = await existingAncestor(path)
  return Object.assign(new Error(`${at}: not a directory`), { code: 'ENOTDIR', path: at })
}

/**
 * `mkdir -p`, one level at a time. Node's `mkdir(dir, { recursive: true })` never returns for a path
 * under /proc (each try fails ENOENT and it tries again), so the missing levels are made one by one and
 * the first refusal is thrown with its errno; ENOTDIR names the file in the way as its `path`. Returns
 * the levels it made, outermost first, for a caller that may have to take them back.
 */
export async function makeDirectories(dir: string): Promise<string[]> {
  const { isDirectory, missing } = await existingAncestor(dir)
  if (!isDirectory) throw await notDirectoryError(dir)
  const made: string[] = []
  for (const level of missing) {
    await mkdir(level).then(
      () => made.push(level),
      (err: unknown) => {
        if (errno(err) !== 'EEXIST') throw err
      },
    )
  }
  return made
}

/**
 * The file a write to `path` must replace so that a symbolic link stays a link: the end of its chain
 * of links (which need not exist yet), or `path` itself. Replacing the link instead would leave its
 * target, which other readers share, with the old content.
 */
export async function linkTarget(path: string): Promise<string> {
  let at = resolve(path)
  // The kernel's own limit on links followed in one lookup (MAXSYMLINKS); a loop fails as it would.
  for (let hops = 0; hops <= 40; hops++) {
    const found = await lstat(at).catch((err: unknown) => {
      if (errno(err) === 'ENOENT') return undefined
      throw err
    })
    if (!found?.isSymbolicLink()) return at
    at = resolve(dirname(at), await readlink(at))
  }
  throw Object.assign(new Error(`${path}: too many levels of symbolic links`), { code: 'ELOOP', path })
}
