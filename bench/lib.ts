import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ROOT = join(import.meta.dirname, '..')

export interface Timed {
  seconds: number
  /** Peak resident set of the process, when measured (ferry only). */
  rssMiB?: number
}

/** Runs a command to completion; rejects with its stderr on a non-zero exit. */
export function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      err += d
    })
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')}: ${err}`)),
    )
  })
}

export async function time(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now()
  await fn()
  return (performance.now() - start) / 1000
}

/** The built CLI, with its peak RSS read from the process itself at exit. */
export async function ferry(args: string[]): Promise<Timed> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-'))
  const rssFile = join(dir, 'rss')
  try {
    const seconds = await time(() =>
      run(process.execPath, [join(ROOT, 'bench', 'measure-rss.js'), rssFile, ...args]),
    )
    const kib = Number(await readFile(rssFile, 'utf8'))
    return { seconds, rssMiB: kib / 1024 }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export const skopeo = (args: string[]) =>
  time(() => run('skopeo', ['--insecure-policy', ...args])).then((seconds) => ({ seconds }))

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const fmt = (n: number, digits = 2) => n.toFixed(digits)

/** Linux reports CPU in clock ticks; 100 per second on every kernel this runs on (`getconf CLK_TCK`). */
const TICK = 0.01

/** utime + stime of a running process, in seconds. */
export function cpuOf(pid: number): number {
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis are fixed.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) * TICK
}

/** CPU of this process's children that have exited (and been waited for): cutime + cstime. */
export function childrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[13]) + Number(f[14])) * TICK
}
