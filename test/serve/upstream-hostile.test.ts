import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type ServeProcess, startFerryServe } from '../helpers/cli.js'
import { type HostileUpstream, type Mode, startHostileUpstream } from '../helpers/hostile-upstream.js'

/** A GET or HEAD that reports a cut connection instead of throwing: what a client of the mirror sees. */
function ask(
  url: string,
  method = 'GET',
): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer } | { cut: string }> {
  return new Promise((resolve) => {
    const req = request(url, { method }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      )
      res.on('error', (err) => resolve({ cut: err.message }))
    })
    req.on('error', (err) => resolve({ cut: err.message }))
    req.end()
  })
}

async function answered(url: string, method = 'GET') {
  const got = await ask(url, method)
  if ('cut' in got) throw new Error(`${method} ${url}: connection cut (${got.cut})`)
  return got
}

const errorsOf = (body: Buffer): unknown =>
  (JSON.parse(body.toString()) as { errors: { code: string; message: string }[] }).errors

describe('ferry serve --upstream against a hostile upstream', () => {
  let stub: HostileUpstream
  let dir: string
  const running: ServeProcess[] = []

  const mirror = async (root: string, ...flags: string[]) => {
    const served = await startFerryServe(['--root', join(dir, root), '--upstream', stub.url, ...flags])
    running.push(served)
    return { ...served, url: `http://${served.host}` }
  }
  const stored = async (root: string) =>
    (await readdir(join(dir, root, 'blobs', 'sha256')).catch(() => [] as string[])).map((h) => `sha256:${h}`)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-mirror-hostile-'))
    stub = await startHostileUpstream()
  })
  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop()
  })
  afterAll(async () => {
    await stub?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('survives small blobs that do not match their digest or size: those pulls fail, nothing is cached, the next client is served', async () => {
    const m = await mirror('h1')
    for (const mode of ['baddigest', 'toolong', 'endless'] satisfies Mode[]) {
      expect((await answered(`${m.url}/v2/${mode}/app/manifests/v1`)).status).toBe(200)
      const url = `${m.url}/v2/${mode}/app/blobs/${stub.layer.digest}`
      for (let i = 0; i < 3; i++) {
        const got = await ask(url)
        // The client that starts the download has its status line before the verdict: a cut is its 502.
        if (!('cut' in got)) expect(got.status).toBe(502)
        const head = await ask(url, 'HEAD')
        expect('cut' in head ? head.cut : head.status, `${mode}; the mirror said: ${m.output()}`).toBe(502)
        expect(m.alive()).toBe(true)
      }
    }
    expect(await stored('h1')).not.toContain(stub.layer.digest)

    // The same layer from an upstream repository that sends it right: served whole and cached.
    expect((await answered(`${m.url}/v2/good/app/manifests/v1`)).status).toBe(200)
    for (const b of [stub.config, stub.layer]) {
      const got = await answered(`${m.url}/v2/good/app/blobs/${b.digest}`)
      expect(got.status).toBe(200)
      expect(got.body.equals(b.bytes)).toBe(true)
    }
    expect(m.alive()).toBe(true)
    expect(m.output()).not.toMatch(/Unhandled|uncaught/i)
  })

  it('takes a layer’s size from the repository pulled through: another repository’s manifest cannot poison it, also after a restart', async () => {
    const victim = `/v2/good/app/blobs/${stub.layer.digest}`
    // Same run: the poisoning manifest is pulled first, then the victim's image.
    const m = await mirror('h2')
    expect((await answered(`${m.url}/v2/smallsize/app/manifests/v1`)).status).toBe(200)
    expect((await answered(`${m.url}/v2/good/app/manifests/v1`)).status).toBe(200)
    // Asking the victim's repository for the poisoning manifest by digest (cached, so served) does not
    // make its claims the victim repository's: upstream does not hold it there.
    await answered(`${m.url}/v2/good/app/manifests/${stub.manifest('smallsize').digest}`)
    const head = await answered(`${m.url}${victim}`, 'HEAD')
    expect(head.status).toBe(200)
    expect(Number(head.headers['content-length'])).toBe(stub.layer.bytes.length)
    const got = await answered(`${m.url}${victim}`)
    expect(got.status).toBe(200)
    expect(got.body.equals(stub.layer.bytes)).toBe(true)

    // Across a restart: what each repository's manifests say is read back from ferry-cache.json.
    const first = await mirror('h2-restart')
    expect((await answered(`${first.url}/v2/smallsize/app/manifests/v1`)).status).toBe(200)
    expect((await answered(`${first.url}/v2/good/app/manifests/v1`)).status).toBe(200)
    await first.stop()
    const second = await mirror('h2-restart')
    const again = await answered(`${second.url}${victim}`)
    expect(again.status).toBe(200)
    expect(again.body.equals(stub.layer.bytes)).toBe(true)
    expect(second.alive()).toBe(true)
    const state = JSON.parse(await readFile(join(dir, 'h2-restart', 'ferry-cache.json'), 'utf8'))
    // The poisoner's claim is kept, for its own repository only.
    const poison = state.manifests[stub.manifest('smallsize').digest]
    expect(poison.blobs[stub.layer.digest]).toBe(10)
    expect(poison.repositories).toEqual([`${stub.host}/smallsize/app`])
  })

  it('keeps the manifest of a pull in progress under --cache-max-size pressure', async () => {
    const m = await mirror('m3', '--cache-max-size', '2000')
    // Client A has its manifest...
    expect((await answered(`${m.url}/v2/good/app/manifests/v1`)).status).toBe(200)
    // ...while client B pulls a whole image, which takes the cache over its limit.
    expect((await answered(`${m.url}/v2/other/app/manifests/v1`)).status).toBe(200)
    for (const b of [stub.config, stub.otherLayer]) {
      expect((await answered(`${m.url}/v2/other/app/blobs/${b.digest}`)).status).toBe(200)
    }
    await new Promise((r) => setTimeout(r, 1000))
    const got = await answered(`${m.url}/v2/good/app/blobs/${stub.layer.digest}`)
    expect(got.status, got.body.toString()).toBe(200)
    expect(got.body.equals(stub.layer.bytes)).toBe(true)
  })

  it('answers upstream faults with 502 and a message that blames upstream, and caches nothing', async () => {
    const m = await mirror('l9')
    for (const mode of ['liedigest', 'bigmanifest', 'authloop'] satisfies Mode[]) {
      const url = `${m.url}/v2/${mode}/app/manifests/v1`
      const got = await answered(url)
      expect(got.status, `${mode}: ${got.body}`).toBe(502)
      expect(errorsOf(got.body)).toEqual([
        { code: 'UNKNOWN', message: expect.stringMatching(/: bad gateway: .*upstream/), detail: {} },
      ])
      expect(got.body.toString()).not.toContain('not-what-the-registry-wants')
      expect((await answered(url, 'HEAD')).status).toBe(502)
    }
    // Asked for by digest, upstream answers with another manifest.
    const swapped = await answered(`${m.url}/v2/liedigest/app/manifests/${stub.manifest('other').digest}`)
    expect(swapped.status).toBe(502)
    expect(await stored('l9')).toEqual([])
    expect((await answered(`${m.url}/v2/baddigest/app/manifests/v1`)).status).toBe(200)
    const corrupt = await answered(`${m.url}/v2/baddigest/app/blobs/${stub.layer.digest}`, 'HEAD')
    expect(corrupt.status).toBe(502)
    expect(await stored('l9')).not.toContain(stub.layer.digest)
  })
})
