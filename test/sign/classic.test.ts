import { spawnSync } from 'node:child_process'
import { generateKeyPairSync, sign } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { digestOf } from '../../src/oci/digest.js'
import { parseManifest } from '../../src/oci/manifest.js'
import { cosignTag } from '../../src/reference/grammar.js'
import {
  appendClassicSignature,
  classicSignaturesOf,
  classicSignatureTag,
  signClassic,
  verifyClassicLayer,
} from '../../src/sign/classic.js'
import { verifyClassicSignature } from '../../src/sign/classic-verify.js'
import { decryptPrivateKey, generateKeyPair, readPublicKey } from '../../src/sign/keys.js'
import { legacySbomImage } from '../../src/sign/sbom.js'
import { simpleSigningPayload } from '../../src/sign/simple-signing.js'

const IMAGE_DIGEST = 'sha256:18b9ff0d46d46d0c940627db1860be2d4369b865e393fc3f6971d5b13329f722'
const PAYLOAD = simpleSigningPayload({
  dockerReference: 'registry.example.com/team/app',
  digest: IMAGE_DIGEST,
})
const PAYLOAD_DIGEST = 'sha256:04d169e7302d8e8932e9d437badb0ae81c13be02574b46973240ac4cc68f6828'
// The config go-containerregistry writes after appending one layer (cosign SBOM_SPEC.md shows the same 233 bytes).
const CONFIG_233 =
  '{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["sha256:04d169e7302d8e8932e9d437badb0ae81c13be02574b46973240ac4cc68f6828"]},"config":{}}'

const pair = generateKeyPair('pw')
const key = decryptPrivateKey(pair.privateKeyPem, 'pw')
const pub = readPublicKey(pair.publicKeyPem)
const text = (b: Uint8Array) => Buffer.from(b).toString('utf8')

const work = mkdtempSync(join(tmpdir(), 'ferry-sign-'))
afterAll(() => rmSync(work, { recursive: true, force: true }))

describe('classic .sig image', () => {
  it('names the tag after the digest', () => {
    expect(classicSignatureTag(IMAGE_DIGEST)).toBe(
      'sha256-18b9ff0d46d46d0c940627db1860be2d4369b865e393fc3f6971d5b13329f722.sig',
    )
    expect(cosignTag(IMAGE_DIGEST, 'att')).toMatch(/^sha256-18b9.*\.att$/)
    expect(() => classicSignatureTag('latest')).toThrow(/invalid digest/)
  })

  it('builds the exact ggcr config and manifest for a first signature', () => {
    const sig = 'MEUCIQDexample'
    const out = appendClassicSignature(undefined, { payload: PAYLOAD, signatureB64: sig })
    expect(out.skipped).toBe(false)
    expect(text(out.configBytes)).toBe(CONFIG_233)
    expect(out.configBytes.byteLength).toBe(233)
    expect(digestOf(out.configBytes)).toBe(
      'sha256:fad898e6611050bb51a1ac2d54a090e0465535df8bbb28ff340831663d5acae1',
    )
    expect(text(out.manifestBytes)).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' +
        '"config":{"mediaType":"application/vnd.oci.image.config.v1+json","size":233,"digest":"sha256:fad898e6611050bb51a1ac2d54a090e0465535df8bbb28ff340831663d5acae1"},' +
        `"layers":[{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","size":245,"digest":"${PAYLOAD_DIGEST}","annotations":{"dev.cosignproject.cosign/signature":"${sig}"}}]}`,
    )
    expect(out.blobs.map((b) => b.digest)).toEqual([digestOf(out.configBytes), PAYLOAD_DIGEST])
    expect(out.blobs[1]!.bytes).toBe(PAYLOAD)
    // Valid for the OCI model the registry client uses.
    expect(parseManifest(out.manifestBytes).kind).toBe('image')
  })

  it('appends further signatures: one more layer, diff_id and history entry, sorted layer annotations', () => {
    const first = appendClassicSignature(undefined, {
      payload: PAYLOAD,
      signatureB64: signClassic(PAYLOAD, key),
    })
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const payload2 = simpleSigningPayload({
      dockerReference: 'r/x',
      digest: IMAGE_DIGEST,
      annotations: { a: '1' },
    })
    const second = appendClassicSignature(first, {
      payload: payload2,
      signatureB64: signClassic(payload2, other.privateKey),
      annotations: { 'dev.sigstore.cosign/certificate': 'CERT', 'dev.sigstore.cosign/chain': '' },
    })
    const config = JSON.parse(text(second.configBytes))
    expect(config.rootfs.diff_ids).toEqual([PAYLOAD_DIGEST, digestOf(payload2)])
    expect(config.history).toEqual([{ created: '0001-01-01T00:00:00Z' }, { created: '0001-01-01T00:00:00Z' }])
    const layers = classicSignaturesOf(second.manifestBytes)
    expect(layers).toHaveLength(2)
    expect(layers[1]!.layerDigest).toBe(digestOf(payload2))
    expect(Object.keys(layers[1]!.annotations)).toEqual([
      'dev.cosignproject.cosign/signature',
      'dev.sigstore.cosign/certificate',
      'dev.sigstore.cosign/chain',
    ])
    // The first layer is re-serialised to the very same bytes.
    const firstLayers = text(first.manifestBytes).split('"layers":[')[1]!.slice(0, -2)
    expect(text(second.manifestBytes)).toContain(firstLayers)
  })

  it('skips a duplicate the way cosign does: same payload and annotations, existing signature verifies', () => {
    const first = appendClassicSignature(undefined, {
      payload: PAYLOAD,
      signatureB64: signClassic(PAYLOAD, key),
    })
    // A token's ECDSA is randomised (a key file's is not): a re-sign gives other bytes, the key check still
    // sees a duplicate.
    const again = appendClassicSignature(first, {
      payload: PAYLOAD,
      signatureB64: sign('sha256', PAYLOAD, key).toString('base64'),
      publicKey: pub,
    })
    expect(again.skipped).toBe(true)
    expect(again.blobs).toEqual([])
    expect(again.manifestBytes).toBe(first.manifestBytes)

    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const byOther = appendClassicSignature(first, {
      payload: PAYLOAD,
      signatureB64: signClassic(PAYLOAD, other.privateKey),
      publicKey: other.publicKey,
    })
    expect(byOther.skipped).toBe(false)
    const newAnnotation = appendClassicSignature(first, {
      payload: PAYLOAD,
      signatureB64: signClassic(PAYLOAD, key),
      publicKey: pub,
      annotations: { 'dev.sigstore.cosign/bundle': '{}' },
    })
    expect(newAnnotation.skipped).toBe(false)
    // Without a key only a byte-identical signature is a duplicate: a key file's re-sign is (RFC 6979), a
    // randomised one is not.
    expect(
      appendClassicSignature(first, { payload: PAYLOAD, signatureB64: signClassic(PAYLOAD, key) }).skipped,
    ).toBe(true)
    expect(
      appendClassicSignature(first, {
        payload: PAYLOAD,
        signatureB64: sign('sha256', PAYLOAD, key).toString('base64'),
      }).skipped,
    ).toBe(false)
  })

  it('keeps an existing Docker-typed .sig manifest’s media types (COSIGN_DOCKER_MEDIA_TYPES=1)', () => {
    const config = new TextEncoder().encode(CONFIG_233)
    const docker = new TextEncoder().encode(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: {
          mediaType: 'application/vnd.docker.container.image.v1+json',
          size: 233,
          digest: digestOf(config),
        },
        layers: [
          {
            mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
            size: 245,
            digest: PAYLOAD_DIGEST,
            annotations: { 'dev.cosignproject.cosign/signature': 'X' },
          },
        ],
      }),
    )
    const payload2 = simpleSigningPayload({ dockerReference: 'r/y', digest: IMAGE_DIGEST })
    const out = appendClassicSignature(
      { manifestBytes: docker, configBytes: config },
      { payload: payload2, signatureB64: 'Y' },
    )
    const m = JSON.parse(text(out.manifestBytes))
    expect(m.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json')
    expect(m.config.mediaType).toBe('application/vnd.docker.container.image.v1+json')
    expect(m.layers).toHaveLength(2)
  })

  it('refuses to grow past the 1000 layers cosign reads', () => {
    const config = new TextEncoder().encode('{}')
    const layer = {
      mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
      size: 245,
      digest: PAYLOAD_DIGEST,
    }
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: 2, digest: digestOf(config) },
      layers: Array.from({ length: 1000 }, () => layer),
    }
    const existing = {
      manifestBytes: new TextEncoder().encode(JSON.stringify(manifest)),
      configBytes: config,
    }
    const payload = simpleSigningPayload({ dockerReference: 'r/z', digest: IMAGE_DIGEST })
    expect(() => appendClassicSignature(existing, { payload, signatureB64: 'Z' })).toThrow(
      /already holds 1000 layers/,
    )
  })

  it('refuses config bytes that do not match the manifest', () => {
    const first = appendClassicSignature(undefined, { payload: PAYLOAD, signatureB64: 'A' })
    const wrong = { manifestBytes: first.manifestBytes, configBytes: new TextEncoder().encode('{}') }
    expect(() => appendClassicSignature(wrong, { payload: PAYLOAD, signatureB64: 'B' })).toThrow(
      /config bytes do not match/,
    )
  })
})

describe('classic signatures', () => {
  it('verifies with openssl, independently of Node (and fails for a tampered payload)', () => {
    const sigB64 = signClassic(PAYLOAD, key)
    writeFileSync(join(work, 'payload'), PAYLOAD)
    writeFileSync(join(work, 'tampered'), Buffer.from(text(PAYLOAD).replace('team/app', 'team/app2')))
    writeFileSync(join(work, 'sig.der'), Buffer.from(sigB64, 'base64'))
    writeFileSync(join(work, 'pub.pem'), pair.publicKeyPem)
    const run = (file: string) =>
      spawnSync('openssl', ['dgst', '-sha256', '-verify', 'pub.pem', '-signature', 'sig.der', file], {
        cwd: work,
      })
    const ok = run('payload')
    expect(ok.status, ok.stderr.toString()).toBe(0)
    expect(ok.stdout.toString()).toContain('Verified OK')
    expect(run('tampered').status).not.toBe(0)
  })

  it('verifyClassicLayer: true for the right key, false for another key, tampering or junk', () => {
    const sig = signClassic(PAYLOAD, key)
    expect(verifyClassicLayer(PAYLOAD, sig, pub)).toBe(true)
    expect(
      verifyClassicLayer(PAYLOAD, sig, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey),
    ).toBe(false)
    expect(verifyClassicLayer(new TextEncoder().encode(`${text(PAYLOAD)} `), sig, pub)).toBe(false)
    expect(verifyClassicLayer(PAYLOAD, 'not base64!', pub)).toBe(false)
    expect(verifyClassicLayer(PAYLOAD, '', pub)).toBe(false)
  })

  it('verifyClassicSignature checks layer digest, signature, digest claim and annotations', () => {
    const payload = simpleSigningPayload({
      dockerReference: 'r/a',
      digest: IMAGE_DIGEST,
      annotations: { env: 'prod' },
    })
    const signatureB64 = signClassic(payload, key)
    const base = {
      payload,
      signatureB64,
      publicKey: pub,
      expectedDigest: IMAGE_DIGEST,
      layerDigest: digestOf(payload),
    }
    const ok = verifyClassicSignature({ ...base, requiredAnnotations: { env: 'prod' } })
    expect(ok.ok).toBe(true)
    expect(ok.checked).toHaveLength(4)
    expect(ok.notChecked.join('\n')).toContain('transparency log')

    const otherDigest = `sha256:${'a'.repeat(64)}`
    expect(verifyClassicSignature({ ...base, expectedDigest: otherDigest }).reason).toBe(
      `signature is for ${IMAGE_DIGEST}, not ${otherDigest}`,
    )
    expect(verifyClassicSignature({ ...base, requiredAnnotations: { env: 'dev' } }).reason).toBe(
      'payload annotation env is not "dev"',
    )
    expect(verifyClassicSignature({ ...base, layerDigest: PAYLOAD_DIGEST }).reason).toMatch(
      /do not match layer digest/,
    )
    const wrongKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey
    expect(verifyClassicSignature({ ...base, publicKey: wrongKey }).reason).toBe(
      'signature does not verify with the given public key',
    )
    // A validly signed document that is not a simple-signing payload.
    const junk = new TextEncoder().encode('{"hello":"world"}')
    const junkReport = verifyClassicSignature({
      ...base,
      payload: junk,
      signatureB64: signClassic(junk, key),
      layerDigest: undefined,
    })
    expect(junkReport.ok).toBe(false)
    expect(junkReport.reason).toMatch(/not a cosign simple-signing payload/)
  })

  it('reads layers with their signature, ignoring other layer types', () => {
    const img = appendClassicSignature(undefined, { payload: PAYLOAD, signatureB64: 'SIG' })
    const m = JSON.parse(text(img.manifestBytes))
    m.layers.push({ mediaType: 'application/octet-stream', size: 1, digest: `sha256:${'b'.repeat(64)}` })
    const layers = classicSignaturesOf(new TextEncoder().encode(JSON.stringify(m)))
    expect(layers).toEqual([
      {
        layerDigest: PAYLOAD_DIGEST,
        size: 245,
        signatureB64: 'SIG',
        annotations: { 'dev.cosignproject.cosign/signature': 'SIG' },
      },
    ])
  })
})

describe('legacy .sbom image', () => {
  it('is ggcr’s empty image plus one unannotated layer', () => {
    const sbom = new TextEncoder().encode('{"spdxVersion":"SPDX-2.3"}')
    const img = legacySbomImage(sbom, 'spdx')
    const m = JSON.parse(text(img.manifestBytes))
    expect(m.layers).toEqual([{ mediaType: 'text/spdx+json', size: sbom.byteLength, digest: digestOf(sbom) }])
    expect(m.config.mediaType).toBe('application/vnd.oci.image.config.v1+json')
    expect(text(img.configBytes)).toBe(CONFIG_233.replace(PAYLOAD_DIGEST, digestOf(sbom)))
  })
})
