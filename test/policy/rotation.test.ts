import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { keyFiles, SIGN_ENV } from '../serve/policy-helpers.js'
import { pushTestImage, registryTarget, tempDir } from '../supply/helpers.js'

/**
 * A key rotation, judged by every command that verifies: v1.0.0 is signed by the old key and the new
 * one, v1.0.1 by the old key only, and the old key is revoked (by fingerprint, its file gone from the
 * policy). verify, policy check, promote, pin (--key and --policy) and bundle verify give one verdict:
 * v1.0.0 passes on the new key's signature, v1.0.1 fails and the old key is named as revoked. The
 * registry is the CNCF distribution on loopback; serve --policy's gate has its own file
 * (test/serve/policy-rotation.test.ts).
 */
describe('key rotation: one trust decision for every command', { timeout: 240_000 }, () => {
  let registry: Distribution
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let oldKey: Awaited<ReturnType<typeof keyFiles>>
  let newKey: Awaited<ReturnType<typeof keyFiles>>
  let oldFp: string
  let newFp: string
  /** keys [new.pub], the old key revoked by fingerprint. */
  let revoking: string
  let both: string
  let oldOnly: string

  const policyYaml = (keys: string, trust = '') => `version: 1
environments:
  - name: prod
    match: { repositories: ["**/*-prod"] }
    require:
      signature: { keys: ${keys} }
${trust}`

  async function policy(name: string, keys: string, trust = ''): Promise<string> {
    const path = join(tmp.dir, name)
    await writeFile(path, policyYaml(keys, trust))
    return path
  }

  const sign = async (ref: string, key: string) => {
    const r = await ferry(['sign', ref, '--key', key, '--format', 'both'], { env: SIGN_ENV })
    expect(r.code, r.stderr).toBe(0)
  }

  beforeAll(async () => {
    registry = await startDistribution()
    tmp = await tempDir('ferry-rotation-')
    oldKey = await keyFiles(tmp.dir, 'old')
    newKey = await keyFiles(tmp.dir, 'new')
    oldFp = (await ferry(['key', 'fingerprint', oldKey.pub])).stdout.trim()
    newFp = (await ferry(['key', 'fingerprint', newKey.pub])).stdout.trim()
    expect(oldFp).toMatch(/^sha256:[0-9a-f]{64}$/)
    const target = registryTarget(registry.host, 'acme/api')
    await pushTestImage(target, 'v1.0.0')
    await pushTestImage(target, 'v1.0.1')
    await target.close()
    both = `${registry.host}/acme/api:v1.0.0`
    oldOnly = `${registry.host}/acme/api:v1.0.1`
    // Before the rotation: both releases signed with the old key (classic .sig and a bundle referrer).
    await sign(both, oldKey.key)
    await sign(oldOnly, oldKey.key)
    // The rotation: the current release re-signed with the new key, the other one not.
    await sign(both, newKey.key)
    revoking = await policy('revoking.yaml', '[new.pub]', `trust:\n  revoked: [${oldFp}]\n`)
    // Seven CLI runs: past the default hook timeout on two busy cores.
  }, 180_000)
  afterAll(async () => {
    await registry?.stop()
    await tmp?.remove()
  })

  it('verify --policy: the new key passes, the old key is named as revoked; only-old fails', async () => {
    const passed = await ferry(['verify', both, '--key', newKey.pub, '--policy', revoking])
    expect(passed.code, passed.stderr).toBe(0)
    expect(passed.stdout).toContain(`by ${newKey.pub} (${newFp})`)
    // Both schemes, each signed by both keys: two count, two are named as the old key's, revoked.
    expect(passed.stdout.match(/^ {2}ok {4}(classic|bundle) .* by /gm)).toHaveLength(2)
    expect(passed.stdout.match(new RegExp(`FAIL .*: signed with revoked key ${oldFp}$`, 'gm'))).toHaveLength(
      2,
    )

    const failed = await ferry(['verify', oldOnly, '--key', newKey.pub, '--policy', revoking, '--json'])
    expect(failed.code).toBe(5)
    expect(failed.stderr).toContain(`signed with revoked key ${oldFp}`)
    const report = JSON.parse(failed.stdout) as {
      ok: boolean
      signatures: { ok: boolean; key?: { fingerprint: string; status: string } }[]
    }
    expect(report.ok).toBe(false)
    expect(report.signatures.map((s) => [s.ok, s.key?.fingerprint, s.key?.status])).toEqual([
      [false, oldFp, 'revoked'],
      [false, oldFp, 'revoked'],
    ])
  })

  it('verify --revoked takes a fingerprint or a key file: the same verdicts', async () => {
    const asFile = await ferry([
      'verify',
      oldOnly,
      '--key',
      oldKey.pub,
      '--key',
      newKey.pub,
      '--revoked',
      oldKey.pub,
    ])
    expect(asFile.code).toBe(5)
    expect(asFile.stderr).toContain(`signed with revoked key ${oldKey.pub} (${oldFp})`)
    const byFp = await ferry(['verify', both, '--key', oldKey.pub, '--key', newKey.pub, '--revoked', oldFp])
    expect(byFp.code, byFp.stdout).toBe(0)
    expect(byFp.stdout).toMatch(/requirements:\n {2}ok {4}signature: 2 of 4 signatures verify, by /)
    // Without the revocation, the old key's signature still counts: what there was before.
    expect((await ferry(['verify', oldOnly, '--key', oldKey.pub])).code).toBe(0)
  })

  it('policy check: pass on the new key, fail naming the revoked key (exit 7)', async () => {
    const r = await ferry([
      'policy',
      'check',
      both,
      oldOnly,
      '--policy',
      revoking,
      '--environment',
      'prod',
      '--json',
    ])
    expect(r.code).toBe(7)
    const doc = JSON.parse(r.stdout) as {
      results: { checks: { rule: string; result: string; message: string; evidence: unknown }[] }[]
    }
    const [pass, fail] = doc.results.map((x) => x.checks.find((c) => c.rule === 'signature')!)
    expect(pass!.result).toBe('pass')
    expect(pass!.message).toContain(`new.pub (${newFp}) verifies classic`)
    expect(pass!.message).toContain(`not counted: classic`)
    expect(pass!.message).toContain(`signed with revoked key ${oldFp}`)
    expect(pass!.evidence).toMatchObject({
      key: 'new.pub',
      fingerprint: newFp,
      keys: [{ fingerprint: newFp, path: 'new.pub', status: 'trusted' }],
    })
    expect(fail!.result).toBe('fail')
    expect(fail!.message).toMatch(
      new RegExp(
        `^no signature verifies with new\\.pub: none of 2 signatures .*: signed with revoked key ${oldFp}$`,
      ),
    )
  })

  it('promote: the dual-signed release goes, the old-only one is refused naming the revoked key', async () => {
    const prod = `${registry.host}/acme/api-prod`
    const ok = await ferry(['promote', both, prod, '--policy', revoking])
    expect(ok.code, ok.stderr).toBe(0)
    const refused = await ferry(['promote', oldOnly, prod, '--policy', revoking])
    expect(refused.code).toBe(7)
    expect(refused.stderr).toContain('signature (environment prod): no signature verifies with new.pub')
    expect(refused.stderr).toContain(`signed with revoked key ${oldFp}`)
  })

  it('pin --key --revoked and pin --policy: the same verdicts', async () => {
    const compose = (ref: string) => `services:\n  api:\n    image: ${ref}\n`
    await writeFile(join(tmp.dir, 'both.yaml'), compose(both))
    await writeFile(join(tmp.dir, 'old.yaml'), compose(oldOnly))
    const pin = (file: string, ...how: string[]) =>
      ferry([
        'pin',
        join(tmp.dir, file),
        '--registry',
        registry.host,
        ...how,
        '--out',
        join(tmp.dir, `out-${file}-${how[0]}`),
      ])
    const byKey = ['--key', newKey.pub, '--key', oldKey.pub, '--revoked', oldFp]
    const byPolicy = ['--policy', revoking, '--environment', 'prod']
    for (const how of [byKey, byPolicy]) {
      const ok = await pin('both.yaml', ...how)
      expect(ok.code, ok.stderr).toBe(0)
      const lock = JSON.parse(
        await readFile(join(tmp.dir, `out-both.yaml-${how[0]}`, 'ferry.lock.json'), 'utf8'),
      )
      expect(lock.images[0].verified).toBe(true)
      const refused = await pin('old.yaml', ...how, '--json')
      expect(refused.code).toBe(5)
      const report = JSON.parse(refused.stdout) as {
        files: { images: { verdict: string; messages: string[] }[] }[]
      }
      const image = report.files[0]!.images[0]!
      expect(image.verdict).toBe('failed')
      // Named with its path where a --key file gave it one; the policy knows it by fingerprint alone.
      expect(image.messages.join('\n')).toMatch(
        new RegExp(`signed with revoked key (\\S+old\\.pub \\()?${oldFp}`),
      )
    }
    // The lock file of a --key pin names the key that counted, by fingerprint.
    const lock = JSON.parse(await readFile(join(tmp.dir, 'out-both.yaml---key', 'ferry.lock.json'), 'utf8'))
    expect(lock.images[0].evidence.keys).toEqual([newFp])
  })

  it('bundle verify --policy: the same verdict per image; a bundle signed by the revoked key is refused', async () => {
    const create = async (name: string, image: string, key: string) => {
      const out = join(tmp.dir, name)
      const r = await ferry(['bundle', 'create', '--image', image, '--output', out, '--key', key], {
        env: SIGN_ENV,
      })
      expect(r.code, r.stderr).toBe(0)
      return out
    }
    const dual = await create('dual.tar', both, newKey.key)
    const old = await create('old.tar', oldOnly, newKey.key)
    const verify = (file: string, ...more: string[]) =>
      ferry(['bundle', 'verify', file, '--key', newKey.pub, '--policy', revoking, ...more])

    const ok = await verify(dual)
    expect(ok.code, ok.stdout).toBe(0)
    expect(ok.stdout).toContain(`signature verified with ${newKey.pub} (${newFp})`)
    expect(ok.stdout).toMatch(/ok +signature: 2 of 4 signatures verify, by /)
    const refused = await verify(old, '--json')
    expect(refused.code).toBe(5)
    const report = JSON.parse(refused.stdout) as { images: { ok: boolean; checks: { detail: string }[] }[] }
    expect(report.images[0]!.ok).toBe(false)
    expect(report.images[0]!.checks.map((c) => c.detail).join('\n')).toContain(
      `signed with revoked key ${oldFp}`,
    )

    // The bundle's own signature: made with the old key, it is refused by verify and by import.
    const byOld = await create('by-old.tar', both, oldKey.key)
    const keys = ['--key', oldKey.pub, '--key', newKey.pub, '--policy', revoking]
    const verified = await ferry(['bundle', 'verify', byOld, ...keys])
    expect(verified.code).toBe(5)
    expect(verified.stderr).toContain(
      `ferry-bundle.json.sig: signed with revoked key ${oldKey.pub} (${oldFp})`,
    )
    const imported = await ferry([
      'bundle',
      'import',
      byOld,
      '--to',
      `oci:${join(tmp.dir, 'imported')}`,
      ...keys,
    ])
    expect(imported.code).toBe(5)
    expect(imported.stderr).toContain(`signed with revoked key ${oldKey.pub} (${oldFp})`)
    const good = await ferry(['bundle', 'import', dual, '--to', `oci:${join(tmp.dir, 'imported')}`, ...keys])
    expect(good.code, good.stderr).toBe(0)
    expect(good.stderr).toContain(`bundle signature verified with ${newKey.pub} (${newFp})`)
  })

  it('audit: drift for the release signed only by the revoked key, none for the re-signed one', async () => {
    // The same keys and trust block, the environment matched to the repository the releases are in.
    const auditing = join(tmp.dir, 'auditing.yaml')
    await writeFile(auditing, (await readFile(revoking, 'utf8')).replace('["**/*-prod"]', '["**/acme/api"]'))
    const r = await ferry(['audit', `${registry.host}/acme/api`, '--policy', auditing, '--json'])
    expect(r.code, r.stderr).toBe(2)
    const doc = JSON.parse(r.stdout) as { findings: { kind: string; image: string; message: string }[] }
    const signature = doc.findings.filter((f) => f.kind === 'signature')
    expect(signature.map((f) => f.image)).toEqual([oldOnly])
    expect(signature[0]!.message).toContain(`signed with revoked key ${oldFp}`)
  })

  it('an expired key fails, its notAfter in the message', async () => {
    const expired = await policy(
      'expired.yaml',
      `[{ path: old.pub, notAfter: "2020-01-01T00:00:00Z" }, new.pub]`,
    )
    const checked = await ferry(['policy', 'check', oldOnly, '--policy', expired, '--environment', 'prod'])
    expect(checked.code).toBe(7)
    expect(checked.stdout).toContain(
      `signed with key old.pub (${oldFp}), expired: notAfter 2020-01-01T00:00:00Z has passed`,
    )
    const verified = await ferry(['verify', oldOnly, '--key', oldKey.pub, '--policy', expired])
    expect(verified.code).toBe(5)
    expect(verified.stderr).toContain('expired: notAfter 2020-01-01T00:00:00Z has passed')
    // A key not valid yet is refused the same way, with its notBefore.
    const early = await policy('early.yaml', `[{ path: old.pub, notBefore: "2999-01-01T00:00:00Z" }]`)
    const notYet = await ferry(['policy', 'check', oldOnly, '--policy', early, '--environment', 'prod'])
    expect(notYet.code).toBe(7)
    expect(notYet.stdout).toContain('not valid yet: notBefore 2999-01-01T00:00:00Z')
  })

  it('a flat list of key paths, no trust block, still verifies with either key', async () => {
    const flat = await policy('flat.yaml', '[old.pub, new.pub]')
    const r = await ferry(['policy', 'check', both, oldOnly, '--policy', flat, '--environment', 'prod'])
    expect(r.code, r.stdout).toBe(0)
    expect(r.stdout).toContain(`old.pub (${oldFp}) verifies classic`)
  })
})
