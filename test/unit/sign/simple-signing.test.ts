import { describe, expect, it } from 'vitest'
import { FerryError } from '../../../src/errors.js'
import { digestOf } from '../../../src/oci/digest.js'
import { compareGoKeys, goJsonText, sortedByGoKey } from '../../../src/sign/go-json.js'
import { parseStatement } from '../../../src/sign/in-toto.js'
import {
  decryptPrivateKey,
  readPublicKey,
  signClassic,
  verifyClassicSignature,
} from '../../../src/sign/index.js'
import { generateKeyPair } from '../../../src/sign/keys.js'
import { parseSimpleSigningPayload, simpleSigningPayload } from '../../../src/sign/simple-signing.js'
import { keyCollision } from '../../../src/sign/strict-json.js'

const IMAGE_DIGEST = 'sha256:18b9ff0d46d46d0c940627db1860be2d4369b865e393fc3f6971d5b13329f722'
// The payload cosign writes for this image (SIGNATURE_SPEC.md § Payloads shape), 245 bytes.
const EXAMPLE =
  '{"critical":{"identity":{"docker-reference":"registry.example.com/team/app"},"image":{"docker-manifest-digest":"sha256:18b9ff0d46d46d0c940627db1860be2d4369b865e393fc3f6971d5b13329f722"},"type":"cosign container image signature"},"optional":null}'

const text = (b: Uint8Array) => Buffer.from(b).toString('utf8')

describe('simpleSigningPayload', () => {
  it('produces cosign’s exact bytes without annotations', () => {
    const payload = simpleSigningPayload({
      dockerReference: 'registry.example.com/team/app',
      digest: IMAGE_DIGEST,
    })
    expect(text(payload)).toBe(EXAMPLE)
    expect(payload.byteLength).toBe(245)
    expect(digestOf(payload)).toBe('sha256:04d169e7302d8e8932e9d437badb0ae81c13be02574b46973240ac4cc68f6828')
  })

  it('treats empty annotations as none (Go nil map → null)', () => {
    const payload = simpleSigningPayload({
      dockerReference: 'registry.example.com/team/app',
      digest: IMAGE_DIGEST,
      annotations: {},
    })
    expect(text(payload)).toBe(EXAMPLE)
  })

  it('sorts annotation keys and escapes <, >, & as Go does', () => {
    const payload = simpleSigningPayload({
      dockerReference: 'reg.local:5000/a',
      digest: IMAGE_DIGEST,
      annotations: { zeta: '1', GIT_HASH: 'abc', note: 'a<b>&c' },
    })
    expect(text(payload)).toBe(
      `{"critical":{"identity":{"docker-reference":"reg.local:5000/a"},"image":{"docker-manifest-digest":"${IMAGE_DIGEST}"},"type":"cosign container image signature"},"optional":{"GIT_HASH":"abc","note":"a\\u003cb\\u003e\\u0026c","zeta":"1"}}`,
    )
  })

  it('rejects a malformed digest', () => {
    expect(() => simpleSigningPayload({ dockerReference: 'r/a', digest: 'sha256:abc' })).toThrow(
      /invalid digest/,
    )
  })
})

describe('parseSimpleSigningPayload', () => {
  it('reads back what was written, including Go-escaped annotations', () => {
    const payload = simpleSigningPayload({
      dockerReference: 'r.example/x',
      digest: IMAGE_DIGEST,
      annotations: { k: '<v>' },
    })
    expect(parseSimpleSigningPayload(payload)).toEqual({
      dockerReference: 'r.example/x',
      digest: IMAGE_DIGEST,
      annotations: { k: '<v>' },
    })
    expect(parseSimpleSigningPayload(new TextEncoder().encode(EXAMPLE)).annotations).toEqual({})
  })

  it('keeps unknown fields out of the way and refuses other documents', () => {
    const extra = EXAMPLE.replace('"optional":null', '"optional":null,"extra":1')
    expect(parseSimpleSigningPayload(new TextEncoder().encode(extra)).digest).toBe(IMAGE_DIGEST)
    const wrongType = EXAMPLE.replace('cosign container image signature', 'atomic container signature')
    for (const bad of ['not json', '{}', wrongType]) {
      const err = (() => {
        try {
          parseSimpleSigningPayload(new TextEncoder().encode(bad), 'layer sha256:1')
        } catch (e) {
          return e
        }
      })()
      expect(err).toBeInstanceOf(FerryError)
      expect((err as FerryError).code).toBe('VERIFY_FAILED')
      expect((err as FerryError).message).toMatch(/^layer sha256:1: /)
    }
  })
})

describe('payloads decoders would read two ways', () => {
  const OTHER_DIGEST = `sha256:${'b'.repeat(64)}`
  const critical = (digest: string) =>
    `{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"${digest}"},"type":"cosign container image signature"}`

  it('refuses a validly signed payload whose critical and Critical name different digests', () => {
    // JSON.parse reads the first (lower-case) key as it is; Go's decoder folds case and keeps the last.
    const payload = new TextEncoder().encode(
      `{"critical":${critical(IMAGE_DIGEST)},"Critical":${critical(OTHER_DIGEST)},"optional":null}`,
    )
    const pair = generateKeyPair('pw')
    const report = verifyClassicSignature({
      payload,
      signatureB64: signClassic(payload, decryptPrivateKey(pair.privateKeyPem, 'pw')),
      publicKey: readPublicKey(pair.publicKeyPem),
      expectedDigest: IMAGE_DIGEST,
    })
    expect(report.ok).toBe(false)
    expect(report.reason).toBe(
      'signature payload: keys "critical" and "Critical" that differ only in case (decoders would disagree on what it says)',
    )
  })

  it('refuses duplicate keys at any depth, in simple-signing payloads and in-toto statements', () => {
    const dup = `{"critical":{"identity":{"docker-reference":"r/x"},"image":{"docker-manifest-digest":"${IMAGE_DIGEST}","docker-manifest-digest":"${OTHER_DIGEST}"},"type":"cosign container image signature"},"optional":null}`
    expect(() => parseSimpleSigningPayload(new TextEncoder().encode(dup))).toThrow(
      'signature payload: duplicate key "docker-manifest-digest" (decoders would disagree on what it says)',
    )
    const statement = `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"${'a'.repeat(64)}","SHA256":"${'b'.repeat(64)}"}}],"predicateType":"x"}`
    expect(parseStatement(new TextEncoder().encode(statement)).reason).toBe(
      'the signed payload has keys "sha256" and "SHA256" that differ only in case (decoders would disagree on what it says)',
    )
    // Keys in different objects, and equal strings as values, are fine; escapes are compared decoded.
    expect(parseSimpleSigningPayload(new TextEncoder().encode(EXAMPLE)).digest).toBe(IMAGE_DIGEST)
    const escaped = '{"a":{"x":1},"b":{"x":"a"},"\\u0061x":"\\"}","c\\"":1}'
    expect(Object.keys(JSON.parse(escaped))).toEqual(['a', 'b', 'ax', 'c"'])
    expect(keyCollision(escaped)).toBeUndefined()
    const sneaky = '{"type":1,"\\u0054ype":2}'
    expect(() => parseSimpleSigningPayload(new TextEncoder().encode(sneaky))).toThrow(
      'keys "type" and "Type" that differ only in case',
    )
  })
})

describe('Go JSON encoding', () => {
  it('escapes HTML characters and line separators, replaces lone surrogates', () => {
    expect(goJsonText({ a: '<&>\u2028\u2029' })).toBe('{"a":"\\u003c\\u0026\\u003e\\u2028\\u2029"}')
    expect(goJsonText({ a: 'x\uD800y' })).toBe('{"a":"x\uFFFDy"}')
    expect(goJsonText({ a: '\b\f\n\u0001' })).toBe('{"a":"\\b\\f\\n\\u0001"}')
  })

  it('orders map keys by UTF-8 bytes, not UTF-16 units', () => {
    // UTF-8: U+FF5E is EF BD 9E, U+1F600 is F0 9F 98 80; UTF-16 puts the surrogate pair D83D DE00 first.
    const keys = ['\u{1F600}', '\uFF5E', 'b', 'B', 'a']
    expect(Object.keys(sortedByGoKey(Object.fromEntries(keys.map((k) => [k, 1]))))).toEqual([
      'B',
      'a',
      'b',
      '\uFF5E',
      '\u{1F600}',
    ])
    expect(compareGoKeys('\uFF5E', '\u{1F600}')).toBeLessThan(0)
    expect(['\uFF5E', '\u{1F600}'].sort()).toEqual(['\u{1F600}', '\uFF5E']) // what plain JS would do
  })
})
