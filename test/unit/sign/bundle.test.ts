import { generateKeyPairSync, sign } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { MessageSignatureBundleBuilder } from '@sigstore/sign'
import { describe, expect, it } from 'vitest'
import { digestOf } from '../../../src/oci/digest.js'
import { parseManifest, subjectOf } from '../../../src/oci/manifest.js'
import {
  bundleReferrerManifest,
  createdNow,
  EMPTY_CONFIG_DIGEST,
  signBundle,
} from '../../../src/sign/bundle.js'
import { verifyBundle } from '../../../src/sign/bundle-verify.js'
import { statementFor } from '../../../src/sign/in-toto.js'
import { decryptPrivateKey, publicKeyHint, readPublicKey } from '../../../src/sign/keys.js'

const FIXTURES = join(import.meta.dirname, '../../fixtures/sign')
const key = decryptPrivateKey(readFileSync(join(FIXTURES, 'sigstore.key'), 'utf8'), 'hello')
const pub = readPublicKey(readFileSync(join(FIXTURES, 'sigstore.pub'), 'utf8'))
const DIGEST = 'sha256:18b9ff0d46d46d0c940627db1860be2d4369b865e393fc3f6971d5b13329f722'
const OTHER = `sha256:${'c'.repeat(64)}`

type BundleDoc = {
  mediaType: string
  verificationMaterial: { publicKey: { hint: string } }
  dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string; keyid: string }[] }
}

describe('signBundle', () => {
  it('makes a v0.3 DSSE bundle over cosign’s sign statement, keyed by cosign’s key id', async () => {
    const signed = await signBundle({ digest: DIGEST, key })
    const doc = JSON.parse(signed.bundleJson) as BundleDoc
    expect(doc.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json')
    expect(doc.verificationMaterial.publicKey.hint).toBe(publicKeyHint(pub))
    expect(doc.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json')
    expect(doc.dsseEnvelope.signatures).toHaveLength(1)
    expect(doc.dsseEnvelope.signatures[0]!.keyid).toBe(publicKeyHint(pub))
    expect(Buffer.from(doc.dsseEnvelope.payload, 'base64').toString()).toBe(
      `{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"${DIGEST.slice(7)}"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}`,
    )
    expect(Buffer.from(signed.bundleBytes).toString()).toBe(signed.bundleJson)
  })

  it('puts -a annotations on the subject', () => {
    const statement = JSON.parse(
      Buffer.from(statementFor({ digest: DIGEST, annotations: { b: '2', a: '1' } })).toString(),
    )
    expect(statement.subject).toEqual([
      { digest: { sha256: DIGEST.slice(7) }, annotations: { a: '1', b: '2' } },
    ])
  })
})

describe('verifyBundle', () => {
  it('accepts a bundle signed with the key and naming the digest', async () => {
    const { bundleJson } = await signBundle({ digest: DIGEST, key })
    const report = verifyBundle(bundleJson, pub, DIGEST, {
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
    })
    expect(report).toMatchObject({ ok: true, predicateType: 'https://sigstore.dev/cosign/sign/v1' })
    expect(report.reason).toBeUndefined()
    expect(report.checked).toEqual([
      'DSSE signature over the statement with the given public key',
      `in-toto statement subject names ${DIGEST} (predicate https://sigstore.dev/cosign/sign/v1)`,
    ])
    expect(report.notChecked).toEqual(['transparency log (no entry recorded)'])
    // The private key works as the verifying key too (its public half is used).
    expect(verifyBundle(bundleJson, key, DIGEST).ok).toBe(true)
  })

  it('fails for another key', async () => {
    const { bundleJson } = await signBundle({ digest: DIGEST, key })
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey
    const report = verifyBundle(bundleJson, other, DIGEST)
    expect(report.ok).toBe(false)
    expect(report.reason).toMatch(/^signature does not verify with the given public key \(SIGNATURE_ERROR/)
    expect(report.checked).toEqual([])
  })

  it('fails with a clear reason when the statement is about another digest', async () => {
    const { bundleJson } = await signBundle({ digest: OTHER, key })
    const report = verifyBundle(bundleJson, pub, DIGEST)
    expect(report.ok).toBe(false)
    expect(report.reason).toBe(`statement is about ${OTHER}, not ${DIGEST}`)
    expect(report.checked).toEqual(['DSSE signature over the statement with the given public key'])
  })

  it('fails for a tampered payload even when it names the right digest', async () => {
    const { bundleJson } = await signBundle({ digest: OTHER, key })
    const doc = JSON.parse(bundleJson) as BundleDoc
    doc.dsseEnvelope.payload = Buffer.from(statementFor({ digest: DIGEST })).toString('base64')
    const report = verifyBundle(JSON.stringify(doc), pub, DIGEST)
    expect(report.ok).toBe(false)
    expect(report.reason).toMatch(/signature does not verify/)
  })

  it('enforces a predicate type when asked', async () => {
    const { bundleJson } = await signBundle({
      digest: DIGEST,
      key,
      predicateType: 'https://spdx.dev/Document',
    })
    const report = verifyBundle(bundleJson, pub, DIGEST, {
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
    })
    expect(report.reason).toBe(
      'predicate type is https://spdx.dev/Document, expected https://sigstore.dev/cosign/sign/v1',
    )
  })

  it('refuses garbage and message-signature bundles (cosign verify wants DSSE)', async () => {
    expect(verifyBundle('{', pub, DIGEST).reason).toMatch(/^not a valid Sigstore bundle/)
    expect(verifyBundle('{"mediaType":"x"}', pub, DIGEST).reason).toMatch(/^not a valid Sigstore bundle/)
    const signer = {
      sign: async (data: Buffer) => ({
        signature: sign('sha256', data, key),
        key: { $case: 'publicKey' as const, publicKey: '', hint: publicKeyHint(pub) },
      }),
    }
    const msg = await new MessageSignatureBundleBuilder({ signer, witnesses: [] }).create({
      data: Buffer.from('x'),
    })
    const { bundleToJSON } = await import('@sigstore/bundle')
    expect(verifyBundle(JSON.stringify(bundleToJSON(msg)), pub, DIGEST).reason).toBe(
      'bundle holds a message signature, not a DSSE envelope',
    )
  })

  it('reports, without checking, transparency-log entries it cannot verify offline', async () => {
    const { bundleJson } = await signBundle({ digest: DIGEST, key })
    const doc = JSON.parse(bundleJson)
    // A syntactically valid entry whose contents are irrelevant offline: it must not make the check fail.
    doc.verificationMaterial.tlogEntries = [
      {
        logIndex: '1',
        logId: { keyId: Buffer.alloc(32).toString('base64') },
        kindVersion: { kind: 'intoto', version: '0.0.2' },
        integratedTime: '1700000000',
        inclusionPromise: { signedEntryTimestamp: Buffer.from('set').toString('base64') },
        inclusionProof: {
          logIndex: '1',
          rootHash: Buffer.alloc(32).toString('base64'),
          treeSize: '2',
          hashes: [],
          checkpoint: { envelope: 'x' },
        },
        canonicalizedBody: Buffer.from('{}').toString('base64'),
      },
    ]
    const report = verifyBundle(JSON.stringify(doc), pub, DIGEST)
    expect(report.ok).toBe(true)
    expect(report.notChecked).toEqual(['transparency log (1 entry present, not checked offline)'])
  })
})

describe('bundleReferrerManifest', () => {
  it('matches the manifest cosign v3 pushes, byte for byte', async () => {
    const { bundleBytes } = await signBundle({ digest: DIGEST, key })
    const subject = {
      mediaType: 'application/vnd.oci.image.index.v1+json',
      size: 9342,
      digest: DIGEST as `sha256:${string}`,
    }
    const out = bundleReferrerManifest({ bundleBytes, subject, created: '2026-01-02T03:04:05Z' })
    const layerDigest = digestOf(bundleBytes)
    expect(out.layerDigest).toBe(layerDigest)
    expect(Buffer.from(out.configBytes).toString()).toBe('{}')
    expect(EMPTY_CONFIG_DIGEST).toBe(
      'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    )
    expect(Buffer.from(out.manifestBytes).toString()).toBe(
      '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",' +
        '"config":{"mediaType":"application/vnd.oci.empty.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"},' +
        `"layers":[{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","size":${bundleBytes.byteLength},"digest":"${layerDigest}"}],` +
        '"annotations":{"dev.sigstore.bundle.content":"dsse-envelope","dev.sigstore.bundle.predicateType":"https://sigstore.dev/cosign/sign/v1","org.opencontainers.image.created":"2026-01-02T03:04:05Z"},' +
        `"subject":{"mediaType":"application/vnd.oci.image.index.v1+json","size":9342,"digest":"${DIGEST}"},` +
        '"artifactType":"application/vnd.dev.sigstore.bundle.v0.3+json"}',
    )
    const parsed = parseManifest(out.manifestBytes)
    expect(subjectOf(parsed)?.digest).toBe(DIGEST)
  })

  it('keeps only mediaType, size and digest of the subject; takes extra layer annotations', async () => {
    const { bundleBytes } = await signBundle({ digest: DIGEST, key })
    const subject = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 10,
      digest: DIGEST,
      annotations: { x: 'y' },
    }
    const out = bundleReferrerManifest({
      bundleBytes,
      subject: subject as Parameters<typeof bundleReferrerManifest>[0]['subject'],
      created: createdNow(new Date('2026-03-04T05:06:07.890Z')),
      layerAnnotations: { 'org.opencontainers.image.title': 'sha256-x.sigstore.json' },
    })
    const m = JSON.parse(Buffer.from(out.manifestBytes).toString())
    expect(m.subject).toEqual({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 10,
      digest: DIGEST,
    })
    expect(m.annotations['org.opencontainers.image.created']).toBe('2026-03-04T05:06:07Z')
    expect(m.layers[0].annotations).toEqual({ 'org.opencontainers.image.title': 'sha256-x.sigstore.json' })
  })

  it('refuses bundles older than v0.3, which cosign would skip', () => {
    const old = new TextEncoder().encode(
      '{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.2"}',
    )
    const subject = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 1,
      digest: DIGEST as `sha256:${string}`,
    }
    expect(() => bundleReferrerManifest({ bundleBytes: old, subject, created: 'x' })).toThrow(
      /expected application\/vnd\.dev\.sigstore\.bundle\.v0\.3\+json/,
    )
  })
})
