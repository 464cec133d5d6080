import { createHash, generateKeyPairSync } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fulcioHandler, initializeCA, initializeCTLog, initializeTLog, rekorHandler } from '@sigstore/mock'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FerryError } from '../../src/errors.js'
import { type TrustedRoot, verifyBundleKeyless } from '../../src/sign/bundle-verify.js'
import { signBundleKeyless } from '../../src/sign/keyless.js'

// Fulcio and Rekor have no local build; @sigstore/mock's CA and log (real certificate issuing, real
// signed entries and inclusion proofs) stand in for them, served over loopback HTTP.
const DIGEST = 'sha256:18b9ff0d46d46d0c940627db1860be2d4369b865e393fc3f6971d5b13329f722'
const EMAIL = 'release@example.com'
const ISSUER = 'https://issuer.example.com'

let server: Server
let base: string
let root: TrustedRoot

function jwt(claims: Record<string, unknown>): string {
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
  // Fulcio's stand-in reads the claims without checking a signature.
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`
}

const token = jwt({
  iss: ISSUER,
  sub: EMAIL,
  email: EMAIL,
  email_verified: true,
  aud: 'sigstore',
  exp: Math.floor(Date.now() / 1000) + 600,
})

beforeAll(async () => {
  const p256 = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const caKeys = p256()
  const ctlog = await initializeCTLog(caKeys)
  const ca = await initializeCA(caKeys, ctlog)
  server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const tlog = await initializeTLog(base, p256())
  const handlers = [fulcioHandler(ca), rekorHandler(tlog)]
  server.on('request', (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', async () => {
      const handler = req.method === 'POST' ? handlers.find((h) => h.path === req.url) : undefined
      if (!handler) {
        res.writeHead(404).end()
        return
      }
      const out = await handler.fn(Buffer.concat(chunks).toString('utf8'))
      res.writeHead(out.statusCode, { 'content-type': out.contentType ?? 'text/plain' }).end(out.response)
    })
  })
  const validFor = { start: new Date(Date.now() - 3600_000) }
  const logKey = (rawBytes: Buffer) => ({ rawBytes, keyDetails: 5 /* PKIX_ECDSA_P256_SHA_256 */, validFor })
  root = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: base,
        certChain: { certificates: [{ rawBytes: Buffer.from(ca.rootCertificate.buffer) }] },
        validFor,
        operator: 'test',
      },
    ],
    tlogs: [
      {
        baseUrl: base,
        hashAlgorithm: 1, // SHA2_256
        publicKey: logKey(tlog.publicKey),
        logId: { keyId: createHash('sha256').update(tlog.publicKey).digest() },
        checkpointKeyId: undefined,
        operator: 'test',
      },
    ],
    ctlogs: [
      {
        baseUrl: base,
        hashAlgorithm: 1,
        publicKey: logKey(ctlog.publicKey),
        logId: { keyId: Buffer.from(ctlog.logID.buffer) },
        checkpointKeyId: undefined,
        operator: 'test',
      },
    ],
    timestampAuthorities: [],
  }
})

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

describe('keyless signing against Fulcio/Rekor stand-ins on loopback', () => {
  it('signs with a certificate and a tlog entry; verifies offline against the trusted root', async () => {
    const signed = await signBundleKeyless({
      digest: DIGEST,
      fulcioURL: base,
      rekorURL: base,
      identityToken: token,
      retries: 0,
    })
    const doc = JSON.parse(signed.bundleJson)
    expect(doc.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json')
    expect(doc.verificationMaterial.certificate.rawBytes).toBeTypeOf('string')
    expect(doc.verificationMaterial.tlogEntries).toHaveLength(1)
    expect(doc.verificationMaterial.tlogEntries[0].kindVersion.kind).toBe('intoto')

    const report = verifyBundleKeyless({
      bundleJson: signed.bundleJson,
      trustedRoot: root,
      expectedDigest: DIGEST,
      identity: { subjectAlternativeName: EMAIL, issuer: ISSUER },
    })
    expect(report.reason).toBeUndefined()
    expect(report.ok).toBe(true)
    expect(report.signer).toEqual({ subjectAlternativeName: EMAIL, issuer: ISSUER })
    expect(report.checked).toContain(`certificate identity is ${EMAIL}`)
    expect(report.notChecked).toEqual([])

    const wrongIdentity = verifyBundleKeyless({
      bundleJson: signed.bundleJson,
      trustedRoot: root,
      expectedDigest: DIGEST,
      identity: { subjectAlternativeName: 'someone@else.example' },
    })
    expect(wrongIdentity.ok).toBe(false)
    expect(wrongIdentity.reason).toMatch(/UNTRUSTED_SIGNER_ERROR/)

    const otherDigest = verifyBundleKeyless({
      bundleJson: signed.bundleJson,
      trustedRoot: root,
      expectedDigest: `sha256:${'d'.repeat(64)}`,
    })
    expect(otherDigest.reason).toMatch(/^statement is about sha256:18b9/)
    expect(otherDigest.notChecked).toEqual([
      'certificate identity (none required)',
      'OIDC issuer (none required)',
    ])

    const emptyRoot = { ...root, certificateAuthorities: [] }
    const untrusted = verifyBundleKeyless({
      bundleJson: signed.bundleJson,
      trustedRoot: emptyRoot,
      expectedDigest: DIGEST,
    })
    expect(untrusted.ok).toBe(false)
    expect(untrusted.reason).toMatch(/CERTIFICATE_ERROR/)
  })

  it('reports an unusable token as CREDENTIALS without echoing it', async () => {
    const bad = jwt({ iss: ISSUER, email: EMAIL, email_verified: false, aud: 'sigstore' })
    const err = await signBundleKeyless({
      digest: DIGEST,
      fulcioURL: base,
      rekorURL: base,
      identityToken: bad,
      retries: 0,
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FerryError)
    expect((err as FerryError).code).toBe('CREDENTIALS')
    expect((err as FerryError).message).not.toContain(bad)
    expect((err as FerryError).message).not.toContain(bad.split('.')[1])
  })

  it('reports an unreachable Fulcio as NETWORK, naming it and not the token', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const deadURL = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const err = await signBundleKeyless({
      digest: DIGEST,
      fulcioURL: deadURL,
      rekorURL: base,
      identityToken: token,
      retries: 0,
    }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(FerryError)
    expect((err as FerryError).code).toBe('NETWORK')
    expect((err as FerryError).message).toContain(`Fulcio ${deadURL}`)
    expect((err as FerryError).message).not.toContain(token.split('.')[1])
  })
})
