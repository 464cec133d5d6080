import { createHash } from 'node:crypto'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/**
 * A stub upstream registry that lies, for the pull-through cache's hostile-input tests. No real registry
 * on loopback serves a blob whose bytes do not match its digest, a manifest that gives a shared layer a
 * wrong size, an endless blob or a lying `Docker-Content-Digest` (distribution checks all of these on
 * push), so this stub does; modelled on `upstream_stub.py` of the December 2026 hostile-input sweep.
 *
 * One small image per mode, at `/v2/MODE/app/…` (any tag; by digest only its own manifest):
 * - `good`: right bytes; `other`: a second image with another layer (same config).
 * - `baddigest`: the layer's bytes are wrong (right size); `toolong`: the layer comes with bytes more
 *   than declared; `endless`: the layer never ends (chunked, bounded only by the client going away).
 * - `smallsize`: the manifest declares the shared layer (good's) as 10 bytes.
 * - `liedigest`: the manifest's `Docker-Content-Digest` names other content, and asked for by any digest
 *   it answers with this same manifest.
 * - `bigmanifest`: a 4.2 MB manifest, over every client's 4 MiB limit, chunked (no Content-Length).
 * - `authloop`: every answer is 401 with a Bearer challenge, whatever token the client brings.
 */

export const MODES = [
  'good',
  'other',
  'baddigest',
  'toolong',
  'endless',
  'smallsize',
  'liedigest',
  'bigmanifest',
  'authloop',
] as const
export type Mode = (typeof MODES)[number]

export interface StubBlob {
  digest: string
  bytes: Buffer
}

export interface HostileUpstream {
  /** `127.0.0.1:PORT` */
  host: string
  url: string
  /** The layer every mode but `other` lists (good's bytes). */
  layer: StubBlob
  /** `other`'s layer. */
  otherLayer: StubBlob
  config: StubBlob
  /** The manifest bytes a mode serves. */
  manifest(mode: Mode): StubBlob
  /** `METHOD PATH` of every request, in order. */
  requests: string[]
  stop(): Promise<void>
}

const MANIFEST_TYPE = 'application/vnd.oci.image.manifest.v1+json'
const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`
const blob = (bytes: Buffer): StubBlob => ({ digest: digestOf(bytes), bytes })

export async function startHostileUpstream(): Promise<HostileUpstream> {
  const layer = blob(Buffer.from('hello-layer-'.repeat(100)))
  const otherLayer = blob(Buffer.from('other-layer-'.repeat(100)))
  const config = blob(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  )
  const image = (l: StubBlob, size = l.bytes.length, padding?: string) =>
    blob(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MANIFEST_TYPE,
          config: {
            mediaType: 'application/vnd.oci.image.config.v1+json',
            digest: config.digest,
            size: config.bytes.length,
          },
          layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l.digest, size }],
          ...(padding ? { annotations: { padding } } : {}),
        }),
      ),
    )
  const manifests = new Map<Mode, StubBlob>(MODES.map((m) => [m, image(layer)]))
  manifests.set('other', image(otherLayer))
  manifests.set('smallsize', image(layer, 10))
  manifests.set('bigmanifest', image(layer, undefined, 'x'.repeat(4_200_000)))
  const blobs = new Map([layer, otherLayer, config].map((b) => [b.digest, b.bytes]))

  const requests: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!
    requests.push(`${req.method} ${path}`)
    const head = req.method === 'HEAD'
    const reply = (status: number, body: Buffer, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length, ...headers })
      res.end(head ? undefined : body)
    }
    if (path === '/token') return reply(200, Buffer.from('{"token":"not-what-the-registry-wants"}'))
    const m = /^\/v2\/([a-z]+)\/app\/(manifests|blobs)\/([^/]+)$/.exec(path)
    if (!m) return reply(200, Buffer.from('{}'))
    const mode = m[1] as Mode
    const [kind, ref] = [m[2]!, m[3]!]
    const manifest = manifests.get(mode)
    if (!manifest) return reply(404, Buffer.from('{"errors":[{"code":"NAME_UNKNOWN"}]}'))
    if (mode === 'authloop') {
      const realm = `http://${req.headers.host}/token`
      return reply(401, Buffer.from('{"errors":[{"code":"UNAUTHORIZED"}]}'), {
        'WWW-Authenticate': `Bearer realm="${realm}",service="stub",scope="repository:authloop/app:pull"`,
      })
    }
    if (kind === 'manifests') {
      if (ref.startsWith('sha256:') && ref !== manifest.digest && mode !== 'liedigest') {
        return reply(404, Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'))
      }
      const announced = mode === 'liedigest' ? digestOf(Buffer.from('something else')) : manifest.digest
      if (mode === 'bigmanifest') {
        res.writeHead(200, { 'Content-Type': MANIFEST_TYPE, 'Docker-Content-Digest': announced })
        return void res.end(head ? undefined : manifest.bytes)
      }
      return reply(200, manifest.bytes, { 'Content-Type': MANIFEST_TYPE, 'Docker-Content-Digest': announced })
    }
    const bytes = blobs.get(ref)
    if (!bytes) return reply(404, Buffer.from('{"errors":[{"code":"BLOB_UNKNOWN"}]}'))
    const octets = { 'Content-Type': 'application/octet-stream' }
    if (ref !== layer.digest) return reply(200, bytes, octets)
    switch (mode) {
      case 'baddigest':
        return reply(200, Buffer.alloc(bytes.length, 'X'), octets)
      case 'toolong':
        return reply(200, Buffer.concat([bytes, Buffer.from('and-then-some')]), octets)
      case 'endless':
        return endless(res, bytes, head)
      default:
        return reply(200, bytes, octets)
    }
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.once('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    host,
    url: `http://${host}`,
    layer,
    otherLayer,
    config,
    manifest: (mode) => manifests.get(mode)!,
    requests,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** The layer's bytes over and over, chunked, until the client goes away (or 64 MiB: a test stays bounded). */
function endless(res: ServerResponse, bytes: Buffer, head: boolean): void {
  res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
  if (head) return void res.end()
  let sent = 0
  const more = () => {
    while (!res.destroyed && sent < 64 * 1024 * 1024) {
      sent += bytes.length
      if (!res.write(bytes)) return void res.once('drain', more)
    }
    res.end()
  }
  more()
}
