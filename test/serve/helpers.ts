import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type RunningServer, type ServeOptions, startServer } from '../../src/serve/index.js'

export interface Served {
  dir: string
  root: string
  server: RunningServer
  stop(): Promise<void>
}

/** A server on a free loopback port over a fresh layout in a temp dir; `stop` closes it and removes the dir. */
export async function serveTemp(opts: Partial<ServeOptions> = {}): Promise<Served> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-serve-'))
  const root = join(dir, 'root')
  const server = await startServer({ root, port: 0, ...opts })
  return {
    dir,
    root,
    server,
    async stop() {
      await server.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

export interface RawResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: Buffer
  json(): unknown
  /** The first error code of a `{"errors":[…]}` body. */
  code(): string | undefined
}

/**
 * A request sent exactly as written: node:http does not normalise the path the way fetch/URL do, so
 * `..`, `%2e%2e` and `//` reach the server as a hostile client would send them.
 */
export function raw(
  server: RunningServer,
  method: string,
  path: string,
  opts: { headers?: Record<string, string | number>; body?: Buffer | string; localAddress?: string } = {},
): Promise<RawResponse> {
  // node sends GET/DELETE bodies without framing unless told their length.
  const chunked = Object.keys(opts.headers ?? {}).some((h) => h.toLowerCase() === 'transfer-encoding')
  const length = opts.body === undefined || chunked ? {} : { 'Content-Length': Buffer.byteLength(opts.body) }
  const headers = { ...length, ...opts.headers }
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        method,
        path,
        headers,
        agent: false,
        localAddress: opts.localAddress,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('error', reject)
        res.on('end', () => {
          const body = Buffer.concat(chunks)
          const json = () => JSON.parse(body.toString('utf8')) as unknown
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            json,
            code: () => (json() as { errors?: { code: string }[] }).errors?.[0]?.code,
          })
        })
      },
    )
    req.on('error', reject)
    req.end(opts.body)
  })
}

/** Sends the headers and the first `sent` bytes of a body announced as `length` bytes, then cuts the connection. */
export async function abortedUpload(
  server: RunningServer,
  method: string,
  path: string,
  length: number,
  sent: Buffer,
  headers: Record<string, string | number> = {},
): Promise<void> {
  const req = request({
    host: '127.0.0.1',
    port: server.port,
    method,
    path,
    agent: false,
    headers: { 'Content-Length': length, ...headers },
  })
  req.on('error', () => {})
  await new Promise<void>((resolve) => req.write(sent, () => resolve()))
  await new Promise((r) => setTimeout(r, 100))
  req.destroy()
  await new Promise((r) => setTimeout(r, 200))
}

export const sha256 = (bytes: Buffer | string): `sha256:${string}` =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** Pushes a blob with a single monolithic POST; returns its digest. */
export async function pushBlob(
  server: RunningServer,
  name: string,
  bytes: Buffer,
): Promise<`sha256:${string}`> {
  const digest = sha256(bytes)
  const res = await raw(server, 'POST', `/v2/${name}/blobs/uploads/?digest=${digest}`, {
    body: bytes,
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.byteLength },
  })
  if (res.status !== 201) throw new Error(`blob push: ${res.status} ${res.body}`)
  return digest
}

/** A minimal image: a config and one layer, pushed; returns the manifest bytes (not pushed). */
export async function imageManifest(
  server: RunningServer,
  name: string,
  seed: string,
  extra: Record<string, unknown> = {},
): Promise<Buffer> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', seed }))
  const layer = Buffer.from(`layer ${seed}`)
  const configDigest = await pushBlob(server, name, config)
  const layerDigest = await pushBlob(server, name, layer)
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.byteLength,
      },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.byteLength },
      ],
      ...extra,
    }),
  )
}

export async function putManifest(
  server: RunningServer,
  name: string,
  reference: string,
  bytes: Buffer,
  mediaType = 'application/vnd.oci.image.manifest.v1+json',
): Promise<RawResponse> {
  return raw(server, 'PUT', `/v2/${name}/manifests/${reference}`, {
    body: bytes,
    headers: { 'Content-Type': mediaType, 'Content-Length': bytes.byteLength },
  })
}
