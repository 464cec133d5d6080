import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { buffer } from 'node:stream/consumers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createBundle } from '../../src/bundle/create.js'
import { importBundle } from '../../src/bundle/import.js'
import { listBundle } from '../../src/bundle/list.js'
import { BundleReader } from '../../src/bundle/reader.js'
import { specFromImages } from '../../src/bundle/spec.js'
import { verifyBundleFile } from '../../src/bundle/verify.js'
import { openLayoutTarget } from '../../src/layout/index.js'
import { cosignTag } from '../../src/reference/grammar.js'
import {
  RegistryClient,
  type RegistryRepository,
  type RepositoryReference,
} from '../../src/registry/index.js'
import { testContext } from '../helpers/context.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { catalog, pushSourceImages, type SourceImages, sha256File, tempDir } from './helpers.js'

function skopeoRawDigest(ref: string): string {
  const raw = execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', ref])
  return `sha256:${createHash('sha256').update(raw).digest('hex')}`
}

/**
 * The real registry, reached with random delays before each manifest and blob fetch, so that a second
 * create sees different timing and ordering of responses than the first.
 */
class JitteryClient extends RegistryClient {
  delayed = 0

  override repository(ref: RepositoryReference): RegistryRepository {
    const repo = super.repository(ref)
    const wait = () => {
      this.delayed++
      return new Promise((r) => setTimeout(r, Math.random() * 15))
    }
    const fetchBlob = repo.fetchBlob.bind(repo)
    const fetchManifest = repo.fetchManifest.bind(repo)
    repo.fetchBlob = async (desc) => {
      await wait()
      return fetchBlob(desc)
    }
    repo.fetchManifest = async (ref) => {
      await wait()
      return fetchManifest(ref)
    }
    return repo
  }
}

describe('bundle round trip', () => {
  let source: Distribution
  let target: Distribution
  let client: RegistryClient
  let images: SourceImages
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let bundle: string

  beforeAll(async () => {
    ;[source, target] = await Promise.all([startDistribution(), startDistribution()])
    client = new RegistryClient()
    tmp = await tempDir('roundtrip')
    images = await pushSourceImages(client, source.host, 'roundtrip')
    bundle = join(tmp.dir, 'site.tar')
    await createBundle(
      testContext({ client }),
      specFromImages([images.app, images.cli], { name: 'site', version: '1' }),
      { output: bundle, env: { SOURCE_DATE_EPOCH: '1700000000' } },
    )
  })
  afterAll(async () => {
    await client?.close()
    await Promise.all([source?.stop(), target?.stop()])
    await tmp?.cleanup()
  })

  it('is byte-identical when made again with SOURCE_DATE_EPOCH, whatever the fetch timing', async () => {
    const again = join(tmp.dir, 'again.tar')
    const slow = new JitteryClient()
    try {
      await createBundle(
        testContext({ client: slow }),
        specFromImages([images.app, images.cli], { name: 'site', version: '1' }),
        { output: again, concurrency: 1, env: { SOURCE_DATE_EPOCH: '1700000000' } },
      )
    } finally {
      await slow.close()
    }
    expect(slow.delayed).toBeGreaterThan(10)
    expect(await sha256File(again)).toBe(await sha256File(bundle))
  })

  it('lists images, platforms, digests, referrers and sizes from the metadata', async () => {
    const listing = await listBundle(bundle)
    expect(listing.name).toBe('site')
    expect(listing.signed).toBe(false)
    expect(listing.images.map((i) => i.source)).toEqual([images.app, images.cli])
    const [app, cli] = listing.images
    expect(app!.digest).toBe(images.index.digest)
    expect(app!.platforms).toEqual(['linux/amd64', 'linux/arm64/v8'])
    expect(app!.referrers.map((r) => r.digest).sort()).toEqual(
      [images.sbom.digest, images.signature.digest].sort(),
    )
    expect(app!.referrers.find((r) => r.digest === images.signature.digest)?.tag).toBe(
      cosignTag(images.index.digest, 'sig'),
    )
    expect(app!.referrers.find((r) => r.digest === images.sbom.digest)?.artifactType).toBe(
      'application/spdx+json',
    )
    expect(cli!.platforms).toEqual(['linux/amd64'])
    // 2 platforms x (2 layers + config) + the SBOM's empty config and layer + the signature's config and payload
    expect(app!.blobCount).toBe(10)
    expect(listing.blobs).toBe(listing.images.reduce((n, i) => n + i.blobCount, 0) + 6) // + 6 manifests
    expect(listing.created).toBe('2023-11-14T22:13:20Z')
  })

  it('verifies, then imports into a fresh registry with identical digests and everything attached', async () => {
    const report = await verifyBundleFile(bundle)
    expect(report.ok).toBe(true)
    expect(report.images).toHaveLength(2)
    const result = await importBundle(testContext({ client }), bundle, { to: `${target.host}/mirror` })
    expect(result.images.map((i) => [i.source, i.destination, i.digest])).toEqual([
      [images.app, `${target.host}/mirror/library/app:1.0`, images.index.digest],
      [images.cli, `${target.host}/mirror/tools/cli:2`, images.image.digest],
    ])
    expect(result.images[0]!.referrers).toBe(2)
    expect(skopeoRawDigest(`docker://${target.host}/mirror/library/app:1.0`)).toBe(images.index.digest)
    expect(skopeoRawDigest(`docker://${target.host}/mirror/tools/cli:2`)).toBe(images.image.digest)
    const repo = client.repository({ registry: target.host, repository: 'mirror/library/app' })
    expect((await repo.resolve(cosignTag(images.index.digest, 'sig'))).digest).toBe(images.signature.digest)
    expect((await repo.referrers(images.index.digest)).map((d) => d.digest)).toEqual([images.sbom.digest])
    expect((await catalog(target.url)).sort()).toEqual(['mirror/library/app', 'mirror/tools/cli'])
  })

  it('reads as a ReadOnlyTarget: tags, referrers, blobs whole and from an offset; has no writes', async () => {
    const reader = await BundleReader.open(bundle)
    try {
      expect(reader.repositories()).toEqual([`${source.host}/library/app`, `${source.host}/tools/cli`])
      const app = reader.target(`${source.host}/library/app`)
      expect(await app.listTags()).toEqual(['1.0', cosignTag(images.index.digest, 'sig')])
      expect((await app.resolve('1.0')).digest).toBe(images.index.digest)
      expect((await app.referrers(images.index.digest)).map((d) => d.digest)).toEqual([images.sbom.digest])
      const cli = reader.target(`${source.host}/tools/cli`)
      if (images.image.kind !== 'image') throw new Error('expected an image')
      const layer = images.image.image.layers[0]!
      const whole = await buffer(await cli.fetchBlob(layer))
      expect(whole.byteLength).toBe(layer.size)
      expect(await buffer(await cli.fetchBlobFrom(layer, 1000))).toEqual(whole.subarray(1000))
      await expect(cli.fetchBlob({ ...layer, digest: images.sbom.digest })).rejects.toThrow(/blob|bytes/)
      // A bundle is evidence: it has no write methods at all, so nothing can even try one.
      const writes = [
        'pushBlob',
        'pushManifest',
        'tag',
        'untag',
        'addReferrer',
        'removeReferrer',
        'deleteManifest',
      ]
      expect(writes.filter((w) => w in cli)).toEqual([])
    } finally {
      await reader.close()
    }
  })

  it('keeps only the platforms asked for, as a new index that records where it was cut from', async () => {
    const path = join(tmp.dir, 'amd64.tar')
    await createBundle(
      testContext({ client }),
      specFromImages([images.app], {
        name: 'amd64',
        version: '1',
        platforms: [{ os: 'linux', architecture: 'amd64' }],
      }),
      { output: path },
    )
    const [image] = (await listBundle(path)).images
    expect(image!.platforms).toEqual(['linux/amd64'])
    expect(image!.sourceDigest).toBe(images.index.digest)
    expect(image!.digest).not.toBe(images.index.digest)
    // What was attached to the whole index does not describe the filtered one.
    expect(image!.referrers).toEqual([])
    expect((await verifyBundleFile(path)).ok).toBe(true)
  })

  it('imports into an OCI layout directory, one repository view per image', async () => {
    const dir = join(tmp.dir, 'site-layout')
    const result = await importBundle(testContext(), bundle, { to: `oci:${dir}`, stripComponents: 1 })
    expect(result.images.map((i) => i.destination)).toEqual([`oci:${dir}:app:1.0`, `oci:${dir}:cli:2`])
    const layout = await openLayoutTarget(dir, { repository: 'app' })
    expect((await layout.resolve('1.0')).digest).toBe(images.index.digest)
    expect((await layout.referrers(images.index.digest)).map((d) => d.digest)).toEqual([images.sbom.digest])
  })

  it('is a layout skopeo and umoci read once extracted', async () => {
    const dir = join(tmp.dir, 'extracted')
    await mkdir(dir)
    execFileSync('tar', ['-xf', bundle, '-C', dir])
    expect((await readdir(dir)).sort()).toEqual(['blobs', 'ferry-bundle.json', 'index.json', 'oci-layout'])
    expect(skopeoRawDigest(`oci:${dir}:${images.app}`)).toBe(images.index.digest)
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${dir}:${images.cli}`]).toString())
    expect(inspected.Digest).toBe(images.image.digest)
    const listed = execFileSync('umoci', ['ls', '--layout', dir]).toString().split('\n').filter(Boolean)
    expect(listed).toEqual(expect.arrayContaining([images.app, images.cli]))
  })

  it('names an image pinned by digest REPO@sha256:HEX, which skopeo and umoci open once extracted', async () => {
    const app = `${source.host}/library/app@${images.index.digest}`
    const cli = `${source.host}/tools/cli@${images.image.digest}`
    const path = join(tmp.dir, 'pinned.tar')
    await createBundle(
      testContext({ client }),
      specFromImages([app, cli], { name: 'pinned', version: '1' }),
      { output: path },
    )
    const dir = join(tmp.dir, 'pinned')
    await mkdir(dir)
    execFileSync('tar', ['-xf', path, '-C', dir])
    const listed = execFileSync('umoci', ['ls', '--layout', dir]).toString().split('\n').filter(Boolean)
    expect(listed).toEqual(expect.arrayContaining([app, cli]))
    expect(skopeoRawDigest(`oci:${dir}:${app}`)).toBe(images.index.digest)
    const inspected = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${dir}:${cli}`]).toString())
    expect(inspected.Digest).toBe(images.image.digest)

    // ferry reads it as it read such bundles before: untagged in its repository, never a tag there.
    expect((await verifyBundleFile(path)).ok).toBe(true)
    const reader = await BundleReader.open(path)
    try {
      expect(reader.repositories()).toEqual([`${source.host}/library/app`, `${source.host}/tools/cli`])
      expect(await reader.target(`${source.host}/tools/cli`).listTags()).toEqual([])
      expect(await reader.target(`${source.host}/library/app`).listTags()).toEqual([
        cosignTag(images.index.digest, 'sig'),
      ])
    } finally {
      await reader.close()
    }
    const imported = await importBundle(testContext({ client }), path, { to: `${target.host}/pinned` })
    expect(imported.images.map((i) => i.destination)).toEqual([
      `${target.host}/pinned/library/app@${images.index.digest}`,
      `${target.host}/pinned/tools/cli@${images.image.digest}`,
    ])
    expect(skopeoRawDigest(`docker://${target.host}/pinned/tools/cli@${images.image.digest}`)).toBe(
      images.image.digest,
    )
  })

  it('still reads as a bundle when re-packed by GNU tar (./ names, directories, pax headers, any order)', async () => {
    const dir = join(tmp.dir, 'extracted')
    for (const format of ['gnu', 'posix']) {
      const repacked = join(tmp.dir, `repacked-${format}.tar`)
      execFileSync('tar', [`--format=${format}`, '-cf', repacked, '-C', dir, '.'])
      const report = await verifyBundleFile(repacked)
      expect(report.ok).toBe(true)
      expect(report.images.map((i) => i.digest)).toEqual([images.index.digest, images.image.digest])
      expect((await listBundle(repacked)).images).toHaveLength(2)
    }
    const result = await importBundle(testContext({ client }), join(tmp.dir, 'repacked-posix.tar'), {
      to: `${target.host}/repacked`,
    })
    expect(result.images.map((i) => i.digest)).toEqual([images.index.digest, images.image.digest])
  })
})
