import { connect } from 'node:net'
import { hostnameOf } from './hosts.js'

/** What a loopback port speaks: TLS, plain HTTP, or nothing we could reach. */
export type Spoken = 'tls' | 'plain' | 'unreachable'

/** Go's answer to plain HTTP on a TLS port (distribution, zot, harbor behind a port-forward). */
const GO_TLS_COMPLAINT = 'Client sent an HTTP request to an HTTPS server'
/** TLS record types a TLS server answers garbage with: alert (21) or handshake (22). */
const TLS_RECORD_TYPES = [0x15, 0x16]

/**
 * One plain `GET /v2/` on a fresh connection, read only far enough to tell: an HTTP status line is
 * plain HTTP (unless it is Go's complaint about plain HTTP on a TLS port); a TLS record, or a
 * connection dropped without a word after it was accepted, is TLS (node and OpenSSL servers drop it).
 * A TLS ClientHello would not do: a plain Go server waits for the end of a request line that never comes.
 */
export function probeScheme(host: string, timeoutMs: number): Promise<Spoken> {
  const name = hostnameOf(host)
  const portText = host.startsWith('[') ? host.slice(host.indexOf(']') + 2) : host.split(':')[1]
  const port = portText ? Number(portText) : 80
  return new Promise((resolve) => {
    let connected = false
    let settled = false
    let seen = Buffer.alloc(0)
    const socket = connect({ host: name, port })
    const done = (r: Spoken) => {
      if (settled) return
      settled = true
      socket.destroy()
      resolve(r)
    }
    const verdict = (): Spoken => {
      if (!connected) return 'unreachable'
      if (seen.length === 0) return 'tls'
      if (TLS_RECORD_TYPES.includes(seen[0]!)) return 'tls'
      const text = seen.toString('latin1')
      if (!text.startsWith('HTTP/')) return 'tls'
      return text.includes(GO_TLS_COMPLAINT) ? 'tls' : 'plain'
    }
    socket.setTimeout(timeoutMs, () => done(connected && seen.length === 0 ? 'plain' : verdict()))
    socket.once('connect', () => {
      connected = true
      socket.write(`GET /v2/ HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: ferry\r\nConnection: close\r\n\r\n`)
    })
    socket.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk])
      // The status line and Go's one-line body fit in the first few hundred bytes.
      if (TLS_RECORD_TYPES.includes(seen[0]!) || seen.length >= 512) done(verdict())
    })
    socket.once('error', () => done(verdict()))
    socket.once('close', () => done(verdict()))
  })
}
