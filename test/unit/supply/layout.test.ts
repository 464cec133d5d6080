import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Target } from '../../../src/content/target.js'
import { FerryError } from '../../../src/errors.js'
import { MediaType } from '../../../src/oci/media-types.js'
import {
  attachArtifact,
  attachSbom,
  listAttached,
  signImage,
  verifyImage,
} from '../../../src/supply/index.js'
import {
  CYCLONEDX,
  layoutTarget,
  makeKeys,
  pushTestImage,
  pushTestIndex,
  SPDX,
  tempDir,
} from '../../supply/helpers.js'

// The whole flow on an OCI layout: referrers come from index.json, cosign tags are ref names.
const keys = makeKeys()
let tmp: Awaited<ReturnType<typeof tempDir>>
let target: Target

beforeAll(async () => {
  tmp = await tempDir()
  target = await layoutTarget(`${tmp.dir}/layout`)
})

afterAll(async () => {
  await target?.close()
  await tmp?.remove()
})

describe('signing, attaching and verifying in an OCI layout', () => {
  it('signs by digest, attaches a signed SBOM, lists both schemes and verifies', async () => {
    const image = await pushTestImage(target, 'v1')
    const signed = await signImage({
      target,
      reference: 'v1',
      key: keys.key,
      format: 'both',
      dockerReference: 'reg.example/app',
    })
    expect(signed.digest).toBe(image.digest)
    expect(signed.classic?.tag).toBe(`sha256-${image.digest.slice(7)}.sig`)
    expect(signed.classic?.signatures).toBe(1)
    expect(signed.bundle?.manifest).toMatch(/^sha256:/)

    // Signing again with the same key adds nothing (cosign's duplicate check).
    const again = await signImage({
      target,
      reference: image.digest,
      key: keys.key,
      format: 'classic',
      dockerReference: 'reg.example/app',
    })
    expect(again.classic?.skipped).toBe(true)
    expect(again.classic?.manifest).toBe(signed.classic?.manifest)

    const sbom = await attachSbom({ target, reference: 'v1', bytes: SPDX, title: 'sbom.spdx.json' })
    expect(sbom.subject).toBe(image.digest)
    expect(sbom.artifactType).toBe(MediaType.spdxJson)
    expect(sbom.format).toBe('spdx')

    const before = await verifyImage({ target, reference: 'v1', publicKey: keys.pub, requireSbom: true })
    expect(before.ok).toBe(false)
    expect(before.reason).toBe('1 SBOM attached, none signed with the given key')
    expect(before.requirements.find((r) => r.name === 'signature')?.ok).toBe(true)

    const sbomSigned = await signImage({ target, reference: sbom.digest, key: keys.key, format: 'bundle' })
    expect(sbomSigned.digest).toBe(sbom.digest)

    const report = await verifyImage({ target, reference: 'v1', publicKey: keys.pub, requireSbom: true })
    expect(report.reason).toBeUndefined()
    expect(report.ok).toBe(true)
    expect(report.digest).toBe(image.digest)
    expect(report.signatures.map((s) => [s.scheme, s.format, s.ok])).toEqual([
      ['cosign-tag', 'classic', true],
      ['layout', 'bundle', true],
    ])
    expect(report.sboms).toHaveLength(1)
    expect(report.sboms?.[0]).toMatchObject({
      scheme: 'layout',
      digest: sbom.digest,
      format: 'spdx',
      signed: true,
    })
    // A classic and a bundle signature: each thing left unchecked is listed once, in the same words.
    expect(report.notChecked).toEqual([
      'docker-reference in the payload (not part of the check, as in cosign)',
      'transparency log (no entry recorded)',
    ])

    const tree = await listAttached({ target, reference: 'v1' })
    expect(tree.referrersScheme).toBe('layout')
    expect(tree.digest).toBe(image.digest)
    const types = tree.attached.map((e) => [e.scheme, e.artifactType]).sort()
    expect(types).toEqual([
      ['cosign-tag', MediaType.cosignSimpleSigning],
      ['layout', MediaType.spdxJson],
      ['layout', MediaType.sigstoreBundleV03],
    ])
    const sbomNode = tree.attached.find((e) => e.digest === sbom.digest)
    expect(sbomNode?.children.map((c) => c.artifactType)).toEqual([MediaType.sigstoreBundleV03])

    const onlySboms = await listAttached({ target, reference: 'v1', artifactType: MediaType.spdxJson })
    expect(onlySboms.attached.map((e) => e.digest)).toEqual([sbom.digest])
    expect(onlySboms.attached[0]?.children).toHaveLength(1)
  })

  it('requires -a annotations in both formats', async () => {
    await pushTestImage(target, 'annotated')
    await signImage({
      target,
      reference: 'annotated',
      key: keys.key,
      format: 'both',
      annotations: { env: 'prod' },
    })
    const ok = await verifyImage({
      target,
      reference: 'annotated',
      publicKey: keys.pub,
      annotations: { env: 'prod' },
    })
    expect(ok.ok).toBe(true)
    expect(ok.signatures.every((s) => s.ok)).toBe(true)
    const wrong = await verifyImage({
      target,
      reference: 'annotated',
      publicKey: keys.pub,
      annotations: { env: 'dev' },
    })
    expect(wrong.ok).toBe(false)
    expect(wrong.signatures.map((s) => s.reason)).toEqual([
      'payload annotation env is not "dev"',
      'statement annotation env is not "dev"',
    ])
  })

  it('refuses an SBOM whose content is not the requested format, and checks artifact types', async () => {
    await pushTestImage(target, 'sbom-check')
    const err = await attachSbom({ target, reference: 'sbom-check', bytes: CYCLONEDX, format: 'spdx' }).catch(
      (e) => e,
    )
    expect(err).toBeInstanceOf(FerryError)
    expect(err.code).toBe('USAGE')
    expect(err.message).toBe('SBOM is cyclonedx, not spdx as requested')
    const bad = await attachArtifact({
      target,
      reference: 'sbom-check',
      artifactType: 'not a type',
      bytes: SPDX,
    }).catch((e) => e)
    expect(bad.code).toBe('USAGE')
    const ok = await attachArtifact({
      target,
      reference: 'sbom-check',
      artifactType: 'application/vnd.example.report.v1+json',
      bytes: new TextEncoder().encode('{"ok":true}'),
      annotations: { 'com.example.kind': 'scan' },
    })
    const tree = await listAttached({ target, reference: 'sbom-check' })
    expect(tree.attached).toEqual([
      expect.objectContaining({
        digest: ok.digest,
        artifactType: 'application/vnd.example.report.v1+json',
        annotations: expect.objectContaining({ 'com.example.kind': 'scan' }),
      }),
    ])
  })

  it('lists what is attached to each child of an index', async () => {
    const { index, children } = await pushTestIndex(target, 'multi')
    await signImage({ target, reference: 'multi', key: keys.key })
    await attachSbom({ target, reference: children[1]!.digest, bytes: CYCLONEDX })
    const tree = await listAttached({ target, reference: 'multi' })
    expect(tree.digest).toBe(index.digest)
    expect(tree.attached.map((e) => e.scheme)).toEqual(['cosign-tag'])
    expect(tree.manifests?.map((m) => [m.platform, m.attached.map((e) => e.artifactType)])).toEqual([
      ['linux/amd64', []],
      ['linux/arm64', [MediaType.cyclonedxJson]],
    ])
  })
})
