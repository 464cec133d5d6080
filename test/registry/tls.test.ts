import { execFileSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { silentLogger } from '../../src/log.js'
import { Transport } from '../../src/registry/transport.js'

/**
 * Trust for HTTPS registries. This drives the transport directly with an https:// URL (no probe of
 * the loopback port) at a loopback TLS server whose certificate
 * comes from a private CA made here with openssl.
 */
describe('TLS trust: caFiles and certs.d', () => {
  let dir: string
  let server: Server
  let host: string

  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-tls-'))
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-days',
      '1',
      '-subj',
      '/CN=ferry test CA',
    )
    await writeFile(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n')
    openssl('req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1')
    openssl(
      'x509',
      '-req',
      '-in',
      'srv.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'srv.crt',
      '-days',
      '1',
      '-extfile',
      'san.ext',
    )
    openssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=ferry-client')
    openssl(
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'client.cert',
      '-days',
      '1',
    )
    server = createServer(
      {
        key: await readFile(join(dir, 'srv.key')),
        cert: await readFile(join(dir, 'srv.crt')),
        ca: await readFile(join(dir, 'ca.crt')),
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate()
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ client: peer?.subject?.CN ?? null }))
      },
    )
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  afterAll(async () => {
    await new Promise<void>((r) => server?.close(() => r()))
    await rm(dir, { recursive: true, force: true })
  })

  const ping = async (opts: { caFiles?: string[]; certsDir?: string }) => {
    const t = new Transport({
      insecure: [],
      caFiles: opts.caFiles ?? [],
      certsDir: opts.certsDir ?? join(dir, 'no-certs.d'),
      logger: silentLogger,
      userAgent: 'ferry-test',
    })
    try {
      const res = await t.send({ method: 'GET', url: new URL(`https://${host}/v2/`), headers: {} })
      return JSON.parse(await readAllText(res.body)) as { client: string | null }
    } finally {
      await t.close()
    }
  }

  it('refuses a certificate from an unknown CA, saying how to trust it', async () => {
    const err = await ping({}).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'NETWORK' })
    expect((err as Error).message).toContain(host)
    expect((err as Error).message).toMatch(/caFiles|certs\.d/)
  })

  it('trusts a CA given in caFiles', async () => {
    expect(await ping({ caFiles: [join(dir, 'ca.crt')] })).toEqual({ client: null })
  })

  it('trusts certs.d/HOST:PORT/ca.crt and presents its client certificate', async () => {
    const certsDir = join(dir, 'certs.d')
    await mkdir(join(certsDir, host), { recursive: true })
    await writeFile(join(certsDir, host, 'ca.crt'), await readFile(join(dir, 'ca.crt')))
    await writeFile(join(certsDir, host, 'client.cert'), await readFile(join(dir, 'client.cert')))
    await writeFile(join(certsDir, host, 'client.key'), await readFile(join(dir, 'client.key')))
    expect(await ping({ certsDir })).toEqual({ client: 'ferry-client' })
  })
})

async function readAllText(body: AsyncIterable<unknown>): Promise<string> {
  let s = ''
  for await (const c of body) s += c
  return s
}
