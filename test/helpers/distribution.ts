import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { missingToolsMessage } from './tools.js'

/** A free loopback port: bind to 0, read it, release it. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      if (addr && typeof addr === 'object') {
        const { port } = addr
        srv.close(() => resolve(port))
      } else reject(new Error('no port'))
    })
  })
}

/** Resolves once the port completes a TLS handshake (its certificate is not judged). */
function tlsHandshake(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
    socket.once('secureConnect', () => {
      socket.destroy()
      resolve()
    })
    socket.once('error', reject)
  })
}

export interface DistributionOptions {
  /** htpasswd file contents (bcrypt) for basic auth. */
  htpasswd?: string
  /** Token auth: realm URL, service, issuer and the PEM certificate bundle tokens are signed under. */
  token?: { realm: string; service: string; issuer: string; rootCertBundle: string }
  /** `storage.delete.enabled`; default true. */
  deletes?: boolean
  /** `proxy.remoteurl`: distribution as a pull-through cache of that registry (bench/cache.ts). */
  proxyRemoteUrl?: string
  /** Log every request it answers (info level), for `requests()`. */
  requestLog?: boolean
  /** Serve HTTPS with this key and certificate (PEM files; see self-signed.ts). */
  tls?: { keyFile: string; certFile: string }
}

/** One request as the registry's log line records it. */
export interface LoggedRequest {
  method: string
  /** The path and query, `/v2/NAME/blobs/DIGEST`. */
  uri: string
  status: number
}

export interface Distribution {
  /** `127.0.0.1:PORT` */
  host: string
  url: string
  storage: string
  /** Its config.yml, for `docker-registry garbage-collect CONFIG`. */
  config: string
  /** The registry process (bench/many.ts reads its CPU from /proc). */
  pid: number
  /** Every request answered so far, oldest first (empty unless started with `requestLog`). */
  requests(): LoggedRequest[]
  stop(): Promise<void>
}

/** distribution's "response completed" lines (logrus text format) as requests. */
function parseRequestLog(log: string): LoggedRequest[] {
  const field = (line: string, name: string) =>
    new RegExp(`${name.replaceAll('.', '\\.')}="?([^"\\s]*)`).exec(line)?.[1] ?? ''
  return log
    .split('\n')
    .filter((line) => line.includes('msg="response completed'))
    .map((line) => ({
      method: field(line, 'http.request.method'),
      uri: field(line, 'http.request.uri'),
      status: Number(field(line, 'http.response.status')),
    }))
}

/**
 * The CNCF distribution registry from Debian (`/usr/bin/docker-registry`), on a free loopback port with
 * its own temp storage and delete enabled (unless `deletes: false`); stopped by PID.
 */
export async function startDistribution(opts: DistributionOptions = {}): Promise<Distribution> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-distribution-'))
  const storage = join(dir, 'storage')
  const port = await freePort()
  const lines = [
    'version: 0.1',
    'log:',
    `  level: ${opts.requestLog ? 'info' : 'error'}`,
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${storage}`,
    '  delete:',
    `    enabled: ${opts.deletes ?? true}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ]
  if (opts.tls) lines.push('  tls:', `    certificate: ${opts.tls.certFile}`, `    key: ${opts.tls.keyFile}`)
  if (opts.htpasswd) {
    const file = join(dir, 'htpasswd')
    await writeFile(file, opts.htpasswd)
    lines.push('auth:', '  htpasswd:', '    realm: ferry-test', `    path: ${file}`)
  } else if (opts.token) {
    const bundle = join(dir, 'token-ca.pem')
    await writeFile(bundle, opts.token.rootCertBundle)
    lines.push(
      'auth:',
      '  token:',
      `    realm: ${opts.token.realm}`,
      `    service: ${opts.token.service}`,
      `    issuer: ${opts.token.issuer}`,
      `    rootcertbundle: ${bundle}`,
    )
  }
  if (opts.proxyRemoteUrl) lines.push('proxy:', `  remoteurl: ${opts.proxyRemoteUrl}`)
  const config = join(dir, 'config.yml')
  await writeFile(config, `${lines.join('\n')}\n`)
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr?.on('data', (d) => {
    stderr += d
  })
  let spawnError: Error | undefined
  child.on('error', (err) => {
    spawnError = err
  })
  const host = `127.0.0.1:${port}`
  const url = `${opts.tls ? 'https' : 'http'}://${host}`
  const deadline = Date.now() + 15_000
  for (;;) {
    if (spawnError) {
      throw new Error(
        `${spawnError.message}: ${missingToolsMessage([{ bin: '/usr/bin/docker-registry', pkg: 'docker-registry' }])}`,
      )
    }
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${stderr}`)
    try {
      if (opts.tls) await tlsHandshake(port)
      else await (await fetch(`${url}/v2/`)).arrayBuffer()
      break
    } catch {
      if (Date.now() > deadline) throw new Error(`docker-registry did not start: ${stderr}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  return {
    host,
    url,
    storage,
    config,
    pid: child.pid!,
    requests: () => parseRequestLog(stderr),
    async stop() {
      if (child.exitCode === null && child.pid) {
        const exited = new Promise((r) => child.once('exit', r))
        process.kill(child.pid, 'SIGTERM')
        await exited
      }
      await rm(dir, { recursive: true, force: true })
    },
  }
}
