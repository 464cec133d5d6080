import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isFerryError } from '../../../src/errors.js'
import {
  environmentKeySet,
  loadPolicy,
  policyJsonSchema,
  withPolicyTrust,
} from '../../../src/policy/index.js'
import { keyFingerprint } from '../../../src/sign/keys.js'
import { loadKeySet } from '../../../src/supply/key-files.js'
import { makeKeys, type TestKeys, tempDir } from '../../supply/helpers.js'

// Key entries with windows and the trust block, as the policy file spells them: no registry.
let tmp: Awaited<ReturnType<typeof tempDir>>
let oldKeys: TestKeys
let newKeys: TestKeys

beforeAll(async () => {
  tmp = await tempDir('ferry-policy-trust-')
  oldKeys = makeKeys()
  newKeys = makeKeys()
  await writeFile(join(tmp.dir, 'old.pub'), oldKeys.publicKeyPem)
  await writeFile(join(tmp.dir, 'new.pub'), newKeys.publicKeyPem)
})
afterAll(() => tmp?.remove())

async function policyFile(yaml: string): Promise<string> {
  const path = join(tmp.dir, `p-${Math.random().toString(36).slice(2)}.yaml`)
  await writeFile(path, yaml)
  return path
}

async function loadError(yaml: string): Promise<string> {
  const path = await policyFile(yaml)
  try {
    await loadPolicy(path)
  } catch (err) {
    expect(isFerryError(err, 'USAGE')).toBe(true)
    return (err as Error).message.replace(path, 'FILE')
  }
  throw new Error('expected the policy to be refused')
}

const env = (keys: string, more = '') =>
  `version: 1\n${more}environments:\n  - name: prod\n    match: { repositories: ["**"] }\n    require:\n      signature:\n        keys: ${keys}\n`

describe('the policy file: key windows and revoked keys', () => {
  it('reads a flat list of paths as before: no window, nothing revoked', async () => {
    const policy = await loadPolicy(await policyFile(env('[old.pub, new.pub]')))
    const keys = environmentKeySet(policy.environments[0]!)
    expect(keys.keys.map((k) => [k.path, k.notBefore, k.notAfter])).toEqual([
      ['old.pub', undefined, undefined],
      ['new.pub', undefined, undefined],
    ])
    expect(keys.revoked).toEqual([])
  })

  it('reads a path with its window, and revoked keys by fingerprint and by file', async () => {
    const oldFp = keyFingerprint(oldKeys.pub)
    const newFp = keyFingerprint(newKeys.pub)
    const policy = await loadPolicy(
      await policyFile(
        env(
          '\n          - old.pub\n          - { path: new.pub, notBefore: "2026-01-01T00:00:00Z", notAfter: "2027-06-30T23:59:59+02:00" }',
          `trust:\n  revoked:\n    - ${oldFp}\n    - new.pub\n`,
        ),
      ),
    )
    const keys = environmentKeySet(policy.environments[0]!)
    expect(keys.keys[1]).toMatchObject({
      path: 'new.pub',
      fingerprint: newFp,
      notBefore: '2026-01-01T00:00:00Z',
      notAfter: '2027-06-30T23:59:59+02:00',
    })
    expect(keys.revoked.map((r) => [r.fingerprint, r.path, r.key !== undefined])).toEqual([
      [oldFp, undefined, false],
      [newFp, 'new.pub', true],
    ])
    expect(policy.trust.keys.map((k) => k.name)).toEqual(['old.pub', 'new.pub'])
  })

  it('gives a --key the window the policy sets for it, and adds the policy revocations', async () => {
    const policy = await loadPolicy(
      await policyFile(
        env(
          '[{ path: new.pub, notAfter: "2020-01-01T00:00:00Z" }]',
          `trust: { revoked: [${keyFingerprint(oldKeys.pub)}] }\n`,
        ),
      ),
    )
    const flags = await loadKeySet([join(tmp.dir, 'new.pub')], [join(tmp.dir, 'old.pub')])
    const merged = withPolicyTrust(flags, policy)
    expect(merged.keys[0]).toMatchObject({ path: join(tmp.dir, 'new.pub'), notAfter: '2020-01-01T00:00:00Z' })
    expect(merged.revoked.map((r) => r.fingerprint)).toEqual([
      keyFingerprint(oldKeys.pub),
      keyFingerprint(oldKeys.pub),
    ])
  })

  it.each([
    [
      'a time without its zone',
      env('[{ path: new.pub, notAfter: "2026-01-01T00:00:00" }]'),
      /^FILE:7:\d+: environments\[0\]\.require\.signature\.keys\[0\]\.notAfter: an RFC 3339 time with its zone/,
    ],
    [
      'a window that is never open',
      env('[{ path: new.pub, notBefore: "2027-01-01T00:00:00Z", notAfter: "2026-01-01T00:00:00Z" }]'),
      /^FILE:7:\d+: environments\[0\]\.require\.signature\.keys\[0\]: notBefore is after notAfter/,
    ],
    [
      'a misspelt window field',
      env('[{ path: new.pub, notafter: "2026-01-01T00:00:00Z" }]'),
      /^FILE:7:\d+: environments\[0\]\.require\.signature\.keys\[0\]\.notafter: unknown field/,
    ],
    [
      'a key that is neither a path nor an entry',
      env('[42]'),
      /^FILE:7:\d+: environments\[0\]\.require\.signature\.keys\[0\]: a key: the path of a public key file/,
    ],
    [
      'a fingerprint cut short',
      env('[new.pub]', 'trust:\n  revoked: ["sha256:abc"]\n'),
      /^FILE:3:\d+: trust\.revoked\[0\]: a fingerprint is sha256: and 64 lower-case hex digits/,
    ],
    [
      'an unknown field in the trust block',
      env('[new.pub]', 'trust:\n  revoke: [old.pub]\n'),
      /^FILE:3:3: trust\.revoke: unknown field/,
    ],
  ])('refuses %s, pointing at it', async (_what, yaml, want) => {
    expect(await loadError(yaml)).toMatch(want)
  })

  it('refuses two windows for one key, naming both environments', async () => {
    const yaml = `version: 1
environments:
  - name: prod
    match: { repositories: ["**/*-prod"] }
    require: { signature: { keys: [{ path: new.pub, notAfter: "2027-01-01T00:00:00Z" }] } }
  - name: dev
    match: { repositories: ["**"] }
    require: { signature: { keys: [new.pub] } }
`
    expect(await loadError(yaml)).toBe(
      `FILE: key new.pub (${keyFingerprint(newKeys.pub)}) has two validity windows (notAfter 2027-01-01T00:00:00Z in environment prod, no window in environment dev); give every entry of a key the same notBefore and notAfter`,
    )
  })

  it('names a revoked key file that is not there', async () => {
    await expect(
      loadPolicy(await policyFile(env('[new.pub]', 'trust: { revoked: [gone.pub] }\n'))),
    ).rejects.toThrow(/gone\.pub/)
  })

  it('puts both key shapes and the trust block in the JSON Schema', () => {
    const text = JSON.stringify(policyJsonSchema())
    const schema = JSON.parse(text) as {
      properties: { trust: { properties: { revoked: { items: { type: string } } } } }
    }
    expect(schema.properties.trust.properties.revoked.items.type).toBe('string')
    const keys = JSON.stringify(
      (
        policyJsonSchema() as {
          properties: { environments: { items: { properties: { require: unknown } } } }
        }
      ).properties.environments.items.properties.require,
    )
    expect(keys).toContain('"notBefore"')
    expect(keys).toContain('"notAfter"')
    expect(keys).toContain('"anyOf"')
  })
})
