import { mkdtemp, readdir, rm } from 'node:fs/promises'
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
})
