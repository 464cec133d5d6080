import { isIP } from 'node:net'
import { connect } from 'node:tls'
import { hostnameOf } from './hosts.js'

/** Go's answer to plain HTTP on a TLS port (distribution, zot, harbor behind a port-forward), and ferry serve's. */
export const GO_TLS_COMPLAINT = 'Client sent an HTTP request to an HTTPS server'

/**
 * Whether the port completes a TLS handshake (its certificate is not judged here; the request after
 * does that). Asked only after a plain request was dropped, or answered 400 without text a HEAD could
 * carry, so a plain server hardly ever sees a ClientHello it might wait on.
 */
export function speaksTls(host: string, timeoutMs: number): Promise<boolean> {
  const name = hostnameOf(host)
  const portText = host.startsWith('[') ? host.slice(host.indexOf(']') + 2) : host.split(':')[1]
  return new Promise((resolve) => {
    let settled = false
    const socket = connect({
      host: name,
      port: portText ? Number(portText) : 443,
      rejectUnauthorized: false,
      // RFC 6066: no server name for an IP address.
      ...(isIP(name) ? {} : { servername: name }),
    })
    const done = (tls: boolean) => {
      if (settled) return
      settled = true
      socket.destroy()
      resolve(tls)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('secureConnect', () => done(true))
    socket.once('error', () => done(false))
    socket.once('close', () => done(false))
  })
}
