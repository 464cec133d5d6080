import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { digestOf } from '../../src/oci/digest.js'
import { MediaType } from '../../src/oci/media-types.js'
import {
  bundleReferrerManifest,
  classicSignaturesOf,
  EMPTY_CONFIG_DIGEST,
  keyFingerprint,
  legacySbomImage,
  legacySbomTag,
  signBundle,
} from '../../src/sign/index.js'
import { pushBytes } from '../../src/supply/content.js'
import { attachSbom, listAttached, signImage, verifyImage } from '../../src/supply/index.js'
import { type Backend, SCHEME, startBackend } from './backends.js'
import { makeKeys, pushTestImage, registryTarget, SPDX, tempDir } from './helpers.js'

const run = promisify(execFile)
const keys = makeKeys()

describe.each(['distribution', 'serve'] as const)('sign, attach, list and verify on %s', (kind) => {
  let backend: Backend
  let tmp: Awaited<ReturnType<typeof tempDir>>

  beforeAll(async () => {
    backend = await startBackend(kind)
    tmp = await tempDir()
  })

  afterAll(async () => {
    await backend?.stop()
    await tmp?.remove()
  })

  it(`labels referrers ${SCHEME[kind]}, requires a signed SBOM, and verifies`, async () => {
    const target = registryTarget(backend.host, 'team/app')
    try {
      const image = await pushTestImage(target, 'v1')
      const signed = await signImage({
        target,
        reference: 'v1',
        key: keys.key,
        format: 'both',
        dockerReference: `${backend.host}/team/app`,
      })
      expect(signed.digest).toBe(image.digest)
      const sbom = await attachSbom({ target, reference: 'v1', bytes: SPDX })

      const unsigned = await verifyImage({ target, reference: 'v1', publicKey: keys.pub, requireSbom: true })
      expect(unsigned.ok).toBe(false)
      expect(unsigned.requirements).toEqual([
        // Given as a bare KeyObject, the key is named by its fingerprint alone.
        { name: 'signature', ok: true, detail: `2 of 2 signatures verify, by ${keyFingerprint(keys.pub)}` },
        { name: 'sbom', ok: false, detail: '1 SBOM attached, none signed with the given key' },
      ])
      expect((await verifyImage({ target, reference: 'v1', publicKey: keys.pub })).ok).toBe(true)

      const sbomSigned = await signImage({ target, reference: sbom.digest, key: keys.key, format: 'both' })
      expect(sbomSigned.digest).toBe(sbom.digest)

      const report = await verifyImage({ target, reference: 'v1', publicKey: keys.pub, requireSbom: true })
      expect(report.reason).toBeUndefined()
      expect(report.ok).toBe(true)
      expect(report.signatures.map((s) => [s.scheme, s.format, s.ok])).toEqual([
        ['cosign-tag', 'classic', true],
        [SCHEME[kind], 'bundle', true],
      ])
      expect(report.sboms?.[0]?.signatures.map((s) => [s.scheme, s.subject, s.ok])).toEqual([
        ['cosign-tag', sbom.digest, true],
        [SCHEME[kind], sbom.digest, true],
      ])

      const tree = await listAttached({ target, reference: 'v1' })
      expect(tree.referrersScheme).toBe(SCHEME[kind])
      const summary = (entries: typeof tree.attached): unknown[] =>
        entries
          .map((e) => ({ scheme: e.scheme, type: e.artifactType, tag: e.tag, children: summary(e.children) }))
          .sort((a, b) => `${a.scheme}${a.type}`.localeCompare(`${b.scheme}${b.type}`))
      expect(summary(tree.attached)).toEqual([
        {
          scheme: 'cosign-tag',
          type: MediaType.cosignSimpleSigning,
          tag: signed.classic?.tag,
          children: [],
        },
        {
          scheme: SCHEME[kind],
          type: MediaType.spdxJson,
          tag: undefined,
          children: [
            {
              scheme: 'cosign-tag',
              type: MediaType.cosignSimpleSigning,
              tag: sbomSigned.classic?.tag,
              children: [],
            },
            { scheme: SCHEME[kind], type: MediaType.sigstoreBundleV03, tag: undefined, children: [] },
          ],
        },
        { scheme: SCHEME[kind], type: MediaType.sigstoreBundleV03, tag: undefined, children: [] },
      ])
    } finally {
      await target.close()
    }
  })

  it('writes .sig payloads and signatures that openssl verifies with the public key', async () => {
    const target = registryTarget(backend.host, 'team/openssl')
    try {
      await pushTestImage(target, 'v1')
      const signed = await signImage({ target, reference: 'v1', key: keys.key })
      // Read back over plain HTTP: the registry's bytes, not ferry's.
      const manifest = await fetch(`${backend.url}/v2/team/openssl/manifests/${signed.classic!.tag}`, {
        headers: { accept: MediaType.ociManifest },
      })
      expect(manifest.status).toBe(200)
      const [layer] = classicSignaturesOf(new Uint8Array(await manifest.arrayBuffer()))
      const blob = await fetch(`${backend.url}/v2/team/openssl/blobs/${layer!.layerDigest}`)
      const payload = Buffer.from(await blob.arrayBuffer())
      expect(JSON.parse(payload.toString()).critical.image['docker-manifest-digest']).toBe(signed.digest)
      const files = {
        payload: join(tmp.dir, `${kind}-payload`),
        sig: join(tmp.dir, `${kind}-sig.der`),
        pub: join(tmp.dir, `${kind}.pub`),
      }
      await writeFile(files.payload, payload)
      await writeFile(files.sig, Buffer.from(layer!.signatureB64, 'base64'))
      await writeFile(files.pub, keys.publicKeyPem)
      const { stdout } = await run('openssl', [
        'dgst',
        '-sha256',
        '-verify',
        files.pub,
        '-signature',
        files.sig,
        files.payload,
      ])
      expect(stdout.trim()).toBe('Verified OK')
      // And a changed payload does not verify: openssl exits non-zero.
      await writeFile(files.payload, Buffer.concat([payload, Buffer.from(' ')]))
      await expect(
        run('openssl', ['dgst', '-sha256', '-verify', files.pub, '-signature', files.sig, files.payload]),
      ).rejects.toMatchObject({ code: 1 })
    } finally {
      await target.close()
    }
  })
})

describe('the referrers tag schema on a registry without the API', () => {
  let backend: Backend
  beforeAll(async () => {
    backend = await startBackend('distribution')
  })
  afterAll(async () => {
    await backend?.stop()
  })

  it('lists bundle and SBOM under sha256-HEX, where cosign and oras look for them', async () => {
    const target = registryTarget(backend.host, 'team/schema')
    try {
      const image = await pushTestImage(target, 'v1')
      const signed = await signImage({ target, reference: 'v1', key: keys.key, format: 'bundle' })
      const sbom = await attachSbom({ target, reference: 'v1', bytes: SPDX })
      const res = await fetch(`${backend.url}/v2/team/schema/manifests/sha256-${image.digest.slice(7)}`, {
        headers: { accept: MediaType.ociIndex },
      })
      expect(res.status).toBe(200)
      const index = (await res.json()) as { manifests: { digest: string; artifactType?: string }[] }
      expect(index.manifests.map((d) => [d.digest, d.artifactType]).sort()).toEqual(
        [
          [signed.bundle!.manifest, MediaType.sigstoreBundleV03],
          [sbom.digest, MediaType.spdxJson],
        ].sort(),
      )
    } finally {
      await target.close()
    }
  })

  it('reads what cosign writes: ggcr tag-schema entries typed by config, and the legacy .sbom tag', async () => {
    const target = registryTarget(backend.host, 'team/cosign-made')
    try {
      const image = await pushTestImage(target, 'v1')
      const subject = { mediaType: image.mediaType, size: image.bytes.byteLength, digest: image.digest }
      // A bundle referrer pushed by digest alone, then indexed the way go-containerregistry does it:
      // artifactType = the config media type (the empty descriptor's), no annotations.
      const signed = await signBundle({ digest: image.digest, key: keys.key })
      const referrer = bundleReferrerManifest({
        bundleBytes: signed.bundleBytes,
        subject,
        created: '2024-01-01T00:00:00Z',
      })
      await pushBytes(target, MediaType.ociEmpty, EMPTY_CONFIG_DIGEST, referrer.configBytes)
      await pushBytes(target, MediaType.sigstoreBundleV03, referrer.layerDigest, signed.bundleBytes)
      const put = (ref: string, bytes: Uint8Array, type: string) =>
        fetch(`${backend.url}/v2/team/cosign-made/manifests/${ref}`, {
          method: 'PUT',
          body: bytes,
          headers: { 'content-type': type },
        })
      const referrerDigest = digestOf(referrer.manifestBytes)
      expect((await put(referrerDigest, referrer.manifestBytes, MediaType.ociManifest)).status).toBe(201)
      const index = {
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: [
          {
            mediaType: MediaType.ociManifest,
            size: referrer.manifestBytes.byteLength,
            digest: referrerDigest,
            artifactType: MediaType.ociEmpty,
          },
        ],
      }
      const tagIndex = new TextEncoder().encode(JSON.stringify(index))
      expect((await put(`sha256-${image.digest.slice(7)}`, tagIndex, MediaType.ociIndex)).status).toBe(201)

      // `cosign attach sbom`: the SBOM image under sha256-HEX.sbom, signed in turn by its digest.
      const sbomImage = legacySbomImage(SPDX, 'spdx')
      await pushBytes(target, MediaType.ociConfig, digestOf(sbomImage.configBytes), sbomImage.configBytes)
      await pushBytes(target, 'text/spdx+json', sbomImage.layerDigest, SPDX)
      const sbomTag = legacySbomTag(image.digest)
      expect((await put(sbomTag, sbomImage.manifestBytes, MediaType.ociManifest)).status).toBe(201)
      await signImage({ target, reference: digestOf(sbomImage.manifestBytes), key: keys.key })

      const tree = await listAttached({ target, reference: 'v1' })
      expect(tree.attached.map((e) => [e.scheme, e.artifactType, e.tag])).toEqual([
        ['tag-schema', MediaType.sigstoreBundleV03, undefined],
        ['cosign-tag', 'text/spdx+json', sbomTag],
      ])
      const report = await verifyImage({ target, reference: 'v1', publicKey: keys.pub, requireSbom: true })
      expect(report.reason).toBeUndefined()
      expect(report.signatures.map((s) => [s.scheme, s.format, s.ok])).toEqual([
        ['tag-schema', 'bundle', true],
      ])
      expect(report.sboms?.map((s) => [s.scheme, s.format, s.tag, s.signed])).toEqual([
        ['cosign-tag', 'spdx', sbomTag, true],
      ])
    } finally {
      await target.close()
    }
  })
})
