import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import type { Manifest } from '../../../src/oci/manifest.js'
import { checkImage, loadPolicy, type Policy } from '../../../src/policy/index.js'
import { indexOf, pushImage, putManifest, syntheticImage } from '../../helpers/registry-fixtures.js'
import { examplePolicyIn, OCI_LABELS, releaser } from '../../policy/helpers.js'
import { makeKeys, tempDir } from '../../supply/helpers.js'

/**
 * The example policy's rules on images in memory: labels wherever they are, an index's platforms,
 * signatures and SBOMs, warn mode. Signatures found through a registry's tag schema or referrers API,
 * and promote itself, are test/policy/promote.test.ts.
 */

const HOST = 'registry.test'
const keys = makeKeys()
const other = makeKeys()
const release = releaser(keys)

describe('policy check', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let policy: Policy
  let src: MemoryTarget

  beforeAll(async () => {
    tmp = await tempDir('ferry-policy-check-')
    policy = await loadPolicy((await examplePolicyIn(tmp.dir, keys)).path)
    src = new MemoryTarget(`${HOST}/acme/shop/api`)
  })
  afterAll(async () => {
    await tmp?.remove()
  })

  it('checks labels found as annotations and as config labels, and says where', async () => {
    const a = await release(src, 'labels-annotations', { labels: 'annotations' })
    const c = await release(src, 'labels-config', { labels: 'config' })
    const n = await release(src, 'labels-none', { labels: 'none' })
    const name = { host: HOST, repository: 'acme/shop/api', tag: 'x' }
    const labels = async (m: Manifest) =>
      (await checkImage({ policy, target: src, digest: m.digest, name })).checks.find(
        (r) => r.rule === 'labels',
      )!
    const byAnnotation = await labels(a)
    expect(byAnnotation.result).toBe('pass')
    expect(byAnnotation.message).toContain('org.opencontainers.image.revision=0b1c2d3e4f5a (annotation)')
    const byLabel = await labels(c)
    expect(byLabel.result).toBe('pass')
    expect(byLabel.message).toContain('org.opencontainers.image.revision=0b1c2d3e4f5a (label)')
    const missing = await labels(n)
    expect(missing.result).toBe('fail')
    expect(missing.evidence).toMatchObject({ missing: Object.keys(OCI_LABELS) })
  })

  it('finds labels an index carries on every platform image', async () => {
    const amd = syntheticImage({ labels: OCI_LABELS, platform: { os: 'linux', architecture: 'amd64' } })
    const arm = syntheticImage({ labels: OCI_LABELS, platform: { os: 'linux', architecture: 'arm64' } })
    await pushImage(src, amd)
    await pushImage(src, arm)
    const index = indexOf([
      { manifest: amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
    ])
    await putManifest(src, index, 'multi')
    const check = await checkImage({
      policy,
      target: src,
      digest: index.digest,
      name: { repository: 'acme/shop/api' },
    })
    expect(check.checks.map((c) => [c.rule, c.result])).toEqual([
      ['naming', 'pass'],
      ['labels', 'pass'],
    ])
    expect(check.environment).toBeNull()
    expect(check.labels).toEqual({
      source: OCI_LABELS['org.opencontainers.image.source'],
      revision: '0b1c2d3e4f5a',
      created: '2026-11-30T12:00:00Z',
    })
  })

  it('fails a required label that is there but empty (or blank), as an annotation or on one platform image', async () => {
    const source = 'org.opencontainers.image.source'
    const empty = syntheticImage({ layerSizes: [16], annotations: { ...OCI_LABELS, [source]: '' } })
    await pushImage(src, empty, 'labels-empty')
    const name = { repository: 'acme/shop/api' }
    const labels = async (digest: string) =>
      (await checkImage({ policy, target: src, digest: digest as Manifest['digest'], name })).checks.find(
        (r) => r.rule === 'labels',
      )!
    const annotated = await labels(empty.manifest.digest)
    expect(annotated.result).toBe('fail')
    expect(annotated.message).toMatch(/^empty org\.opencontainers\.image\.source \(annotation\); found /)
    expect(annotated.evidence).toMatchObject({ missing: [], empty: [source] })

    const amd = syntheticImage({ labels: OCI_LABELS, platform: { os: 'linux', architecture: 'amd64' } })
    const arm = syntheticImage({
      labels: { ...OCI_LABELS, [source]: ' ' },
      platform: { os: 'linux', architecture: 'arm64' },
    })
    await pushImage(src, amd)
    await pushImage(src, arm)
    const index = indexOf([
      { manifest: amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
    ])
    await putManifest(src, index, 'multi-blank')
    const onePlatform = await labels(index.digest)
    expect(onePlatform.result).toBe('fail')
    expect(onePlatform.evidence).toMatchObject({ empty: [source] })
  })

  it('passes every prod rule for a signed release with a signed SBOM, and fails each one that is broken', async () => {
    const good = await release(src, 'v1.0.0', { sign: true, sbom: 'signed' })
    const prodName = (tag: string) => ({ host: HOST, repository: 'acme/shop/api-prod', tag })
    const ok = await checkImage({ policy, target: src, digest: good.digest, name: prodName('v1.0.0') })
    expect(ok.environment).toBe('prod')
    expect(ok.checks.map((c) => [c.rule, c.result])).toEqual([
      ['naming', 'pass'],
      ['labels', 'pass'],
      ['signature', 'pass'],
      ['sbom', 'pass'],
      ['tags.forbid', 'pass'],
      ['tags.semver', 'pass'],
      ['immutable', 'pass'],
    ])
    const sig = ok.checks.find((c) => c.rule === 'signature')!
    expect(sig.evidence).toMatchObject({
      key: 'release.pub',
      fingerprint: policy.environments[0]!.keys[0]!.fingerprint,
    })
    // Both schemes were written (a cosign tag, a referrer): both verify, and the evidence names each.
    expect((sig.evidence as { signatures: unknown[] }).signatures).toHaveLength(2)

    const bad = await checkImage({
      policy,
      target: src,
      digest: good.digest,
      name: { ...prodName('latest'), repository: 'acme/shop/API-prod' },
    })
    expect(Object.fromEntries(bad.checks.map((c) => [c.rule, c.result]))).toMatchObject({
      naming: 'fail',
      'tags.forbid': 'fail',
      'tags.semver': 'fail',
    })

    const wrongKey = await release(src, 'v1.0.1', { sign: true, sbom: 'signed', key: other })
    const byOther = await checkImage({
      policy,
      target: src,
      digest: wrongKey.digest,
      name: prodName('v1.0.1'),
    })
    expect(byOther.checks.find((c) => c.rule === 'signature')).toMatchObject({ result: 'fail' })
    expect(byOther.checks.find((c) => c.rule === 'sbom')).toMatchObject({ result: 'fail' })

    const unsignedSbom = await release(src, 'v1.0.2', { sign: true, sbom: 'unsigned' })
    const noSbomSig = await checkImage({
      policy,
      target: src,
      digest: unsignedSbom.digest,
      name: prodName('v1.0.2'),
    })
    expect(noSbomSig.checks.find((c) => c.rule === 'signature')!.result).toBe('pass')
    expect(noSbomSig.checks.find((c) => c.rule === 'sbom')).toMatchObject({
      result: 'fail',
      message: '1 SBOM attached, none signed with the given key',
    })
  })

  it('turns failures into warnings in a warn-mode environment, global rules included', async () => {
    const m = await release(src, '1.0-dev', { labels: 'none' })
    const check = await checkImage({
      policy,
      target: src,
      digest: m.digest,
      name: { host: HOST, repository: 'acme/api', tag: '1.0-dev' },
    })
    expect(check.environment).toBe('dev')
    expect(check.checks.map((c) => [c.rule, c.result])).toEqual([
      ['naming', 'warn'],
      ['labels', 'warn'],
    ])
  })
})
