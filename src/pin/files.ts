/**
 * The files `ferry pin` reads: those named, and those found walking a directory. A symbolic link is what
 * Compose, Helm and kubectl read through, so it is followed while its target stays inside the walked
 * directory, and refused (listed, never read) when it leads out of it: pinning or checking a file
 * outside what was asked for would be a surprise either way. Directories are walked once per path, and
 * a link back to a directory above it is a loop, listed and not followed.
 */
import { readdir, readlink, realpath, stat } from 'node:fs/promises'
import { basename, dirname, join, relative, sep } from 'node:path'
import { FerryError } from '../errors.js'

export interface InputFile {
  /** As named or found: a link's own name. */
  path: string
  /** The file read, and the one --in-place replaces: a link's target. */
  real: string
  /** Named on the command line (errors fail the run) rather than found in a directory (skipped). */
  explicit: boolean
  /** The path under --out: relative to the directory it was found in, or the file's own name. */
  relative: string
  /** Under --out only: not a deployment file (neither YAML nor a Dockerfile by name, or hidden), copied as it is. */
  copy?: boolean
  /**
   * The directory walked (or, for a file named, its own directory): `relative` is relative to `top`, and
   * a Dockerfile that a Compose file's `build:` names is followed only while it stays inside `root`
   * (top's real path), as links are.
   */
  tree: { top: string; root: string }
  /** Permission bits, owner and group of `real`: what a rewrite keeps. */
  mode: number
  uid: number
  gid: number
}

export interface IgnoredFile {
  file: string
  /** One line for people: the file, and why. */
  reason: string
  /** A symbolic link: where it leads. */
  target?: string
  /** A link out of the walked directory: its file was not read, so --check cannot pass. */
  outside?: boolean
  /** Under --out: where it was copied unchanged. */
  output?: string
}

export interface CollectOptions {
  /** --out: every file of a walked directory, not only *.yaml (the others are copied). */
  everyFile?: boolean
  /** A directory never walked into: --out inside an input directory. */
  skip?: string
}

const YAML_FILE = /\.ya?ml$/
/**
 * docker build's default names and the usual variants: `Dockerfile`, `dockerfile`, `Containerfile`,
 * `Dockerfile.prod`, `api.Dockerfile`; not `Dockerfile.dockerignore`, the ignore file of one.
 */
const DOCKERFILE =
  /^(?:(?:Dockerfile|Containerfile)(?:\..+)?|dockerfile|.+\.(?:Dockerfile|Containerfile|dockerfile))$/

export const isYamlName = (name: string) => YAML_FILE.test(name)
export const isDockerfileName = (name: string) =>
  !YAML_FILE.test(name) && DOCKERFILE.test(name) && !name.endsWith('.dockerignore')

interface Walk extends CollectOptions {
  /** The directory as named, for messages and relative paths. */
  top: string
  /** Its real path: what a link's target must stay inside. */
  root: string
  skipReal?: string
  files: InputFile[]
  ignored: IgnoredFile[]
}

export const inside = (root: string, path: string) => path === root || path.startsWith(root + sep)

async function walk(w: Walk, dir: string, realDir: string, above: string[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    // Installed dependencies and hidden directories (.git, .github) hold no deployment files.
    if (entry.name === 'node_modules') continue
    const hidden = entry.name.startsWith('.')
    const path = join(dir, entry.name)
    const deployment = !hidden && (YAML_FILE.test(entry.name) || isDockerfileName(entry.name))
    let real = join(realDir, entry.name)
    if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => undefined)
      const wanted = target?.isDirectory() ? !hidden : deployment || w.everyFile
      if (!wanted) continue
      const followed = await followLink(w, path, target !== undefined, above)
      if (!followed) continue
      real = followed
    }
    const info = await stat(real).catch(() => undefined)
    if (info?.isDirectory()) {
      if (!hidden && real !== w.skipReal) await walk(w, path, real, [...above, real])
    } else if (info?.isFile()) {
      if (deployment || w.everyFile) w.files.push(inputFile(w, path, real, info, !deployment))
    } else if (deployment || w.everyFile) {
      w.ignored.push({ file: path, reason: `${path}: not a regular file` })
    }
  }
}

/** A link's real target, or undefined with the reason listed: leads nowhere, out of the tree, a loop. */
async function followLink(w: Walk, path: string, exists: boolean, above: string[]) {
  if (!exists) {
    const target = await readlink(path).catch(() => '?')
    w.ignored.push({ file: path, target, reason: `${path} → ${target}: a symbolic link to nothing` })
    return undefined
  }
  const real = await realpath(path)
  if (!inside(w.root, real)) {
    const reason = `${path} → ${real}: a symbolic link out of ${w.top}`
    w.ignored.push({ file: path, target: real, outside: true, reason })
    return undefined
  }
  if (above.includes(real)) {
    const reason = `${path} → ${real}: a symbolic link to a directory above it (a loop)`
    w.ignored.push({ file: path, target: real, reason })
    return undefined
  }
  return real
}

function inputFile(
  w: Walk,
  path: string,
  real: string,
  info: { mode: number; uid: number; gid: number },
  copy: boolean,
): InputFile {
  const { mode, uid, gid } = info
  return {
    path,
    real,
    explicit: false,
    relative: relative(w.top, path),
    ...(copy ? { copy } : {}),
    tree: { top: w.top, root: w.root },
    mode: mode & 0o7777,
    uid,
    gid,
  }
}

export async function collectFiles(
  inputs: readonly string[],
  opts: CollectOptions = {},
): Promise<{ files: InputFile[]; ignored: IgnoredFile[] }> {
  const files: InputFile[] = []
  const ignored: IgnoredFile[] = []
  const skipReal = opts.skip ? await realpath(opts.skip).catch(() => undefined) : undefined
  for (const input of inputs) {
    const info = await stat(input).catch(() => {
      throw new FerryError('USAGE', `${input}: no such file or directory`)
    })
    const real = await realpath(input)
    if (info.isDirectory()) {
      const w: Walk = { ...opts, top: input, root: real, skipReal, files: [], ignored: [] }
      await walk(w, input, real, [real])
      files.push(...w.files.sort((a, b) => compare(a.path, b.path)))
      ignored.push(...w.ignored.sort((a, b) => compare(a.file, b.file)))
    } else if (info.isFile()) {
      const { mode, uid, gid } = info
      const top = dirname(input)
      files.push({
        path: input,
        real,
        explicit: true,
        relative: basename(input),
        tree: { top, root: await realpath(top) },
        mode: mode & 0o7777,
        uid,
        gid,
      })
    } else throw new FerryError('USAGE', `${input}: not a regular file or a directory`)
  }
  const seen = new Map<string, string>()
  for (const f of files) {
    const other = seen.get(f.relative)
    if (other && other !== f.path)
      throw new FerryError(
        'USAGE',
        `${other} and ${f.path} would both be written as ${f.relative} under --out`,
      )
    seen.set(f.relative, f.path)
  }
  // Under --out each name is a file of its own; otherwise two names of one file (links) are that file once.
  const once = new Set<string>()
  const first = (key: string) => !once.has(key) && !!once.add(key)
  return { files: files.filter((f) => first(opts.everyFile ? f.path : f.real)), ignored }
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
