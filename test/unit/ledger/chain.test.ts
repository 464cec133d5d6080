import { type ChildProcess, spawn } from 'node:child_process'
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isFerryError } from '../../../src/errors.js'
import { lineHash } from '../../../src/ledger/chain.js'
import {
  appendLedger,
  type ChangeEntry,
  checkpointLedger,
  ledgerActor,
  readLedger,
  verifyLedger,
} from '../../../src/ledger/index.js'
import { decryptPrivateKey, generateKeyPair, readPublicKey } from '../../../src/sign/index.js'

const entry = (n: number, verdict: ChangeEntry['verdict'] = 'promoted'): ChangeEntry => ({
  time: '2026-12-07T10:00:00Z',
  operation: 'promote',
  verdict,
  source: `reg.test/acme/api:v${n}`,
  destination: `reg.test/acme/api-prod:v${n}`,
  digest: `sha256:${String(n).padStart(64, '0')}`,
  environment: 'prod',
  checks: [],
  labels: {},
  forced: false,
  ferryVersion: '0.0.0-test',
})

const pair = generateKeyPair('ledger')
const key = decryptPrivateKey(pair.privateKeyPem, 'ledger')
const publicKey = readPublicKey(pair.publicKeyPem)
const other = readPublicKey(generateKeyPair('other').publicKeyPem)

describe('the ledger chain', () => {
  let dir: string
  let n = 0
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-ledger-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  /** A fresh ledger of `count` records (and a checkpoint after `checkpointAfter` of them). */
  async function ledger(count: number, checkpointAfter?: number): Promise<string> {
    const path = join(dir, `l${n++}.jsonl`)
    for (let i = 1; i <= count; i++) {
      await appendLedger(path, entry(i), { actor: 'ci-bot' })
      if (i === checkpointAfter) await checkpointLedger(path, key, { actor: 'ci-bot' })
    }
    return path
  }
  const lines = async (path: string) => (await readFile(path, 'utf8')).trimEnd().split('\n')
  const rewrite = (path: string, ls: string[]) => writeFile(path, `${ls.join('\n')}\n`)

  it('writes actor, operation, repository, tag, seq and prev, linking each line to the one before', async () => {
    const path = await ledger(3)
    const ls = await lines(path)
    const docs = ls.map((l) => JSON.parse(l))
    expect(docs[0]).toMatchObject({
      operation: 'promote',
      actor: 'ci-bot',
      repository: 'reg.test/acme/api-prod',
      tag: 'v1',
      verdict: 'promoted',
      seq: 1,
      prev: lineHash(Buffer.alloc(0)),
    })
    expect(docs[2].prev).toBe(lineHash(Buffer.from(ls[1]!)))
    expect(await verifyLedger(path)).toMatchObject({
      status: 'intact',
      lines: 3,
      head: lineHash(Buffer.from(ls[2]!)),
    })
  })

  it('names an edited line', async () => {
    const path = await ledger(5)
    const ls = await lines(path)
    ls[1] = ls[1]!.replace('"verdict":"promoted"', '"verdict":"refused"')
    await rewrite(path, ls)
    const report = await verifyLedger(path)
    expect(report.status).toBe('broken')
    expect(report.problem).toEqual({
      line: 2,
      message: 'line 2 was changed after it was written (line 3 holds another hash for it)',
    })
  })

  it('names a deleted line, and the sweep’s edit of the first line and deletion of the last (L4)', async () => {
    const path = await ledger(5)
    const ls = await lines(path)
    await rewrite(path, [...ls.slice(0, 2), ...ls.slice(3)])
    expect((await verifyLedger(path)).problem).toEqual({
      line: 3,
      message: '1 line before line 3 were removed (it was written as line 4)',
    })
    const l4 = await ledger(4)
    const four = await lines(l4)
    four[0] = four[0]!.replace('"verdict":"promoted"', '"verdict":"refused"')
    await rewrite(l4, four.slice(0, -1))
    expect((await verifyLedger(l4)).problem?.line).toBe(1)
  })

  it('names reordered lines', async () => {
    const path = await ledger(5)
    const ls = await lines(path)
    await rewrite(path, [ls[0]!, ls[2]!, ls[1]!, ls[3]!, ls[4]!])
    expect((await verifyLedger(path)).problem).toEqual({
      line: 2,
      message: 'line 2 was written as line 3: lines were reordered (line 3 was written as line 2)',
    })
  })

  it('a checkpoint catches lines it covers removed, even with the chain rebuilt after them', async () => {
    const path = await ledger(6, 4)
    const good = await verifyLedger(path, { publicKey })
    expect(good).toMatchObject({ status: 'intact', lines: 7, uncovered: 2 })
    expect(good.checkpoints).toEqual([expect.objectContaining({ line: 5, covers: 4, signature: 'verified' })])
    expect((await verifyLedger(path, { publicKey: other })).problem?.message).toMatch(
      /line 5: the checkpoint's signature does not verify with the given key/,
    )

    // Truncated to two records, then the checkpoint and what followed it put back with the chain rebuilt
    // (seq and prev recomputed): only the signed head can tell.
    const ls = await lines(path)
    const rebuilt: string[] = []
    let prev = lineHash(Buffer.alloc(0))
    for (const [i, line] of [...ls.slice(0, 2), ...ls.slice(4)].entries()) {
      const text = JSON.stringify({ ...JSON.parse(line), seq: i + 1, prev })
      rebuilt.push(text)
      prev = lineHash(Buffer.from(text))
    }
    await rewrite(path, rebuilt)
    const cut = await verifyLedger(path, { publicKey })
    expect(cut.status).toBe('broken')
    expect(cut.problem?.line).toBe(3)
    expect(cut.problem?.message).toMatch(
      /the checkpoint signed the first 4 lines .* but the chain has 2 lines/,
    )

    // The head rewritten too: the signature no longer verifies.
    const forged = rebuilt.map((l) => JSON.parse(l))
    forged[2] = { ...forged[2], head: forged[2].prev, covers: 2 }
    await rewrite(
      path,
      forged.map((d) => JSON.stringify(d)),
    )
    expect((await verifyLedger(path, { publicKey })).problem?.message).toMatch(/signature does not verify/)
  })

  it('a torn last line is not chained onto: a repair record names it and every record still reads (L3)', async () => {
    const path = await ledger(2)
    await appendFile(path, '{"time":"2026-12-07T00:00:00Z","verdict":"prom')
    expect(await readLedger(path)).toMatchObject({ torn: true, records: [{ tag: 'v1' }, { tag: 'v2' }] })
    expect(await verifyLedger(path)).toMatchObject({ status: 'intact', torn: true })
    await appendLedger(path, entry(3), { actor: 'ci-bot' })
    const ls = await lines(path)
    expect(ls).toHaveLength(5)
    expect(ls[2]).toBe('{"time":"2026-12-07T00:00:00Z","verdict":"prom')
    expect(JSON.parse(ls[3]!)).toMatchObject({
      operation: 'repair',
      torn: { seq: 3, bytes: ls[2]!.length, sha256: lineHash(Buffer.from(ls[2]!)) },
      seq: 4,
      prev: lineHash(Buffer.from(ls[1]!)),
    })
    const read = await readLedger(path)
    expect(read.records.map((r) => r.tag)).toEqual(['v1', 'v2', 'v3'])
    expect(read.skipped).toEqual([{ line: 3, why: 'a torn write (a repair record follows)' }])
    expect(read.torn).toBe(false)
    expect(await verifyLedger(path)).toMatchObject({ status: 'intact', repaired: [3], lines: 5 })
  })

  it('reads a ledger written before the chain, says it is unchained, and chains what is appended', async () => {
    const path = join(dir, 'old.jsonl')
    const old = [1, 2].map((i) => {
      const { operation: _o, ...rest } = entry(i)
      return JSON.stringify(rest)
    })
    await rewrite(path, old)
    expect((await readLedger(path)).records.map((r) => r.digest)).toHaveLength(2)
    expect(await verifyLedger(path)).toMatchObject({ status: 'unchained', lines: 2, unchained: 2 })
    await appendLedger(path, entry(3), { actor: 'ci-bot' })
    expect(JSON.parse((await lines(path))[2]!)).toMatchObject({
      seq: 3,
      prev: lineHash(Buffer.from(old[1]!)),
    })
    expect(await verifyLedger(path)).toMatchObject({ status: 'intact', unchained: 2, lines: 3 })
  })

  it('refuses to checkpoint a broken chain', async () => {
    const path = await ledger(3)
    const ls = await lines(path)
    await rewrite(path, [ls[0]!, ls[2]!])
    const err = await checkpointLedger(path, key).catch((e: unknown) => e)
    expect(isFerryError(err, 'VERIFY_FAILED')).toBe(true)
    expect((err as Error).message).toMatch(/not signing it/)
  })

  it('two processes appending 50 records each keep one intact chain', async () => {
    const path = join(dir, 'concurrent.jsonl')
    const worker = (label: string) => {
      const child: ChildProcess = spawn(
        process.execPath,
        ['--import', 'tsx', join(import.meta.dirname, 'append-worker.ts'), path, label, '50'],
        { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FERRY_ACTOR: label } },
      )
      let err = ''
      child.stderr?.on('data', (d) => {
        err += d
      })
      return new Promise<void>((resolve, reject) =>
        child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${label}: ${err}`)))),
      )
    }
    await Promise.all([worker('a'), worker('b')])
    const report = await verifyLedger(path)
    expect(report).toMatchObject({ status: 'intact', lines: 100, torn: false })
    const { records } = await readLedger(path)
    expect(records.filter((r) => r.actor === 'a')).toHaveLength(50)
    expect(records.filter((r) => r.actor === 'b')).toHaveLength(50)
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
  }, 60_000)
})

describe('ledgerActor', () => {
  it.each<[Record<string, string>, string]>([
    [{ FERRY_ACTOR: 'deploy-bot', GITHUB_ACTOR: 'octocat' }, 'deploy-bot'],
    [
      { GITHUB_ACTOR: 'octocat', GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '42' },
      'octocat (GitHub Actions acme/shop run 42)',
    ],
    [
      { GITLAB_USER_LOGIN: 'alice', CI_PROJECT_PATH: 'acme/shop', CI_PIPELINE_ID: '7' },
      'alice (GitLab CI acme/shop pipeline 7)',
    ],
    [{ BUILD_USER_ID: 'bob', BUILD_TAG: 'jenkins-shop-12' }, 'bob (Jenkins jenkins-shop-12)'],
    [{ BUILD_TAG: 'jenkins-shop-12' }, 'Jenkins jenkins-shop-12'],
  ])('%j → %s', (env, actor) => {
    expect(ledgerActor(env)).toBe(actor)
  })

  it('falls back to user@host', () => {
    expect(ledgerActor({})).toMatch(/^[^@\s]+@\S+$/)
  })
})
