import { describe, expect, it } from 'vitest'
import { redact } from '../src/log.js'

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
  ])('leaves ordinary text alone: %s', (line) => {
    expect(redact(line)).toBe(line)
  })
})

describe('test environment', () => {
  it('keeps state (journals, locks) out of the home directory', () => {
    expect(process.env.XDG_STATE_HOME).toMatch(/ferry-test-state-/)
  })
})
