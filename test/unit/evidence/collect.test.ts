import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { collectFiles, openPackedFile } from '../../../src/evidence/collect.js'

describe('evidence pack: what a file system can hold that a pack cannot', () => {
  it('fails the write when a file changes after it was hashed, and refuses names sha256sum would escape', async () => {
    const root = await mkdtemp(join(tmpdir(), 'ferry-evidence-collect-'))
    try {
      const dir = join(root, 'disk-dump')
      await mkdir(dir)
      await writeFile(join(dir, 'notes.txt'), 'seized from host db-3 at 09:40\n')
      const [notes] = await collectFiles([dir], join(root, 'out.tar'))
      expect(notes!.name).toBe('files/disk-dump/notes.txt')
      await writeFile(notes!.path, 'seized from host db-4 at 09:40\n') // same size, other bytes
      const body = await openPackedFile(notes!)
      await expect(async () => {
        for await (const _ of body);
      }).rejects.toThrow(`${notes!.path} changed while it was packed: content digest is sha256:`)

      await writeFile(join(dir, 'two\nlines'), 'x')
      await expect(collectFiles([dir], join(root, 'out.tar'))).rejects.toThrow(
        'has a NUL, backslash or line break in its name: sha256sum could not name it',
      )
      await expect(collectFiles([dir], join(dir, 'out.tar'))).rejects.toThrow(
        `the output ${join(dir, 'out.tar')} is inside ${dir}: the pack would hold itself`,
      )
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})
