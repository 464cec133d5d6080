import { describe, expect, it } from 'vitest'
import { clipMiddle, jsonTerminalSafe, redact, rememberSecret, terminalSafe } from '../../src/log.js'

describe('redact', () => {
  it.each([
    ['Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig', 'eyJhbGci'],
    ['authorization: Basic dXNlcjpodW50ZXIy', 'dXNlcjpodW50ZXIy'],
    ['GET https://user:hunter2@reg.example.com/v2/', 'hunter2'],
    ['token response {"token":"abc.def.ghi","access_token":"zzz123"}', 'abc.def.ghi'],
    ['?password=hunter2&x=1', 'hunter2'],
    ['{"password": "hunter2"}', 'hunter2'],
    ["password: 'hunter2'", 'hunter2'],
    ['auth:dXNlcjpodW50ZXIy', 'dXNlcjpodW50ZXIy'],
    ['REGISTRY_PASSWORD = hunter2', 'hunter2'],
    ['PATCH http://reg/v2/a/blobs/uploads/u1?_state=c2Vzc2lvbi1zZWNyZXQ -> 202', 'c2Vzc2lvbi1zZWNyZXQ'],
  ])('removes the secret from %s', (input, secret) => {
    const out = redact(input)
    expect(out).not.toContain(secret)
    expect(out).toContain('[redacted]')
  })

  it.each([
    'GET http://127.0.0.1:5000/v2/app/manifests/sha256:abc -> 200',
    'Password: needs a terminal; pass it on standard input instead',
    'token: service reg.example refused a token as ci',
    'auth: no credentials for reg.example',
    'copy reg.example/x/auth:1 to reg.example/ci/token:2: the source reg.example: MANIFEST_UNKNOWN',
  ])('leaves ordinary text alone: %s', (line) => {
    expect(redact(line)).toBe(line)
  })
})

describe('known secrets', () => {
  it('redacts a remembered value wherever it appears, raw, JSON- or URL-escaped', () => {
    rememberSecret('hunter"22 x')
    expect(redact('denied: user bob with hunter"22 x is wrong')).toBe(
      'denied: user bob with [redacted] is wrong',
    )
    expect(redact('{"message":"hunter\\"22 x"}')).toBe('{"message":"[redacted]"}')
    expect(redact('?q=hunter%2222%20x')).toBe('?q=[redacted]')
  })

  it('ignores values too short to tell from ordinary words', () => {
    rememberSecret('abc')
    rememberSecret(undefined)
    expect(redact('abcdef abc')).toBe('abcdef abc')
  })
})

describe('terminal output', () => {
  it('escapes C0, C1, DEL, bidi controls and line separators; keeps newlines only when asked', () => {
    expect(terminalSafe('a\u001b[31mb\u0007c\u0000\u007f\u009b\u202e\u2066\u2028\r\n')).toBe(
      'a\\x1b[31mb\\x07c\\x00\\x7f\\x9b\\u202e\\u2066\\u2028\\x0d\\x0a',
    )
    expect(terminalSafe('one\ntwo\u001b', { keepNewlines: true })).toBe('one\ntwo\\x1b')
    expect(terminalSafe('ordinary text: é, ü, 日本')).toBe('ordinary text: é, ü, 日本')
    const json = JSON.stringify({ t: 'x\u202ey\u0085' })
    expect(jsonTerminalSafe(json)).toBe('{"t":"x\\u202ey\\u0085"}')
    expect(JSON.parse(jsonTerminalSafe(json))).toEqual({ t: 'x\u202ey\u0085' })
  })

  it('clips long values in the middle, keeping both ends', () => {
    expect(clipMiddle('short')).toBe('short')
    const clipped = clipMiddle(`start${'x'.repeat(1_000_000)}end`, 100)
    expect(clipped.length).toBeLessThan(110)
    expect(clipped).toMatch(/^startx+…\[999938 characters cut\]…x+end$/)
  })
})

describe('test environment', () => {
  it('keeps state (journals, locks) out of the home directory', () => {
    expect(process.env.XDG_STATE_HOME).toMatch(/ferry-test-state-/)
  })
})
