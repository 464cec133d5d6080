import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OciLayout } from '../../src/layout/index.js'
import { MediaType } from '../../src/oci/media-types.js'
import { pushSyntheticIndex } from '../../src/synthetic.js'
import { ferry, type ServeProcess, startFerryServe } from '../helpers/cli.js'
import { type Image, pushImage, streamOf, syntheticImage } from '../helpers/registry-fixtures.js'
import { pull, push } from '../serve/policy-helpers.js'
import { tempDir } from '../supply/helpers.js'
import { backdateBlobs, filesOf, garbage } from './fixtures.js'

const blobFile = (root: string, digest: string) => join(root, 'blobs', ...digest.split(':'))

/** Resolves once serve's stderr holds `count` more gc lines than it did when called. */
async function collections(serve: ServeProcess, count: number): Promise<void> {
  const runs = () =>
    serve
      .output()
      .split('\n')
      .filter((l) => l.startsWith('ferry serve: gc: ')).length
  const want = runs() + count
  const deadline = Date.now() + 30_000
  while (runs() < want) {
    if (Date.now() > deadline) throw new Error(`no garbage collection within 30 s:\n${serve.output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/**
 * `ferry serve --gc-interval`: the collection of `ferry gc` inside a running registry, every second here,
 * with the default grace of an hour and every file of the root hours old. What keeps a file is that
 * something reaches it, or that the server told a client within the grace period that it is here.
 */
describe('ferry serve --gc-interval', { timeout: 180_000 }, () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let root: string
  let serve: ServeProcess
  let kept: Image
  let junk: { files: string[] }
  let relied: Image
  let url: string

  beforeAll(async () => {
    tmp = await tempDir('ferry-serve-gc-')
    root = join(tmp.dir, 'root')
    const layout = await OciLayout.open(root, { create: true })
    const web = layout.target('acme/web')
    kept = syntheticImage({ layerSizes: [600], gzip: true })
    await pushImage(web, kept, '1.0')
    junk = await garbage(web)
    // Blobs a client pushed an hour ago and whose manifest it has not pushed yet: found by a mount below.
    relied = syntheticImage({ layerSizes: [500], gzip: true })
    for (const b of [relied.config, ...relied.layers]) await web.pushBlob(b.desc, streamOf(b.bytes))
    await backdateBlobs(root, 2)
    serve = await startFerryServe(['--root', root, '--gc-interval', '1s', '--debug'])
    url = `http://${serve.host}`
  })
  afterAll(async () => {
    await serve?.stop()
    await tmp?.remove()
  })

  it('frees what nothing reaches, keeps what is reached and what a client was just told is here', async () => {
    // A cross-repository mount (no `from`: any blob of the root) tells the client each blob is here.
    for (const b of [relied.config, ...relied.layers]) {
      const res = await fetch(`${url}/v2/acme/app/blobs/uploads/?mount=${b.desc.digest}`, { method: 'POST' })
      expect(res.status, b.desc.digest).toBe(201)
    }
    await collections(serve, 2)
    expect(serve.output()).toMatch(/^ferry serve: gc: freed 2 manifests and 5 blobs, /m)
    for (const d of junk.files) expect(existsSync(blobFile(root, d)), d).toBe(false)
    for (const d of [...filesOf(kept), ...filesOf(relied).slice(1)])
      expect(existsSync(blobFile(root, d)), d).toBe(true)

    // So the manifest that names them, pushed after the collections, is accepted.
    const put = await fetch(`${url}/v2/acme/app/manifests/2.0`, {
      method: 'PUT',
      headers: { 'Content-Type': MediaType.ociManifest },
      body: new Uint8Array(relied.manifest.bytes),
    })
    expect(put.status, await put.text()).toBe(201)
    await collections(serve, 1)
    for (const d of filesOf(relied)) expect(existsSync(blobFile(root, d)), d).toBe(true)
  })

  it('a multi-arch image skopeo pushes while it collects pulls back whole, every platform', async () => {
    const src = await OciLayout.open(join(tmp.dir, 'src'), { create: true })
    await pushSyntheticIndex(
      src.target('multi'),
      { seed: 'serve-gc', layers: 2, layerSize: 3000 },
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
      '1',
    )
    const pushed = await push(`oci:${src.dir}:multi:1`, `${serve.host}/acme/multi:1`, '--all')
    expect(pushed.code, pushed.stderr).toBe(0)
    await collections(serve, 2)
    const pulled = await pull(`${serve.host}/acme/multi:1`, join(tmp.dir, 'pulled'), '--all')
    expect(pulled.code, pulled.stderr).toBe(0)
    expect(serve.output()).not.toContain('garbage collection of')
  })

  it('is refused with --read-only', async () => {
    const r = await ferry(['serve', '--root', root, '--gc-interval', '1h', '--read-only', '--port', '0'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--gc-interval collects a writable --root')
  })
})
