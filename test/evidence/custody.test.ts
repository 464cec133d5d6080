import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type Entry,
  evidenceDir,
  readEntries,
  refusedByVerify,
  run,
  tempDir,
  tool,
  writeEntries,
} from './helpers.js'

describe('evidence custody and tampering', { timeout: 120_000 }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let packed: Buffer
  let pack: string
  const key = (name: string) => join(tmp.dir, name)

  beforeAll(async () => {
    tmp = await tempDir('custody')
    const dir = await evidenceDir(tmp.dir)
    for (const name of ['analyst', 'courier'])
      expect((await run(['key', 'generate', '--output-key-prefix', key(name)])).code).toBe(0)
    pack = join(tmp.dir, 'case.tar')
    const r = await run([
      'evidence',
      'pack',
      dir,
      '--case',
      'CASE-7',
      '--custodian',
      'A. Analyst',
      '--note',
      'imaged on site',
      '--key',
      key('analyst.key'),
      '--output',
      pack,
    ])
    expect(r.code, r.stderr).toBe(0)
    packed = await readFile(pack)
    // The hand-over: transferred by the courier (signed), received at the lab.
    const transferred = await run([
      'evidence',
      'custody',
      pack,
      '--custodian',
      'B. Courier',
      '--action',
      'transferred',
      '--note',
      'sealed bag 7781',
      '--key',
      key('courier.key'),
      '--at',
      '2024-05-01T16:00:00Z',
    ])
    expect(transferred.code, transferred.stderr).toBe(0)
    const received = await run(['evidence', 'custody', pack, '--custodian', 'C. Lab', '--action', 'received'])
    expect(received.code, received.stderr).toBe(0)
    expect(received.stdout).toMatch(/custody event 3 received by C\. Lab/)
  })
  afterAll(async () => {
    await tmp?.cleanup()
  })

  /** The pack written anew with `edit` applied to its entries. */
  async function variant(name: string, edit: (entries: Entry[]) => Entry[]): Promise<string> {
    const path = join(tmp.dir, `${name}.tar`)
    await writeEntries(path, edit(await readEntries(pack)))
    return path
  }

  it('appends after the packed entries, which stay byte for byte, and verifies with every key', async () => {
    const now = await readFile(pack)
    // The packed tar without its end-of-archive marker is the start of the new one.
    expect(now.subarray(0, packed.length - 1024).equals(packed.subarray(0, packed.length - 1024))).toBe(true)
    const names = (await readEntries(pack)).map((e) => e.header.name)
    expect(names.slice(-3)).toEqual(['custody/0002.json', 'custody/0002.json.sig', 'custody/0003.json'])

    const r = await run([
      'evidence',
      'verify',
      pack,
      '--key',
      key('analyst.pub'),
      '--key',
      key('courier.pub'),
      '--json',
    ])
    expect(r.code, r.stderr).toBe(0)
    const report = JSON.parse(r.stdout)
    expect(report.signature).toBe('verified')
    expect(
      report.custody.map((e: { action: string; signature?: string }) => [e.action, e.signature]),
    ).toEqual([
      ['captured', undefined],
      ['transferred', 'verified'],
      ['received', 'unsigned'],
    ])
    expect(report.custody[1]).toMatchObject({ custodian: 'B. Courier', time: '2024-05-01T16:00:00Z', seq: 2 })
    expect(report.custody[2].prev).toBe(report.custody[1].hash)

    // The receiving side: the head the courier handed over must be in the chain.
    expect((await run(['evidence', 'verify', pack, '--head', report.custody[1].hash])).code).toBe(0)
    await refusedByVerify(pack, /custody head sha256:0{64} is not in the chain/, [
      '--head',
      `sha256:${'0'.repeat(64)}`,
    ])

    // sha256sum still accepts what was packed, after the appends.
    const out = join(tmp.dir, 'x')
    await import('node:fs/promises').then((fs) => fs.mkdir(out))
    expect(tool('tar', ['-xf', pack, '-C', out], tmp.dir).status).toBe(0)
    expect(tool('sha256sum', ['-c', 'SHA256SUMS'], out).status).toBe(0)

    const ls = await run(['evidence', 'ls', pack])
    expect(ls.code, ls.stderr).toBe(0)
    expect(ls.stdout).toMatch(/1 +2024-05-01T10:00:00Z +captured +A\. Analyst .*"imaged on site"/)
    expect(ls.stdout).toMatch(
      /2 +2024-05-01T16:00:00Z +transferred +B\. Courier .*"sealed bag 7781" signed sha256:/,
    )
    expect(ls.stdout).toMatch(/3 +\S+ +received +C\. Lab/)
  })

  it('refuses a flipped byte, naming the entry', async () => {
    const bytes = Buffer.from(await readFile(pack))
    const at = bytes.indexOf('Accepted key for root')
    bytes[at] = bytes[at]! ^ 0x20
    const flipped = join(tmp.dir, 'flipped.tar')
    await writeFile(flipped, bytes)
    await refusedByVerify(
      flipped,
      /flipped\.tar: files\/disk-dump\/var\/log\/auth\.log: its sha256 is [a-f0-9]{64}, SHA256SUMS says [a-f0-9]{64} \(changed\)/,
    )
  })

  it('refuses a removed custody event', async () => {
    const removed = await variant('removed', (e) =>
      e.filter((x) => !x.header.name.startsWith('custody/0002')),
    )
    await refusedByVerify(
      removed,
      /custody\/0003\.json is custody event 3, in place 2: custody event 2 was removed/,
    )
    const lineless = await variant('lineless', (e) =>
      e.map((x) =>
        x.header.name === 'custody.jsonl'
          ? { ...x, body: Buffer.alloc(0), header: { ...x.header, size: 0 } }
          : x,
      ),
    )
    await refusedByVerify(lineless, /custody\.jsonl: its sha256 is [a-f0-9]{64}, SHA256SUMS says/)
  })

  it('refuses reordered custody events', async () => {
    const reordered = await variant('reordered', (e) => {
      const at = e.findIndex((x) => x.header.name === 'custody/0002.json')
      return [...e.slice(0, at), e[at + 2]!, e[at]!, e[at + 1]!]
    })
    expect((await readEntries(reordered)).slice(-3).map((x) => x.header.name)).toEqual([
      'custody/0003.json',
      'custody/0002.json',
      'custody/0002.json.sig',
    ])
    await refusedByVerify(
      reordered,
      /custody\/0003\.json is custody event 3, in place 2: custody events were reordered \(custody\/0002\.json, event 2, comes after it\)/,
    )
  })

  it('refuses a custody event edited, or signed by a key other than the one it names', async () => {
    const edited = await variant('edited', (e) =>
      e.map((x) =>
        x.header.name === 'custody/0002.json'
          ? { ...x, body: Buffer.from(x.body!.toString().replace('sealed bag 7781', 'sealed bag 7782')) }
          : x,
      ),
    )
    await refusedByVerify(edited, /custody\/0003\.json does not link to custody\/0002\.json/)
    const forged = await variant('forged', (e) => {
      const sig = e.find((x) => x.header.name === 'statement.intoto.json.sig')!
      return e.map((x) => (x.header.name === 'custody/0002.json.sig' ? { ...x, body: sig.body } : x))
    })
    await refusedByVerify(
      forged,
      /custody\/0002\.json\.sig does not verify custody\/0002\.json with key sha256:/,
      ['--key', key('analyst.pub'), '--key', key('courier.pub')],
    )
  })

  it('does not append to a pack that does not verify', async () => {
    const bytes = Buffer.from(packed)
    const at = bytes.indexOf('seized from host')
    bytes[at] = 0x53
    const bad = join(tmp.dir, 'bad.tar')
    await writeFile(bad, bytes)
    const r = await run(['evidence', 'custody', bad, '--custodian', 'X', '--action', 'received'])
    expect(r.code).toBe(5)
    expect(r.stderr).toContain('files/disk-dump/notes.txt: its sha256 is')
    expect((await readFile(bad)).equals(bytes)).toBe(true)
  })
})
