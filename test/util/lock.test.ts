import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { FerryError } from '../../src/errors.js'
import type { Logger } from '../../src/log.js'
import { acquireLock } from '../../src/util/lock.js'

const HOLDER = join(import.meta.dirname, 'helpers', 'lock-holder.ts')
let dir: string
let n = 0
const fresh = () => join(dir, `l${n++}.lock`)
const children = new Set<ChildProcess>()

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-lock-'))
})
afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
    }
  }
  children.clear()
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

/** A pid that belongs to no process here: one that has just exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  return child.pid!
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = []
  return { warnings, debug() {}, warn: (m) => warnings.push(m) }
}

/** What a lock taken by this process records about where its pid lives (host, pid namespace, boot). */
async function ownRecord(): Promise<Record<string, unknown>> {
  const path = fresh()
  const held = await acquireLock(path)
  const record = JSON.parse(await readFile(path, 'utf8'))
  await held.release()
  return record
}

const conflict = (p: Promise<unknown>) =>
  p.then(
    () => 'acquired',
    (err: unknown) => (err instanceof FerryError ? err.code : err),
  )

describe('locks across pid namespaces', () => {
  it('records the pid namespace and boot of its holder', async () => {
    const record = await ownRecord()
    const ns = await stat('/proc/self/ns/pid')
    expect(record).toMatchObject({
      pid: process.pid,
      host: hostname(),
      pidns: `${ns.dev}:${ns.ino}`,
      boot: (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim(),
    })
  })

  // Lock files written by hand stand in for holders elsewhere: the record is all a waiter sees of them.
  it('never breaks a fresh lock of a holder in another pid namespace, whose pid means nothing here', async () => {
    const own = await ownRecord()
    const pid = await deadPid()
    for (const elsewhere of [
      { pidns: '4:4026532999' }, // another container of the pod, same hostname
      { boot: 'another-boot' }, // before a reboot
      { pidns: undefined, boot: undefined }, // a holder that recorded neither
    ]) {
      const path = fresh()
      const text = JSON.stringify({ ...own, ...elsewhere, pid, created: Date.now(), nonce: 'x' })
      await writeFile(path, text)
      expect(await conflict(acquireLock(path, { timeoutMs: 300 }))).toBe('CONFLICT')
      expect(await readFile(path, 'utf8')).toBe(text)
    }
  })

  it('breaks such a lock once its heartbeat is stale', async () => {
    const own = await ownRecord()
    const path = fresh()
    const past = Date.now() - 2 * 60_000
    await writeFile(
      path,
      JSON.stringify({ ...own, pidns: '4:4026532999', pid: await deadPid(), created: past, nonce: 'x' }),
    )
    await utimes(path, new Date(past), new Date(past))
    const logger = recordingLogger()
    const held = await acquireLock(path, { timeoutMs: 1000, logger })
    expect(await held.stillHeld()).toBe(true)
    await held.release()
    expect(logger.warnings).toHaveLength(1)
    expect(logger.warnings[0]).toMatch(/^broke stale lock .* held by pid \d+ on /)
  })

  it('breaks at once a lock whose pid is dead in its own pid namespace', async () => {
    const own = await ownRecord()
    const path = fresh()
    await writeFile(path, JSON.stringify({ ...own, pid: await deadPid(), created: Date.now(), nonce: 'd' }))
    const started = Date.now()
    const held = await acquireLock(path, { timeoutMs: 1000, staleMs: 10 * 60_000 })
    expect(Date.now() - started).toBeLessThan(1000)
    await held.release()
  })

  it('a holder heartbeats, so a lock held longer than staleMs is not judged stale', async () => {
    const path = fresh()
    const held = await acquireLock(path, { staleMs: 400 })
    await new Promise((r) => setTimeout(r, 1500))
    expect(Date.now() - (await stat(path)).mtimeMs).toBeLessThan(400)
    expect(await conflict(acquireLock(path, { staleMs: 400, timeoutMs: 300 }))).toBe('CONFLICT')
    expect(await held.stillHeld()).toBe(true)
    await held.release()
    await (await acquireLock(path, { timeoutMs: 300 })).release()
  })

  // A real second pid namespace (unshare(1) as root or with user namespaces), with the holder's pid set
  // to one that is dead here: the case two containers of one pod on a shared volume meet.
  it('a holder in a real second pid namespace keeps its lock while alive and loses it once killed', async () => {
    const path = fresh()
    const pid = await deadPid()
    const child = spawn(
      'unshare',
      [
        '--user',
        '--map-root-user',
        '--pid',
        '--fork',
        '--kill-child',
        '--mount-proc',
        'sh',
        '-c',
        `echo ${pid - 1} > /proc/sys/kernel/ns_last_pid && "$0" --import tsx "$1" "$2" 1000`,
        process.execPath,
        HOLDER,
        path,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    children.add(child)
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += d
    })
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve())
      child.once('exit', (code) => reject(new Error(`holder exited ${code}: ${stderr}`)))
    })
    const record = JSON.parse(await readFile(path, 'utf8'))
    const own = await ownRecord()
    expect(record.host).toBe(own.host)
    expect(record.boot).toBe(own.boot)
    expect(record.pidns).not.toBe(own.pidns)
    expect(record.pid).toBe(pid)
    expect(alive(pid)).toBe(false)

    // Held past staleMs: its heartbeat keeps it.
    expect(await conflict(acquireLock(path, { staleMs: 1000, timeoutMs: 2500 }))).toBe('CONFLICT')

    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
    const logger = recordingLogger()
    const held = await acquireLock(path, { staleMs: 1000, timeoutMs: 5000, logger })
    expect(logger.warnings).toEqual([`broke stale lock ${path} held by pid ${pid} on ${own.host}`])
    await held.release()
  })
})
