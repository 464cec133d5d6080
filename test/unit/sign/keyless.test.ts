import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { FerryError } from '../../../src/errors.js'
import { type TrustedRoot, verifyBundleKeyless } from '../../../src/sign/bundle-verify.js'
import { signBundleKeyless } from '../../../src/sign/keyless.js'
import {
  identityToken,
  jwt,
  type SigstoreStandIn,
  startSigstoreStandIn,
} from '../../helpers/sigstore-standin.js'

// Fulcio and Rekor have no local build; @sigstore/mock's CA and log (real certificate issuing, real
// signed entries and inclusion proofs) stand in for them, served over loopback HTTP.
const DIGEST = 'sha256:18b9ff0d46d46d0c940627db1860be2d4369b865e393fc3f6971d5b13329f722'
const EMAIL = 'release@example.com'
const ISSUER = 'https://issuer.example.com'

let standIn: SigstoreStandIn
let base: string
let root: TrustedRoot
const token = identityToken(EMAIL, ISSUER)

beforeAll(async () => {
  standIn = await startSigstoreStandIn()
  base = standIn.url
  root = standIn.trustedRoot
})

afterAll(async () => {
  await standIn?.close()
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
