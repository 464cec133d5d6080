import { access, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { file } from '../bundle/helpers.js'
import {
  type Entry,
  evidenceDir,
  readEntries,
  refusedByVerify,
  run,
  tempDir,
  writeEntries,
} from './helpers.js'

/** Hostile packs, made by hand as an attacker would: refused with one line, nothing written anywhere. */
describe('hostile evidence packs', { timeout: 120_000 }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let entries: Entry[]
  let work: string

  beforeAll(async () => {
    tmp = await tempDir('hostile')
    const dir = await evidenceDir(tmp.dir)
    const pack = join(tmp.dir, 'good.tar')
    const r = await run(['evidence', 'pack', dir, '--case', 'CASE-9', '--output', pack])
    expect(r.code, r.stderr).toBe(0)
    entries = await readEntries(pack)
    // Packs are kept one level down, so that an entry escaping by ".." would land in tmp.dir.
    work = join(tmp.dir, 'work')
    await import('node:fs/promises').then((fs) => fs.mkdir(work))
  })
  afterAll(async () => {
    await tmp?.cleanup()
  })

  async function variant(name: string, edit: (e: Entry[]) => Entry[]): Promise<string> {
    const path = join(work, `${name}.tar`)
    await writeEntries(path, edit(entries.map((e) => ({ header: { ...e.header }, body: e.body }))))
    return path
  }

  /**
   * Refused by verify and by custody (which verifies first), and by ls unless only hashing finds it (`ls`
   * false); the pack unchanged, nothing new beside it or above it.
   */
  async function refused(path: string, message: RegExp, opts: { ls?: boolean } = {}): Promise<void> {
    const before = await readFile(path)
    await refusedByVerify(path, message)
    const custody = await run(['evidence', 'custody', path, '--custodian', 'X', '--action', 'received'])
    expect(custody.code).toBe(5)
    expect(custody.stderr).toMatch(message)
    if (opts.ls !== false) expect(await run(['evidence', 'ls', path]).then((r) => r.code)).toBe(5)
    expect((await readFile(path)).equals(before)).toBe(true)
    const left = (await readdir(work)).filter((f) => !f.endsWith('.tar'))
    expect(left).toEqual([])
    await expect(access(join(tmp.dir, 'evil.sh'))).rejects.toThrow()
  }

  it('accepts the untouched pack rewritten entry by entry (the variants differ only by what they break)', async () => {
    const r = await run(['evidence', 'verify', await variant('same', (e) => e)])
    expect(r.code, r.stderr).toBe(0)
  })

  it('refuses a traversal entry', async () => {
    await refused(
      await variant('dotdot', (e) => [...e, file('files/../../evil.sh', 'x')]),
      /entry "files\/\.\.\/\.\.\/evil\.sh" has a "\.\." path component; refusing the evidence pack/,
    )
    await refused(
      await variant('absolute', (e) => [...e, file('/tmp/evil.sh', 'x')]),
      /entry "\/tmp\/evil\.sh" is an absolute path/,
    )
  })

  it('refuses links, duplicate names, oversized and unlisted entries', async () => {
    await refused(
      await variant('symlink', (e) => [
        ...e,
        { header: { name: 'files/disk-dump/passwd', type: 'symlink', linkname: '/etc/passwd', size: 0 } },
      ]),
      /entry "files\/disk-dump\/passwd" is a symlink; an evidence pack holds regular files only/,
    )
    await refused(
      await variant('hardlink', (e) => [
        ...e,
        { header: { name: 'files/disk-dump/hl', type: 'link', linkname: 'custody.jsonl', size: 0 } },
      ]),
      /entry "files\/disk-dump\/hl" is a hardlink/,
    )
    await refused(
      await variant('duplicate', (e) => [...e, file('files/disk-dump/notes.txt', 'planted\n')]),
      /"files\/disk-dump\/notes\.txt" appears twice/,
    )
    await refused(
      await variant('oversized', (e) => [...e, file('custody/0002.json', 'x'.repeat(70_000))]),
      /custody\/0002\.json is 70000 bytes, over the 65536-byte limit/,
    )
    await refused(
      await variant('unlisted', (e) => [...e, file('files/disk-dump/planted.txt', 'planted\n')]),
      /files\/disk-dump\/planted\.txt is not listed in SHA256SUMS/,
      { ls: false },
    )
    await refused(
      await variant('removed', (e) => e.filter((x) => x.header.name !== 'files/disk-dump/notes.txt')),
      /files\/disk-dump\/notes\.txt is listed in SHA256SUMS but missing \(removed\)/,
      { ls: false },
    )
    await refused(
      await variant('stranger', (e) => [...e, file('run.sh', '#!/bin/sh\n')]),
      /entry "run\.sh" is not part of an evidence pack/,
    )
  })
})
