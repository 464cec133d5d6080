import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { childrenOf, type Manifest } from '../../src/oci/manifest.js'
import { RegistryClient } from '../../src/registry/index.js'
import { type RunningServer, startServer } from '../../src/serve/index.js'
import type { MirrorOptions } from '../../src/serve/upstream/mirror.js'
import { parseUpstream } from '../../src/serve/upstream/upstreams.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { pushArtifact } from '../helpers/registry-fixtures.js'

const run = promisify(execFile)
const skopeo = async (...args: string[]) =>
  (await run('skopeo', args, { maxBuffer: 64 * 1024 * 1024 })).stdout

/** `skopeo copy` from the mirror into a fresh oci: dir; the digest of the manifest it wrote. */
async function pull(dir: string, host: string, ref: string): Promise<string> {
  const dest = await mkdtemp(join(dir, 'pull-'))
  // The synthetic layers are uncompressed tars: without --preserve-digests skopeo would gzip them.
  await skopeo(
    'copy',
    '--preserve-digests',
    '--src-tls-verify=false',
    `docker://${host}/${ref}`,
    `oci:${dest}:x`,
  )
  const index = JSON.parse(await readFile(join(dest, 'index.json'), 'utf8'))
  return index.manifests[0].digest
}

/** A plain GET: status, body, and when its first body byte and its end arrived. */
function timedGet(
  url: string,
  accept?: string,
  progress?: (received: number) => void,
): Promise<{ status: number; body: Buffer; firstByteAt: number; endAt: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: accept ? { accept } : {} }, (res) => {
      const chunks: Buffer[] = []
      let received = 0
      let firstByteAt = 0
      res.on('data', (chunk: Buffer) => {
        firstByteAt ||= performance.now()
        chunks.push(chunk)
        received += chunk.length
        progress?.(received)
      })
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          body: Buffer.concat(chunks),
          firstByteAt,
          endAt: performance.now(),
        }),
      )
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

const blobGets = (proxy: FaultProxy) =>
  proxy.seen.filter((r) => r.method === 'GET' && /\/blobs\/sha256:/.test(r.path)).map((r) => r.path)
const manifestRequests = (proxy: FaultProxy, method: string) =>
  proxy.seen.filter((r) => r.method === method && /\/manifests\//.test(r.path)).length

describe('ferry serve --upstream (pull-through cache)', () => {
  let dist: Distribution
  let proxy: FaultProxy
  let dir: string
  let client: RegistryClient
  let app: Manifest
  const servers: RunningServer[] = []

  const mirror = async (opts: Partial<MirrorOptions> = {}, name = 'root') => {
    const server = await startServer({
      root: join(dir, name),
      port: 0,
      upstream: {
        upstreams: [parseUpstream(proxy.url)],
        ttlMs: 3_600_000,
        insecure: false,
        limits: {},
        ...opts,
      },
    })
    servers.push(server)
    return server
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-mirror-'))
    dist = await startDistribution()
    // Request-logging proxy in front of the real upstream registry.
    proxy = await startFaultProxy(dist.url)
    client = new RegistryClient()
    app = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/app' }),
      { seed: 'mirror-app', layers: 3, layerSize: 200_000 },
      '1.0',
    )
  })
  afterAll(async () => {
    for (const s of servers) await s.close()
    await client?.close()
    await proxy?.stop()
    await dist?.stop()
    await rm(dir, { recursive: true, force: true })
  })
  beforeEach(() => {
    proxy.setRule(undefined)
  })

  it('gives upstream’s digests on the first pull, and the second pull sends upstream no GET at all', async () => {
    const server = await mirror()
    proxy.seen.length = 0
    expect(await pull(dir, server.host, 'team/app:1.0')).toBe(app.digest)
    const layers = childrenOf(app).blobs.length
    expect(blobGets(proxy).length).toBe(layers)
    expect(manifestRequests(proxy, 'GET')).toBe(1)

    proxy.seen.length = 0
    expect(await pull(dir, server.host, 'team/app:1.0')).toBe(app.digest)
    // Within the TTL nothing reaches upstream: no blob GET, no manifest GET, not even a HEAD.
    expect(blobGets(proxy)).toEqual([])
    expect(manifestRequests(proxy, 'GET')).toBe(0)
    expect(manifestRequests(proxy, 'HEAD')).toBe(0)
  })

  it('revalidates a tag past its TTL with one HEAD and no GET; serves it stale while upstream is down', async () => {
    const server = await mirror({ ttlMs: 0 }, 'ttl0')
    expect(await pull(dir, server.host, 'team/app:1.0')).toBe(app.digest)
    proxy.seen.length = 0
    expect(await pull(dir, server.host, 'team/app:1.0')).toBe(app.digest)
    expect(blobGets(proxy)).toEqual([])
    expect(manifestRequests(proxy, 'GET')).toBe(0)
    // skopeo asks for the tag once (GET); the mirror turns that into one upstream HEAD.
    expect(manifestRequests(proxy, 'HEAD')).toBe(1)

    // Upstream down: every connection is dropped before it reaches the registry.
    proxy.setRule(() => ({ kind: 'reset' }))
    expect(await pull(dir, server.host, 'team/app:1.0')).toBe(app.digest)
    const tags = await fetch(`${server.url}/v2/team/app/tags/list`)
    expect(tags.status).toBe(200)
    expect(await tags.json()).toEqual({ name: 'team/app', tags: ['1.0'] })
    proxy.setRule(() => ({ kind: 'status', status: 429, body: '{"errors":[{"code":"TOOMANYREQUESTS"}]}' }))
    expect(await pull(dir, server.host, 'team/app:1.0')).toBe(app.digest)
  })

  it('fetches each blob of a fresh image from upstream exactly once for five concurrent pulls', async () => {
    const fresh = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/fresh' }),
      { seed: 'mirror-fresh', layers: 4, layerSize: 500_000 },
      '1.0',
    )
    const server = await mirror({}, 'concurrent')
    proxy.seen.length = 0
    // Slow upstream blob answers, so the five pulls overlap for certain.
    proxy.setRule((r) =>
      r.method === 'GET' && /\/blobs\//.test(r.path) ? { kind: 'hold', ms: 300 } : undefined,
    )
    const digests = await Promise.all(
      Array.from({ length: 5 }, () => pull(dir, server.host, 'team/fresh:1.0')),
    )
    expect(digests).toEqual(Array(5).fill(fresh.digest))
    const gets = blobGets(proxy)
    const wanted = childrenOf(fresh).blobs.map((d) => d.digest)
    expect(gets.length).toBe(wanted.length)
    expect(new Set(gets).size).toBe(wanted.length)
  })

  it('gives a client that joins a running download the bytes as they arrive, not after the whole blob', async () => {
    const slow = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/slow' }),
      { seed: 'mirror-slow', layers: 1, layerSize: 1_000_000 },
      '1.0',
    )
    const layer = childrenOf(slow).blobs[1]!
    const server = await mirror({}, 'join')
    const manifest = await timedGet(`${server.url}/v2/team/slow/manifests/1.0`, slow.mediaType)
    expect(manifest.status).toBe(200)
    proxy.seen.length = 0
    // About one second for the layer: long enough to join while it downloads.
    proxy.setRule((r) =>
      r.method === 'GET' && r.path.endsWith(`/blobs/${layer.digest}`)
        ? { kind: 'trickle', bytesPerSecond: 1_000_000 }
        : undefined,
    )
    const url = `${server.url}/v2/team/slow/blobs/${layer.digest}`
    let firstHalf: () => void = () => {}
    const halfway = new Promise<void>((resolve) => {
      firstHalf = resolve
    })
    const starter = timedGet(url, undefined, (received) => received > 300_000 && firstHalf())
    await halfway
    const joiner = await timedGet(url)
    const started = await starter
    for (const got of [started, joiner]) {
      expect(got.status).toBe(200)
      expect(`sha256:${createHash('sha256').update(got.body).digest('hex')}`).toBe(layer.digest)
    }
    // The joiner had its first bytes while the starter's download was still running.
    expect(joiner.firstByteAt).toBeLessThan(started.endAt)
    expect(blobGets(proxy)).toEqual([`/v2/team/slow/blobs/${layer.digest}`])
  })

  it('cuts off a client that joined a download which then fails verification, and caches nothing', async () => {
    const bad = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/slowbad' }),
      { seed: 'mirror-slowbad', layers: 1, layerSize: 600_000 },
      '1.0',
    )
    const layer = childrenOf(bad).blobs[1]!
    const server = await mirror({}, 'joinbad')
    expect((await timedGet(`${server.url}/v2/team/slowbad/manifests/1.0`, bad.mediaType)).status).toBe(200)
    // The one mock here: no real upstream on loopback corrupts bytes, so the proxy flips one of them.
    proxy.setRule((r) =>
      r.method === 'GET' && r.path.endsWith(`/blobs/${layer.digest}`)
        ? { kind: 'trickle', bytesPerSecond: 1_000_000, alter: true }
        : undefined,
    )
    const url = `${server.url}/v2/team/slowbad/blobs/${layer.digest}`
    let joined: () => void = () => {}
    const early = new Promise<void>((resolve) => {
      joined = resolve
    })
    const starter = timedGet(url, undefined, (received) => received > 100_000 && joined()).catch((e) => e)
    await early
    const joiner = await timedGet(url).catch((e: Error) => e)
    // Neither gets a complete answer: the connection is cut before the last bytes.
    for (const got of [await starter, joiner]) {
      if (got instanceof Error) expect(got.message).toMatch(/aborted|socket hang up|ECONNRESET/)
      else expect(got.body.length).toBeLessThan(layer.size)
    }
    const stored = await readdir(join(dir, 'joinbad', 'blobs', 'sha256')).catch(() => [] as string[])
    expect(stored).not.toContain(layer.digest.slice('sha256:'.length))
  })

  it('lets a joiner finish when the client that started the download leaves, and answers HEAD and Range while it runs', async () => {
    const slow = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/leaver' }),
      { seed: 'mirror-leaver', layers: 1, layerSize: 1_000_000 },
      '1.0',
    )
    const layer = childrenOf(slow).blobs[1]!
    const server = await mirror({}, 'leaver')
    expect((await timedGet(`${server.url}/v2/team/leaver/manifests/1.0`, slow.mediaType)).status).toBe(200)
    proxy.setRule((r) =>
      r.method === 'GET' && r.path.endsWith(`/blobs/${layer.digest}`)
        ? { kind: 'trickle', bytesPerSecond: 1_000_000 }
        : undefined,
    )
    const url = `${server.url}/v2/team/leaver/blobs/${layer.digest}`
    let started: () => void = () => {}
    const running = new Promise<void>((resolve) => {
      started = resolve
    })
    const starter = request(url, (res) => {
      let received = 0
      res.on('data', (c: Buffer) => {
        received += c.length
        if (received > 200_000) started()
      })
      res.on('error', () => {})
    })
    starter.on('error', () => {})
    starter.end()
    await running
    const joiner = timedGet(url)
    const head = await fetch(url, { method: 'HEAD' })
    const range = fetch(url, { headers: { range: 'bytes=10-19' } })
    // The client that started the download goes away; the download goes on for the others.
    starter.destroy()
    const joined = await joiner
    expect(joined.status).toBe(200)
    expect(`sha256:${createHash('sha256').update(joined.body).digest('hex')}`).toBe(layer.digest)
    expect(head.status).toBe(200)
    expect(head.headers.get('content-length')).toBe(String(layer.size))
    const ranged = await range
    expect(ranged.status).toBe(206)
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(joined.body.subarray(10, 20))
    const blobsDir = join(dir, 'leaver', 'blobs', 'sha256')
    expect(await readdir(blobsDir)).toContain(layer.digest.slice('sha256:'.length))
    expect(blobGets(proxy).filter((p) => p.endsWith(layer.digest)).length).toBe(1)
  })

  it('cuts the clients of a download whose upstream connection drops after 100 bytes, caches nothing, and serves on', async () => {
    const cut = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/cut' }),
      { seed: 'mirror-cut', layers: 1, layerSize: 300_000 },
      '1.0',
    )
    const layer = childrenOf(cut).blobs[1]!
    const server = await mirror({}, 'cut')
    expect((await timedGet(`${server.url}/v2/team/cut/manifests/1.0`, cut.mediaType)).status).toBe(200)
    // Cut after 100 bytes; every attempt to resume finds the connection refused.
    let first = true
    proxy.setRule((r) => {
      if (!r.path.endsWith(`/blobs/${layer.digest}`)) return undefined
      if (!first) return { kind: 'reset' }
      first = false
      return { kind: 'cut', after: 100 }
    })
    proxy.seen.length = 0
    const got = await timedGet(`${server.url}/v2/team/cut/blobs/${layer.digest}`).catch((e: Error) => e)
    if (got instanceof Error) expect(got.message).toMatch(/aborted|socket hang up|ECONNRESET/)
    else expect([got.status, got.body.length < layer.size]).toEqual([200, true])
    expect(blobGets(proxy)).toContain(`/v2/team/cut/blobs/${layer.digest}`)
    const stored = await readdir(join(dir, 'cut', 'blobs', 'sha256'))
    expect(stored).not.toContain(layer.digest.slice('sha256:'.length))
    proxy.setRule(undefined)
    expect(await pull(dir, server.host, 'team/cut:1.0')).toBe(cut.digest)
  })

  it('names a tag REPO:TAG (never REPO@TAG) in its answers and warnings', async () => {
    const warnings: string[] = []
    const server = await startServer({
      root: join(dir, 'names'),
      port: 0,
      upstream: { upstreams: [parseUpstream(proxy.url)], ttlMs: 3_600_000, insecure: false, limits: {} },
      logger: { debug() {}, warn: (m) => void warnings.push(m) },
    })
    servers.push(server)
    const missing = await fetch(`${server.url}/v2/team/app/manifests/nope`)
    expect(missing.status).toBe(404)
    const notFound = (await missing.json()) as { errors: { message: string }[] }
    expect(notFound.errors[0]!.message).toMatch(/\/team\/app:nope: not found upstream$/)

    // Upstream down, the tag never cached: the client gets a bare 503, the operator a warning.
    proxy.setRule(() => ({ kind: 'reset' }))
    const down = await fetch(`${server.url}/v2/team/app/manifests/never`)
    expect(down.status).toBe(503)
    await down.arrayBuffer()
    expect(warnings.some((w) => /\/team\/app:never: upstream unavailable: /.test(w))).toBe(true)
    expect(warnings.filter((w) => w.includes('@never'))).toEqual([])
  })

  it('refuses pushes with 405 UNSUPPORTED', async () => {
    const server = await mirror({}, 'push')
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/v2/team/app/blobs/uploads/`, { method: 'POST' }, (res) => {
        res.resume()
        resolve(res.statusCode!)
      })
      req.on('error', reject)
      req.end()
    })
    expect(status).toBe(405)
    const src = await mkdtemp(join(dir, 'push-'))
    await skopeo('copy', '--src-tls-verify=false', `docker://${server.host}/team/app:1.0`, `oci:${src}:x`)
    await expect(
      skopeo('copy', '--dest-tls-verify=false', `oci:${src}:x`, `docker://${server.host}/team/app:pushed`),
    ).rejects.toThrow(/405|UNSUPPORTED|not supported/i)
  })

  it('refuses a corrupted upstream blob and does not cache it', async () => {
    const bad = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/bad' }),
      { seed: 'mirror-bad', layers: 1, layerSize: 300_000 },
      '1.0',
    )
    const layer = childrenOf(bad).blobs[1]!.digest
    const server = await mirror({}, 'corrupt')
    // The one mock here: no real upstream on loopback corrupts bytes, so the proxy flips one of them.
    proxy.setRule((r) =>
      r.method === 'GET' && r.path.endsWith(`/blobs/${layer}`) ? { kind: 'alter' } : undefined,
    )
    await expect(pull(dir, server.host, 'team/bad:1.0')).rejects.toThrow()
    const stored = await readdir(join(dir, 'corrupt', 'blobs', 'sha256'))
    expect(stored).not.toContain(layer.slice('sha256:'.length))
    // Once upstream sends the right bytes, the same pull works.
    proxy.setRule(undefined)
    expect(await pull(dir, server.host, 'team/bad:1.0')).toBe(bad.digest)
    expect(await readdir(join(dir, 'corrupt', 'blobs', 'sha256'))).toContain(layer.slice('sha256:'.length))
  })

  it('evicts the least recently pulled image to stay under --cache-max-size, never what a cached manifest needs', async () => {
    const big = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/big' }),
      { seed: 'mirror-big', layers: 2, layerSize: 400_000 },
      '1.0',
    )
    // The two pulls follow each other at once: without shortening the in-use window (minutes by default,
    // so that a pull in progress keeps its manifest), the first image would not count as idle yet.
    const server = await mirror({ limits: { maxBytes: 1_000_000, inUseMs: 0 } }, 'evict')
    const blobsDir = join(dir, 'evict', 'blobs', 'sha256')
    const hexes = (m: Manifest) => childrenOf(m).blobs.map((d) => d.digest.slice('sha256:'.length))
    expect(await pull(dir, server.host, 'team/app:1.0')).toBe(app.digest)
    // A blob is renamed into the store once its upstream answer verified, which may finish just after
    // the client has its last byte.
    const holds = async (hs: string[]) => {
      const stored = await readdir(blobsDir)
      return hs.every((h) => stored.includes(h))
    }
    for (let i = 0; i < 50 && !(await holds(hexes(app))); i++) await new Promise((r) => setTimeout(r, 100))
    expect(await readdir(blobsDir)).toEqual(expect.arrayContaining(hexes(app)))
    expect(await pull(dir, server.host, 'team/big:1.0')).toBe(big.digest)
    // app (pulled first) is given up once big no longer fits beside it: its blobs go, least recently
    // pulled first, until the store fits again; big's stay, all of them.
    const total = async () => {
      let n = 0
      // Eviction runs while we look: a blob removed between readdir and stat counts for nothing.
      for (const f of await readdir(blobsDir))
        n += (await stat(join(blobsDir, f)).catch(() => ({ size: 0 }))).size
      return n
    }
    for (let i = 0; i < 50 && (await total()) > 1_000_000; i++) await new Promise((r) => setTimeout(r, 100))
    expect(await total()).toBeLessThanOrEqual(1_000_000)
    const stored = await readdir(blobsDir)
    expect(hexes(big).filter((h) => !stored.includes(h))).toEqual([])
    expect(hexes(app).filter((h) => stored.includes(h)).length).toBeLessThan(hexes(app).length)
    proxy.seen.length = 0
    expect(await pull(dir, server.host, 'team/big:1.0')).toBe(big.digest)
    expect(blobGets(proxy)).toEqual([])
  })

  it('evicts what nobody pulled within --cache-max-age at start, and keeps every blob a fresh manifest needs', async () => {
    const old = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/old' }),
      { seed: 'mirror-old', layers: 2, layerSize: 100_000 },
      '1.0',
    )
    const recent = await pushSyntheticImage(
      client.repository({ registry: dist.host, repository: 'team/recent' }),
      { seed: 'mirror-recent', layers: 2, layerSize: 100_000 },
      '1.0',
    )
    const root = join(dir, 'age')
    const blobsDir = join(root, 'blobs', 'sha256')
    const hexes = (m: Manifest) =>
      [m.digest, ...childrenOf(m).blobs.map((d) => d.digest)].map((d) => d.slice(7))
    const first = await mirror({}, 'age')
    expect(await pull(dir, first.host, 'team/old:1.0')).toBe(old.digest)
    expect(await pull(dir, first.host, 'team/recent:1.0')).toBe(recent.digest)
    for (let i = 0; i < 50 && (await readdir(blobsDir)).length < 8; i++)
      await new Promise((r) => setTimeout(r, 100))
    await first.close()
    servers.splice(servers.indexOf(first), 1)

    // Forty days pass for `old`. `recent` had its manifest pulled yesterday, but one of its layers was
    // last read forty days ago: age alone must not take a blob that a kept manifest references.
    const file = join(root, 'ferry-cache.json')
    const state = JSON.parse(await readFile(file, 'utf8'))
    const day = 86_400_000
    const now = Date.now()
    for (const h of hexes(old)) state.pulled[`sha256:${h}`] = now - 40 * day
    state.pulled[recent.digest] = now - day
    state.pulled[childrenOf(recent).blobs[1]!.digest] = now - 40 * day
    await writeFile(file, JSON.stringify(state))

    const second = await mirror({ limits: { maxAgeMs: 30 * day } }, 'age')
    const left = async () => {
      const stored = await readdir(blobsDir)
      return hexes(old).filter((h) => stored.includes(h))
    }
    for (let i = 0; i < 50 && (await left()).length > 0; i++) await new Promise((r) => setTimeout(r, 100))
    expect(await left()).toEqual([])
    const stored = await readdir(blobsDir)
    expect(hexes(recent).filter((h) => !stored.includes(h))).toEqual([])

    proxy.seen.length = 0
    expect(await pull(dir, second.host, 'team/recent:1.0')).toBe(recent.digest)
    expect(blobGets(proxy)).toEqual([])
    // The evicted image comes back from upstream, every blob of it once.
    expect(await pull(dir, second.host, 'team/old:1.0')).toBe(old.digest)
    expect(blobGets(proxy).length).toBe(childrenOf(old).blobs.length)
    expect(manifestRequests(proxy, 'GET')).toBe(1)
  })

  it('picks the upstream by containerd’s ?ns=, and the plain path goes to the first', async () => {
    const other = await startDistribution()
    try {
      const otherApp = await pushSyntheticImage(
        client.repository({ registry: other.host, repository: 'team/app' }),
        { seed: 'mirror-other', layers: 1, layerSize: 10_000 },
        '1.0',
      )
      const server = await startServer({
        root: join(dir, 'ns'),
        port: 0,
        upstream: {
          upstreams: [
            parseUpstream(`main.example=${proxy.url}`),
            parseUpstream(`other.example=${other.url}`),
          ],
          ttlMs: 3_600_000,
          insecure: false,
          limits: {},
        },
      })
      servers.push(server)
      const digestOf = async (query: string) => {
        const res = await fetch(`${server.url}/v2/team/app/manifests/1.0${query}`, {
          headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
        })
        await res.arrayBuffer()
        return res.headers.get('docker-content-digest')
      }
      expect(await digestOf('')).toBe(app.digest)
      expect(await digestOf('?ns=main.example')).toBe(app.digest)
      expect(await digestOf('?ns=other.example')).toBe(otherApp.digest)
      expect(await digestOf(`?ns=${other.host}`)).toBe(otherApp.digest)
    } finally {
      await other.stop()
    }
  })

  it('serves referrers of a cached image through upstream’s referrers API or tag schema', async () => {
    const sbom = await pushArtifact(
      client.repository({ registry: dist.host, repository: 'team/app' }),
      app,
      'application/spdx+json',
      '{"spdxVersion":"SPDX-2.3"}',
    )
    const server = await mirror({}, 'referrers')
    expect(await pull(dir, server.host, 'team/app:1.0')).toBe(app.digest)
    const res = await fetch(`${server.url}/v2/team/app/referrers/${app.digest}`)
    expect(res.status).toBe(200)
    const listed = (await res.json()) as { manifests: { digest: string; artifactType?: string }[] }
    expect(listed.manifests.map((d) => [d.digest, d.artifactType])).toEqual([
      [sbom.digest, 'application/spdx+json'],
    ])
    const got = await fetch(`${server.url}/v2/team/app/manifests/${sbom.digest}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    })
    expect(got.headers.get('docker-content-digest')).toBe(sbom.digest)
    expect(Buffer.from(await got.arrayBuffer())).toEqual(Buffer.from(sbom.bytes))
  })
})
