import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const ROOT = join(import.meta.dirname, '..')

export interface Timed {
  seconds: number
  /** The process's user + system CPU (it ran alone as this process's child, so the delta is exact). */
  cpu: number
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
    const cpu0 = childrenCpu()
    const seconds = await time(() =>
      run(process.execPath, [join(ROOT, 'bench', 'measure-rss.js'), rssFile, ...args]),
    )
    const cpu = childrenCpu() - cpu0
    const kib = Number(await readFile(rssFile, 'utf8'))
    return { seconds, cpu, rssMiB: kib / 1024 }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

export async function skopeo(args: string[]): Promise<Timed> {
  const cpu0 = childrenCpu()
  const seconds = await time(() => run('skopeo', ['--insecure-policy', ...args]))
  return { seconds, cpu: childrenCpu() - cpu0 }
}

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

/**
 * skopeo doing the same work as ferry: without it, `skopeo copy` gzips uncompressed layers on the way
 * and writes a new manifest (other bytes, other digests), so a ratio would compare different work.
 */
export const SKOPEO_SAME_WORK = ['--preserve-digests']

/** `REPO:TAG` → the manifest digest a registry holds for it (HEAD), for every reference given. */
export async function registryDigests(
  host: string,
  refs: readonly string[],
): Promise<Record<string, string>> {
  const { RegistryClient } = await import('../src/registry/index.js')
  const client = new RegistryClient()
  try {
    const out: Record<string, string> = {}
    for (const ref of refs) {
      const colon = ref.lastIndexOf(':')
      const repo = client.repository({ registry: host, repository: ref.slice(0, colon) })
      out[ref] = (await repo.resolve(ref.slice(colon + 1))).digest
    }
    return out
  } finally {
    await client.close()
  }
}

/** The manifest digest an OCI layout's index.json names `ref` (`org.opencontainers.image.ref.name`). */
export async function layoutDigest(dir: string, ref: string): Promise<Record<string, string>> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[]
  }
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === ref)
  if (!entry) throw new Error(`${dir}: no ${ref} in index.json`)
  return { [ref]: entry.digest }
}

/**
 * Stops the bench unless both tools left the same digests at their destinations: a ratio is printed
 * only for the same work. Returns how many references were compared.
 */
export function assertSameDigests(
  what: string,
  ferryDigests: Record<string, string>,
  skopeoDigests: Record<string, string>,
): number {
  const keys = Object.keys(ferryDigests).sort()
  const other = Object.keys(skopeoDigests).sort()
  if (keys.length === 0 || keys.join('\n') !== other.join('\n'))
    throw new Error(`${what}: the tools wrote different references (${keys.length} vs ${other.length})`)
  const differ = keys.filter((k) => ferryDigests[k] !== skopeoDigests[k])
  if (differ.length > 0) {
    const k = differ[0]!
    throw new Error(
      `${what}: ${differ.length} of ${keys.length} destination digests differ, e.g. ${k}: ferry ${ferryDigests[k]}, skopeo ${skopeoDigests[k]}: not the same work, no ratio`,
    )
  }
  return keys.length
}

/** Load average now, printed beside every figure: on a shared machine it says how much they mean. */
export const loadNote = () => {
  const [one, five] = readFileSync('/proc/loadavg', 'utf8').split(' ')
  return `load average ${one} (1 min), ${five} (5 min)`
}

/** Requests by kind, from `--debug`'s one line per exchange. */
export function requestKinds(debug: string): Map<string, number> {
  const kinds = new Map<string, number>()
  for (const m of debug.matchAll(/^debug: (GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) -> (\d+)/gm)) {
    const [, method, url] = m
    const path = new URL(url!).pathname
    const what = /\/manifests\//.test(path)
      ? 'manifest'
      : /\/blobs\/uploads\//.test(path)
        ? 'upload'
        : /\/blobs\//.test(path)
          ? 'blob'
          : /\/referrers\//.test(path)
            ? 'referrers'
            : /\/tags\/list/.test(path)
              ? 'tags'
              : path === '/v2/'
                ? 'ping'
                : 'other'
    const key = `${method} ${what}`
    kinds.set(key, (kinds.get(key) ?? 0) + 1)
  }
  return kinds
}
