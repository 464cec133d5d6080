import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Digest } from '../../../src/oci/digest.js'
import { MediaType } from '../../../src/oci/media-types.js'
import { RegistryClient } from '../../../src/registry/index.js'
import { MAX_LISTING_BYTES, MAX_PAGES } from '../../../src/registry/pagination.js'

// A scripted hostile registry: distribution paginates honestly, so no real part sends a `Link` that
// loops, pages without end or a listing of gigabytes. This server does exactly those, and counts.
describe('listings from a hostile registry', () => {
  let server: Server
  let host: string
  let client: RegistryClient
  const hits = new Map<string, number>()
  let hugeSent = 0
  const subject: Digest = `sha256:${'a'.repeat(64)}`
  const index = (manifests: unknown[]) =>
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests })
  const referrer = (i: number) => ({
    mediaType: MediaType.ociManifest,
    digest: `sha256:${i.toString(16).padStart(64, '0')}`,
    size: 100,
  })

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      const repo = url.pathname.split('/')[2] ?? ''
      hits.set(repo, (hits.get(repo) ?? 0) + 1)
      const json = (body: string, link?: string, type = 'application/json') => {
        res.writeHead(200, { 'content-type': type, ...(link ? { link } : {}) })
        res.end(body)
      }
      if (url.pathname === '/v2/') return json('{}')
      if (repo === 'loop') return json('{"name":"loop","tags":["a"]}', `<${url.pathname}>; rel="next"`)
      if (repo === 'endless') {
        const page = Number(url.searchParams.get('page') ?? 0)
        return json(
          `{"name":"endless","tags":["t${page}"]}`,
          `<${url.pathname}?page=${page + 1}>; rel="next"`,
        )
      }
      if (repo === 'huge') {
        // One page that never ends: tag after tag, written as fast as the client reads.
        res.writeHead(200, { 'content-type': 'application/json' })
        res.write('{"name":"huge","tags":[')
        const tags = Buffer.from(`${'"x",'.repeat(16 * 1024)}`)
        const more = () => {
          while (!res.destroyed) {
            hugeSent += tags.length
            if (!res.write(tags)) return
          }
        }
        res.on('drain', more)
        more()
        return
      }
      // The next page on another origin: a host alias of this server (same port), as a proxy writes it.
      const elsewhere = `<http://localhost:${(server.address() as AddressInfo).port}${url.pathname}?last=a>; rel="next"`
      if (repo === 'elsewhere') return json('{"name":"elsewhere","tags":["a"]}', elsewhere)
      if (repo === '_catalog') return json('{"repositories":["a/b"]}', elsewhere)
      if (repo === 'refelsewhere') return json(index([referrer(1)]), elsewhere, MediaType.ociIndex)
      if (repo === 'refloop') {
        const link = `<${url.pathname}${url.search}>; rel="next"`
        return json(index([referrer(1)]), link, MediaType.ociIndex)
      }
      if (repo === 'refhuge') {
        const many = Array.from({ length: 2000 }, (_, i) => referrer(i))
        const page = Number(url.searchParams.get('page') ?? 0)
        return json(index(many), `<${url.pathname}?page=${page + 1}>; rel="next"`, MediaType.ociIndex)
      }
      res.writeHead(404).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`
    client = new RegistryClient({ retry: { attempts: 1 } })
  })
  afterAll(async () => {
    await client?.close()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })

  it('refuses a tags/list page that links to itself, naming the repository', async () => {
    await expect(
      client.repository({ registry: host, repository: 'loop/app' }).listTags(),
    ).rejects.toMatchObject({
      code: 'REGISTRY',
      message: `${host}/loop/app: the registry's list links back to a page it already sent (/v2/loop/app/tags/list); not following a loop`,
    })
    expect(hits.get('loop')).toBe(1)
  })

  it(`stops following endless distinct tags/list pages after ${MAX_PAGES}`, async () => {
    await expect(
      client.repository({ registry: host, repository: 'endless/app' }).listTags(),
    ).rejects.toMatchObject({
      code: 'REGISTRY',
      message: `${host}/endless/app: the registry's list goes on past 10000 pages`,
    })
    expect(hits.get('endless')).toBe(MAX_PAGES)
  }, 60_000)

  it('stops reading an oversized tags/list page at 64 MiB', async () => {
    await expect(
      client.repository({ registry: host, repository: 'huge/app' }).listTags(),
    ).rejects.toMatchObject({
      code: 'REGISTRY',
      message: `${host}/huge/app: the registry's list is larger than 64 MiB`,
    })
    // What the server managed to write before the client hung up: socket buffers beyond 64 MiB, no more.
    expect(hugeSent).toBeGreaterThan(MAX_LISTING_BYTES - 1024 * 1024)
    expect(hugeSent).toBeLessThan(MAX_LISTING_BYTES + 16 * 1024 * 1024)
  })

  it('fails a listing whose next page is on another origin (tags, catalog, referrers), following none', async () => {
    const foreign = `http://localhost:${host.split(':')[1]}`
    const incomplete = (subject: string) =>
      `${subject}: the registry's list is incomplete: its next page is on another origin, ${foreign} (this is http://${host}); not following it, and not using a partial list`
    await expect(
      client.repository({ registry: host, repository: 'elsewhere/app' }).listTags(),
    ).rejects.toMatchObject({
      code: 'REGISTRY',
      message: incomplete(`${host}/elsewhere/app`),
    })
    await expect(client.catalog(host)).rejects.toMatchObject({ code: 'REGISTRY', message: incomplete(host) })
    await expect(
      client.repository({ registry: host, repository: 'refelsewhere/app' }).referrers(subject),
    ).rejects.toMatchObject({
      code: 'REGISTRY',
      message: incomplete(`${host}/refelsewhere/app@${subject}`),
    })
    for (const repo of ['elsewhere', '_catalog', 'refelsewhere']) expect(hits.get(repo), repo).toBe(1)
  })

  it('refuses a referrers page that links to itself, and one listing past 64 MiB over many pages', async () => {
    const name = (repo: string) => `${host}/${repo}@${subject}`
    await expect(
      client.repository({ registry: host, repository: 'refloop/app' }).referrers(subject),
    ).rejects.toMatchObject({
      code: 'REGISTRY',
      message: expect.stringContaining(`${name('refloop/app')}: the registry's list links back to a page`),
    })
    expect(hits.get('refloop')).toBe(1)
    // Each page is about 230 kB of distinct referrers: the byte budget ends it long before the page cap.
    await expect(
      client.repository({ registry: host, repository: 'refhuge/app' }).referrers(subject),
    ).rejects.toMatchObject({
      code: 'REGISTRY',
      message: `${name('refhuge/app')}: the registry's list is larger than 64 MiB`,
    })
    const pageBytes = Buffer.byteLength(index(Array.from({ length: 2000 }, (_, i) => referrer(i))))
    expect(hits.get('refhuge')).toBe(Math.floor(MAX_LISTING_BYTES / pageBytes) + 1)
  })
})
