import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import { MediaType } from '../../../src/oci/media-types.js'
import { verifyBundleKeyless } from '../../../src/sign/index.js'
import { readBlobBytes } from '../../../src/supply/content.js'
import { listAttached, signImage, verifyImage } from '../../../src/supply/index.js'
import { identityToken, type SigstoreStandIn, startSigstoreStandIn } from '../../helpers/sigstore-standin.js'
import { makeKeys, pushTestImage } from '../../supply/helpers.js'

const EMAIL = 'release@example.com'
const ISSUER = 'https://issuer.example.com'
let sigstore: SigstoreStandIn
// Signing and verifying go through the Target interface only; the store in memory lists referrers from
// its own index, as an OCI layout does (scheme `layout`).
const target = new MemoryTarget('team/keyless')

beforeAll(async () => {
  sigstore = await startSigstoreStandIn()
})

afterAll(async () => {
  await sigstore?.close()
})

describe('keyless signing (Fulcio and Rekor stand-ins on loopback)', () => {
  it('pushes a certificate bundle referrer that verifies against the trusted root', async () => {
    const image = await pushTestImage(target, 'v1')
    const token = identityToken(EMAIL, ISSUER)
    const signed = await signImage({
      target,
      reference: 'v1',
      fulcioURL: sigstore.url,
      rekorURL: sigstore.url,
      identityToken: token,
    })
    expect(signed.digest).toBe(image.digest)
    expect(signed.classic).toBeUndefined()
    expect(signed.bundle?.keyless).toBe(true)

    const tree = await listAttached({ target, reference: 'v1' })
    expect(tree.attached.map((e) => [e.scheme, e.digest, e.artifactType])).toEqual([
      ['layout', signed.bundle!.manifest, MediaType.sigstoreBundleV03],
    ])
    const referrer = await target.fetchManifest(signed.bundle!.manifest)
    const layer = referrer.kind === 'image' ? referrer.image.layers[0]! : undefined
    const bundle = await readBlobBytes(target, layer!, 1 << 20, 'bundle')
    const report = verifyBundleKeyless({
      bundleJson: bundle,
      trustedRoot: sigstore.trustedRoot,
      expectedDigest: image.digest,
      identity: { subjectAlternativeName: EMAIL, issuer: ISSUER },
    })
    expect(report.reason).toBeUndefined()
    expect(report.ok).toBe(true)
    expect(Buffer.from(bundle).toString()).not.toContain(token)

    // Offline verification with a key cannot vouch for a certificate; the report says why.
    const withKey = await verifyImage({ target, reference: 'v1', publicKey: makeKeys().pub })
    expect(withKey.ok).toBe(false)
    expect(withKey.signatures[0]?.reason).toBe(
      'bundle is signed with a certificate; verify it against a trusted root',
    )
  })

  it('refuses keyless with the classic format, and half the keyless options', async () => {
    await pushTestImage(target, 'v2')
    const token = identityToken(EMAIL, ISSUER)
    const classic = signImage({
      target,
      reference: 'v2',
      fulcioURL: sigstore.url,
      rekorURL: sigstore.url,
      identityToken: token,
      format: 'both',
    })
    await expect(classic).rejects.toMatchObject({
      code: 'USAGE',
      message: expect.stringMatching(/bundle format only/),
    })
    const half = signImage({ target, reference: 'v2', fulcioURL: sigstore.url, identityToken: token })
    await expect(half).rejects.toMatchObject({ code: 'USAGE' })
    expect((await listAttached({ target, reference: 'v2' })).attached).toEqual([])
  })
})
