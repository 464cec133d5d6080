import { generateKeyPairSync, sign, verify } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { FerryError } from '../../src/errors.js'
import { redact } from '../../src/log.js'
import { describePkcs11Uri, ecdsaRawToDer, parsePkcs11Uri } from '../../src/sign/index.js'

function refusal(text: string): string {
  try {
    parsePkcs11Uri(text)
  } catch (err) {
    expect(err).toBeInstanceOf(FerryError)
    expect((err as FerryError).code).toBe('USAGE')
    return (err as FerryError).message
  }
  throw new Error(`accepted ${text}`)
}

describe('PKCS#11 URIs (RFC 7512)', () => {
  it('reads the form cosign takes: token, object, module-path, pin-source', () => {
    expect(
      parsePkcs11Uri(
        'pkcs11:token=T;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/pin',
      ),
    ).toEqual({
      token: 'T',
      object: 'k',
      modulePath: '/usr/lib/softhsm/libsofthsm2.so',
      pinSource: '/run/pin',
    })
  })

  it('percent-decodes values, id to raw bytes, and keeps + a plus (RFC 7512, unlike url.ParseQuery)', () => {
    const uri = parsePkcs11Uri('pkcs11:token=My%20Token;object=a+b%3Bc;id=%01%A2%ff;slot-id=7;serial=00ab')
    expect(uri.token).toBe('My Token')
    expect(uri.object).toBe('a+b;c')
    expect([...uri.id!]).toEqual([0x01, 0xa2, 0xff])
    expect(uri.slotId).toBe(7n)
    expect(uri.serial).toBe('00ab')
    expect(describePkcs11Uri(uri)).toBe(
      'pkcs11:token=My%20Token;serial=00ab;slot-id=7;object=a%2Bb%3Bc;id=%01%a2%ff',
    )
  })

  it('takes pin-source as a path or a file: URI, and refuses programs and other schemes', () => {
    expect(parsePkcs11Uri('pkcs11:object=k?pin-source=file:///run/secrets/p%20in').pinSource).toBe(
      '/run/secrets/p in',
    )
    expect(parsePkcs11Uri('pkcs11:object=k?pin-source=file:pin.txt').pinSource).toBe('pin.txt')
    expect(refusal('pkcs11:object=k?pin-source=|/bin/get-pin')).toContain('pin-source must be a file')
    expect(refusal('pkcs11:object=k?pin-source=https://vault/pin')).toContain('pin-source must be a file')
  })

  it('refuses what it would otherwise misread, naming only the attribute', () => {
    expect(refusal('pkcs11:token=T;object=k;object=j')).toContain('object appears twice')
    expect(refusal('pkcs11:token=T;object=k;library-version=2')).toContain(
      'path attribute "library-version" is not supported',
    )
    expect(refusal('pkcs11:token=T;object=k?module-name=softhsm2')).toContain(
      'query attribute "module-name" is not supported',
    )
    expect(refusal('pkcs11:token=T')).toContain('name the key with object=LABEL or id=')
    expect(refusal('pkcs11:token=T;id=%zz')).toContain('id has a "%" not followed by two hex digits')
    expect(refusal('pkcs11:token=T;object=k;slot-id=x')).toContain('slot-id must be a decimal number')
    expect(refusal('pkcs11:token=T;object=k;type=secret-key')).toContain('cannot name an ECDSA key pair')
    expect(refusal('pkcs11:object=k?pin-source=/p&pin-value=Secret-123')).toContain(
      'give pin-source or pin-value, not both',
    )
  })

  it('remembers a pin-value as a secret the moment it is read, encoded or not', () => {
    const message = refusal('pkcs11:object=k;bogus=1?pin-value=Uri%2DPin%2D4417')
    expect(message).not.toContain('Uri')
    expect(redact('typed Uri-Pin-4417 and Uri%2DPin%2D4417')).toBe('typed [redacted] and [redacted]')
  })
})

/** DER integers without a needless 0x00 and never negative: what Go's strict ASN.1 parser (cosign) accepts. */
function minimalIntegers(der: Buffer): boolean {
  if (der[0] !== 0x30 || der[1] !== der.length - 2) return false
  let at = 2
  for (let n = 0; n < 2; n++) {
    const len = der[at + 1]!
    const first = der[at + 2]!
    const second = der[at + 3] ?? 0
    if (der[at] !== 0x02 || first & 0x80 || (first === 0 && len > 1 && !(second & 0x80))) return false
    at += 2 + len
  }
  return at === der.length
}

describe('CKM_ECDSA output to DER', () => {
  it('gives the DER node verifies, for many keys and messages (leading zeros and high bits included)', () => {
    for (let i = 0; i < 200; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const data = Buffer.from(`message ${i}`)
      // ieee-p1363 is r||s, 32 bytes each: exactly what a token's CKM_ECDSA returns.
      const raw = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' })
      const der = ecdsaRawToDer(raw)
      expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true)
      expect(minimalIntegers(der), der.toString('hex')).toBe(true)
    }
  })

  it('writes minimal integers: zero bytes dropped, one added before a high bit', () => {
    const r = Buffer.alloc(32)
    r[31] = 0x05
    const s = Buffer.alloc(32, 0xff)
    expect(ecdsaRawToDer(Buffer.concat([r, s])).toString('hex')).toBe(`3026020105022100${'ff'.repeat(32)}`)
  })
})
