import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { readFile, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { gzipSync } from 'node:zlib'
import tar from 'tar-stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { importBundle } from '../../src/bundle/import.js'
import { listBundle } from '../../src/bundle/list.js'
import { specFromImages } from '../../src/bundle/spec.js'
import { verifyBundleFile } from '../../src/bundle/verify.js'
import { isFerryError } from '../../src/errors.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { catalog, tempDir } from './helpers.js'

type Header = Parameters<tar.Pack['entry']>[0]
interface Entry {
  header: Header
  body?: Buffer
}

/** The entries of a tar, bodies in memory (test bundles are small). */
async function readEntries(path: string): Promise<Entry[]> {
  const extract = tar.extract()
  const entries: Entry[] = []
  const done = (async () => {
    for await (const entry of extract) {
      const parts: Buffer[] = []
      for await (const c of entry) parts.push(c as Buffer)
      entries.push({ header: { ...entry.header }, body: Buffer.concat(parts) })
    }
  })()
  await pipeline(Readable.from(await readFile(path)), extract)
  await done
  return entries
}

async function writeEntries(path: string, entries: Entry[]): Promise<void> {
  const pack = tar.pack()
  const written = pipeline(Readable.from(pack), createWriteStream(path))
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      e.body === undefined
        ? pack.entry(e.header, (err) => (err ? reject(err) : resolve()))
        : pack.entry(e.header, e.body, (err) => (err ? reject(err) : resolve())),
    )
  }
  pack.finalize()
  await written
}

const file = (name: string, body: Buffer | string): Entry => ({
  header: { name, size: Buffer.byteLength(body), mode: 0o644, mtime: new Date(0) },
  body: Buffer.from(body),
})

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
      client.repository(reg.host, 'app'),
      { seed: 'hostile', layers: 2, layerSize: 40_000 },
      '1',
    )
    good = join(tmp.dir, 'good.tar')
    await createBundle(specFromImages([`${reg.host}/app:1`], { name: 'app', version: '1' }), {
      output: good,
      client,
    })
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
    const imported = await importBundle(path, { to: `${target.host}/site`, client }).catch((e: unknown) => e)
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
