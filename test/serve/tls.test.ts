import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect } from 'node:tls'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningServer, startServer } from '../../src/serve/index.js'
import { selfSignedCert } from '../helpers/self-signed.js'

const run = promisify(execFile)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Everything the server sends until it closes the connection (or `maxMs`), and when that was. */
function readToClose(socket: Socket, maxMs: number): Promise<{ answer: string; ms: number }> {
  const started = performance.now()
  let answer = ''
  socket.on('data', (d) => {
    answer += d
  })
  socket.on('error', () => {})
  const closed = new Promise<number>((ok) => socket.once('close', () => ok(performance.now() - started)))
  return Promise.race([closed, sleep(maxMs).then(() => maxMs)]).then((ms) => {
    socket.destroy()
    return { answer, ms }
  })
}

describe('serve --tls-cert/--tls-key: one port, TLS only', () => {
  let dir: string
  let server: RunningServer
  let ca: Buffer

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-tls-'))
    const { certFile, keyFile } = selfSignedCert(dir, { cn: '127.0.0.1', ip: '127.0.0.1' })
    ca = await readFile(certFile)
    server = await startServer({
      root: join(dir, 'root'),
      port: 0,
      tls: { cert: certFile, key: keyFile },
      timeouts: { headersMs: 1000, idleMs: 1000 },
    })
  })
  afterAll(async () => {
    await server?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('answers plain HTTP with 400 and says the server speaks HTTPS, then closes', async () => {
    const socket = connect(server.port, '127.0.0.1')
    socket.write('GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    const { answer, ms } = await readToClose(socket, 5000)
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request')
    expect(answer).toMatch(/\r\nConnection: close\r\n/i)
    expect(answer.endsWith('\r\n\r\nClient sent an HTTP request to an HTTPS server.\n')).toBe(true)
    expect(ms).toBeLessThan(5000)

    // What a user trying http:// sees.
    const curl = await run('curl', ['-sS', '-i', `http://${server.host}/v2/`])
    expect(curl.stdout).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/)
    expect(curl.stdout).toContain('Client sent an HTTP request to an HTTPS server.')
  })

  it('closes a plain HTTP connection that keeps sending within the header timeout', async () => {
    // Half-open: the client's side stays open after the server's FIN, as a client busy sending keeps it.
    const socket = connect({ port: server.port, host: '127.0.0.1', allowHalfOpen: true })
    socket.write('PUT /v2/x/blobs/uploads/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000000\r\n\r\n')
    // A body that never ends, a chunk every 50 ms: the answer comes at once, the close at the deadline.
    const timer = setInterval(() => socket.write(Buffer.alloc(1024)), 50)
    const { answer, ms } = await readToClose(socket, 6000)
    clearInterval(timer)
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 400 Bad Request')
    expect(ms).toBeGreaterThan(900)
    expect(ms).toBeLessThan(2500)
  }, 20_000)

  it('still serves HTTPS on the same port', async () => {
    const { Agent, fetch } = await import('undici')
    const dispatcher = new Agent({ connect: { ca } })
    try {
      const res = await fetch(`${server.url}/v2/`, { dispatcher })
      expect(res.status).toBe(200)
      expect(res.headers.get('docker-distribution-api-version')).toBe('registry/2.0')
    } finally {
      await dispatcher.close()
    }
  })

  it('cuts a connection that sends nothing, or stalls its TLS handshake, within the header timeout', async () => {
    const silent = await readToClose(connect(server.port, '127.0.0.1'), 6000)
    expect(silent.ms).toBeGreaterThan(900)
    expect(silent.ms).toBeLessThan(2500)

    // A TLS record header and nothing more: the handshake never completes.
    const stalled = connect(server.port, '127.0.0.1')
    stalled.write(Buffer.from([0x16, 0x03, 0x01]))
    const handshake = await readToClose(stalled, 6000)
    expect(handshake.ms).toBeGreaterThan(900)
    expect(handshake.ms).toBeLessThan(2500)
  }, 20_000)

  it('answers 408 to headers trickled over TLS after the header timeout', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: server.port, ca, servername: undefined })
    await new Promise<void>((ok, fail) => {
      socket.once('secureConnect', () => ok())
      socket.once('error', fail)
    })
    socket.write('GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ')
    const timer = setInterval(() => socket.write('a'), 50)
    const { answer, ms } = await readToClose(socket, 6000)
    clearInterval(timer)
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout')
    expect(ms).toBeGreaterThan(900)
    expect(ms).toBeLessThan(2500)
  }, 20_000)
})

describe('serve over TLS: shutting down', () => {
  it('closes promptly with a keep-alive HTTPS connection open', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-tls-'))
    try {
      const { certFile, keyFile } = selfSignedCert(dir, { cn: '127.0.0.1', ip: '127.0.0.1' })
      const server = await startServer({
        root: join(dir, 'root'),
        port: 0,
        tls: { cert: certFile, key: keyFile },
      })
      const { Agent, fetch } = await import('undici')
      const dispatcher = new Agent({ connect: { ca: await readFile(certFile) } })
      try {
        expect((await fetch(`${server.url}/v2/`, { dispatcher })).status).toBe(200)
        const started = performance.now()
        await server.close()
        expect(performance.now() - started).toBeLessThan(2000)
        await expect(fetch(`${server.url}/v2/`, { dispatcher })).rejects.toThrow()
      } finally {
        await dispatcher.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
