import { describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import { type Digest, digestOf } from '../../../src/oci/digest.js'
import { parseManifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import {
  appendClassicSignature,
  bundleReferrerManifest,
  classicSignaturesOf,
  classicSignatureTag,
  EMPTY_CONFIG_BYTES,
  EMPTY_CONFIG_DIGEST,
  simpleSigningPayload,
} from '../../../src/sign/index.js'
import { pushBytes, readBlobBytes } from '../../../src/supply/content.js'
import { signImage, verifyImage } from '../../../src/supply/index.js'
import { putManifest } from '../../helpers/registry-fixtures.js'
import { makeKeys, pushTestImage } from '../../supply/helpers.js'

// Each case builds what an attacker (or a careless copy) could put in a registry with plain pushes,
// and verify must refuse it with a reason that says what is wrong. Verify reads the store through the
// Target interface only, so a store in memory holds the forgeries as a registry would; finding
// signatures through each referrers scheme on real registries is test/policy/promote.test.ts.
const keys = makeKeys()
const otherKeys = makeKeys('other')
const target = new MemoryTarget('team/tamper')

/** The `.sig` image ferry wrote for `digest`: its manifest and the one signature layer's payload. */
async function readSignature(digest: Digest) {
  const manifest = await target.fetchManifest(classicSignatureTag(digest))
  const [layer] = classicSignaturesOf(manifest.bytes)
  const desc = { mediaType: MediaType.cosignSimpleSigning, digest: layer!.layerDigest, size: layer!.size }
  return { manifest, layer: layer!, payload: await readBlobBytes(target, desc, 1 << 20, 'payload') }
}

describe('verify refuses tampered signatures', () => {
  it('a tag moved to another image after signing', async () => {
    const signed = await pushTestImage(target, 'moving')
    await signImage({ target, reference: 'moving', key: keys.key, format: 'both' })
    expect((await verifyImage({ target, reference: 'moving', publicKey: keys.pub })).ok).toBe(true)
    const other = await pushTestImage(target, 'moving')
    const report = await verifyImage({ target, reference: 'moving', publicKey: keys.pub })
    expect(report.ok).toBe(false)
    expect(report.digest).toBe(other.digest)
    expect(report.reason).toBe(`no signature found for ${other.digest} (cosign .sig tag or bundle referrer)`)
    // The signature still holds for the digest that was signed.
    expect((await verifyImage({ target, reference: signed.digest, publicKey: keys.pub })).ok).toBe(true)
  })

  it('a .sig whose payload differs from what was signed', async () => {
    const image = await pushTestImage(target, 'altered')
    await signImage({ target, reference: 'altered', key: keys.key })
    const { layer } = await readSignature(image.digest)
    const altered = simpleSigningPayload({
      dockerReference: 'evil.example/app',
      digest: image.digest,
      annotations: { approved: 'yes' },
    })
    const forged = appendClassicSignature(undefined, { payload: altered, signatureB64: layer.signatureB64 })
    for (const b of forged.blobs) await pushBytes(target, MediaType.ociConfig, b.digest, b.bytes)
    await putManifest(target, parseManifest(forged.manifestBytes), classicSignatureTag(image.digest))
    const report = await verifyImage({ target, reference: 'altered', publicKey: keys.pub })
    expect(report.ok).toBe(false)
    expect(report.signatures).toHaveLength(1)
    expect(report.signatures[0]?.reason).toBe('signature does not verify with the given public key')
    expect(report.reason).toMatch(
      /^none of 1 signatures for sha256:[0-9a-f]{64} verifies with the given key: signature does not verify/,
    )
  })

  it('signatures made with another key, in both formats', async () => {
    await pushTestImage(target, 'other-key')
    await signImage({ target, reference: 'other-key', key: otherKeys.key, format: 'both' })
    const report = await verifyImage({ target, reference: 'other-key', publicKey: keys.pub })
    expect(report.ok).toBe(false)
    expect(report.signatures.map((s) => [s.format, s.ok])).toEqual([
      ['classic', false],
      ['bundle', false],
    ])
    expect(report.signatures[0]?.reason).toBe('signature does not verify with the given public key')
    expect(report.signatures[1]?.reason).toMatch(/^signature does not verify with the given public key/)
    expect((await verifyImage({ target, reference: 'other-key', publicKey: otherKeys.pub })).ok).toBe(true)
  })

  it("a .sig for a different digest copied under this digest's tag", async () => {
    const signedImage = await pushTestImage(target, 'genuine')
    await signImage({ target, reference: 'genuine', key: keys.key })
    const victim = await pushTestImage(target, 'victim')
    const { manifest } = await readSignature(signedImage.digest)
    await putManifest(target, manifest, classicSignatureTag(victim.digest))
    const report = await verifyImage({ target, reference: 'victim', publicKey: keys.pub })
    expect(report.ok).toBe(false)
    // The signature itself is genuine, and the report says so, but it is about another image.
    expect(report.signatures[0]?.checked).toContain(
      'ECDSA/SHA-256 signature over the payload with the given public key',
    )
    expect(report.signatures[0]?.reason).toBe(`signature is for ${signedImage.digest}, not ${victim.digest}`)
  })

  it('a bundle for a different digest re-attached to this image', async () => {
    const signedImage = await pushTestImage(target, 'bundle-genuine')
    const signed = await signImage({ target, reference: 'bundle-genuine', key: keys.key, format: 'bundle' })
    const victim = await pushTestImage(target, 'bundle-victim')
    const original = await target.fetchManifest(signed.bundle!.manifest)
    const layer = original.kind === 'image' ? original.image.layers[0]! : undefined
    const bundleBytes = await readBlobBytes(target, layer!, 1 << 20, 'bundle')
    const moved = bundleReferrerManifest({
      bundleBytes,
      subject: { mediaType: victim.mediaType, size: victim.bytes.byteLength, digest: victim.digest },
      created: '2024-01-01T00:00:00Z',
    })
    await pushBytes(target, MediaType.ociEmpty, EMPTY_CONFIG_DIGEST, EMPTY_CONFIG_BYTES)
    await putManifest(target, parseManifest(moved.manifestBytes))
    expect(digestOf(moved.manifestBytes)).not.toBe(signed.bundle!.manifest)
    const report = await verifyImage({ target, reference: 'bundle-victim', publicKey: keys.pub })
    expect(report.ok).toBe(false)
    expect(report.signatures[0]?.reason).toBe(
      `statement is about ${signedImage.digest}, not ${victim.digest}`,
    )
  })
})
