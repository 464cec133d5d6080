import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { MemoryTarget } from '../../../src/content/memory.js'
import { copyImage } from '../../../src/copy/copy.js'
import { OciLayout } from '../../../src/layout/index.js'
import { cosignTag } from '../../../src/reference/grammar.js'
import { classicSignaturesOf } from '../../../src/sign/classic.js'
import { signImage } from '../../../src/supply/sign-image.js'
import { verifyImage } from '../../../src/supply/verify-image.js'
import { pushArtifact, pushImage, syntheticImage } from '../../helpers/registry-fixtures.js'
import { tracking } from '../../helpers/tracking-target.js'

/** The commit step of copy: the tag under its precondition, between the hooks; cosign tags merged. */

const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' })
const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  )

describe('copy: plan, apply, commit', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-commit-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('never drops signatures appended at the destination when copying again', async () => {
    const src = new MemoryTarget('memory:merge/src')
    const dst = new MemoryTarget('memory:merge/dst')
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
    const src = new MemoryTarget('memory:gate/src')
    const dst = new MemoryTarget('memory:gate/dst')
    const [a, b] = [syntheticImage(), syntheticImage()]
    await pushImage(src, a, 'a')
    await pushImage(src, b, 'b')
    await copyImage(src, 'a', dst, 'v1.0.0', { tagPrecondition: { ifAbsent: true } })
    const moved = copyImage(src, 'b', dst, 'v1.0.0', { tagPrecondition: { ifAbsent: true } })
    expect(await code(moved)).toBe('CONFLICT')
    expect((await dst.resolve('v1.0.0')).digest).toBe(a.manifest.digest)
  })

  it('runs the gate before the tag and the ledger after it; a refusing gate writes no tag', async () => {
    const src = new MemoryTarget('memory:hooks/src')
    const { target: dst, calls } = tracking(new MemoryTarget('memory:hooks/dst'))
    const image = syntheticImage()
    await pushImage(src, image, 'v1')
    const refuse = {
      beforeCommit: () => {
        throw new Error('not signed')
      },
    }
    await expect(copyImage(src, 'v1', dst, 'v1', { hooks: refuse })).rejects.toThrow('not signed')
    expect(calls.count('tag')).toBe(0)
    expect(await code(dst.resolve('v1'))).toBe('NOT_FOUND')
    // Without attachments the root goes in with its tag (one write), so a refused copy left no manifest.
    expect(await dst.hasManifest(image.manifest.digest)).toBe(false)
    const ledger: string[] = []
    const result = await copyImage(src, 'v1', dst, 'v1', {
      hooks: {
        beforeCommit: (plan) => {
          ledger.push(`gate ${plan.root.digest} (tag written ${calls.count('tag')} times)`)
        },
        afterCommit: (_plan, r) => {
          ledger.push(
            `tagged ${r.destination.tag} ${r.destination.digest} (tag written ${calls.count('tag')} times)`,
          )
        },
      },
    })
    expect(result.destination.digest).toBe(image.manifest.digest)
    expect(ledger).toEqual([
      `gate ${image.manifest.digest} (tag written 0 times)`,
      `tagged v1 ${image.manifest.digest} (tag written 1 times)`,
    ])
  })

  it('copies into a second repository view of one layout with its referrers (and again after a delete)', async () => {
    const src = new MemoryTarget('memory:views/app')
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
