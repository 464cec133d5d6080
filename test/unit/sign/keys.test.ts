import { createHash, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FerryError } from '../../../src/errors.js'
import { sealEnvelope } from '../../../src/sign/cosign-envelope.js'
import {
  decryptPrivateKey,
  generateKeyPair,
  passwordFromEnv,
  publicKeyHint,
  publicKeyPem,
  readPublicKey,
} from '../../../src/sign/keys.js'
import { pemDecode, pemEncode } from '../../../src/sign/pem.js'

const FIXTURES = join(import.meta.dirname, '../../fixtures/sign')
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8')

function spki(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  return pub.export({ format: 'der', type: 'spki' }).toString('base64')
}

function thrown(fn: () => unknown): FerryError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError)
    return err as FerryError
  }
  throw new Error('expected an error')
}

/** Every 12-character window of the PEM body: none may appear in a message. */
function secretWindows(pem: string): string[] {
  const body = pem
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('')
  const decoded = Buffer.from(body, 'base64').toString('utf8')
  const out: string[] = []
  for (const text of [body, decoded])
    for (let i = 0; i + 12 <= text.length; i += 6) out.push(text.slice(i, i + 12))
  return out
}

function expectNoSecrets(message: string, pem: string) {
  for (const w of secretWindows(pem)) expect(message).not.toContain(w)
}

describe('cosign published test keys', () => {
  it.each([
    ['cosign.key', 'cosign.pub', 'ENCRYPTED COSIGN PRIVATE KEY'],
    ['sigstore.key', 'sigstore.pub', 'ENCRYPTED SIGSTORE PRIVATE KEY'],
  ])('decrypts %s (password "hello") to the key whose public half is %s', (keyFile, pubFile, pemType) => {
    const pem = fixture(keyFile)
    expect(pem).toContain(`BEGIN ${pemType}`)
    const key = decryptPrivateKey(pem, 'hello', { source: keyFile })
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
    const expectedPub = readPublicKey(fixture(pubFile))
    expect(spki(key)).toBe(spki(expectedPub))
    expect(publicKeyPem(key)).toBe(fixture(pubFile))
    // And the key signs what the published public key verifies.
    const sig = sign('sha256', Buffer.from('payload'), key)
    expect(verify('sha256', Buffer.from('payload'), expectedPub, sig)).toBe(true)
  })

  it('refuses the fixture holding a SEC1 key inside the envelope, as cosign does', () => {
    const err = thrown(() => decryptPrivateKey(fixture('cosign-ec-sec1.key'), 'hello', { source: 'ec.key' }))
    expect(err.code).toBe('UNSUPPORTED')
    expect(err.message).toMatch(/^key ec\.key: the decrypted key is not PKCS#8/)
  })

  it('reports a wrong password on cosign-test.key without key material in the message', () => {
    const pem = fixture('cosign-test.key')
    const err = thrown(() => decryptPrivateKey(pem, 'hello', { source: 'cosign-test.key' }))
    expect(err.code).toBe('CREDENTIALS')
    expect(err.message).toMatch(/^wrong password for key cosign-test\.key/)
    expect(err.message).not.toContain('hello')
    expectNoSecrets(err.message, pem)
  })

  it('reads a cosign-written public key', () => {
    const key = readPublicKey(fixture('cosign-test.pub'))
    expect(key.asymmetricKeyType).toBe('ec')
    expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1')
  })
})

describe('generateKeyPair', () => {
  it('writes cosign’s format: SIGSTORE PEM type, 64 columns, Go-ordered envelope, N=65536', () => {
    const { privateKeyPem, publicKeyPem: pub } = generateKeyPair('s3cret')
    const lines = privateKeyPem.trimEnd().split('\n')
    expect(lines[0]).toBe('-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----')
    expect(lines.at(-1)).toBe('-----END ENCRYPTED SIGSTORE PRIVATE KEY-----')
    expect(privateKeyPem.endsWith('\n')).toBe(true)
    for (const line of lines.slice(1, -2)) expect(line).toHaveLength(64)
    const body = pemDecode(privateKeyPem, 'k')[0]!.bytes
    // salt 32 bytes, nonce 24, ciphertext = 16-byte tag + 138-byte P-256 PKCS#8.
    expect(Buffer.from(body).toString('utf8')).toMatch(
      /^\{"kdf":\{"name":"scrypt","params":\{"N":65536,"r":8,"p":1\},"salt":"[A-Za-z0-9+/]{43}="\},"cipher":\{"name":"nacl\/secretbox","nonce":"[A-Za-z0-9+/]{32}"\},"ciphertext":"[A-Za-z0-9+/]{206}=="\}$/,
    )
    expect(pub).toMatch(
      /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/]{64}\n[A-Za-z0-9+/=]{60}\n-----END PUBLIC KEY-----\n$/,
    )
  })

  it('round-trips: generate → decrypt → sign → verify with the public PEM', () => {
    const pair = generateKeyPair('correct horse')
    const key = decryptPrivateKey(pair.privateKeyPem, 'correct horse')
    const pub = readPublicKey(pair.publicKeyPem)
    const payload = Buffer.from('{"critical":{}}')
    expect(verify('sha256', payload, pub, sign('sha256', payload, key))).toBe(true)
    expect(spki(key)).toBe(spki(pub))
  })

  it('allows an empty password, as cosign does', () => {
    const pair = generateKeyPair('')
    expect(decryptPrivateKey(pair.privateKeyPem, '').type).toBe('private')
    expect(thrown(() => decryptPrivateKey(pair.privateKeyPem, 'x')).code).toBe('CREDENTIALS')
  })

  it('rejects a wrong password with CREDENTIALS and names only the file', () => {
    const pair = generateKeyPair('right')
    const err = thrown(() => decryptPrivateKey(pair.privateKeyPem, 'wrong', { source: '/keys/release.key' }))
    expect(err.code).toBe('CREDENTIALS')
    expect(err.message).toBe('wrong password for key /keys/release.key (or the key file is damaged)')
    expectNoSecrets(err.message, pair.privateKeyPem)
  })
})

describe('decryptPrivateKey refusals', () => {
  function withParams(pem: string, params: Record<string, number>): string {
    const env = JSON.parse(Buffer.from(pemDecode(pem, 'k')[0]!.bytes).toString('utf8'))
    env.kdf.params = params
    return pemEncode('ENCRYPTED SIGSTORE PRIVATE KEY', Buffer.from(JSON.stringify(env)))
  }

  it.each([
    [{ N: 1048576, r: 8, p: 1 }],
    [{ N: 65536, r: 16, p: 1 }],
    [{ N: 65536, r: 8, p: 2 }],
    [{ N: 16384, r: 8, p: 1 }],
  ])('refuses scrypt parameters %j before deriving anything', (params) => {
    const pem = withParams(generateKeyPair('pw').privateKeyPem, params)
    const started = performance.now()
    const err = thrown(() => decryptPrivateKey(pem, 'pw', { source: 'k' }))
    // N=2^20 would need a GiB and seconds; refusing first takes well under this.
    expect(performance.now() - started).toBeLessThan(150)
    expect(err.code).toBe('UNSUPPORTED')
    expect(err.message).toContain(`N=${params.N} r=${params.r} p=${params.p} are not accepted`)
  })

  it('accepts the legacy N=32768 and the OWASP N=131072 levels', () => {
    expect(decryptPrivateKey(fixture('cosign.key'), 'hello').type).toBe('private') // N=32768
    // A 131072 envelope must at least get to the password check.
    const pem = withParams(generateKeyPair('pw').privateKeyPem, { N: 131072, r: 8, p: 1 })
    expect(thrown(() => decryptPrivateKey(pem, 'pw')).code).toBe('CREDENTIALS')
  })

  it('refuses a P-384 key inside a valid envelope', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    const der = privateKey.export({ format: 'der', type: 'pkcs8' })
    const pem = pemEncode('ENCRYPTED SIGSTORE PRIVATE KEY', sealEnvelope(der, 'pw'))
    const err = thrown(() => decryptPrivateKey(pem, 'pw', { source: 'p384.key' }))
    expect(err.code).toBe('UNSUPPORTED')
    expect(err.message).toContain('ecdsa P-384 keys are not supported')
  })

  it('refuses other PEM types and broken PEM without echoing the content', () => {
    const sec1 = [
      '-----BEGIN EC PRIVATE KEY-----',
      'MHcCAQEEIIGhcmCI5F7BPMH4r3pWCpQdAsveErdU5DjvVQerErJuoAoGCCqGSM49',
      'AwEHoUQDQgAE+9E3Qe+h25ofmz3Uo2T004Dfy49iX06MMbxf9rsGmLkOPrS0KYDl',
      '1QMfFuSbrtf8wTWNT9HNxrW/Foz39mDhHw==',
      '-----END EC PRIVATE KEY-----',
      '',
    ].join('\n')
    const wrongType = thrown(() => decryptPrivateKey(sec1, 'pw', { source: 'plain.key' }))
    expect(wrongType.code).toBe('USAGE')
    expect(wrongType.message).toContain('found "EC PRIVATE KEY"')
    expectNoSecrets(wrongType.message, sec1)

    const garbled = sec1
      .replace('EC PRIVATE KEY', 'ENCRYPTED SIGSTORE PRIVATE KEY')
      .replace(/EC PRIVATE KEY-----\n$/, 'ENCRYPTED SIGSTORE PRIVATE KEY-----\n')
    const notJson = thrown(() => decryptPrivateKey(garbled, 'pw', { source: 'garbled.key' }))
    expect(notJson.code).toBe('USAGE')
    expectNoSecrets(notJson.message, garbled)

    const badBase64 =
      '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nnot*base64*at*all\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n'
    const b64 = thrown(() => decryptPrivateKey(badBase64, 'pw'))
    expect(b64.message).not.toContain('not*base64')
    expect(thrown(() => decryptPrivateKey('no pem here', 'pw', { source: 'x.key' })).message).toBe(
      'x.key: no PEM block found',
    )
  })
})

describe('verification key types', () => {
  const pemOf = (key: KeyObject) => publicKeyPem(key)

  it.each([
    ['rsa', { modulusLength: 512 }, 'rsa 512-bit'],
    ['rsa', { modulusLength: 1024 }, 'rsa 1024-bit'],
    ['ec', { namedCurve: 'secp256k1' }, 'ec secp256k1'],
    ['ec', { namedCurve: 'prime192v1' }, 'ec prime192v1'],
    ['ed448', {}, 'ed448'],
  ] as const)('refuses %s %j, naming the key type', (type, opts, name) => {
    const { publicKey } = generateKeyPairSync(type as 'rsa', opts as { modulusLength: number })
    const err = thrown(() => readPublicKey(pemOf(publicKey), { source: 'weak.pub' }))
    expect(err.code).toBe('UNSUPPORTED')
    expect(err.message).toBe(
      `weak.pub: ${name} public keys are not accepted; use ECDSA P-256/P-384/P-521, RSA of at least 2048 bits or Ed25519 (what cosign accepts)`,
    )
  })

  it.each([
    ['ec', { namedCurve: 'P-256' }],
    ['ec', { namedCurve: 'P-384' }],
    ['ec', { namedCurve: 'P-521' }],
    ['rsa', { modulusLength: 2048 }],
    ['ed25519', {}],
  ] as const)('accepts %s %j', (type, opts) => {
    const { publicKey } = generateKeyPairSync(type as 'rsa', opts as { modulusLength: number })
    expect(readPublicKey(pemOf(publicKey)).type).toBe('public')
  })
})

describe('helpers', () => {
  it('publicKeyHint is base64 SHA-256 of the SPKI DER (cosign’s key id)', () => {
    const key = readPublicKey(fixture('sigstore.pub'))
    const der = key.export({ format: 'der', type: 'spki' })
    expect(publicKeyHint(key)).toBe(createHash('sha256').update(der).digest('base64'))
    expect(publicKeyHint(decryptPrivateKey(fixture('sigstore.key'), 'hello'))).toBe(publicKeyHint(key))
  })

  it('passwordFromEnv prefers FERRY_PASSWORD, falls back to COSIGN_PASSWORD, keeps empty strings', () => {
    expect(passwordFromEnv({ FERRY_PASSWORD: 'a', COSIGN_PASSWORD: 'b' })).toBe('a')
    expect(passwordFromEnv({ COSIGN_PASSWORD: 'b' })).toBe('b')
    expect(passwordFromEnv({ FERRY_PASSWORD: '', COSIGN_PASSWORD: 'b' })).toBe('')
    expect(passwordFromEnv({})).toBeUndefined()
  })
})
