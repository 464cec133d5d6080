import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..')

async function sources(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) out.push(join(entry.parentPath, entry.name))
  }
  return out
}

async function importing(dir: string, pattern: RegExp): Promise<string[]> {
  const hits: string[] = []
  for (const file of await sources(dir)) {
    const text = await readFile(file, 'utf8')
    if (pattern.test(text)) hits.push(file.slice(ROOT.length + 1))
  }
  return hits
}

describe('layering', () => {
  it('keeps the library free of the CLI framework, so it is usable as an API', async () => {
    expect(await importing('src', /from '@oclif\//)).toEqual([])
    expect((await sources('src')).length).toBeGreaterThan(50)
  })

  it('keeps commands translating, never speaking HTTP themselves', async () => {
    expect(await importing('commands', /from 'undici'/)).toEqual([])
    expect(await importing('cli', /from 'undici'/)).toEqual([])
    expect((await sources('commands')).length).toBeGreaterThan(15)
  })
})
