import { randomBytes } from 'node:crypto'
import { type FileHandle, link, open, readFile, rename, stat, unlink } from 'node:fs/promises'
import { hostname } from 'node:os'
import { z } from 'zod'
import { FerryError } from '../errors.js'
import { type Logger, silentLogger } from '../log.js'
import { errno, siblingTemp } from './files.js'

/**
 * A lock file next to the file it guards, created with O_EXCL so that exactly one process (ferry or
 * anything else honouring it) holds it. The holder touches its mtime while it holds it (a heartbeat),
 * so a waiter can tell a crashed holder from a slow one: a heartbeat older than `staleMs` breaks it, and
 * so, at once, does a dead pid when the waiter shares the holder's pid space.
 *
 * A pid only means something in its PID namespace, and a hostname does not name one: two containers of
 * one pod share the hostname and a volume, with their own pid numbering. So the record carries the pid
 * namespace (the inode of /proc/self/ns/pid, as namespaces(7) identifies them) and the boot id, and
 * the pid shortcut applies only when host, namespace and boot all match; without /proc (macOS, Windows)
 * both sides record neither and the host alone decides, as before.
 */
export interface LockOptions {
  /** Give up waiting after this long with a CONFLICT error. Default 30 s. */
  timeoutMs?: number
  /**
   * A lock whose heartbeat is older than this is broken even if its holder looks alive (pid reuse,
   * another host, another namespace, a hung holder). The holder beats every staleMs / 4. Default 60 s.
   */
  staleMs?: number
  logger?: Logger
}

const ownerSchema = z.looseObject({
  pid: z.number().int(),
  host: z.string(),
  /** `DEV:INODE` of the holder's pid namespace; absent without /proc. */
  pidns: z.string().optional(),
  /** /proc/sys/kernel/random/boot_id: pids start again at each boot. */
  boot: z.string().optional(),
  created: z.number(),
  nonce: z.string(),
})
type Owner = z.infer<typeof ownerSchema>
type PidSpace = Pick<Owner, 'host' | 'pidns' | 'boot'>

let pidSpace: Promise<PidSpace> | undefined

/** Where this process's pids mean something: host, pid namespace and boot, read once. */
function ownPidSpace(): Promise<PidSpace> {
  pidSpace ??= (async () => {
    const [ns, boot] = await Promise.all([
      stat('/proc/self/ns/pid').then(
        (st) => `${st.dev}:${st.ino}`,
        () => undefined,
      ),
      readFile('/proc/sys/kernel/random/boot_id', 'utf8').then(
        (text) => text.trim() || undefined,
        () => undefined,
      ),
    ])
    const space: PidSpace = { host: hostname() }
    if (ns) space.pidns = ns
    if (boot) space.boot = boot
    return space
  })()
  return pidSpace
}

const samePidSpace = (owner: Owner, here: PidSpace): boolean =>
  owner.host === here.host && owner.pidns === here.pidns && owner.boot === here.boot

export interface HeldLock {
  /** False when another process broke this lock (it judged it stale) and may hold it now. */
  stillHeld(): Promise<boolean>
  release(): Promise<void>
}

interface Observed {
  owner: Owner | undefined // undefined: the holder has created the file but not written it yet
  ino: number
  mtimeMs: number
}

async function observe(path: string): Promise<Observed | undefined> {
  try {
    const [st, text] = await Promise.all([stat(path), readFile(path, 'utf8')])
    let owner: Owner | undefined
    try {
      const parsed = ownerSchema.safeParse(JSON.parse(text))
      owner = parsed.success ? parsed.data : undefined
    } catch {
      owner = undefined
    }
    return { owner, ino: st.ino, mtimeMs: st.mtimeMs }
  } catch (err) {
    if (errno(err) === 'ENOENT') return undefined
    throw err
  }
}

/** Whether process `pid` runs in this pid namespace (EPERM: it does, as another user). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return errno(err) === 'EPERM'
  }
}

function isStale(seen: Observed, staleMs: number, here: PidSpace): boolean {
  const { owner } = seen
  if (owner && samePidSpace(owner, here) && !pidAlive(owner.pid)) return true
  // The mtime is the last heartbeat; `created` counts too, for a holder whose clock is ahead of the file's.
  return Date.now() - Math.max(owner?.created ?? 0, seen.mtimeMs) > staleMs
}

/**
 * Moves the stale lock aside (rename is atomic, so of several waiters only one gets it), then checks it
 * moved the file it judged: if a new holder had taken the lock in between, its file is linked back.
 */
async function breakLock(path: string, judged: Observed, logger: Logger): Promise<void> {
  const aside = siblingTemp(path, 'stale')
  try {
    await rename(path, aside)
  } catch (err) {
    if (errno(err) === 'ENOENT') return
    throw err
  }
  try {
    const moved = await stat(aside)
    if (moved.ino === judged.ino) {
      const who = judged.owner ? `pid ${judged.owner.pid} on ${judged.owner.host}` : 'an unknown holder'
      logger.warn(`broke stale lock ${path} held by ${who}`)
      return
    }
    await link(aside, path).catch(() => {})
  } finally {
    await unlink(aside).catch(() => {})
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function acquireLock(path: string, opts: LockOptions = {}): Promise<HeldLock> {
  const timeoutMs = opts.timeoutMs ?? 30_000
  const staleMs = opts.staleMs ?? 60_000
  const logger = opts.logger ?? silentLogger
  const here = await ownPidSpace()
  const owner: Owner = {
    pid: process.pid,
    ...here,
    created: Date.now(),
    nonce: randomBytes(8).toString('hex'),
  }
  const deadline = Date.now() + timeoutMs
  let delay = 5
  for (;;) {
    try {
      const handle = await open(path, 'wx')
      try {
        owner.created = Date.now()
        await handle.writeFile(JSON.stringify(owner))
      } catch (err) {
        await handle.close()
        throw err
      }
      return heldLock(path, owner, handle, staleMs, logger)
    } catch (err) {
      if (errno(err) !== 'EEXIST') throw err
    }
    const seen = await observe(path)
    if (!seen) continue
    if (isStale(seen, staleMs, here)) {
      await breakLock(path, seen, logger)
      continue
    }
    if (Date.now() > deadline) {
      const who = seen.owner ? `pid ${seen.owner.pid} on ${seen.owner.host}` : 'another process'
      throw new FerryError('CONFLICT', `${path} is held by ${who}; gave up after ${timeoutMs} ms`)
    }
    // Jittered exponential backoff, so waiters do not retry in lock step.
    await sleep(delay * (0.5 + Math.random()))
    delay = Math.min(delay * 2, 200)
  }
}

/**
 * The heartbeat touches the file through the handle it was created with: if a waiter broke the lock and
 * another process took it, the touch lands on our moved-aside file, never on the new holder's.
 */
function heldLock(path: string, owner: Owner, handle: FileHandle, staleMs: number, logger: Logger): HeldLock {
  const stillHeld = async () => (await observe(path))?.owner?.nonce === owner.nonce
  let beating: Promise<void> = Promise.resolve()
  const timer = setInterval(
    () => {
      const now = new Date()
      beating = handle
        .utimes(now, now)
        .catch((err) => logger.warn(`${path}: heartbeat failed: ${errno(err) ?? err}`))
    },
    Math.max(10, Math.floor(staleMs / 4)),
  )
  // A held lock never keeps the process alive on its own.
  timer.unref()
  return {
    stillHeld,
    async release() {
      clearInterval(timer)
      await beating
      await handle.close().catch(() => {})
      // Never remove a lock someone else took after breaking ours.
      if (await stillHeld()) await unlink(path).catch(() => {})
    },
  }
}

const queues = new Map<string, Promise<unknown>>()

/**
 * Runs `fn` under the lock. Calls in this process are queued first, so they wait on a promise instead of
 * polling the file against each other.
 */
export async function withLock<T>(
  path: string,
  opts: LockOptions,
  fn: (held: HeldLock) => Promise<T>,
): Promise<T> {
  const previous = queues.get(path) ?? Promise.resolve()
  const run = previous
    .catch(() => {})
    .then(async () => {
      const held = await acquireLock(path, opts)
      try {
        return await fn(held)
      } finally {
        await held.release()
      }
    })
  queues.set(path, run)
  try {
    return await run
  } finally {
    if (queues.get(path) === run) queues.delete(path)
  }
}
