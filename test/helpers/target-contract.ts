import { buffer } from 'node:stream/consumers'
import { expect, it } from 'vitest'
import type { DeleteSupport, ReferrersListing, Target } from '../../src/content/target.js'
import { MediaType } from '../../src/oci/media-types.js'
import { artifactFor, blobOf, pushImage, streamOf, syntheticImage } from './registry-fixtures.js'

/**
 * The storage contract as test cases, run unchanged against every backend that implements `Target`: in
 * the unit suite on memory and an OCI layout (test/unit/content/contract.test.ts), in the integration
 * suite on distribution 2.8 and ferry serve over HTTP (test/content/contract.test.ts). A backend that
 * drifts from the others fails here, not in whichever algorithm meets the difference first.
 */

export interface ContractBackend {
  name: string
  /** A repository of the backend; each case opens its own. */
  open(repository: string): Promise<Target>
  deletes: DeleteSupport
  listing: ReferrersListing
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: { code?: string }) => e.code,
  )

// distribution answers tags/list for a repository without tags with NAME_UNKNOWN.
const tagsOf = (target: Target) =>
  target.listTags().catch((e: { code?: string }) => {
    if (e.code === 'NOT_FOUND') return []
    throw e
  })

export function targetContract(backend: ContractBackend): void {
  it('says which deletes it allows and how it lists referrers', async () => {
    const target = await backend.open('contract/caps')
    expect(await target.deletes()).toEqual(backend.deletes)
    expect(await target.referrersListing()).toBe(backend.listing)
  })

  it('stores a manifest by digest without naming it', async () => {
    const target = await backend.open('contract/store')
    const image = syntheticImage()
    await pushImage(target, image)
    expect(await target.hasManifest(image.manifest.digest)).toBe(true)
    expect(await tagsOf(target)).toEqual([])
  })

  it('gives back a manifest’s exact bytes, by digest and by tag', async () => {
    const target = await backend.open('contract/bytes')
    const image = syntheticImage()
    await pushImage(target, image, 'v1')
    const { digest } = image.manifest
    expect(Buffer.from((await target.fetchManifest(digest)).bytes)).toEqual(Buffer.from(image.manifest.bytes))
    expect((await target.fetchManifest('v1')).digest).toBe(digest)
    expect(await target.resolve('v1')).toMatchObject({
      mediaType: MediaType.ociManifest,
      digest,
      size: image.manifest.bytes.byteLength,
    })
    expect(await code(target.fetchManifest('absent'))).toBe('NOT_FOUND')
    expect(await code(target.resolve(syntheticImage().manifest.digest))).toBe('NOT_FOUND')
  })

  it('stores a blob only when its size and digest verify', async () => {
    const target = await backend.open('contract/blobs')
    const good = blobOf(`blob ${Math.random()}`)
    await target.pushBlob(good.desc, streamOf(good.bytes))
    expect(await target.hasBlob(good.desc)).toBe(true)
    expect(await buffer(await target.fetchBlob(good.desc))).toEqual(good.bytes)

    const liar = blobOf(`liar ${Math.random()}`)
    const other = Buffer.from(
      `other ${Math.random()}`.padEnd(liar.bytes.length, '.').slice(0, liar.bytes.length),
    )
    expect(await code(target.pushBlob(liar.desc, streamOf(other)))).toBe('DIGEST_MISMATCH')
    expect(await target.hasBlob(liar.desc)).toBe(false)
    const short = blobOf(`short ${Math.random()}`)
    const declared = { ...short.desc, size: short.desc.size + 10 }
    expect(await code(target.pushBlob(declared, streamOf(short.bytes)))).toBe('SIZE_INVALID')
    expect(await target.hasBlob(declared)).toBe(false)
  })

  it('tags only when the precondition holds, and says what the tag named before', async () => {
    const target = await backend.open('contract/tags')
    const [a, b] = [syntheticImage(), syntheticImage()]
    await pushImage(target, a)
    await pushImage(target, b)
    expect(await target.tag(a.manifest, 'v1', { precondition: { ifAbsent: true } })).toEqual({
      previous: undefined,
      changed: true,
    })
    // A release tag never moves: ifAbsent refuses b, and accepts a again as a no-op.
    expect(await code(target.tag(b.manifest, 'v1', { precondition: { ifAbsent: true } }))).toBe('CONFLICT')
    expect((await target.resolve('v1')).digest).toBe(a.manifest.digest)
    expect(await target.tag(a.manifest, 'v1', { precondition: { ifAbsent: true } })).toMatchObject({
      changed: false,
    })
    // ifMatch: only from the value a plan saw.
    const stale = { precondition: { ifMatch: b.manifest.digest } }
    expect(await code(target.tag(b.manifest, 'v1', stale))).toBe('CONFLICT')
    expect((await target.resolve('v1')).digest).toBe(a.manifest.digest)
    const fresh = { precondition: { ifMatch: a.manifest.digest } }
    expect(await target.tag(b.manifest, 'v1', fresh)).toEqual({ previous: a.manifest.digest, changed: true })
    expect((await target.resolve('v1')).digest).toBe(b.manifest.digest)
  })

  it('tags from a bare descriptor of a manifest it holds', async () => {
    const target = await backend.open('contract/bare')
    const image = syntheticImage()
    await pushImage(target, image)
    const { mediaType, digest } = image.manifest
    await target.tag({ mediaType, digest, size: image.manifest.bytes.byteLength }, 'bare')
    expect((await target.resolve('bare')).digest).toBe(digest)
  })

  it('untags one name and keeps the manifest and its other names', async () => {
    const target = await backend.open('contract/untag')
    const image = syntheticImage()
    await pushImage(target, image, 'keep')
    await target.tag(image.manifest, 'drop')
    expect(await code(target.untag('drop', { ifMatch: syntheticImage().manifest.digest }))).toBe('CONFLICT')
    expect((await target.resolve('drop')).digest).toBe(image.manifest.digest)
    await target.untag('drop', { ifMatch: image.manifest.digest })
    expect(await target.listTags()).toEqual(['keep'])
    expect(await target.hasManifest(image.manifest.digest)).toBe(true)
    expect((await target.resolve('keep')).digest).toBe(image.manifest.digest)
    expect(await code(target.untag('drop'))).toBe('NOT_FOUND')
  })

  it('lists a referrer under its subject, by artifactType, until the referrer is deleted', async () => {
    const target = await backend.open('contract/referrers')
    const subject = syntheticImage()
    await pushImage(target, subject, 'app')
    const { mediaType, digest } = subject.manifest
    const sbom = artifactFor(
      { mediaType, digest, size: subject.manifest.bytes.byteLength },
      MediaType.spdxJson,
    )
    await pushImage(target, sbom)
    const listed = await target.referrers(digest)
    expect(listed.map((d) => [d.digest, d.artifactType])).toEqual([
      [sbom.manifest.digest, MediaType.spdxJson],
    ])
    expect(await target.referrers(digest, { artifactType: MediaType.spdxJson })).toHaveLength(1)
    expect(await target.referrers(digest, { artifactType: 'application/example' })).toEqual([])

    await target.deleteManifest(sbom.manifest.digest)
    expect(await target.hasManifest(sbom.manifest.digest)).toBe(false)
    expect(await target.referrers(digest)).toEqual([])
    expect((await target.resolve('app')).digest).toBe(digest)
  })

  it('deletes a manifest by digest, and its tags with it', async () => {
    const target = await backend.open('contract/delete')
    const [gone, kept] = [syntheticImage(), syntheticImage()]
    await pushImage(target, gone, 'gone')
    await pushImage(target, kept, 'kept')
    await target.deleteManifest(gone.manifest.digest)
    expect(await target.hasManifest(gone.manifest.digest)).toBe(false)
    expect(await code(target.resolve('gone'))).toBe('NOT_FOUND')
    expect(await target.listTags()).toEqual(['kept'])
    expect(await code(target.deleteManifest(gone.manifest.digest))).toBe('NOT_FOUND')
  })
}
