import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shapeProblems } from '../../cli/json-shape.js'
import SignBlob from '../../commands/sign-blob.js'
import VerifyBlob from '../../commands/verify-blob.js'
import { ferry } from '../helpers/cli.js'
import { type SoftHsm, startSoftHsm } from '../helpers/softhsm.js'

/**
 * `ferry sign-blob` / `verify-blob` as a user runs them, each signature checked by openssl on its own
 * (cosign's detached format: base64 of an ECDSA P-256 SHA-256 DER signature), with a key file and with a
 * key in a SoftHSM2 token.
 */
describe('sign-blob and verify-blob', { timeout: 120_000 }, () => {
  let dir: string
  let file: string
  const env = { FERRY_PASSWORD: 'blob-pw-5512' }
  const opensslVerifies = (pub: string, sigB64: string, path: string) => {
    const der = join(dir, 'sig.der')
    return writeFile(der, Buffer.from(sigB64, 'base64')).then(
      () =>
        spawnSync('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', der, path], {
          encoding: 'utf8',
        }).stdout,
    )
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-blob-'))
    file = join(dir, 'payload.bin')
    await writeFile(file, Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 31) % 251)))
    const gen = await ferry(['key', 'generate', '--output-key-prefix', join(dir, 'release')], { env })
    expect(gen.code, gen.stderr).toBe(0)
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('signs with a key file: openssl and verify-blob accept it, the same bytes give the same signature', async () => {
    const sig = join(dir, 'payload.sig')
    const out = await ferry(
      ['sign-blob', file, '--key', join(dir, 'release.key'), '--output-signature', sig],
      {
        env,
      },
    )
    expect(out.code, out.stderr).toBe(0)
    const written = await readFile(sig, 'utf8')
    expect(written).toMatch(/^[A-Za-z0-9+/]+=*$/)
    expect(await opensslVerifies(join(dir, 'release.pub'), written, file)).toContain('Verified OK')

    const again = await ferry(['sign-blob', file, '--key', join(dir, 'release.key')], { env })
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toBe(`${written}\n`)

    const ok = await ferry(['verify-blob', file, '--key', join(dir, 'release.pub'), '--signature', sig])
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toMatch(/^Verified OK: .*payload\.bin \(sha256:[0-9a-f]{64}\)\n$/)
  })

  it('refuses a changed file, another key’s signature and a signature that is not base64 (exit 5)', async () => {
    const sig = join(dir, 'payload.sig')
    const tampered = join(dir, 'tampered.bin')
    await writeFile(tampered, Buffer.concat([await readFile(file), Buffer.from('x')]))
    const changed = await ferry([
      'verify-blob',
      tampered,
      '--key',
      join(dir, 'release.pub'),
      '--signature',
      sig,
    ])
    expect(changed.code).toBe(5)
    expect(changed.stderr).toMatch(
      /^ferry: .*tampered\.bin: the signature in .*payload\.sig does not verify it/,
    )

    const other = await ferry(['key', 'generate', '--output-key-prefix', join(dir, 'other')], { env })
    expect(other.code, other.stderr).toBe(0)
    const wrongKey = await ferry(['verify-blob', file, '--key', join(dir, 'other.pub'), '--signature', sig])
    expect(wrongKey.code).toBe(5)

    const garbage = join(dir, 'garbage.sig')
    await writeFile(garbage, 'not a signature at all\n')
    const bad = await ferry(['verify-blob', file, '--key', join(dir, 'release.pub'), '--signature', garbage])
    expect(bad.code).toBe(5)
  })

  it('--json prints the documented shapes', async () => {
    const signed = await ferry(['sign-blob', file, '--key', join(dir, 'release.key'), '--json'], { env })
    expect(signed.code, signed.stderr).toBe(0)
    const doc = JSON.parse(signed.stdout)
    expect(shapeProblems(SignBlob.jsonOutput, doc)).toEqual([])
    const sig = join(dir, 'json.sig')
    await writeFile(sig, doc.signature)
    const checked = await ferry([
      'verify-blob',
      file,
      '--key',
      join(dir, 'release.pub'),
      '--signature',
      sig,
      '--json',
    ])
    expect(checked.code, checked.stderr).toBe(0)
    expect(shapeProblems(VerifyBlob.jsonOutput, JSON.parse(checked.stdout))).toEqual([])
    expect(JSON.parse(checked.stdout)).toMatchObject({ verified: true, digest: doc.digest })
  })

  describe('with a key in a PKCS#11 token', () => {
    let hsm: SoftHsm
    beforeAll(async () => {
      hsm = await startSoftHsm({ label: 'blob-hsm' })
    })
    afterAll(async () => {
      await hsm?.remove()
    })

    it('signs in the token; the exported public key verifies with openssl and verify-blob', async () => {
      const uri = hsm.uri('object=blob')
      const pub = join(dir, 'token')
      const gen = await ferry(['key', 'generate', '--pkcs11', uri, '--output-key-prefix', pub], {
        env: hsm.env,
      })
      expect(gen.code, gen.stderr).toBe(0)
      const signed = await ferry(['sign-blob', file, '--key', uri], { env: hsm.env })
      expect(signed.code, signed.stderr).toBe(0)
      const b64 = signed.stdout.trim()
      expect(await opensslVerifies(`${pub}.pub`, b64, file)).toContain('Verified OK')
      const sig = join(dir, 'token.sig')
      await writeFile(sig, `${b64}\n`)
      const ok = await ferry(['verify-blob', file, '--key', `${pub}.pub`, '--signature', sig])
      expect(ok.code, ok.stderr).toBe(0)
      expect(`${signed.stdout}${signed.stderr}`).not.toContain(hsm.pin)
    })
  })
})
