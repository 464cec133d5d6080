import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { FerryError } from '../../../src/errors.js'
import { OciLayout, openLayoutTarget } from '../../../src/layout/index.js'
import { refNameOf } from '../../../src/layout/naming.js'
import { descriptorOf } from '../../../src/oci/descriptor.js'
import { MediaType } from '../../../src/oci/media-types.js'
import {
  artifactFor,
  indexOf,
  manifestOf,
  pushImage,
  putManifest,
  readAll,
  syntheticImage,
} from '../../helpers/registry-fixtures.js'
import { useTempRoot } from '../../layout/helpers/temp.js'

const tmp = useTempRoot()

async function code(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  return err instanceof FerryError ? err.code : undefined
}

describe('LayoutTarget round trips', () => {
  it('stores a manifest by tag and by digest with its exact bytes', async () => {
    const target = await openLayoutTarget(tmp.path('roundtrip'), { create: true })
    expect(target.name).toBe(`oci:${target.layout.dir}`)
    const image = syntheticImage()
    await pushImage(target, image, '1.0')
    const byTag = await target.fetchManifest('1.0')
    expect(Buffer.from(byTag.bytes)).toEqual(Buffer.from(image.manifest.bytes))
    expect(byTag.digest).toBe(image.manifest.digest)
    const byDigest = await target.fetchManifest(image.manifest.digest)
    expect(byDigest.kind).toBe('image')
    expect(byDigest.mediaType).toBe(MediaType.ociManifest)
    const desc = {
      mediaType: MediaType.ociManifest,
      digest: image.manifest.digest,
      size: image.manifest.bytes.length,
    }
    expect(await target.resolve('1.0')).toEqual(desc)
    expect(await target.resolve(image.manifest.digest)).toEqual(desc)
    expect(await target.hasManifest(image.manifest.digest)).toBe(true)
    for (const b of [image.config, ...image.layers])
      expect((await readAll(await target.fetchBlob(b.desc))).equals(b.bytes)).toBe(true)
    expect(await target.listTags()).toEqual(['1.0'])
    expect(await code(target.resolve('2.0'))).toBe('NOT_FOUND')
    expect(await code(target.fetchManifest(`sha256:${'0'.repeat(64)}`))).toBe('NOT_FOUND')
  })

  it('keeps Docker media types and an index with its children', async () => {
    const target = await openLayoutTarget(tmp.path('index'), { create: true })
    const children = ['amd64', 'arm64'].map((architecture) => {
      const platform = { os: 'linux', architecture }
      return { ...syntheticImage({ platform }), platform }
    })
    const index = indexOf(children)
    for (const child of children) await pushImage(target, child)
    await putManifest(target, index, 'multi')
    const fetched = await target.fetchManifest('multi')
    expect(fetched.kind).toBe('index')
    expect(fetched.digest).toBe(index.digest)
    for (const child of children) {
      expect((await target.fetchManifest(child.manifest.digest)).digest).toBe(child.manifest.digest)
    }
    // Children pushed by digest are untagged entries; only the index is tagged.
    expect(await target.listTags()).toEqual(['multi'])
    expect((await target.layout.readIndex()).index.manifests).toHaveLength(3)

    const config = { mediaType: MediaType.dockerConfig, digest: children[0]!.config.desc.digest, size: 1 }
    const docker = manifestOf({
      schemaVersion: 2,
      mediaType: MediaType.dockerManifest,
      config: { ...children[0]!.config.desc, mediaType: config.mediaType },
      layers: [{ ...children[0]!.layers[0]!.desc, mediaType: MediaType.dockerLayerGzip }],
    })
    await putManifest(target, docker, 'docker')
    expect((await target.resolve('docker')).mediaType).toBe(MediaType.dockerManifest)
    expect((await target.fetchManifest(docker.digest)).mediaType).toBe(MediaType.dockerManifest)
    // An artifact's own artifactType is kept on its entry and in resolve(), by tag and by digest.
    const sbom = artifactFor(descriptorOf(index, { artifactType: 'referrers' }), MediaType.spdxJson)
    await pushImage(target, sbom, 'sbom')
    expect((await target.resolve('sbom')).artifactType).toBe(MediaType.spdxJson)
    expect((await target.resolve(sbom.manifest.digest)).artifactType).toBe(MediaType.spdxJson)
  })

  it('moves a tag when it is pushed again', async () => {
    const target = await openLayoutTarget(tmp.path('move'), { create: true })
    const a = syntheticImage()
    const b = syntheticImage()
    await pushImage(target, a, 'latest')
    await pushImage(target, a, 'latest') // idempotent
    expect((await target.layout.readIndex()).index.manifests).toHaveLength(1)
    await pushImage(target, b, 'latest')
    expect((await target.resolve('latest')).digest).toBe(b.manifest.digest)
    // The manifest the tag named before stays, untagged, as a registry keeps it.
    expect((await target.layout.readIndex()).index.manifests.map((e) => [e.digest, refNameOf(e)])).toEqual([
      [b.manifest.digest, 'latest'],
      [a.manifest.digest, undefined],
    ])
    expect((await target.fetchManifest(a.manifest.digest)).digest).toBe(a.manifest.digest)
  })

  it('lists referrers with artifactType and annotations, filtered on request', async () => {
    const dir = tmp.path('referrers')
    const target = await openLayoutTarget(dir, { create: true, repository: 'acme/web' })
    const image = syntheticImage()
    await pushImage(target, image, 'v1.4.2')
    const subject = descriptorOf(image.manifest, { artifactType: 'referrers' })
    const sbom = artifactFor(subject, MediaType.spdxJson, {
      'org.opencontainers.image.created': '2024-01-01',
    })
    const sig = artifactFor(subject, MediaType.sigstoreBundleV03)
    await pushImage(target, sbom)
    await pushImage(target, sig)
    const all = await target.referrers(image.manifest.digest)
    expect(all).toEqual([
      {
        mediaType: MediaType.ociManifest,
        digest: sbom.manifest.digest,
        size: sbom.manifest.bytes.byteLength,
        artifactType: MediaType.spdxJson,
        annotations: { 'org.opencontainers.image.created': '2024-01-01' },
      },
      {
        mediaType: MediaType.ociManifest,
        digest: sig.manifest.digest,
        size: sig.manifest.bytes.byteLength,
        artifactType: MediaType.sigstoreBundleV03,
      },
    ])
    expect(await target.referrers(image.manifest.digest, { artifactType: MediaType.spdxJson })).toEqual([
      all[0],
    ])
    expect(await target.referrers(sbom.manifest.digest)).toEqual([])
    // Other repositories of the same layout do not see them.
    expect(await target.layout.target('acme/other').referrers(image.manifest.digest)).toEqual([])

    // Entries without the subject hint (written by another tool) are found by reading the manifest.
    const indexPath = join(dir, 'index.json')
    const doc = JSON.parse(await readFile(indexPath, 'utf8'))
    for (const m of doc.manifests) delete m.annotations['io.ferry.subject']
    await writeFile(indexPath, JSON.stringify(doc))
    const fresh = (await OciLayout.open(dir)).target('acme/web')
    expect(await fresh.referrers(image.manifest.digest)).toEqual(all)
  })

  it('an image config media type stands in for a missing artifactType', async () => {
    const target = await openLayoutTarget(tmp.path('config-type'), { create: true })
    const image = syntheticImage()
    await pushImage(target, image, '1')
    const base = syntheticImage()
    const referrer = manifestOf({
      ...JSON.parse(Buffer.from(base.manifest.bytes).toString()),
      subject: descriptorOf(image.manifest, { artifactType: 'referrers' }),
    })
    await pushImage(target, { ...base, manifest: referrer })
    const [found] = await target.referrers(image.manifest.digest)
    expect(found?.artifactType).toBe(MediaType.ociConfig)
    expect((await target.layout.readIndex()).index.manifests[1]?.artifactType).toBeUndefined()
  })

  it('deletes tags and manifests in its own view only', async () => {
    const layout = await OciLayout.open(tmp.path('delete'), { create: true })
    const web = layout.target('acme/web')
    const api = layout.target('acme/api')
    const image = syntheticImage()
    await pushImage(web, image, 'v1')
    await pushImage(web, image, 'v1.0')
    await pushImage(api, image, 'v1')
    await web.untag('v1')
    expect(await web.listTags()).toEqual(['v1.0'])
    await web.untag('v1.0')
    expect(await web.listTags()).toEqual([])
    // Deleting the last tag keeps the manifest as an untagged entry of the repository.
    expect(await layout.repositories()).toEqual(['acme/api', 'acme/web'])
    expect(await code(web.untag('v1'))).toBe('NOT_FOUND')
    await web.deleteManifest(image.manifest.digest)
    expect(await layout.repositories()).toEqual(['acme/api'])
    expect(await code(web.deleteManifest(image.manifest.digest))).toBe('NOT_FOUND')
    expect(await api.listTags()).toEqual(['v1'])
    // Blobs are shared and stay (no garbage collection), but the view no longer holds the manifest.
    expect(await layout.hasBlob(image.manifest.digest)).toBe(true)
    expect(await web.hasManifest(image.manifest.digest)).toBe(false)
    expect(await api.hasManifest(image.manifest.digest)).toBe(true)
  })

  it('hosts several repositories in one layout with one blob store', async () => {
    const dir = tmp.path('repos')
    const layout = await OciLayout.open(dir, { create: true })
    const pg = layout.target('library/postgres')
    const full = layout.target('docker.io/library/postgres')
    const bare = layout.target()
    expect(pg.name).toBe(`oci:${dir}:library/postgres`)
    const image = syntheticImage()
    const other = syntheticImage()
    await pushImage(pg, image, '16')
    await pushImage(full, image, '16')
    await pushImage(pg, other) // by digest only
    await pushImage(bare, other, '1.0')
    expect(await layout.repositories()).toEqual(['docker.io/library/postgres', 'library/postgres'])
    expect(await pg.listTags()).toEqual(['16'])
    expect(await bare.listTags()).toEqual(['1.0'])
    const refNames = (await layout.readIndex()).index.manifests.map((m) => m.annotations)
    expect(refNames).toEqual([
      { 'org.opencontainers.image.ref.name': 'library/postgres:16' },
      { 'org.opencontainers.image.ref.name': 'docker.io/library/postgres:16' },
      { 'io.ferry.repository': 'library/postgres' },
      { 'org.opencontainers.image.ref.name': '1.0' },
    ])
    // The no-repository view finds any ref.name, as skopeo's oci:DIR:REF does.
    expect((await bare.resolve('library/postgres:16')).digest).toBe(image.manifest.digest)
    expect(await code(pg.resolve('1.0'))).toBe('NOT_FOUND')
    expect(await code(putManifest(pg, image.manifest, 'bad/tag'))).toBe('REFERENCE_INVALID')
  })

  it('verifies manifests read from the layout', async () => {
    const target = await openLayoutTarget(tmp.path('verify'), { create: true })
    const image = syntheticImage()
    await pushImage(target, image, '1')
    const path = target.layout.blobPath(image.manifest.digest)
    const tampered = Buffer.from(image.manifest.bytes)
    tampered[tampered.length - 2] = 0x20
    await writeFile(path, tampered)
    expect(await code(target.fetchManifest('1'))).toBe('DIGEST_MISMATCH')
    expect(await code(target.fetchManifest(image.manifest.digest))).toBe('DIGEST_MISMATCH')
    // A referrers scan that has to read the damaged manifest fails instead of skipping it.
    expect(await code(target.referrers(`sha256:${'0'.repeat(64)}`))).toBe('DIGEST_MISMATCH')
    // A layer asked for as a manifest is refused, not misread.
    expect(await code(target.fetchManifest(image.layers[0]!.desc.digest))).toBe('MANIFEST_INVALID')
    // Bytes that do not hash to the manifest's digest are never recorded.
    const forged = { ...image.manifest, bytes: tampered }
    expect(await code(putManifest(target, forged, '2'))).toBe('DIGEST_MISMATCH')
    expect(await target.listTags()).toEqual(['1'])
  })
})
