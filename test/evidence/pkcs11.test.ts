import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CliResult } from '../helpers/cli.js'
import { SOFTHSM_MODULE, type SoftHsm, startSoftHsm } from '../helpers/softhsm.js'
import { evidenceDir, readEntries, run, tempDir } from './helpers.js'

/** `evidence pack --key pkcs11:…` and `evidence custody --key pkcs11:…` with a SoftHSM2 token of its own. */
describe('evidence signed with a PKCS#11 key (SoftHSM2)', { timeout: 180_000 }, () => {
  let hsm: SoftHsm
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let uri: string
  let dir: string
  /** Everything every run printed: the PIN must be in none of it. */
  const printed: string[] = []
  const inToken = async (args: string[]): Promise<CliResult> => {
    const r = await run(args, hsm.env)
    printed.push(r.stdout, r.stderr)
    return r
  }
  const pack = (output: string) =>
    inToken(['evidence', 'pack', dir, '--case', 'CASE-11', '--key', uri, '--output', output, '--json'])

  beforeAll(async () => {
    expect(existsSync(SOFTHSM_MODULE), `${SOFTHSM_MODULE} (Debian package softhsm2)`).toBe(true)
    hsm = await startSoftHsm({ label: 'evidence-hsm', pin: 'Evidence-Pin-5521-q' })
    tmp = await tempDir('pkcs11')
    dir = await evidenceDir(tmp.dir)
    uri = hsm.uri('object=analyst')
    const made = await inToken([
      'key',
      'generate',
      '--pkcs11',
      uri,
      '--output-key-prefix',
      join(tmp.dir, 'analyst'),
    ])
    expect(made.code, made.stderr).toBe(0)
  })
  afterAll(async () => {
    await hsm?.remove()
    await tmp?.cleanup()
  })

  it('signs the statement and custody events in the token, says the signature is not reproducible, keeps the PIN out', async () => {
    const first = join(tmp.dir, 'first.tar')
    const second = join(tmp.dir, 'second.tar')
    const a = await pack(first)
    expect(a.code, a.stderr).toBe(0)
    expect(JSON.parse(a.stdout)).toMatchObject({ signed: true, reproducible: false })
    expect(a.stderr).toContain('the token’s ECDSA signature is randomised')
    expect((await pack(second)).code).toBe(0)
    // Everything but the randomised signature is byte-identical.
    const [x, y] = await Promise.all([readEntries(first), readEntries(second)])
    const differing = x
      .filter((e, i) => e.header.name !== y[i]?.header.name || !e.body?.equals(y[i]!.body!))
      .map((e) => e.header.name)
    expect(differing).toEqual(['statement.intoto.json.sig'])
    expect(x).toHaveLength(y.length)

    const custody = await inToken([
      'evidence',
      'custody',
      first,
      '--custodian',
      'B. Courier',
      '--action',
      'transferred',
      '--key',
      uri,
    ])
    expect(custody.code, custody.stderr).toBe(0)
    const verified = await inToken([
      'evidence',
      'verify',
      first,
      '--key',
      join(tmp.dir, 'analyst.pub'),
      '--json',
    ])
    expect(verified.code, verified.stderr).toBe(0)
    const report = JSON.parse(verified.stdout)
    expect(report.signature).toBe('verified')
    expect(report.custody.map((e: { signature?: string }) => e.signature)).toEqual([undefined, 'verified'])

    expect(printed.join('\n')).not.toContain(hsm.pin)
  })
})
