import { describe, expect, it } from 'vitest'
import { FerryError } from '../../src/errors.js'
import { digestOf } from '../../src/oci/digest.js'
import { compareGoKeys, goJsonText, sortedByGoKey } from '../../src/sign/go-json.js'
import { parseSimpleSigningPayload, simpleSigningPayload } from '../../src/sign/simple-signing.js'

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
