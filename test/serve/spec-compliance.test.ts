import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLayoutTarget } from '../../src/layout/index.js'
import type { Manifest } from '../../src/oci/manifest.js'
import { type RunningServer, startServer } from '../../src/serve/index.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { ferry } from '../helpers/cli.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { imageManifest, pushBlob, putManifest, raw, type Served, serveTemp, sha256 } from './helpers.js'

const run = promisify(execFile)
const skopeo = async (...args: string[]) =>
  (await run('skopeo', args, { maxBuffer: 64 * 1024 * 1024 })).stdout

describe('serve: tags without a repository (skopeo oci:DIR:TAG)', () => {
  let dir: string
  let root: string
  let index: Manifest

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-spec-'))
    const src = join(dir, 'src')
    const platforms = [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ]
    index = await pushSyntheticIndex(
      await openLayoutTarget(src, { create: true }),
      { seed: 'bare', layers: 2, layerSize: 50_000 },
      platforms,
      'src',
    )
    // The layout under test is written by skopeo itself, as a user would have it.
    root = join(dir, 'webapp')
    await skopeo('copy', '--all', '--preserve-digests', `oci:${src}:src`, `oci:${root}:1.0`)
    // A ref.name skopeo takes but no distribution tag can name: left out of tags/list.
    await skopeo('copy', '--all', '--preserve-digests', `oci:${src}:src`, `oci:${root}:a+b`)
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  async function served<T>(repository: string | undefined, use: (s: RunningServer) => Promise<T>) {
    const server = await startServer({ root, port: 0, repository })
    try {
      return await use(server)
    } finally {
      await server.close()
    }
  }

  it('serves them as the directory base name, to skopeo and to ferry, with the same digests', async () => {
    await served(undefined, async (server) => {
      const catalog = (await raw(server, 'GET', '/v2/_catalog')).json()
      expect(catalog).toEqual({ repositories: ['webapp'] })
      expect((await raw(server, 'GET', '/v2/webapp/tags/list')).json()).toEqual({
        name: 'webapp',
        tags: ['1.0'],
      })
      const ref = `docker://${server.host}/webapp:1.0`
      expect(sha256(await skopeo('inspect', '--raw', '--tls-verify=false', ref))).toBe(index.digest)
      const bySkopeo = join(dir, 'by-skopeo')
      await skopeo(
        'copy',
        '--all',
        '--preserve-digests',
        '--dest-oci-accept-uncompressed-layers',
        '--src-tls-verify=false',
        ref,
        `oci:${bySkopeo}:1.0`,
      )
      expect(sha256(await skopeo('inspect', '--raw', `oci:${bySkopeo}:1.0`))).toBe(index.digest)

      const byFerry = join(dir, 'by-ferry')
      const pulled = await ferry(['copy', `${server.host}/webapp:1.0`, `oci:${byFerry}:1.0`])
      expect(pulled.code).toBe(0)
      expect(pulled.stderr).toContain('copied 6 blobs')
      expect(sha256(await skopeo('inspect', '--raw', `oci:${byFerry}:1.0`))).toBe(index.digest)
    })
  })

  it('serves them under --repository instead, and nothing under the base name', async () => {
    await served('team/other', async (server) => {
      expect((await raw(server, 'GET', '/v2/_catalog')).json()).toEqual({ repositories: ['team/other'] })
      const ref = `docker://${server.host}/team/other:1.0`
      expect(sha256(await skopeo('inspect', '--raw', '--tls-verify=false', ref))).toBe(index.digest)
      const child = index.kind === 'index' ? index.index.manifests[1]!.digest : ''
      expect((await raw(server, 'GET', `/v2/team/other/manifests/${child}`)).status).toBe(200)
      // skopeo wrote the child without an entry of its own: a delete by digest still takes it away.
      expect((await raw(server, 'DELETE', `/v2/team/other/manifests/${child}`)).status).toBe(202)
      expect((await raw(server, 'GET', `/v2/team/other/manifests/${child}`)).status).toBe(404)
      const old = await raw(server, 'GET', '/v2/webapp/manifests/1.0')
      expect(old.status).toBe(404)
      expect(old.code()).toBe('NAME_UNKNOWN')
    })
  })

  it('refuses an invalid --repository before listening', async () => {
    await expect(startServer({ root, port: 0, repository: 'Upper/Case' })).rejects.toThrow(
      'invalid --repository "Upper/Case"',
    )
  })

  it('documents --repository in serve --help', async () => {
    const help = await ferry(['serve', '--help'])
    expect(help.stdout).toContain('--repository=<value>')
    expect(help.stdout).toContain('serve --root ./app --repository team/app')
  })
})

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'

describe('serve: deleting a manifest by digest (spec "Deleting Manifests")', () => {
  let served: Served
  beforeAll(async () => {
    served = await serveTemp()
  })
  afterAll(async () => {
    await served?.stop()
  })

  it('makes it 404 by digest even while a tagged index still lists it, until it is pushed again', async () => {
    const { server } = served
    const child = await imageManifest(server, 'del/app', 'child')
    const childDigest = sha256(child)
    expect((await putManifest(server, 'del/app', childDigest, child)).status).toBe(201)
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_MANIFEST, digest: childDigest, size: child.byteLength }],
      }),
    )
    expect((await putManifest(server, 'del/app', 'v1', index, OCI_INDEX)).status).toBe(201)

    const del = await raw(server, 'DELETE', `/v2/del/app/manifests/${childDigest}`)
    expect(del.status).toBe(202)
    for (const method of ['GET', 'HEAD']) {
      expect((await raw(server, method, `/v2/del/app/manifests/${childDigest}`)).status).toBe(404)
    }
    const again = await raw(server, 'GET', `/v2/del/app/manifests/${childDigest}`)
    expect(again.code()).toBe('MANIFEST_UNKNOWN')
    // The index itself is untouched; a second delete finds nothing.
    expect((await raw(server, 'GET', '/v2/del/app/manifests/v1')).status).toBe(200)
    expect((await raw(server, 'DELETE', `/v2/del/app/manifests/${childDigest}`)).status).toBe(404)

    expect((await putManifest(server, 'del/app', childDigest, child)).status).toBe(201)
    expect((await raw(server, 'GET', `/v2/del/app/manifests/${childDigest}`)).status).toBe(200)
  })
})

describe('serve: blobs belong to repositories (spec "Pulling blobs")', () => {
  let served: Served
  let digest: `sha256:${string}`
  beforeAll(async () => {
    served = await serveTemp()
    digest = await pushBlob(served.server, 'team/a', Buffer.from('a blob of team/a'))
  })
  afterAll(async () => {
    await served?.stop()
  })

  it('is 404 BLOB_UNKNOWN through another repository until mounted into it, then 200', async () => {
    const { server } = served
    for (const method of ['HEAD', 'GET']) {
      expect((await raw(server, method, `/v2/team/a/blobs/${digest}`)).status).toBe(200)
      expect((await raw(server, method, `/v2/team/b/blobs/${digest}`)).status).toBe(404)
      expect((await raw(server, method, `/v2/never/used/blobs/${digest}`)).status).toBe(404)
    }
    expect((await raw(server, 'GET', `/v2/team/b/blobs/${digest}`)).code()).toBe('BLOB_UNKNOWN')

    // A mount from a repository that does not hold the blob is no mount: an upload session starts.
    const wrong = await raw(server, 'POST', `/v2/team/b/blobs/uploads/?mount=${digest}&from=never/used`)
    expect(wrong.status).toBe(202)
    expect((await raw(server, 'HEAD', `/v2/team/b/blobs/${digest}`)).status).toBe(404)

    const mount = await raw(server, 'POST', `/v2/team/b/blobs/uploads/?mount=${digest}&from=team/a`)
    expect(mount.status).toBe(201)
    expect(mount.headers.location).toBe(`/v2/team/b/blobs/${digest}`)
    for (const method of ['HEAD', 'GET']) {
      expect((await raw(server, method, `/v2/team/b/blobs/${digest}`)).status).toBe(200)
    }
    expect((await raw(server, 'GET', `/v2/team/b/blobs/${digest}`)).body.toString()).toBe('a blob of team/a')
  })

  it('belongs to a repository whose manifest uses it, and to one it is uploaded into', async () => {
    const { server } = served
    const image = await imageManifest(server, 'team/c', 'used')
    expect((await putManifest(server, 'team/c', 'v1', image)).status).toBe(201)
    const layer = (JSON.parse(image.toString()) as { layers: { digest: string }[] }).layers[0]!.digest
    expect((await raw(server, 'GET', `/v2/team/c/blobs/${layer}`)).status).toBe(200)
    expect((await raw(server, 'GET', `/v2/team/d/blobs/${layer}`)).status).toBe(404)
    // An upload of bytes already stored elsewhere makes them belong too.
    await pushBlob(server, 'team/d', Buffer.from('layer used'))
    expect((await raw(server, 'GET', `/v2/team/d/blobs/${layer}`)).status).toBe(200)
  })
})

/** POST then PUT: the upload every registry takes (distribution 2.8 answers a single POST with 202). */
async function pushBlobInTwo(server: RunningServer, name: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes)
  const start = await raw(server, 'POST', `/v2/${name}/blobs/uploads/`)
  const location = new URL(String(start.headers.location), 'http://127.0.0.1')
  location.searchParams.set('digest', digest)
  const put = await raw(server, 'PUT', `${location.pathname}${location.search}`, {
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream' },
  })
  if (put.status !== 201) throw new Error(`blob push: ${put.status}`)
  return digest
}

describe('serve: manifests refused as distribution 2.8 refuses them', () => {
  let served: Served
  let distribution: Distribution
  // raw() needs only the port.
  let registries: [string, RunningServer][]
  beforeAll(async () => {
    served = await serveTemp()
    distribution = await startDistribution()
    const port = Number(distribution.host.split(':')[1])
    registries = [
      ['ferry', served.server],
      ['distribution', { port } as RunningServer],
    ]
  })
  afterAll(async () => {
    await served?.stop()
    await distribution?.stop()
  })

  async function image(server: RunningServer, seed: string) {
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }))
    const layer = Buffer.from(`layer ${seed}`)
    const doc = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: await pushBlobInTwo(server, 'v/app', config),
        size: config.byteLength,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: await pushBlobInTwo(server, 'v/app', layer),
          size: layer.byteLength,
        },
      ],
    }
    const bytes = Buffer.from(JSON.stringify(doc))
    expect((await putManifest(server, 'v/app', sha256(bytes), bytes)).status).toBe(201)
    return { doc, bytes }
  }

  it('refuses a document with both layers and manifests and no mediaType, whatever the Content-Type', async () => {
    for (const [who, server] of registries) {
      const { doc, bytes } = await image(server, 'both')
      const { mediaType: _, ...rest } = doc
      const both = Buffer.from(
        JSON.stringify({
          ...rest,
          manifests: [{ mediaType: OCI_MANIFEST, digest: sha256(bytes), size: bytes.byteLength }],
        }),
      )
      for (const type of [OCI_MANIFEST, OCI_INDEX]) {
        const res = await putManifest(server, 'v/app', 'both', both, type)
        expect([who, type, res.status, res.code()]).toEqual([who, type, 400, 'MANIFEST_INVALID'])
      }
    }
  })

  it("refuses a Content-Type that is not the body's mediaType", async () => {
    for (const [who, server] of registries) {
      const { bytes } = await image(server, 'type')
      for (const type of [
        OCI_INDEX,
        'application/vnd.docker.distribution.manifest.v2+json',
        'application/json',
      ]) {
        const res = await putManifest(server, 'v/app', 'typed', bytes, type)
        expect([who, type, res.status, res.code()]).toEqual([who, type, 400, 'MANIFEST_INVALID'])
      }
      expect((await putManifest(server, 'v/app', 'typed', bytes, OCI_MANIFEST)).status).toBe(201)
    }
  })

  it('refuses an index whose child is a layer blob (which distribution 2.8 takes)', async () => {
    for (const [who, server] of registries) {
      const { doc } = await image(server, 'child')
      const layer = doc.layers[0]!
      const asLayer = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [layer] }),
      )
      const asManifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_INDEX,
          manifests: [{ ...layer, mediaType: OCI_MANIFEST }],
        }),
      )
      const byType = await putManifest(server, 'v/app', 'layered', asLayer, OCI_INDEX)
      const byDigest = await putManifest(server, 'v/app', 'layered', asManifest, OCI_INDEX)
      const got = [byType.status, byDigest.status, byType.status === 201 ? '' : byType.code()]
      // The child names a layer: not a manifest. The child claims to be a manifest but its digest is a
      // layer blob: not a manifest this repository holds (the spec's MANIFEST_BLOB_UNKNOWN).
      if (who === 'distribution') expect(got).toEqual([201, 201, ''])
      else {
        expect(got).toEqual([400, 400, 'MANIFEST_INVALID'])
        expect(byDigest.code()).toBe('MANIFEST_BLOB_UNKNOWN')
      }
    }
  })
})

describe('serve: tags list after the last manifest is deleted (conformance "tags list should reflect manifest deletion")', () => {
  let served: Served
  beforeAll(async () => {
    served = await serveTemp()
  })
  afterAll(async () => {
    await served?.stop()
  })

  it('answers 200 with the tags left (none), keeps serving the repository’s blobs, and 404 for a repository never used', async () => {
    const { server } = served
    const one = await imageManifest(server, 'gone/app', 'one')
    const two = await imageManifest(server, 'gone/app', 'two')
    expect((await putManifest(server, 'gone/app', 'v1', one)).status).toBe(201)
    expect((await putManifest(server, 'gone/app', 'v2', two)).status).toBe(201)
    const blobs = [one, two].flatMap((m) => {
      const doc = JSON.parse(m.toString()) as { config: { digest: string }; layers: { digest: string }[] }
      return [doc.config.digest, ...doc.layers.map((l) => l.digest)]
    })
    // Served through the manifests now (which also retires the record of their uploads).
    for (const d of blobs) expect((await raw(server, 'GET', `/v2/gone/app/blobs/${d}`)).status).toBe(200)
    expect((await raw(server, 'GET', '/v2/gone/app/tags/list')).json()).toEqual({
      name: 'gone/app',
      tags: ['v1', 'v2'],
    })

    // As the conformance suite does: the tag first (the manifest stays, untagged), then by digest.
    expect((await raw(server, 'DELETE', '/v2/gone/app/manifests/v1')).status).toBe(202)
    expect((await raw(server, 'DELETE', `/v2/gone/app/manifests/${sha256(one)}`)).status).toBe(202)
    expect((await raw(server, 'DELETE', `/v2/gone/app/manifests/${sha256(two)}`)).status).toBe(202)
    expect((await raw(server, 'GET', `/v2/gone/app/manifests/${sha256(two)}`)).status).toBe(404)

    const tags = await raw(server, 'GET', '/v2/gone/app/tags/list')
    expect(tags.status).toBe(200)
    expect(tags.json()).toEqual({ name: 'gone/app', tags: [] })
    expect((await raw(server, 'GET', '/v2/gone/app/manifests/v2')).code()).toBe('MANIFEST_UNKNOWN')
    for (const d of blobs) {
      for (const method of ['HEAD', 'GET']) {
        expect((await raw(server, method, `/v2/gone/app/blobs/${d}`)).status).toBe(200)
      }
    }

    // A delete that finds nothing makes nothing exist.
    expect((await raw(server, 'DELETE', '/v2/never/pushed/manifests/v1')).status).toBe(404)
    expect((await raw(server, 'DELETE', `/v2/never/pushed/manifests/${sha256(one)}`)).status).toBe(404)
    const never = await raw(server, 'GET', '/v2/never/pushed/tags/list')
    expect(never.status).toBe(404)
    expect(never.code()).toBe('NAME_UNKNOWN')
    expect((await raw(server, 'GET', '/v2/never/pushed/manifests/v1')).code()).toBe('NAME_UNKNOWN')
  })
})
