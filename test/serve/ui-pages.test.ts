import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OciLayout } from '../../src/layout/index.js'
import { REF_NAME_ANNOTATION } from '../../src/layout/naming.js'
import { type RunningServer, startServer } from '../../src/serve/index.js'
import { pushSyntheticImage } from '../../src/synthetic.js'
import { raw } from './helpers.js'

const REPOS = 1000
const TAGS = 10_000

/**
 * The UI's pages over HTTP at scale: a root with 1,000 repositories, one of which has 10,000 tags (all
 * naming one image, written straight into index.json), served with the UI on. A page lists 50 rows and
 * leads to the next; what it reads is the page's rows, so a page stays quick however long the list.
 */
describe('serve UI pages', { timeout: 120_000 }, () => {
  let dir: string
  let server: RunningServer
  let off: RunningServer
  const get = (path: string, s = server) => raw(s, 'GET', path)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-ui-pages-'))
    const root = join(dir, 'root')
    const layout = await OciLayout.open(root, { create: true })
    const image = await pushSyntheticImage(
      layout.target('big/app'),
      { seed: 'pages', layers: 1, layerSize: 100, labels: { note: '<script>alert(1)</script>' } },
      't00000',
    )
    const desc = { mediaType: image.mediaType, digest: image.digest, size: image.bytes.byteLength }
    const entry = (ref: string) => ({ ...desc, annotations: { [REF_NAME_ANNOTATION]: ref } })
    await layout.updateIndex((index) => ({
      ...index,
      manifests: [
        ...Array.from({ length: TAGS }, (_, i) => entry(`big/app:t${String(i).padStart(5, '0')}`)),
        ...Array.from({ length: REPOS - 1 }, (_, i) => entry(`r${String(i).padStart(4, '0')}/svc:v1`)),
      ],
    }))
    server = await startServer({ root, port: 0, ui: true })
    off = await startServer({ root, port: 0 })
  })
  afterAll(async () => {
    await server?.close()
    await off?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('pages 1,000 repositories 50 at a time, filtered by a GET form', async () => {
    const first = await get('/ui/')
    expect(first.status).toBe(200)
    const body = first.body.toString()
    expect(body.match(/<tr><td><a href="\/ui\/repo\//g)).toHaveLength(50)
    expect(body).toContain('1–50 of 1000')
    expect(body).toContain('<a rel="next" href="/ui/?after=r0048%2Fsvc">')
    const last = (await get('/ui/?after=r0948%2Fsvc')).body.toString()
    expect(last).toContain('951–1000 of 1000')
    expect(last).not.toContain('rel="next"')
    const filtered = (await get('/ui/?q=r012')).body.toString()
    expect(filtered.match(/<tr><td><a href="\/ui\/repo\//g)).toHaveLength(10)
    expect(filtered).toContain('value="r012"')
  })

  it('pages 10,000 tags 50 at a time, reading only the page', async () => {
    const started = performance.now()
    const page = (await get('/ui/repo/big/app?after=t09949')).body.toString()
    expect(performance.now() - started).toBeLessThan(5000)
    expect(page.match(/<tr data-tag=/g)).toHaveLength(50)
    expect(page).toContain('9951–10000 of 10000 tags')
    expect(page).toContain('linux/amd64')
    expect(page).not.toContain('rel="next"')
    expect((await get('/ui/repo/big/app')).body.toString()).toContain('href="/ui/repo/big/app?after=t00049"')
  })

  it('escapes what pushers wrote and answers with a strict CSP', async () => {
    const res = await get('/ui/repo/big/app:t00000')
    expect(res.status).toBe(200)
    const body = res.body.toString()
    expect(body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(body).not.toContain('<script>alert')
    // The only script is the UI's own file.
    expect(body.match(/<script[^>]*>/g)).toEqual(['<script src="/ui/static/copy.js" defer>'])
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    expect(res.headers['x-content-type-options']).toBe('nosniff')
  })

  it('is read-only, says what is not there, and is gone with the UI off', async () => {
    expect((await raw(server, 'POST', '/ui/')).status).toBe(405)
    const missing = await get('/ui/repo/no/such')
    expect(missing.status).toBe(404)
    expect(missing.body.toString()).toContain('no repository no/such')
    expect((await get('/ui/repo/big/app:nope')).status).toBe(404)
    expect((await get(`/ui/repo/big/app@sha256:${'0'.repeat(64)}`)).status).toBe(404)
    expect((await get('/', server)).headers.location).toBe('/ui/')
    expect((await get('/ui/', off)).status).toBe(404)
    expect((await get('/v2/big/app/tags/list?n=1', server)).status).toBe(200)
  })
})
