import { generateKeyPairSync, sign } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { candidateKeys, type KeySet, signerOf } from '../../../src/sign/key-set.js'
import { keyFingerprint } from '../../../src/sign/keys.js'
import { recoverSigner } from '../../../src/sign/recover-key.js'
import {
  judgeSignature,
  keyStanding,
  nextChange,
  type Trust,
  type TrustedKey,
} from '../../../src/sign/trust.js'

// The trust decision alone: plain data in, a verdict out; no registry, no files.
const fp = (c: string) => `sha256:${c.repeat(64)}`
const OLD = fp('a')
const NEW = fp('b')
const WINDOWED = fp('c')
const STRANGER = fp('d')

const trust: Trust = {
  keys: [
    { fingerprint: NEW, path: 'new.pub' },
    { fingerprint: OLD, path: 'old.pub' },
    {
      fingerprint: WINDOWED,
      path: 'windowed.pub',
      notBefore: '2026-01-01T00:00:00Z',
      notAfter: '2026-12-31T23:59:59Z',
    },
  ],
  revoked: [{ fingerprint: OLD }],
}
const at = (iso: string) => new Date(iso)

describe('the trust decision: which signatures count', () => {
  it.each([
    ['a trusted key without a window', NEW, '2030-01-01T00:00:00Z', 'trusted'],
    ['a revoked key, though the verification lists it', OLD, '2030-01-01T00:00:00Z', 'revoked'],
    ['a key before its notBefore', WINDOWED, '2025-12-31T23:59:59Z', 'not-yet-valid'],
    ['a key at its notBefore (inclusive)', WINDOWED, '2026-01-01T00:00:00Z', 'trusted'],
    ['a key inside its window', WINDOWED, '2026-06-30T12:00:00Z', 'trusted'],
    ['a key at its notAfter (inclusive)', WINDOWED, '2026-12-31T23:59:59Z', 'trusted'],
    ['a key past its notAfter', WINDOWED, '2027-01-01T00:00:00Z', 'expired'],
    ['a key nobody listed', STRANGER, '2026-06-30T12:00:00Z', 'untrusted'],
  ])('%s: %s at %s is %s', (_what, key, now, status) => {
    expect(keyStanding(key, trust, at(now)).status).toBe(status)
  })

  it('revocation wins over a window that still holds, and over a listing with a path', () => {
    const both: Trust = { ...trust, revoked: [{ fingerprint: WINDOWED }] }
    expect(keyStanding(WINDOWED, both, at('2026-06-30T00:00:00Z'))).toEqual({
      fingerprint: WINDOWED,
      path: 'windowed.pub',
      notBefore: '2026-01-01T00:00:00Z',
      notAfter: '2026-12-31T23:59:59Z',
      status: 'revoked',
    })
  })

  it.each([
    ['a good signature by a trusted key counts', { ok: true }, NEW, { ok: true, reason: undefined }],
    [
      'a good signature by a revoked key does not, and says so naming the key',
      { ok: true },
      OLD,
      { ok: false, reason: `signed with revoked key old.pub (${OLD})` },
    ],
    [
      'a good signature by an expired key names its notAfter',
      { ok: true },
      WINDOWED,
      {
        ok: false,
        reason: `signed with key windowed.pub (${WINDOWED}), expired: notAfter 2026-12-31T23:59:59Z has passed`,
      },
    ],
    [
      'a signature for another digest keeps its own reason, whoever made it',
      { ok: false, reason: 'signature is for sha256:1, not sha256:2' },
      NEW,
      { ok: false, reason: 'signature is for sha256:1, not sha256:2' },
    ],
    [
      'a signature made with no key the verification holds never counts',
      { ok: true },
      undefined,
      { ok: false, reason: 'made with no key the verification holds' },
    ],
  ])('%s', (_what, checked, signer, want) => {
    const judged = judgeSignature(
      checked,
      signer === undefined ? undefined : { fingerprint: signer },
      trust,
      at('2027-06-01T00:00:00Z'),
    )
    expect({ ok: judged.ok, reason: judged.reason }).toEqual(want)
  })

  it('names a key not valid yet by its notBefore', () => {
    const judged = judgeSignature({ ok: true }, { fingerprint: WINDOWED }, trust, at('2025-06-01T00:00:00Z'))
    expect(judged.reason).toBe(
      `signed with key windowed.pub (${WINDOWED}), not valid yet: notBefore 2026-01-01T00:00:00Z`,
    )
    expect(judged.key?.status).toBe('not-yet-valid')
  })

  it('a key revoked by fingerprint alone is named by the path the signer was found with', () => {
    const judged = judgeSignature(
      { ok: true },
      { fingerprint: STRANGER, path: 'retired.pub' },
      { keys: [], revoked: [{ fingerprint: STRANGER }] },
      at('2027-01-01T00:00:00Z'),
    )
    expect(judged).toMatchObject({
      ok: false,
      reason: `signed with revoked key retired.pub (${STRANGER})`,
    })
  })

  it.each([
    ['no windows', [{ fingerprint: NEW }], '2026-06-30T00:00:00Z', undefined],
    ['before notBefore: then', trust.keys, '2025-06-30T00:00:00Z', '2026-01-01T00:00:00.000Z'],
    ['inside: just after notAfter', trust.keys, '2026-06-30T00:00:00Z', '2026-12-31T23:59:59.001Z'],
    ['past every bound', trust.keys, '2027-06-30T00:00:00Z', undefined],
  ] as [
    string,
    TrustedKey[],
    string,
    string | undefined,
  ][])('when a verdict must be made again: %s', (_what, keys, now, want) => {
    const next = nextChange(keys, at(now))
    expect(next === undefined ? undefined : new Date(next).toISOString()).toBe(want)
  })
})

describe('the key that made a signature', () => {
  const pair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const oldPair = pair()
  const newPair = pair()
  const message = Buffer.from('{"critical":{"image":{"docker-manifest-digest":"sha256:00"}}}')
  const byOld = sign('sha256', message, oldPair.privateKey)
  const oldFp = keyFingerprint(oldPair.publicKey)

  it('recovers a P-256 key revoked by fingerprint alone from the signature, and no other', () => {
    expect(recoverSigner(message, byOld, new Set([oldFp]))?.fingerprint).toBe(oldFp)
    expect(recoverSigner(message, byOld, new Set([keyFingerprint(newPair.publicKey)]))).toBeUndefined()
    // The same signature over other bytes recovers other keys: none of them is the revoked one.
    expect(recoverSigner(Buffer.from('other'), byOld, new Set([oldFp]))).toBeUndefined()
    // An Ed25519 signature cannot be recovered; it is recognised only with its public key file.
    const ed = generateKeyPairSync('ed25519')
    const edSig = sign(null, message, ed.privateKey)
    expect(recoverSigner(message, edSig, new Set([keyFingerprint(ed.publicKey)]))).toBeUndefined()
  })

  it('finds the signer among held keys first, then among keys revoked by fingerprint', () => {
    const set: KeySet = {
      keys: [{ key: newPair.publicKey, fingerprint: keyFingerprint(newPair.publicKey), path: 'new.pub' }],
      revoked: [{ fingerprint: oldFp }],
    }
    expect(candidateKeys(set).map((k) => k.path)).toEqual(['new.pub'])
    const b64 = (sig: Buffer) => sig.toString('base64')
    const byNew = sign('sha256', message, newPair.privateKey)
    expect(signerOf(set, message, b64(byNew))?.path).toBe('new.pub')
    expect(signerOf(set, message, b64(byOld))?.fingerprint).toBe(oldFp)
    expect(signerOf({ ...set, revoked: [] }, message, b64(byOld))).toBeUndefined()
    expect(signerOf(set, message, 'not base64 at all')).toBeUndefined()
  })
})
