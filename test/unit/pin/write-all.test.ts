import { mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { writeAll } from '../../../src/pin/write-all.js'
import { tempDir } from '../../supply/helpers.js'

// An injected fault: a rename that fails after the others succeeded. Nothing on loopback makes the
// kernel refuse the second of three renames in one directory (root passes every permission check), so
// rename is wrapped and told which destination to refuse.
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  return { ...real, rename: vi.fn(real.rename) }
})
const realRename = (await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises')).rename

/** Every entry below `dir`, relative, sorted (directories end in /). */
async function listTree(dir: string): Promise<string[]> {
  const out: string[] = []
  const walk = async (at: string) => {
    for (const e of await readdir(at, { withFileTypes: true })) {
      const path = join(at, e.name)
      out.push(relative(dir, path) + (e.isDirectory() ? '/' : ''))
      if (e.isDirectory()) await walk(path)
    }
  }
  await walk(dir)
  return out.sort()
}

describe('writeAll: every file or none', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let n = 0
  beforeAll(async () => {
    tmp = await tempDir('ferry-write-all-')
  })
  afterAll(() => tmp?.remove())
  beforeEach(() => {
    vi.mocked(rename).mockReset()
    vi.mocked(rename).mockImplementation(realRename)
  })

  async function tree(): Promise<string> {
    const dir = join(tmp.dir, `t${n++}`)
    await mkdir(dir)
    await writeFile(join(dir, 'a.yaml'), 'old a\n', { mode: 0o600 })
    await writeFile(join(dir, 'z.yaml'), 'old z\n')
    return dir
  }
  const outputs = (dir: string) => [
    { path: join(dir, 'a.yaml'), bytes: Buffer.from('new a\n'), mode: 0o600 },
    { path: join(dir, 'new', 'deeper', 'b.yaml'), bytes: Buffer.from('new b\n') },
    { path: join(dir, 'z.yaml'), bytes: Buffer.from('new z\n') },
  ]

  it('writes all, with the modes asked for, and leaves no temporary file', async () => {
    const dir = await tree()
    await writeAll(outputs(dir))
    expect(await readFile(join(dir, 'a.yaml'), 'utf8')).toBe('new a\n')
    expect((await stat(join(dir, 'a.yaml'))).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'z.yaml'))).mode & 0o777).toBe(0o644)
    expect(await listTree(dir)).toEqual(['a.yaml', 'new/', 'new/deeper/', 'new/deeper/b.yaml', 'z.yaml'])
  })

  it('a rename that fails after others succeeded: those are rolled back, temporaries and new directories go', async () => {
    const dir = await tree()
    const before = await stat(join(dir, 'a.yaml'))
    vi.mocked(rename).mockImplementation(async (from, to) => {
      if (to === join(dir, 'z.yaml'))
        throw Object.assign(new Error(`EIO: i/o error, rename '${from}' -> '${to}'`), { code: 'EIO' })
      return realRename(from, to)
    })
    await expect(writeAll(outputs(dir))).rejects.toThrow(
      `cannot write ${join(dir, 'z.yaml')}: input/output error (EIO); nothing was written`,
    )
    expect(await readFile(join(dir, 'a.yaml'), 'utf8')).toBe('old a\n')
    // The original itself came back (a hard link kept it), not a copy: same inode, mode and owner.
    const after = await stat(join(dir, 'a.yaml'))
    expect([after.ino, after.mode, after.uid]).toEqual([before.ino, before.mode, before.uid])
    expect(await readFile(join(dir, 'z.yaml'), 'utf8')).toBe('old z\n')
    expect(await listTree(dir)).toEqual(['a.yaml', 'z.yaml'])
  })

  it('refuses a directory in the way before renaming anything', async () => {
    const dir = await tree()
    await mkdir(join(dir, 'z.yaml.d'))
    const blocked = [...outputs(dir).slice(0, 2), { path: join(dir, 'z.yaml.d'), bytes: Buffer.from('x') }]
    await expect(writeAll(blocked)).rejects.toThrow(
      `cannot write ${join(dir, 'z.yaml.d')}: is a directory (EISDIR); nothing was written`,
    )
    expect(vi.mocked(rename)).not.toHaveBeenCalled()
    expect(await listTree(dir)).toEqual(['a.yaml', 'z.yaml', 'z.yaml.d/'])
  })
})
