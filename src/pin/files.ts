/**
 * The files `ferry pin` reads, and how they are written back: every file is prepared in full first,
 * then all are renamed into place, so a run that fails writes nothing and one that succeeds leaves no
 * mix of old and new files behind (short of a crash between two renames).
 */
import { mkdir, readdir, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, relative } from 'node:path'
import { FerryError } from '../errors.js'
import { fsyncDir, siblingTemp, writeNewFileSynced } from '../util/files.js'

export interface InputFile {
  path: string
  /** Named on the command line (errors fail the run) rather than found in a directory (skipped). */
  explicit: boolean
  /** The path under --out: relative to the directory it was found in, or the file's own name. */
  relative: string
}

const YAML_FILE = /\.ya?ml$/

async function walk(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    // Hidden directories (.git, .github) and installed dependencies hold no deployment files.
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...(await walk(path)))
    else if (entry.isFile() && YAML_FILE.test(entry.name)) out.push(path)
  }
  return out.sort()
}

export async function collectFiles(inputs: readonly string[]): Promise<InputFile[]> {
  const files: InputFile[] = []
  for (const input of inputs) {
    const info = await stat(input).catch(() => {
      throw new FerryError('USAGE', `${input}: no such file or directory`)
    })
    if (info.isDirectory())
      for (const path of await walk(input))
        files.push({ path, explicit: false, relative: relative(input, path) })
    else files.push({ path: input, explicit: true, relative: basename(input) })
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
  return files.filter((f, i) => files.findIndex((g) => g.path === f.path) === i)
}

/** Writes every file to a temporary sibling, then renames them all; on any failure the temporaries go. */
export async function writeAll(files: readonly { path: string; bytes: Uint8Array }[]): Promise<void> {
  const temps: { temp: string; path: string }[] = []
  try {
    for (const f of files) {
      await mkdir(dirname(f.path), { recursive: true })
      const temp = siblingTemp(f.path)
      temps.push({ temp, path: f.path })
      await writeNewFileSynced(temp, f.bytes)
    }
  } catch (err) {
    await Promise.all(temps.map((t) => unlink(t.temp).catch(() => {})))
    throw err
  }
  for (const t of temps) await rename(t.temp, t.path)
  for (const dir of new Set(temps.map((t) => dirname(t.path)))) await fsyncDir(dir)
}
