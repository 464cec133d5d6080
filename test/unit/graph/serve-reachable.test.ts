import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Target } from '../../../src/content/target.js'
import { removeDigest } from '../../../src/layout/entries.js'
import { OciLayout } from '../../../src/layout/index.js'
import { descriptorOf } from '../../../src/oci/descriptor.js'
import type { Digest } from '../../../src/oci/digest.js'
import { childrenOf, type Manifest } from '../../../src/oci/manifest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import { cosignTag } from '../../../src/reference/grammar.js'
import { Membership } from '../../../src/serve/reachable.js'
import { layoutStore } from '../../../src/serve/store.js'
import {
  artifactFor,
  blobOf,
  type Image,
  indexOf,
  manifestOf,
  pushCosignStyleSignature,
  pushImage,
  putManifest,
  streamOf,
  syntheticImage,
} from '../../helpers/registry-fixtures.js'

/**
 * What `ferry serve` holds in a repository of a layout: the manifests its index.json entries reach and
 * the blobs those use. The layout is written here as skopeo leaves one (an index entry whose children
 * are bare blobs) plus what clients push: a referrer, a cosign tag, a referrers tag-schema index.
 */
describe('serve reachability (Membership over a layout)', () => {
  let dir: string
  let app: Target
  let index: Manifest
  let amd: Image
  let arm: Image
  let sbom: Image
  let sig: Manifest
  let fallback: Manifest
  const orphan = blobOf('a blob nothing names')
  const blobsOf = (m: Manifest) => childrenOf(m).blobs.map((b) => b.digest as Digest)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-reachable-'))
    const layout = await OciLayout.open(join(dir, 'layout'), { create: true })
    app = layout.target('app')
    ;[amd, arm] = ['amd64', 'arm64'].map((architecture) =>
      syntheticImage({ platform: { os: 'linux', architecture } }),
    ) as [Image, Image]
    for (const image of [amd, arm]) await pushImage(app, image)
    index = indexOf([
      { manifest: amd.manifest, platform: { os: 'linux', architecture: 'amd64' } },
      { manifest: arm.manifest, platform: { os: 'linux', architecture: 'arm64' } },
    ])
    await putManifest(app, index, '1.0')
    // skopeo's shape: the children are blobs of the layout, not entries.
    for (const child of [amd, arm]) {
      await layout.updateIndex((i) => removeDigest(i, 'app', child.manifest.digest))
    }
    sbom = artifactFor(descriptorOf(index), MediaType.spdxJson)
    await pushImage(app, sbom)
    sig = await pushCosignStyleSignature(app, index)
    // A client without the referrers API keeps its own list under the sha256-HEX tag.
    const listed = { ...descriptorOf(sbom.manifest, { artifactType: 'referrers' }) }
    fallback = manifestOf({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [listed] })
    await putManifest(app, fallback, index.digest.replace(':', '-'))
    await app.pushBlob(orphan.desc, streamOf(orphan.bytes))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('holds index children, referrers, cosign tags and the fallback index, with their blobs', async () => {
    const layout = await OciLayout.open(join(dir, 'layout'))
    const entries = (await layout.readIndex()).index.manifests.map((e) => e.digest)
    expect(entries).not.toContain(amd.manifest.digest)
    const members = new Membership(layoutStore(layout))
    for (const m of [index, amd.manifest, arm.manifest, sbom.manifest, sig, fallback]) {
      expect(await members.hasManifest('app', m.digest), m.digest).toBe(true)
    }
    for (const d of [amd, arm, sbom].flatMap((i) => blobsOf(i.manifest)).concat(blobsOf(sig))) {
      expect(await members.hasBlob('app', d), d).toBe(true)
    }
    expect(await members.hasBlob('app', orphan.desc.digest as Digest)).toBe(false)
    expect(await members.hasManifest('other', index.digest)).toBe(false)
    expect(cosignTag(index.digest, 'sig')).toBe(`${index.digest.replace(':', '-')}.sig`)
    expect(await members.indexesHolding('app', amd.manifest.digest)).toEqual([index.digest])
    expect(await members.indexesHolding('app', sbom.manifest.digest)).toEqual([fallback.digest])
  })

  it('leaves out a child deleted by digest while its index still lists it, and its blobs', async () => {
    const layout = await OciLayout.open(join(dir, 'layout'))
    const members = new Membership(layoutStore(layout))
    expect(await members.hasBlob('app', blobsOf(arm.manifest)[1]!)).toBe(true)
    members.deleteManifest('app', arm.manifest.digest)
    expect(await members.hasManifest('app', arm.manifest.digest)).toBe(false)
    expect(await members.hasBlob('app', blobsOf(arm.manifest)[1]!)).toBe(false)
    expect(await members.hasManifest('app', amd.manifest.digest)).toBe(true)
    expect(await members.indexesHolding('app', arm.manifest.digest)).toEqual([])
    members.pushManifest('app', arm.manifest.digest)
    expect(await members.hasManifest('app', arm.manifest.digest)).toBe(true)
  })

  it('walks a repository again only when its entries change, reading each manifest once', async () => {
    const layout = await OciLayout.open(join(dir, 'layout'))
    let reads = 0
    const store = layoutStore(layout)
    const counted = {
      ...store,
      target: (name: string) => {
        const t = store.target(name)
        return new Proxy(t, {
          get(o, prop, receiver) {
            if (prop !== 'fetchManifest') return Reflect.get(o, prop, receiver)
            return (...args: Parameters<typeof t.fetchManifest>) => {
              reads++
              return o.fetchManifest(...args)
            }
          },
        })
      },
    }
    const members = new Membership(counted)
    await members.hasManifest('app', amd.manifest.digest)
    const first = reads
    expect(first).toBeGreaterThanOrEqual(6)
    await members.hasBlob('app', blobsOf(amd.manifest)[0]!)
    expect(reads).toBe(first)
    // A new entry: the next request walks again, reading only what it had not read before.
    const late = syntheticImage()
    await pushImage(layout.target('app'), late, 'late')
    expect(await members.hasBlob('app', blobsOf(late.manifest)[0]!)).toBe(true)
    expect(reads).toBe(first + 1)
  })
})
