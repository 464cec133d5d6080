import { Readable } from 'node:stream'
import { buffer } from 'node:stream/consumers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { digestOf } from '../../src/oci/digest.js'
import { parseManifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { RegistryClient } from '../../src/registry/index.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { putManifest } from '../helpers/registry-fixtures.js'
import { type Served, serveTemp } from './helpers.js'

const encode = (v: unknown) => new TextEncoder().encode(JSON.stringify(v))

describe('ferry serve with the ferry registry client', () => {
  let served: Served
  let client: RegistryClient

  beforeAll(async () => {
    served = await serveTemp()
    // A small chunk size makes the client upload every layer in several PATCHes.
    client = new RegistryClient({ chunkSize: 100_000, dockerConfigDir: served.dir })
  })
  afterAll(async () => {
    await client?.close()
    await served?.stop()
  })

  it('pushes an index in chunks, reads it back, and finds its referrers', async () => {
    const repo = client.repository({ registry: served.server.host, repository: 'ferry/client' })
    const platforms = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ]
    const index = await pushSyntheticIndex(
      repo,
      { seed: 'client', layers: 1, layerSize: 350_000 },
      platforms,
      'v1',
    )
    expect((await repo.resolve('v1')).digest).toBe(index.digest)
    const fetched = await repo.fetchManifest('v1')
    expect(Buffer.from(fetched.bytes).equals(Buffer.from(index.bytes))).toBe(true)
    expect(await repo.listTags()).toEqual(['v1'])

    const child = index.kind === 'index' ? index.index.manifests[0]! : undefined
    const image = await repo.fetchManifest(child!.digest)
    const layer = image.kind === 'image' ? image.image.layers[0]! : undefined
    const bytes = await buffer(await repo.fetchBlob(layer!))
    expect(digestOf(bytes)).toBe(layer!.digest)

    const note = Buffer.from('{"sbom":true}')
    const noteDesc = { mediaType: MediaType.spdxJson, digest: digestOf(note), size: note.byteLength }
    await repo.pushBlob(noteDesc, Readable.from([note]))
    const empty = Buffer.from('{}')
    const emptyDesc = { mediaType: MediaType.ociEmpty, digest: digestOf(empty), size: 2 }
    await repo.pushBlob(emptyDesc, Readable.from([empty]))
    const sbom = parseManifest(
      encode({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        artifactType: MediaType.spdxJson,
        config: emptyDesc,
        layers: [noteDesc],
        subject: { mediaType: index.mediaType, digest: index.digest, size: index.bytes.byteLength },
      }),
    )
    await putManifest(repo, sbom)
    const referrers = await repo.referrers(index.digest)
    expect(referrers.map((d) => d.digest)).toEqual([sbom.digest])
    expect(referrers[0]!.artifactType).toBe(MediaType.spdxJson)
    // The registry indexed the subject itself, so no referrers-tag fallback was written.
    expect(await repo.listTags()).toEqual(['v1'])
    expect(await client.catalog(served.server.host)).toEqual(['ferry/client'])
  })
})
