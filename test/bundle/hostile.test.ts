import { createHash, randomBytes } from 'node:crypto'
import { readFile, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { importBundle } from '../../src/bundle/import.js'
import { listBundle } from '../../src/bundle/list.js'
import { specFromImages } from '../../src/bundle/spec.js'
import { verifyBundleFile } from '../../src/bundle/verify.js'
import { isFerryError } from '../../src/errors.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import {
  catalog,
  type Entry,
  file,
  type Header,
  paxBody,
  rawEntry,
  rawTar,
  readEntries,
  tempDir,
  writeEntries,
} from './helpers.js'

describe('hostile bundles', () => {
  let reg: Distribution
  let target: Distribution
  let client: RegistryClient
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let good: string
  let entries: Entry[]

  beforeAll(async () => {
    ;[reg, target] = await Promise.all([startDistribution(), startDistribution()])
    client = new RegistryClient()
    tmp = await tempDir('hostile')
    await pushSyntheticImage(
      client.repository({ registry: reg.host, repository: 'app' }),
      { seed: 'hostile', layers: 2, layerSize: 40_000 },
      '1',
    )
    good = join(tmp.dir, 'good.tar')
    await createBundle(
      testContext({ client }),
      specFromImages([`${reg.host}/app:1`], { name: 'app', version: '1' }),
      { output: good },
    )
    entries = await readEntries(good)
  })
  afterAll(async () => {
    await client?.close()
    await Promise.all([reg?.stop(), target?.stop()])
    await tmp?.cleanup()
  })

  /** The bundle is refused by verify and by import, with `message`, and the target stays empty. */
  async function refused(path: string, message: RegExp): Promise<void> {
    const verified = await verifyBundleFile(path).catch((e: unknown) => e)
    expect(isFerryError(verified), String(verified)).toBe(true)
    expect((verified as Error).message).toMatch(message)
    const imported = await importBundle(testContext({ client }), path, { to: `${target.host}/site` }).catch(
      (e: unknown) => e,
    )
    expect((imported as Error).message).toMatch(message)
    expect(await catalog(target.url)).toEqual([])
  }

  async function variant(name: string, edit: (entries: Entry[]) => Entry[]): Promise<string> {
    const path = join(tmp.dir, `${name}.tar`)
    await writeEntries(path, edit(entries.map((e) => ({ header: { ...e.header }, body: e.body }))))
    return path
  }

  it('accepts the untouched bundle (the variants below differ only by what they break)', async () => {
    expect((await verifyBundleFile(await variant('same', (e) => e))).ok).toBe(true)
  })

  it('refuses ".." path components, also when hidden in a pax header', async () => {
    await refused(
      await variant('dotdot', (e) => [...e, file('blobs/../../evil.sh', 'x')]),
      /"blobs\/\.\.\/\.\.\/evil\.sh" has a "\.\." path component/,
    )
    await refused(
      await variant('pax-dotdot', (e) => [
        ...e,
        { ...file('../escape', 'x'), header: { ...file('../escape', 'x').header, pax: {} } },
      ]),
      /"\.\.\/escape" has a "\.\." path component/,
    )
  })

  /**
   * The good bundle written entry by entry with a raw header writer, with `extra` (extended headers)
   * put before the entry at `at` (the first blob by default), that entry's header claiming `size`.
   */
  async function rawVariant(
    name: string,
    extra: Buffer[],
    opts: { at?: number; headerSize?: number } = {},
  ): Promise<string> {
    const at = opts.at ?? entries.findIndex((e) => e.header.name.startsWith('blobs/'))
    const chunks = entries.map((e, i) =>
      rawEntry(e.header.name, '0', e.body!, i === at ? opts.headerSize : undefined),
    )
    chunks.splice(at, 0, ...extra)
    const path = join(tmp.dir, `${name}.tar`)
    await writeFile(path, rawTar(chunks))
    return path
  }
  const pax = (records: [string, string][]) => rawEntry('PaxHeader', 'x', paxBody(records))
  const globalPax = (records: [string, string][]) => rawEntry('pax_global_header', 'g', paxBody(records))

  it('refuses a pax global header that sets a path or a size, and ignores one that sets defaults only', async () => {
    // What a reader makes of a global path or size differs (GNU tar applies it to every later entry,
    // Go's archive/tar to none), so the archive verified here would not be the one extracted there.
    await refused(
      await rawVariant('global-path', [globalPax([['path', 'index.json']])], { at: 0 }),
      /pax global header at byte 0 sets "path"; a bundle's names and sizes are given per entry/,
    )
    await refused(
      await rawVariant('global-size', [globalPax([['size', '0']])]),
      /pax global header at byte \d+ sets "size"/,
    )
    await refused(
      await rawVariant('global-sparse', [globalPax([['GNU.sparse.major', '1']])]),
      /pax global header at byte \d+ sets "GNU\.sparse\.major"/,
    )
    // git archive writes a global comment; a default mtime is as harmless.
    const defaults = await rawVariant('global-defaults', [
      globalPax([
        ['comment', '5e4f70d'],
        ['mtime', '0'],
      ]),
    ])
    expect((await verifyBundleFile(defaults)).ok).toBe(true)
  })

  it('refuses pax headers that other tar readers would read another way', async () => {
    const blob = entries.find((e) => e.header.name.startsWith('blobs/'))!
    const size = String(blob.body!.length)
    // A reader that ignores pax sees an empty file here and takes the blob's bytes for headers.
    await refused(
      await rawVariant('pax-size-differs', [pax([['size', size]])], { headerSize: 0 }),
      new RegExp(`entry at byte \\d+: pax size "${size}" disagrees with its tar header \\(0 bytes\\)`),
    )
    await refused(
      await rawVariant('pax-size-text', [pax([['size', `${size}abc`]])]),
      /pax size "\d+abc" disagrees with its tar header/,
    )
    await refused(
      await rawVariant('pax-twice', [pax([['mtime', '0']]), pax([['path', blob.header.name]])]),
      /tar headers at bytes \d+ and \d+ both extend one entry/,
    )
    await refused(
      await rawVariant('pax-and-longname', [
        rawEntry('././@LongLink', 'L', Buffer.from(`${blob.header.name}\0`)),
        pax([['path', blob.header.name]]),
      ]),
      /both extend one entry/,
    )
    await refused(
      await rawVariant('pax-key-twice', [
        pax([
          ['path', 'index.json'],
          ['path', blob.header.name],
        ]),
      ]),
      /pax extended header at byte \d+ sets "path" twice/,
    )
    await refused(
      await rawVariant('pax-sparse', [
        pax([
          ['GNU.sparse.major', '1'],
          ['GNU.sparse.minor', '0'],
          ['GNU.sparse.name', blob.header.name],
        ]),
      ]),
      /is a sparse file \("GNU\.sparse\.major"\); a bundle holds plain files only/,
    )
    await refused(
      await rawVariant('pax-dangling', [pax([['path', 'index.json']])], { at: entries.length }),
      /the extended tar header at byte \d+ has no entry after it/,
    )
    // A pax path and size that agree with the entry are what tar --format=posix writes: accepted.
    const agreeing = await rawVariant('pax-agrees', [
      pax([
        ['path', blob.header.name],
        ['size', size],
      ]),
    ])
    expect((await verifyBundleFile(agreeing)).ok).toBe(true)
  })

  it('refuses absolute paths', async () => {
    await refused(
      await variant('absolute', (e) => [file('/etc/cron.d/evil', 'x'), ...e]),
      /"\/etc\/cron\.d\/evil" has an absolute path/,
    )
  })

  it('refuses symlinks, hardlinks, devices and fifos', async () => {
    const blob = entries.find((e) => e.header.name.startsWith('blobs/'))!.header.name
    const cases: [string, Header, RegExp][] = [
      ['symlink', { name: 'blobs/sha256/link', type: 'symlink', linkname: '/etc/passwd' }, /is a symlink/],
      ['hardlink', { name: 'index2.json', type: 'link', linkname: blob }, /is a hardlink/],
      ['chardev', { name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 }, /is a char-device/],
      ['blockdev', { name: 'disk', type: 'block-device', devmajor: 8, devminor: 0 }, /is a block-device/],
      ['fifo', { name: 'pipe', type: 'fifo' }, /is a fifo/],
    ]
    for (const [name, header, message] of cases) {
      await refused(
        await variant(name, (e) => [
          e[0]!,
          { header: { mode: 0o644, mtime: new Date(0), ...header } },
          ...e.slice(1),
        ]),
        message,
      )
    }
  })

  it('refuses duplicate entries', async () => {
    const index = entries.find((e) => e.header.name === 'index.json')!
    await refused(await variant('duplicate', (e) => [...e, index]), /"index\.json" appears twice/)
  })

  it('refuses files outside the layout and blobs the metadata does not list', async () => {
    await refused(
      await variant('outside', (e) => [...e, file('run.sh', '#!/bin/sh\n')]),
      /file "run\.sh" is outside the OCI image layout/,
    )
    await refused(
      await variant('proto', (e) => [...e, file('constructor', '{}')]),
      /file "constructor" is outside/,
    )
    const extra = randomBytes(100)
    const name = `blobs/sha256/${createHash('sha256').update(extra).digest('hex')}`
    await refused(
      await variant('unlisted', (e) => [...e, file(name, extra)]),
      /is not listed in ferry-bundle\.json/,
    )
  })

  it('refuses JSON over its bound before reading it', async () => {
    const huge = Buffer.alloc(17 * 1024 * 1024, 0x20)
    await refused(
      await variant('oversized', (e) =>
        e.map((x) => (x.header.name === 'index.json' ? file('index.json', huge) : x)),
      ),
      /index\.json is 17825792 bytes, over the 16777216-byte limit/,
    )
  })

  it('refuses a truncated tar, in an entry or at an entry boundary', async () => {
    const size = (await stat(good)).size
    const cut = join(tmp.dir, 'cut.tar')
    await writeFile(cut, (await readFile(good)).subarray(0, Math.floor(size / 2)))
    await refused(cut, /truncated/)
    // Without its end-of-archive blocks: every entry is whole, but the archive does not say it ended.
    const noEnd = join(tmp.dir, 'no-end.tar')
    await writeFile(noEnd, await readFile(good))
    await truncate(noEnd, size - 1024)
    await refused(noEnd, /truncated: no end-of-archive marker/)
  })

  it('refuses a compressed file instead of unpacking it', async () => {
    const gz = join(tmp.dir, 'bundle.tar.gz')
    await writeFile(gz, gzipSync(await readFile(good)))
    await refused(gz, /not a tar archive \(bundles are plain, uncompressed tar files\)/)
    expect(await listBundle(gz).catch((e: Error) => e.message)).toMatch(/not a tar archive/)
  })
})
