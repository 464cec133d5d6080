/**
 * Several files written as one change, as far as a file system allows. Every file is prepared first:
 * its directory made, what is in the way checked, the original kept by a hard link, the new content
 * written and synced beside it with the original's mode (and owner, where the process may set it).
 * Only then is each renamed into place; if a rename fails, those already done are put back from the
 * kept originals, and every temporary file and new directory goes. A crash between two renames is the
 * one case left: the kept originals stay beside their files as `NAME.PID.RANDOM.ferry-old`.
 */
import { constants } from 'node:fs'
import { access, copyFile, type FileHandle, link, lstat, open, rename, rmdir, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { FerryError } from '../errors.js'
import { errno, fileSystemReason, fsyncDir, makeDirectories, siblingTemp } from '../util/files.js'

export interface Output {
  /** Where the file goes; for a symbolic link, the caller resolves its target first. */
  path: string
  /** The new content... */
  bytes?: Uint8Array
  /** ...or a file whose bytes are copied as they are. */
  copyOf?: string
  /** Permission bits. Default: those of the file replaced, else 0644. */
  mode?: number
  /** Owner and group to keep (--in-place); set where the process may: as root, or as that owner. */
  owner?: { uid: number; gid: number }
}

interface Prepared {
  path: string
  temp?: string
  /** A hard link to (or, where links fail, a copy of) the original: what a rollback puts back. */
  kept?: string
  renamed?: boolean
}

const DEFAULT_MODE = 0o644

/** Writes every output or none; throws CONFLICT naming the file the file system refused. */
export async function writeAll(outputs: readonly Output[]): Promise<void> {
  const list = unique(outputs)
  const made: string[] = []
  const prepared: Prepared[] = []
  let at = ''
  try {
    for (const output of list) {
      at = output.path
      const p: Prepared = { path: output.path }
      prepared.push(p)
      await prepare(output, p, made)
    }
    for (const p of prepared) {
      at = p.path
      await rename(p.temp!, p.path)
      p.renamed = true
    }
  } catch (err) {
    const stuck = await rollBack(prepared, made)
    const where = errno(err) === 'ENOTDIR' && (err as { path?: string }).path
    const reason = `${where && where !== at ? `${where} ` : ''}${fileSystemReason(err)}`
    throw new FerryError(
      'CONFLICT',
      stuck.length
        ? `cannot write ${at}: ${reason}; could not put back ${stuck.join(', ')}`
        : `cannot write ${at}: ${reason}; nothing was written`,
      { cause: err },
    )
  }
  for (const dir of new Set(prepared.map((p) => dirname(p.path)))) await fsyncDir(dir)
  await Promise.all(prepared.map((p) => p.kept && unlink(p.kept).catch(() => {})))
}

/** One output per path: the same path twice must be the same content (two links to one file). */
function unique(outputs: readonly Output[]): Output[] {
  const byPath = new Map<string, Output>()
  for (const o of outputs) {
    const seen = byPath.get(o.path)
    if (!seen) byPath.set(o.path, o)
    else if (seen.copyOf !== o.copyOf || Buffer.compare(seen.bytes ?? Buffer.of(), o.bytes ?? Buffer.of()))
      throw new FerryError('USAGE', `${o.path} would be written twice, with different content`)
  }
  return [...byPath.values()]
}

async function prepare(output: Output, p: Prepared, made: string[]): Promise<void> {
  made.push(...(await makeDirectories(dirname(output.path))))
  const existing = await lstat(output.path).catch((err: unknown) => {
    if (errno(err) === 'ENOENT') return undefined
    throw err
  })
  if (existing?.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' })
  if (existing) p.kept = await keep(output.path)
  p.temp = siblingTemp(output.path)
  const mode = output.mode ?? (existing?.isFile() ? existing.mode & 0o7777 : DEFAULT_MODE)
  let handle: FileHandle | undefined
  try {
    if (output.copyOf) {
      await copyFile(output.copyOf, p.temp, constants.COPYFILE_EXCL)
      handle = await open(p.temp, 'r+')
    } else {
      // 0600 until the mode below is set: never wider than the file it replaces, even for a moment.
      handle = await open(p.temp, 'wx', 0o600)
      await handle.writeFile(output.bytes ?? Buffer.of())
    }
    const groupLost = output.owner ? await chownLike(handle, output.owner) : false
    // A group ferry could not give the file back must not inherit the original group's rights.
    await handle.chmod(groupLost ? mode & ~0o070 : mode)
    await handle.sync()
  } finally {
    await handle?.close()
  }
}

/**
 * Keeps the original under a second name. A hard link is the file itself (inode, owner, mode, ACLs),
 * so a rollback restores it exactly; file systems without hard links get a copy. link(2) refusing an
 * immutable or append-only file is the early sign that its rename would fail too.
 */
async function keep(path: string): Promise<string> {
  const kept = siblingTemp(path, 'ferry-old')
  try {
    await link(path, kept)
  } catch (err) {
    await access(path, constants.W_OK).catch((denied: unknown) => {
      if (errno(denied) === 'EPERM') throw denied
    })
    if (!['EPERM', 'EOPNOTSUPP', 'ENOTSUP', 'EMLINK'].includes(errno(err) ?? '')) throw err
    await copyFile(path, kept, constants.COPYFILE_EXCL)
  }
  return kept
}

/** fchown as root or as the file's owner; true when the group could not be kept (EPERM). */
async function chownLike(handle: FileHandle, owner: { uid: number; gid: number }): Promise<boolean> {
  const uid = process.getuid?.()
  if (uid === undefined || (uid !== 0 && uid !== owner.uid)) return false
  try {
    await handle.chown(owner.uid, owner.gid)
    return false
  } catch (err) {
    if (errno(err) !== 'EPERM') throw err
    return (await handle.stat()).gid !== owner.gid
  }
}

/** Puts back what was renamed, removes temporaries, kept links and new directories; returns what stuck. */
async function rollBack(prepared: Prepared[], made: string[]): Promise<string[]> {
  const stuck: string[] = []
  for (const p of [...prepared].reverse()) {
    if (p.renamed) {
      const undo = p.kept ? rename(p.kept, p.path) : unlink(p.path)
      await undo.catch(() => stuck.push(p.kept ? `${p.path} (the original is ${p.kept})` : p.path))
      continue
    }
    if (p.temp) await unlink(p.temp).catch(() => {})
    if (p.kept) await unlink(p.kept).catch(() => {})
  }
  for (const dir of [...made].reverse()) await rmdir(dir).catch(() => {})
  return stuck
}
