import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import bcrypt from 'bcryptjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '../../src/registry/index.js'
import { type Distribution, startDistribution } from '../helpers/distribution.js'
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js'
import { type Blob, pushImage, readAll, syntheticImage } from '../helpers/registry-fixtures.js'
import { tempDockerConfig } from './docker-config.js'
import { captureLogger } from './log-capture.js'

/**
 * Object storage behind a registry: a second loopback server on another port that serves blob bytes
 * (with Range) at a presigned-looking URL. distribution's filesystem driver never redirects, so the
 * proxy in front of it answers blob GETs with the 307 that S3/GCS-backed registries send.
 */
async function startStorage(blobs: Blob[]) {
  const seen: IncomingHttpHeaders[] = []
  let cutNext = false
  const server: Server = createServer((req, res) => {
    seen.push(req.headers)
    const digest = new URL(req.url ?? '/', 'http://x').pathname.split('/').pop()
    const blob = blobs.find((b) => b.desc.digest === digest)
    if (!blob) {
      res.writeHead(404).end()
      return
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    const from = m ? Number(m[1]) : 0
    const body = blob.bytes.subarray(from)
    const headers: Record<string, string> = { 'content-length': String(body.length) }
    if (m) headers['content-range'] = `bytes ${from}-${blob.bytes.length - 1}/${blob.bytes.length}`
    res.writeHead(m ? 206 : 200, headers)
    if (cutNext) {
      cutNext = false
      res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => req.socket.destroy(), 20))
      return
    }
    res.end(body)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    cut: () => {
      cutNext = true
    },
    stop: () => new Promise<void>((r) => server.close(() => r())),
  }
}

describe('blob GET redirected to another host', () => {
  let reg: Distribution
  let proxy: FaultProxy
  let storage: Awaited<ReturnType<typeof startStorage>>
  let cfg: Awaited<ReturnType<typeof tempDockerConfig>>
  const image = syntheticImage({ layerSizes: [200_000] })

  beforeAll(async () => {
    reg = await startDistribution({ htpasswd: `dave:${bcrypt.hashSync('dave-pass', 4)}\n` })
    proxy = await startFaultProxy(reg.url)
    storage = await startStorage([image.config, ...image.layers])
    cfg = await tempDockerConfig({ [proxy.host]: { username: 'dave', password: 'dave-pass' } })
    const client = new RegistryClient({ dockerConfigDir: cfg.dir })
    await pushImage(client.repository({ registry: proxy.host, repository: 'redir/app' }), image, 'v1')
    await client.close()
    proxy.setRule((r) => {
      const m = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(r.path)
      // Unauthenticated requests reach the registry and meet its 401, as they would upstream of S3.
      if (r.method !== 'GET' || !m || !r.headers.authorization) return undefined
      return {
        kind: 'status',
        status: 307,
        headers: { location: `${storage.url}/bucket/${m[1]}?X-Amz-Signature=presigned-secret-sig` },
      }
    })
  })
  afterAll(async () => {
    await proxy?.stop()
    await storage?.stop()
    await reg?.stop()
    await cfg?.remove()
  })

  it('follows the redirect without sending the registry credentials, and verifies', async () => {
    const log = captureLogger()
    const client = new RegistryClient({ dockerConfigDir: cfg.dir, logger: log })
    try {
      const layer = image.layers[0]!
      expect(
        await readAll(
          await client.repository({ registry: proxy.host, repository: 'redir/app' }).fetchBlob(layer.desc),
        ),
      ).toEqual(layer.bytes)
      // The registry did get credentials; the storage host never did.
      expect(
        proxy.seen.some((r) => r.method === 'GET' && r.headers.authorization?.startsWith('Basic ')),
      ).toBe(true)
      expect(storage.seen.length).toBeGreaterThan(0)
      expect(storage.seen.every((h) => h.authorization === undefined)).toBe(true)
      // A presigned query is a credential of its own: not in the logs.
      expect(log.lines.some((l) => l.includes(storage.url))).toBe(true)
      expect(log.lines.join('\n')).not.toContain('presigned-secret-sig')
    } finally {
      await client.close()
    }
  })

  it('resumes a redirected download with Range at the storage host', async () => {
    const client = new RegistryClient({ dockerConfigDir: cfg.dir, retry: { baseDelayMs: 5 } })
    try {
      storage.seen.length = 0
      storage.cut()
      const layer = image.layers[0]!
      expect(
        await readAll(
          await client.repository({ registry: proxy.host, repository: 'redir/app' }).fetchBlob(layer.desc),
        ),
      ).toEqual(layer.bytes)
      expect(storage.seen).toHaveLength(2)
      expect(storage.seen[1]!.range).toMatch(/^bytes=\d+-$/)
      expect(storage.seen.every((h) => h.authorization === undefined)).toBe(true)
    } finally {
      await client.close()
    }
  })
})
