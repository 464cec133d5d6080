import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseUpstream } from '../../src/serve/upstream/upstreams.js'
import { imageManifest, putManifest, raw, type Served, serveTemp } from './helpers.js'

/** The value of one series in a Prometheus text exposition (0 when absent). */
function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line ? Number(line.slice(series.length + 1)) : 0
}

const scrape = async (s: Served) => (await raw(s.server, 'GET', '/metrics')).body.toString('utf8')

/**
 * /metrics against real traffic: a push, a pull, a policy refusal on one server, and a pull-through
 * cache in front of it taking a miss, then a hit, for a manifest and a blob. Values, not presence.
 */
describe('serve /metrics', { timeout: 60_000 }, () => {
  let dir: string
  let origin: Served
  let mirror: Served
  let manifest: Buffer
  let layer: { digest: string; size: number }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-metrics-'))
    const policy = join(dir, 'ferry.policy.yaml')
    await writeFile(
      policy,
      'version: 1\nenvironments:\n  - name: prod\n    match: { repositories: ["**"] }\n    forbid: { tags: [latest] }\n',
    )
    origin = await serveTemp({ policy: { file: policy } })
    manifest = await imageManifest(origin.server, 'team/app', 'metrics')
    layer = (JSON.parse(manifest.toString()) as { layers: { digest: string; size: number }[] }).layers[0]!
    mirror = await serveTemp({
      ui: true,
      upstream: {
        upstreams: [parseUpstream(`http://${origin.server.host}`)],
        ttlMs: 60_000,
        insecure: true,
        limits: {},
      },
    })
  })
  afterAll(async () => {
    await mirror?.stop()
    await origin?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('counts requests by method, route template and status, and the bytes of each', async () => {
    const before = await scrape(origin)
    const posts = 'ferry_http_requests_total{method="POST",route="/v2/{name}/blobs/uploads/",status="201"}'
    // imageManifest pushed the config and the layer, each with one monolithic POST.
    expect(metric(before, posts)).toBe(2)
    expect((await putManifest(origin.server, 'team/app', 'v1', manifest)).status).toBe(201)
    const pulled = await raw(origin.server, 'GET', '/v2/team/app/manifests/v1', {
      headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
    })
    expect(pulled.status).toBe(200)
    const after = await scrape(origin)
    const route = '/v2/{name}/manifests/{reference}'
    expect(metric(after, `ferry_http_requests_total{method="PUT",route="${route}",status="201"}`)).toBe(1)
    expect(metric(after, `ferry_http_requests_total{method="GET",route="${route}",status="200"}`)).toBe(1)
    // In: the PUT's body and headers (and the GET's headers). Out: the GET's body and both answers' headers.
    const read = metric(after, `ferry_http_request_bytes_total{route="${route}"}`)
    expect(read).toBeGreaterThan(manifest.byteLength)
    expect(read).toBeLessThan(manifest.byteLength + 1500)
    const out = metric(after, `ferry_http_response_bytes_total{route="${route}"}`)
    expect(out).toBeGreaterThan(manifest.byteLength)
    expect(out).toBeLessThan(manifest.byteLength + 1500)
    // The scrape before this one counts too (this one, once it has ended): /metrics is a route like any other.
    expect(metric(after, 'ferry_http_requests_total{method="GET",route="/metrics",status="200"}')).toBe(1)
  })

  it('counts open upload sessions', async () => {
    const opened = await raw(origin.server, 'POST', '/v2/team/app/blobs/uploads/')
    expect(opened.status).toBe(202)
    expect(metric(await scrape(origin), 'ferry_upload_sessions_open')).toBe(1)
    expect((await raw(origin.server, 'DELETE', String(opened.headers.location))).status).toBe(204)
    expect(metric(await scrape(origin), 'ferry_upload_sessions_open')).toBe(0)
  })

  it('counts policy refusals by action and rule', async () => {
    const refused = await putManifest(origin.server, 'team/app', 'latest', manifest)
    expect(refused.status).toBe(403)
    const text = await scrape(origin)
    expect(metric(text, 'ferry_policy_refusals_total{action="PUT",rule="tags.forbid"}')).toBe(1)
    expect(
      metric(
        text,
        'ferry_http_requests_total{method="PUT",route="/v2/{name}/manifests/{reference}",status="403"}',
      ),
    ).toBe(1)
  })

  it('counts cache misses, then hits, by kind, with the bytes from upstream and from the cache', async () => {
    const get = (path: string) =>
      raw(mirror.server, 'GET', path, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } })
    expect((await get('/v2/team/app/manifests/v1')).status).toBe(200)
    expect((await get(`/v2/team/app/blobs/${layer.digest}`)).status).toBe(200)
    // The client had its bytes once they verified; the store has them once renamed into place.
    const stored = join(mirror.root, 'blobs', 'sha256', layer.digest.slice('sha256:'.length))
    for (let i = 0; i < 100 && !existsSync(stored); i++) await new Promise((r) => setTimeout(r, 20))
    let text = await scrape(mirror)
    expect(metric(text, 'ferry_cache_misses_total{kind="manifest"}')).toBe(1)
    expect(metric(text, 'ferry_cache_misses_total{kind="blob"}')).toBe(1)
    expect(metric(text, 'ferry_cache_hits_total{kind="manifest"}')).toBe(0)
    expect(metric(text, 'ferry_cache_hits_total{kind="blob"}')).toBe(0)
    expect(metric(text, 'ferry_upstream_requests_total')).toBe(2)
    expect(metric(text, 'ferry_upstream_errors_total')).toBe(0)
    expect(metric(text, 'ferry_upstream_bytes_total')).toBe(manifest.byteLength + layer.size)
    expect(metric(text, 'ferry_cache_served_bytes_total')).toBe(0)

    expect((await get('/v2/team/app/manifests/v1')).status).toBe(200)
    expect((await get(`/v2/team/app/blobs/${layer.digest}`)).status).toBe(200)
    text = await scrape(mirror)
    expect(metric(text, 'ferry_cache_hits_total{kind="manifest"}')).toBe(1)
    expect(metric(text, 'ferry_cache_hits_total{kind="blob"}')).toBe(1)
    expect(metric(text, 'ferry_cache_misses_total{kind="manifest"}')).toBe(1)
    expect(metric(text, 'ferry_upstream_requests_total')).toBe(2)
    expect(metric(text, 'ferry_cache_served_bytes_total')).toBe(manifest.byteLength + layer.size)
    expect(metric(text, 'ferry_cache_evictions_total')).toBe(0)
    // The UI's cache page reads the same counts, and lists the tag as confirmed within its TTL.
    const cache = (await raw(mirror.server, 'GET', '/ui/cache')).body.toString('utf8')
    expect(cache).toContain('<dd id="manifest-hits">1 / 1</dd>')
    expect(cache).toContain('<dd id="blob-hits">1 / 1</dd>')
    expect(cache).toMatch(/<td><a href="\/ui\/repo\/[^"]+\/team\/app:v1">v1<\/a><\/td>.*fresh/)

    // Upstream gone: a tag past nothing cached fails, and the failure is counted.
    expect((await get('/v2/team/none/manifests/v9')).status).toBeGreaterThanOrEqual(400)
    text = await scrape(mirror)
    expect(metric(text, 'ferry_upstream_requests_total')).toBe(3)
    expect(metric(text, 'ferry_upstream_errors_total')).toBe(1)
  })
})
