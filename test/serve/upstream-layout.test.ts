import { execFile } from 'node:child_process'
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { childrenOf, type Manifest } from '../../src/oci/manifest.js'
import { MediaType } from '../../src/oci/media-types.js'
import { RegistryClient } from '../../src/registry/index.js'
import { type RunningServer, startServer } from '../../src/serve/index.js'
import type { MirrorOptions } from '../../src/serve/upstream/mirror.js'
import { parseUpstream } from '../../src/serve/upstream/upstreams.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { pushArtifact } from '../helpers/registry-fixtures.js'

const run = promisify(execFile)
const tool = async (cmd: string, ...args: string[]) =>
  (await run(cmd, args, { maxBuffer: 64 * 1024 * 1024 })).stdout

type Entry = { digest: string; mediaType: string; annotations?: Record<string, string> }
const REF_NAME = 'org.opencontainers.image.ref.name'

async function indexEntries(root: string): Promise<Entry[]> {
  return (JSON.parse(await readFile(join(root, 'index.json'), 'utf8')) as { manifests: Entry[] }).manifests
}

/** index.json is written in the background after a tag changes: waits (bounded) until `ok` holds. */
async function eventually(root: string, ok: (entries: Entry[]) => boolean): Promise<Entry[]> {
  let entries = await indexEntries(root)
  for (let i = 0; i < 50 && !ok(entries); i++) {
    await new Promise((r) => setTimeout(r, 100))
    entries = await indexEntries(root)
  }
  return entries
}

describe('ferry serve --upstream: referrers filter, and the cache root as an OCI layout', () => {
  let dist: Distribution
  let dir: string
  let client: RegistryClient
  let app: Manifest
  const servers: RunningServer[] = []

  const mirror = async (name: string, opts: Partial<MirrorOptions> = {}) => {
    const server = await startServer({
      root: join(dir, name),
      port: 0,
      upstream: {
        upstreams: [parseUpstream(dist.url)],
        ttlMs: 3_600_000,
        insecure: false,
        limits: {},
        ...opts,
      },
    })
    servers.push(server)
    return server
  }
  const stop = async (server: RunningServer) => {
    await server.close()
    servers.splice(servers.indexOf(server), 1)
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-mirror-layout-'))
    dist = await startDistribution()
    client = new RegistryClient()
    app = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/app' }),
      { seed: 'mirror-layout-app', layers: 2, layerSize: 20_000 },
      '1.0',
    )
  })
  afterAll(async () => {
    for (const s of servers) await s.close()
    await client?.close()
    await dist?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('applies the referrers artifactType filter and says so in OCI-Filters-Applied, as --root does', async () => {
    const repo = client.repository({ registry: dist.host, repository: 'team/app' })
    const sbom = await pushArtifact(repo, app, MediaType.spdxJson, '{"spdxVersion":"SPDX-2.3"}')
    const sig = await pushArtifact(repo, app, MediaType.sigstoreBundleV03, '{"mediaType":"bundle"}')
    const server = await mirror('referrers')
    const list = async (query: string) => {
      const res = await fetch(`${server.url}/v2/team/app/referrers/${app.digest}${query}`)
      expect(res.status).toBe(200)
      const body = (await res.json()) as { manifests: { digest: string; artifactType?: string }[] }
      const pairs = body.manifests.map((d) => [d.digest, d.artifactType]).sort()
      return { pairs, filters: res.headers.get('oci-filters-applied') }
    }
    expect(await list('')).toEqual({
      pairs: [
        [sbom.digest, MediaType.spdxJson],
        [sig.digest, MediaType.sigstoreBundleV03],
      ].sort(),
      filters: null,
    })
    expect(await list(`?artifactType=${encodeURIComponent(MediaType.spdxJson)}`)).toEqual({
      pairs: [[sbom.digest, MediaType.spdxJson]],
      filters: 'artifactType',
    })
    expect(await list(`?artifactType=${encodeURIComponent(MediaType.sigstoreBundleV03)}`)).toEqual({
      pairs: [[sig.digest, MediaType.sigstoreBundleV03]],
      filters: 'artifactType',
    })
    expect(await list('?artifactType=application%2Fnone')).toEqual({ pairs: [], filters: 'artifactType' })
  })

  it('lists each cached tag in ROOT/index.json as UPSTREAM/REPO:TAG, for skopeo and umoci, moved and evicted with the cache', async () => {
    const root = join(dir, 'layout')
    const refName = `${dist.host}/team/app:1.0`
    // TTL 0: every pull of the tag revalidates it upstream.
    const server = await mirror('layout', { ttlMs: 0 })
    await tool(
      'skopeo',
      'copy',
      '--preserve-digests',
      '--src-tls-verify=false',
      `docker://${server.host}/team/app:1.0`,
      `oci:${join(dir, 'pulled')}:x`,
    )
    const cached = await eventually(root, (es) => es.some((e) => e.annotations?.[REF_NAME] === refName))
    expect(cached).toEqual([
      {
        mediaType: app.mediaType,
        digest: app.digest,
        size: app.bytes.byteLength,
        annotations: { [REF_NAME]: refName },
      },
    ])
    // A blob enters the store once its upstream answer verified, which may finish just after skopeo has
    // its last byte: skopeo's inspect below reads the config from the store.
    const stored = async () => {
      const hexes = await readdir(join(root, 'blobs', 'sha256'))
      return childrenOf(app).blobs.every((b) => hexes.includes(b.digest.slice('sha256:'.length)))
    }
    for (let i = 0; i < 50 && !(await stored()); i++) await new Promise((r) => setTimeout(r, 100))
    // Other tools read the cache root as the layout it is.
    const inspected = JSON.parse(await tool('skopeo', 'inspect', `oci:${root}:${refName}`)) as {
      Digest: string
    }
    expect(inspected.Digest).toBe(app.digest)
    expect((await tool('umoci', 'ls', '--layout', root)).split('\n')).toContain(refName)

    // The tag moves upstream: revalidation caches the new manifest, and index.json follows.
    const moved = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/app' }),
      { seed: 'mirror-layout-moved', layers: 1, layerSize: 10_000 },
      '1.0',
    )
    const res = await fetch(`${server.url}/v2/team/app/manifests/1.0`, {
      headers: { accept: moved.mediaType },
    })
    expect(res.headers.get('docker-content-digest')).toBe(moved.digest)
    await res.arrayBuffer()
    const after = await eventually(root, (es) => es.some((e) => e.digest === moved.digest))
    expect(after.map((e) => [e.annotations?.[REF_NAME], e.digest])).toEqual([[refName, moved.digest]])
    await stop(server)

    // Forty days pass: --cache-max-age evicts the manifest, and its tag leaves index.json with it.
    const file = join(root, 'ferry-cache.json')
    const state = JSON.parse(await readFile(file, 'utf8'))
    for (const d of [moved.digest, ...childrenOf(moved).blobs.map((b) => b.digest)]) {
      state.pulled[d] = Date.now() - 40 * 86_400_000
    }
    await writeFile(file, JSON.stringify(state))
    await mirror('layout', { limits: { maxAgeMs: 30 * 86_400_000 } })
    expect(await eventually(root, (es) => es.length === 0)).toEqual([])
    expect((await tool('umoci', 'ls', '--layout', root)).trim()).toBe('')
  })
})
