import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { digestOf } from '../../src/oci/digest.js'
import { bundleReferrerManifest, signBundle } from '../../src/sign/bundle.js'
import { verifyBundle } from '../../src/sign/bundle-verify.js'
import {
  appendClassicSignature,
  classicSignaturesOf,
  classicSignatureTag,
  signClassic,
} from '../../src/sign/classic.js'
import { verifyClassicSignature } from '../../src/sign/classic-verify.js'
import { decryptPrivateKey, generateKeyPair, readPublicKey } from '../../src/sign/keys.js'
import { legacySbomImage, legacySbomTag, sbomReferrerManifest } from '../../src/sign/sbom.js'
import { simpleSigningPayload } from '../../src/sign/simple-signing.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'

// The primitives are pure; this suite proves their output is what a real registry accepts and what
// skopeo reads back byte for byte. Pushes use plain fetch so that only the bytes under test are involved.
const run = promisify(execFile)
const REPO = 'team/app'
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'

let registry: Distribution
const pair = generateKeyPair('pw')
const key = decryptPrivateKey(pair.privateKeyPem, 'pw')
const pub = readPublicKey(pair.publicKeyPem)

async function pushBlob(bytes: Uint8Array): Promise<void> {
  const start = await fetch(`${registry.url}/v2/${REPO}/blobs/uploads/`, { method: 'POST' })
  expect(start.status).toBe(202)
  const location = new URL(start.headers.get('location')!, registry.url)
  location.searchParams.set('digest', digestOf(bytes))
  const put = await fetch(location, {
    method: 'PUT',
    body: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  })
  expect(put.status, await put.text()).toBe(201)
}

async function pushManifest(ref: string, bytes: Uint8Array): Promise<string | null> {
  const res = await fetch(`${registry.url}/v2/${REPO}/manifests/${ref}`, {
    method: 'PUT',
    body: bytes,
    headers: { 'content-type': OCI_MANIFEST },
  })
  expect(res.status, await res.text()).toBe(201)
  return res.headers.get('docker-content-digest')
}

async function getBlob(digest: string): Promise<Uint8Array> {
  const res = await fetch(`${registry.url}/v2/${REPO}/blobs/${digest}`)
  expect(res.status).toBe(200)
  return new Uint8Array(await res.arrayBuffer())
}

async function skopeoRaw(ref: string, config = false): Promise<Buffer> {
  const args = [
    'inspect',
    '--raw',
    '--tls-verify=false',
    ...(config ? ['--config'] : []),
    `docker://${registry.host}/${REPO}${ref}`,
  ]
  const { stdout } = await run('skopeo', args, { encoding: 'buffer', timeout: 30_000 })
  return stdout
}

// A stand-in image to sign: any manifest the registry holds will do.
let image: { digest: string; size: number }

beforeAll(async () => {
  registry = await startDistribution()
  const img = legacySbomImage(new TextEncoder().encode('{"spdxVersion":"SPDX-2.3"}'), 'spdx')
  await pushBlob(img.configBytes)
  await pushBlob(new TextEncoder().encode('{"spdxVersion":"SPDX-2.3"}'))
  await pushManifest('v1', img.manifestBytes)
  image = { digest: digestOf(img.manifestBytes), size: img.manifestBytes.byteLength }
})

afterAll(async () => {
  await registry?.stop()
})

describe('signatures and SBOMs in a real registry', () => {
  it('stores a .sig image, appends to it after reading it back, and both signatures verify', async () => {
    const tag = classicSignatureTag(image.digest)
    const payload1 = simpleSigningPayload({
      dockerReference: `${registry.host}/${REPO}`,
      digest: image.digest,
    })
    const first = appendClassicSignature(undefined, {
      payload: payload1,
      signatureB64: signClassic(payload1, key),
    })
    for (const b of first.blobs) await pushBlob(b.bytes)
    expect(await pushManifest(tag, first.manifestBytes)).toBe(digestOf(first.manifestBytes))
    expect(Buffer.compare(await skopeoRaw(`:${tag}`), Buffer.from(first.manifestBytes))).toBe(0)
    expect(Buffer.compare(await skopeoRaw(`:${tag}`, true), Buffer.from(first.configBytes))).toBe(0)

    // Read-modify-write, as cosign does, from what the registry returned.
    const existing = {
      manifestBytes: new Uint8Array(await skopeoRaw(`:${tag}`)),
      configBytes: new Uint8Array(await skopeoRaw(`:${tag}`, true)),
    }
    const payload2 = simpleSigningPayload({
      dockerReference: `${registry.host}/${REPO}`,
      digest: image.digest,
      annotations: { env: 'prod' },
    })
    const second = appendClassicSignature(existing, {
      payload: payload2,
      signatureB64: signClassic(payload2, key),
      publicKey: pub,
    })
    expect(second.skipped).toBe(false)
    for (const b of second.blobs) await pushBlob(b.bytes)
    await pushManifest(tag, second.manifestBytes)

    const layers = classicSignaturesOf(new Uint8Array(await skopeoRaw(`:${tag}`)))
    expect(layers).toHaveLength(2)
    for (const layer of layers) {
      const payload = await getBlob(layer.layerDigest)
      const report = verifyClassicSignature({
        payload,
        signatureB64: layer.signatureB64,
        publicKey: pub,
        expectedDigest: image.digest,
        layerDigest: layer.layerDigest,
        layerAnnotations: layer.annotations,
      })
      expect(report.reason).toBeUndefined()
      expect(report.ok).toBe(true)
    }
  })

  it('stores a bundle referrer and an SBOM referrer by digest; skopeo reads the same bytes', async () => {
    const signed = await signBundle({ digest: image.digest, key })
    const subject = { mediaType: OCI_MANIFEST, size: image.size, digest: image.digest as `sha256:${string}` }
    const referrer = bundleReferrerManifest({
      bundleBytes: signed.bundleBytes,
      subject,
      created: '2026-01-02T03:04:05Z',
    })
    await pushBlob(referrer.configBytes)
    await pushBlob(signed.bundleBytes)
    const digest = digestOf(referrer.manifestBytes)
    expect(await pushManifest(digest, referrer.manifestBytes)).toBe(digest)
    expect(Buffer.compare(await skopeoRaw(`@${digest}`), Buffer.from(referrer.manifestBytes))).toBe(0)
    expect(verifyBundle(await getBlob(referrer.layerDigest), pub, image.digest).ok).toBe(true)

    const sbom = new TextEncoder().encode('{"bomFormat":"CycloneDX","specVersion":"1.5"}')
    const sbomRef = sbomReferrerManifest({
      bytes: sbom,
      subject,
      created: '2026-01-02T03:04:05Z',
      format: 'cyclonedx',
    })
    await pushBlob(sbom)
    const sbomDigest = digestOf(sbomRef.manifestBytes)
    expect(await pushManifest(sbomDigest, sbomRef.manifestBytes)).toBe(sbomDigest)
    expect(Buffer.compare(await skopeoRaw(`@${sbomDigest}`), Buffer.from(sbomRef.manifestBytes))).toBe(0)

    const legacy = legacySbomImage(sbom, 'cyclonedx')
    await pushBlob(legacy.configBytes)
    await pushManifest(legacySbomTag(image.digest), legacy.manifestBytes)
    expect(
      Buffer.compare(
        await skopeoRaw(`:${legacySbomTag(image.digest)}`, true),
        Buffer.from(legacy.configBytes),
      ),
    ).toBe(0)
  })
})
