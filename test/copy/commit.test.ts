import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copyImage } from '../../src/copy/copy.js'
import { OciLayout } from '../../src/layout/index.js'
import { cosignTag } from '../../src/reference/grammar.js'
import { RegistryClient } from '../../src/registry/index.js'
import { classicSignaturesOf } from '../../src/sign/classic.js'
import { signImage } from '../../src/supply/sign-image.js'
import { verifyImage } from '../../src/supply/verify-image.js'
import { copyReference } from '../../src/targets/copy-reference.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushArtifact, pushImage, syntheticImage } from '../helpers/registry-fixtures.js'

const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' })
const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  )

describe('copy: plan, apply, commit', () => {
  let reg: Distribution
  let dir: string
  let client: RegistryClient

  beforeAll(async () => {
    reg = await startDistribution()
    dir = await mkdtemp(join(tmpdir(), 'ferry-commit-'))
    process.env.XDG_STATE_HOME = join(dir, 'state')
    client = new RegistryClient()
  })
  afterAll(async () => {
    await client?.close()
    await reg?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('never drops signatures appended at the destination when copying again', async () => {
    const src = client.repository({ registry: reg.host, repository: 'merge/src' })
    const dst = client.repository({ registry: reg.host, repository: 'merge/dst' })
    const image = syntheticImage()
    await pushImage(src, image, 'v1')
    const [upstreamKey, siteKey] = [keyPair(), keyPair()]
    await signImage({ target: src, reference: 'v1', key: upstreamKey.privateKey })
    await copyImage(src, 'v1', dst, 'v1', { referrers: true })
    // The closed side adds its own approval signature; then upstream signs again and we re-copy.
    await signImage({ target: dst, reference: 'v1', key: siteKey.privateKey })
    const later = keyPair()
    await signImage({ target: src, reference: 'v1', key: later.privateKey })
    const again = await copyImage(src, 'v1', dst, 'v1', { referrers: true })
    expect(again.merged).toBe(1)
    const sig = await dst.fetchManifest(cosignTag(image.manifest.digest, 'sig'))
    expect(classicSignaturesOf(sig.bytes)).toHaveLength(3)
    for (const key of [upstreamKey, siteKey, later]) {
      const verified = await verifyImage({ target: dst, reference: 'v1', publicKey: key.publicKey })
      expect(verified.ok).toBe(true)
    }
    // A third copy finds nothing missing: the merged image already holds every source signature.
    const third = await copyImage(src, 'v1', dst, 'v1', { referrers: true })
    expect([third.merged, third.manifests.pushed]).toEqual([0, 0])
  })

  it('refuses to move a tag the precondition protects, and leaves it where it was', async () => {
    const src = client.repository({ registry: reg.host, repository: 'gate/src' })
    const dst = client.repository({ registry: reg.host, repository: 'gate/dst' })
    const [a, b] = [syntheticImage(), syntheticImage()]
    await pushImage(src, a, 'a')
    await pushImage(src, b, 'b')
    await copyImage(src, 'a', dst, 'v1.0.0', { tagPrecondition: { ifAbsent: true } })
    const moved = copyImage(src, 'b', dst, 'v1.0.0', { tagPrecondition: { ifAbsent: true } })
    expect(await code(moved)).toBe('CONFLICT')
    expect((await dst.resolve('v1.0.0')).digest).toBe(a.manifest.digest)
  })

  it('runs the gate before the tag and the ledger after it; a refusing gate writes no tag', async () => {
    const src = client.repository({ registry: reg.host, repository: 'hooks/src' })
    const dst = client.repository({ registry: reg.host, repository: 'hooks/dst' })
    const image = syntheticImage()
    await pushImage(src, image, 'v1')
    const refuse = {
      beforeCommit: () => {
        throw new Error('not signed')
      },
    }
    await expect(copyImage(src, 'v1', dst, 'v1', { hooks: refuse })).rejects.toThrow('not signed')
    expect(await code(dst.resolve('v1'))).toBe('NOT_FOUND')
    // Without attachments the root goes in with its tag (one PUT), so a refused copy left no manifest.
    expect(await dst.hasManifest(image.manifest.digest)).toBe(false)
    const ledger: string[] = []
    const result = await copyImage(src, 'v1', dst, 'v1', {
      hooks: {
        beforeCommit: (plan) => {
          ledger.push(`gate ${plan.root.digest}`)
        },
        afterCommit: (_plan, r) => {
          ledger.push(`tagged ${r.destination.tag} ${r.destination.digest}`)
        },
      },
    })
    expect(result.destination.digest).toBe(image.manifest.digest)
    expect(ledger).toEqual([`gate ${image.manifest.digest}`, `tagged v1 ${image.manifest.digest}`])
  })

  it('copies into a second repository view of one layout with its referrers (and again after a delete)', async () => {
    const src = client.repository({ registry: reg.host, repository: 'views/app' })
    const image = syntheticImage()
    await pushImage(src, image, 'v1')
    const sbom = await pushArtifact(src, image.manifest, 'application/spdx+json', '{"spdx":1}')
    const layout = await OciLayout.open(join(dir, 'views'), { create: true })
    for (const view of ['team/one', 'team/two']) {
      await copyImage(src, 'v1', layout.target(view), 'v1', { referrers: true })
      const listed = await layout.target(view).referrers(image.manifest.digest)
      expect(listed.map((d) => d.digest)).toEqual([sbom.digest])
    }
    const two = layout.target('team/two')
    await two.untag('v1')
    await two.deleteManifest(image.manifest.digest)
    await two.deleteManifest(sbom.digest)
    expect(await two.hasManifest(image.manifest.digest)).toBe(false)
    const again = await copyImage(src, 'v1', two, 'v1', { referrers: true })
    expect(again.manifests.pushed).toBe(3) // the image by digest, its SBOM, then the tag
    expect((await two.referrers(image.manifest.digest)).map((d) => d.digest)).toEqual([sbom.digest])
    expect(await layout.target('team/one').listTags()).toEqual(['v1'])
  })
})

describe('copy SRC:TAG DST@DIGEST', () => {
  let reg: Distribution
  let proxy: FaultProxy
  let client: RegistryClient

  beforeAll(async () => {
    reg = await startDistribution()
    proxy = await startFaultProxy(reg.url)
    client = new RegistryClient()
  })
  afterAll(async () => {
    await client?.close()
    await proxy?.stop()
    await reg?.stop()
  })

  it('checks the digest on the bytes it copies, so a tag that moves meanwhile is refused', async () => {
    const src = client.repository({ registry: reg.host, repository: 'moving/app' })
    const [old, moved] = [syntheticImage(), syntheticImage()]
    await pushImage(src, old, 'old')
    await pushImage(src, moved, 'v1')
    // The tag moved between a HEAD and the GET: the HEAD (rewritten here) still names the old digest.
    proxy.setRule((r) =>
      r.method === 'HEAD' && r.path.endsWith('/manifests/v1')
        ? {
            kind: 'rewrite',
            fn: (res) => ({
              ...res,
              headers: { ...res.headers, 'docker-content-digest': old.manifest.digest },
            }),
          }
        : undefined,
    )
    const copy = copyReference(
      `${proxy.host}/moving/app:v1`,
      `${reg.host}/moving/copy@${old.manifest.digest}`,
      {
        client,
      },
    )
    expect(await code(copy)).toBe('CONFLICT')
    expect(
      await client
        .repository({ registry: reg.host, repository: 'moving/copy' })
        .hasManifest(moved.manifest.digest),
    ).toBe(false)
  })
})
