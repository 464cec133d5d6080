import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readLedger } from '../../src/ledger/index.js'
import { ferry, type ServeProcess, startFerryServe } from '../helpers/cli.js'
import { makeKeys, PASSWORD } from '../supply/helpers.js'
import { LABELS, push, SourceImages, skopeo } from './policy-helpers.js'

const POLICY = `version: 1
environments:
  - name: prod
    match: { repositories: ["registry.test/acme/*-prod"] }
    forbid: { tags: [latest] }
    immutable: true
`

/**
 * `serve --ledger`: who pushed what, and what the policy refused, with skopeo as the client. Parallel
 * pushes (accepted and refused) must land as whole lines of one intact chain, and `--ledger-key`
 * signs a checkpoint that `ferry ledger verify --key` checks.
 */
describe('serve --ledger: one record per write accepted or refused', { timeout: 180_000 }, () => {
  let dir: string
  let served: ServeProcess
  let src: SourceImages
  let ledger: string
  const keys = makeKeys()
  const creds = ['--dest-creds', 'alice:s3cret-pass']

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-serve-ledger-'))
    await writeFile(join(dir, 'ferry.policy.yaml'), POLICY)
    // htpasswd -B writes $2y$; bcryptjs writes $2b$ for the same hash.
    const hash = bcrypt.hashSync('s3cret-pass', 4).replace(/^\$2b\$/, '$2y$')
    await writeFile(join(dir, 'htpasswd'), `alice:${hash}\n`)
    await writeFile(join(dir, 'ledger.key'), keys.privateKeyPem)
    await writeFile(join(dir, 'ledger.pub'), keys.publicKeyPem)
    ledger = join(dir, 'registry.jsonl')
    served = await startFerryServe(
      [
        '--root',
        join(dir, 'root'),
        '--htpasswd',
        join(dir, 'htpasswd'),
        '--policy',
        join(dir, 'ferry.policy.yaml'),
        '--name',
        'registry.test',
        '--ledger',
        ledger,
        '--ledger-key',
        join(dir, 'ledger.key'),
      ],
      { env: { FERRY_PASSWORD: PASSWORD } },
    )
    src = await SourceImages.create(join(dir, 'src'))
  })
  afterAll(async () => {
    await served?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('parallel pushes by skopeo keep the chain; refusals and the actor are recorded; a checkpoint is signed at shutdown', async () => {
    const images = await Promise.all(
      Array.from({ length: 8 }, (_, i) => src.image(`v${i}`, { ...LABELS, n: String(i) })),
    )
    const first = await push(images[0]!.ref, `${served.host}/acme/web-prod:v1.0.0`, ...creds)
    expect(first.code, first.stderr).toBe(0)
    // Six accepted and two refused (a forbidden tag, an immutable tag moving), all at once.
    const runs = await Promise.all([
      ...images
        .slice(1, 7)
        .map((img, i) => push(img.ref, `${served.host}/acme/web-prod:v1.${i + 1}.0`, ...creds)),
      push(images[7]!.ref, `${served.host}/acme/web-prod:latest`, ...creds),
      push(images[7]!.ref, `${served.host}/acme/web-prod:v1.0.0`, ...creds),
    ])
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0, 0, 0, 1, 1])
    await served.stop()

    const { records, checkpoints } = await readLedger(ledger)
    const pushes = records.filter((r) => r.operation === 'push')
    expect(pushes.filter((r) => r.verdict === 'written')).toHaveLength(7)
    const refused = pushes.filter((r) => r.verdict === 'refused')
    expect(refused.map((r) => r.tag).sort()).toEqual(['latest', 'v1.0.0'])
    expect(refused.find((r) => r.tag === 'v1.0.0')).toMatchObject({
      digest: images[7]!.manifest.digest,
      previous: images[0]!.manifest.digest,
      reason: expect.stringMatching(/immutable \(environment prod\)/),
    })
    for (const r of pushes) expect(r.actor).toMatch(/^alice \(127\.0\.0\.1|::ffff:127\.0\.0\.1\)$/)
    // The environment the pushed name falls in, as `ferry promote` and `ferry tag` record it.
    for (const r of pushes) expect(r.environment, JSON.stringify(r)).toBe('prod')
    expect(checkpoints.length).toBeGreaterThanOrEqual(1)

    const verified = await ferry(['ledger', 'verify', ledger, '--key', join(dir, 'ledger.pub')])
    expect(verified.code, verified.stdout + verified.stderr).toBe(0)
    expect(verified.stdout).toMatch(/intact/)
  })

  it('a refused delete and a refused pull are recorded, the client anonymous without --htpasswd', async () => {
    const dir2 = await mkdtemp(join(tmpdir(), 'ferry-serve-ledger-del-'))
    try {
      const signed = [
        '  - name: signed',
        '    match: { repositories: ["registry.test/acme/*-signed"] }',
        '    require: { signature: { keys: [release.pub] } }',
        '',
      ]
      await writeFile(join(dir2, 'ferry.policy.yaml'), `${POLICY}${signed.join('\n')}`)
      await writeFile(join(dir2, 'release.pub'), keys.publicKeyPem)
      const file = join(dir2, 'l.jsonl')
      const s = await startFerryServe([
        '--root',
        join(dir2, 'root'),
        '--policy',
        join(dir2, 'ferry.policy.yaml'),
        '--name',
        'registry.test',
        '--ledger',
        file,
      ])
      const img = await src.image('del', LABELS)
      expect((await push(img.ref, `${s.host}/acme/api-prod:v1.0.0`)).code).toBe(0)
      const del = await skopeo('delete', '--tls-verify=false', `docker://${s.host}/acme/api-prod:v1.0.0`)
      expect(del.code).not.toBe(0)
      expect((await push(img.ref, `${s.host}/acme/api-signed:v1.0.0`)).code).toBe(0)
      const pulled = await skopeo(
        'inspect',
        '--raw',
        '--tls-verify=false',
        `docker://${s.host}/acme/api-signed:v1.0.0`,
      )
      expect(pulled.code).not.toBe(0)
      await s.stop()
      const { records } = await readLedger(file)
      expect(records.map((r) => [r.operation, r.verdict, r.actor?.startsWith('anonymous (')])).toEqual([
        ['push', 'written', true],
        ['delete', 'refused', true],
        ['push', 'written', true],
        ['pull', 'refused', true],
      ])
    } finally {
      await rm(dir2, { recursive: true, force: true })
    }
  })
})
