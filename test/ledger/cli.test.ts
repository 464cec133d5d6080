import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Manifest } from '../../src/oci/manifest.js'
import { RegistryClient } from '../../src/registry/index.js'
import { generateKeyPair } from '../../src/sign/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

/** promote --ledger, tag --ledger and the ledger commands, as a user runs them (sweep 2026-12, L3 and L4). */
describe('ferry ledger', { timeout: 120_000 }, () => {
  let dir: string
  let reg: Distribution
  let image: Manifest
  const env = { FERRY_ACTOR: 'release-bot', FERRY_PASSWORD: 'ledger-key-pw' }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-ledger-cli-'))
    reg = await startDistribution()
    const client = new RegistryClient()
    image = await pushSyntheticImage(
      client.repository({ registry: reg.host, repository: 'acme/api' }),
      { seed: 'ledger-cli', layers: 1, layerSize: 2_000 },
      'v1',
    )
    await client.close()
    const pair = generateKeyPair(env.FERRY_PASSWORD)
    await writeFile(join(dir, 'ledger.key'), pair.privateKeyPem, { mode: 0o600 })
    await writeFile(join(dir, 'ledger.pub'), pair.publicKeyPem)
  })
  afterAll(async () => {
    await reg?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  const run = (...args: string[]) => ferry(args, { env })
  const promoteTo = (ledger: string, tag: string) =>
    run('promote', `${reg.host}/acme/api:v1`, `${reg.host}/acme/api-prod:${tag}`, '--ledger', ledger)

  it('after a torn line the next promote starts a new line, and every record still reads (L3)', async () => {
    const ledger = join(dir, 'torn.jsonl')
    expect((await promoteTo(ledger, 'v1')).code).toBe(0)
    await appendFile(ledger, '{"time":"2026-12-07T00:00:00Z","verdict":"prom')
    const before = await run('ledger', 'ls', ledger)
    expect(before.code).toBe(0)
    expect(before.stderr).toContain('the last line is incomplete')
    expect((await promoteTo(ledger, 'v2')).code).toBe(0)

    const ls = await run('ledger', 'ls', ledger, '--json')
    expect(ls.code, ls.stderr).toBe(0)
    const doc = JSON.parse(ls.stdout)
    expect(doc.records.map((r: { destination: string }) => r.destination)).toEqual([
      `${reg.host}/acme/api-prod:v1`,
      `${reg.host}/acme/api-prod:v2`,
    ])
    expect(doc).toMatchObject({ torn: false, chain: 'intact', skipped: [{ line: 2 }] })
    expect((await run('ledger', 'show', ledger, 'v2')).code).toBe(0)
    const verify = await run('ledger', 'verify', ledger)
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.stderr).toContain('torn lines repaired: 2')
  })

  it('an edited first line and a deleted last line: ls warns, verify exits 5 naming line 1 (L4)', async () => {
    const ledger = join(dir, 'forged.jsonl')
    for (const tag of ['f1', 'f2', 'f3']) expect((await promoteTo(ledger, tag)).code).toBe(0)
    const lines = (await readFile(ledger, 'utf8')).trimEnd().split('\n')
    lines[0] = lines[0]!.replace('"verdict":"promoted"', '"verdict":"refused"')
    await writeFile(ledger, `${lines.slice(0, -1).join('\n')}\n`)

    const ls = await run('ledger', 'ls', ledger)
    expect(ls.code).toBe(0)
    expect(ls.stderr).toContain(
      `warning: ${ledger}:1: the chain is broken: line 1 was changed after it was written`,
    )
    const verify = await run('ledger', 'verify', ledger)
    expect(verify.code).toBe(5)
    expect(verify.stderr).toBe(
      `ferry: ${ledger}:1: line 1 was changed after it was written (line 2 holds another hash for it)\n`,
    )
  })

  it('tag --ledger records the tag with its actor; checkpoint and verify --key', async () => {
    const ledger = join(dir, 'tags.jsonl')
    const tagged = await run('tag', `${reg.host}/acme/api:v1`, 'stable', '--ledger', ledger)
    expect(tagged.code, tagged.stderr).toBe(0)
    expect(tagged.stderr).toContain(`recorded in ${ledger}`)
    const again = await run('tag', `${reg.host}/acme/api:v1`, 'stable', '--ledger', ledger)
    expect(again.code).toBe(0)
    const records = (await readFile(ledger, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(records).toMatchObject([
      {
        operation: 'tag',
        actor: 'release-bot',
        repository: `${reg.host}/acme/api`,
        tag: 'stable',
        verdict: 'tagged',
        source: `${reg.host}/acme/api:v1`,
        destination: `${reg.host}/acme/api:stable`,
        digest: image.digest,
        seq: 1,
      },
      { operation: 'tag', verdict: 'unchanged', seq: 2 },
    ])

    const checkpoint = await run('ledger', 'checkpoint', ledger, '--key', join(dir, 'ledger.key'), '--json')
    expect(checkpoint.code, checkpoint.stderr).toBe(0)
    expect(JSON.parse(checkpoint.stdout)).toMatchObject({
      covers: 2,
      head: expect.stringMatching(/^sha256:/),
    })
    const verify = await run('ledger', 'verify', ledger, '--key', join(dir, 'ledger.pub'))
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.stdout).toMatch(/intact, 3 lines, head sha256:/)
    expect(verify.stderr).toContain('1 checkpoint, signatures verified; the last covers 2 lines, 0 after it')
  })

  it('a ledger written before the chain lists, and verify says unchained (exit 5)', async () => {
    const ledger = join(dir, 'old.jsonl')
    const old = {
      time: '2026-11-01T00:00:00Z',
      verdict: 'promoted',
      source: `${reg.host}/acme/api:v1`,
      destination: `${reg.host}/acme/api-prod:old`,
      digest: image.digest,
      environment: null,
      checks: [],
      labels: {},
      forced: false,
      ferryVersion: '0.1.0',
    }
    await writeFile(ledger, `${JSON.stringify(old)}\n`)
    const ls = await run('ledger', 'ls', ledger, '--json')
    expect(ls.code).toBe(0)
    expect(JSON.parse(ls.stdout)).toMatchObject({
      chain: 'unchained',
      records: [{ destination: old.destination }],
    })
    const verify = await run('ledger', 'verify', ledger)
    expect(verify.code).toBe(5)
    expect(verify.stderr).toMatch(/unchained: its one line carries no hash chain/)
  })
})
