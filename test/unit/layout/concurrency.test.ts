import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { FerryError } from '../../../src/errors.js'
import { OciLayout } from '../../../src/layout/index.js'
import type { Logger } from '../../../src/log.js'
import { acquireLock } from '../../../src/util/lock.js'
import { pushImage, syntheticImage } from '../../helpers/registry-fixtures.js'
import { useTempRoot } from '../../layout/helpers/temp.js'

const tmp = useTempRoot()
const helpers = fileURLToPath(new URL('./helpers/', import.meta.url))
const children = new Set<ChildProcess>()

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

/** A worker process (helpers/layout-worker.ts) and a promise of its exit, failing on a non-zero code. */
function worker(...args: string[]): { child: ChildProcess; done: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(helpers, 'layout-worker.ts'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout?.on('data', (d) => {
    out += d
  })
  child.stderr?.on('data', (d) => {
    err += d
  })
  const done = once(child, 'exit').then(([code]) => {
    if (code !== 0) throw new Error(`worker ${args.join(' ')} exited ${code}: ${err}`)
    return out
  })
  return { child, done }
}

/** A pid that certainly belongs to no process: one that has just exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  return child.pid!
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = []
  return { warnings, debug() {}, warn: (m) => warnings.push(m) }
}

describe('index.json under concurrent writers', () => {
  it('two processes adding tags to one new layout lose none', async () => {
    const dir = tmp.path('two')
    const n = 40
    const runs = [worker('tags', dir, '-', 'a', String(n)), worker('tags', dir, '-', 'b', String(n))]
    await Promise.all(runs.map((r) => r.done))
    const target = (await OciLayout.open(dir)).target()
    const tags = await target.listTags()
    expect(tags).toHaveLength(2 * n)
    for (let i = 0; i < n; i++) expect(tags).toContain(`a-${i}`)
    for (let i = 0; i < n; i++) expect(tags).toContain(`b-${i}`)
    for (const tag of ['a-0', `b-${n - 1}`]) expect((await target.fetchManifest(tag)).kind).toBe('image')
    // Both wrote the same blob at once: it is whole, and nothing is left half written.
    expect(await readdir(join(dir, 'ingest'))).toEqual([])
    expect((await readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'ingest', 'oci-layout'])
  })

  it('four processes on repository views of one layout lose none', async () => {
    const dir = tmp.path('four')
    const n = 15
    const repos = ['acme/web', 'acme/api', 'acme/web', 'acme/api']
    await Promise.all(repos.map((repo, i) => worker('tags', dir, repo, `w${i}`, String(n)).done))
    const layout = await OciLayout.open(dir)
    expect(await layout.repositories()).toEqual(['acme/api', 'acme/web'])
    expect(await layout.target('acme/web').listTags()).toHaveLength(2 * n)
    expect(await layout.target('acme/api').listTags()).toHaveLength(2 * n)
    expect((await layout.readIndex()).index.manifests).toHaveLength(4 * n)
  })

  it('breaks the lock of a writer that was killed holding it', async () => {
    const dir = tmp.path('killed')
    const layout = await OciLayout.open(dir, { create: true })
    const holder = worker('hold', dir)
    await new Promise<void>((resolve) => holder.child.stdout?.once('data', () => resolve()))
    const lock = JSON.parse(await readFile(join(dir, 'index.json.lock'), 'utf8'))
    expect(lock.pid).toBe(holder.child.pid)
    expect(lock.host).toBe(hostname())
    holder.child.kill('SIGKILL')
    await holder.done.catch(() => {})
    const logger = recordingLogger()
    const layoutWithLog = await OciLayout.open(dir, { logger })
    await pushImage(layoutWithLog.target(), syntheticImage(), '1.0')
    expect(await layout.target().listTags()).toEqual(['1.0'])
    expect(logger.warnings.join('\n')).toContain(`held by pid ${holder.child.pid}`)
    expect((await readdir(dir)).filter((n) => n.startsWith('index.json.'))).toEqual([])
  })
})

describe('index.json.lock', () => {
  it('waits for a live holder and gets the lock when it is released', async () => {
    const path = join(tmp.path('wait'), '..', 'wait.lock')
    const first = await acquireLock(path)
    let acquired = false
    const second = acquireLock(path).then((held) => {
      acquired = true
      return held
    })
    await new Promise((r) => setTimeout(r, 150))
    expect(acquired).toBe(false)
    await first.release()
    const held = await second
    expect(await held.stillHeld()).toBe(true)
    await held.release()
  })

  it('gives up on a live, fresh holder with CONFLICT naming it', async () => {
    const path = join(tmp.path('busy'), '..', 'busy.lock')
    await writeFile(
      path,
      JSON.stringify({ pid: process.pid, host: hostname(), created: Date.now(), nonce: 'x' }),
    )
    const err = await acquireLock(path, { timeoutMs: 200 }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FerryError)
    expect((err as FerryError).code).toBe('CONFLICT')
    expect((err as FerryError).message).toContain(`held by pid ${process.pid}`)
  })

  it('breaks a lock whose pid is dead, or that is older than the bound', async () => {
    // A dead pid counts only where it was recorded: this host, pid namespace and boot (a real lock's record).
    const own = join(tmp.path('own'), '..', 'own.lock')
    const mine = await acquireLock(own)
    const here = JSON.parse(await readFile(own, 'utf8'))
    await mine.release()
    const dead = join(tmp.path('dead'), '..', 'dead.lock')
    await writeFile(dead, JSON.stringify({ ...here, pid: await deadPid(), created: Date.now(), nonce: 'd' }))
    const logger = recordingLogger()
    await (await acquireLock(dead, { timeoutMs: 1000, logger })).release()
    expect(logger.warnings).toHaveLength(1)

    // Staleness is the heartbeat: the file's mtime, which a live holder keeps touching.
    const old = join(tmp.path('old'), '..', 'old.lock')
    const created = Date.now() - 10 * 60_000
    await writeFile(old, JSON.stringify({ pid: process.pid, host: hostname(), created, nonce: 'o' }))
    await utimes(old, new Date(created), new Date(created))
    await (await acquireLock(old, { timeoutMs: 1000 })).release()

    // A lock file its holder never got to write (crashed between create and write) ages out by mtime.
    const empty = join(tmp.path('empty'), '..', 'empty.lock')
    await writeFile(empty, '')
    const busy = await acquireLock(empty, { timeoutMs: 100 }).catch((e: unknown) => e)
    expect((busy as FerryError).code).toBe('CONFLICT')
    const past = new Date(Date.now() - 10 * 60_000)
    await utimes(empty, past, past)
    await (await acquireLock(empty, { timeoutMs: 1000 })).release()
  })

  it('a holder whose lock was broken knows it, and does not remove the new holder', async () => {
    const path = join(tmp.path('stolen'), '..', 'stolen.lock')
    const held = await acquireLock(path)
    const other = JSON.stringify({ pid: process.pid, host: hostname(), created: Date.now(), nonce: 'other' })
    await writeFile(`${path}.new`, other)
    const { rename } = await import('node:fs/promises')
    await rename(`${path}.new`, path)
    expect(await held.stillHeld()).toBe(false)
    await held.release()
    expect(await readFile(path, 'utf8')).toBe(other)
  })

  it('queues updates within one process', async () => {
    const layout = await OciLayout.open(tmp.path('inproc'), { create: true })
    const target = layout.target('acme/web')
    await Promise.all(Array.from({ length: 30 }, (_, i) => pushImage(target, syntheticImage(), `t${i}`)))
    expect(await target.listTags()).toHaveLength(30)
  })
})
