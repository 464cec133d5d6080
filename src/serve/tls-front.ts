import type { Server } from 'node:http'
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net'

/** The first byte of a TLS record carrying a handshake message: every ClientHello starts with it (RFC 8446 §5.1). */
const TLS_HANDSHAKE = 0x16

// What Go's net/http answers on a TLS port to a client speaking plain HTTP (server.go), with a length so
// that clients need not wait for the close to know the body is whole.
const PLAIN_HTTP_BODY = 'Client sent an HTTP request to an HTTPS server.\n'
const PLAIN_HTTP_ANSWER =
  'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n' +
  `Content-Length: ${Buffer.byteLength(PLAIN_HTTP_BODY)}\r\nConnection: close\r\n\r\n${PLAIN_HTTP_BODY}`

export interface TlsFront {
  /** What listens on the port. */
  listener: NetServer
  /** Cuts the connections not handed to the HTTPS server (those are its own to close). */
  destroyPending(): void
}

/**
 * The listener of a TLS port. Node's HTTPS server meets a client that speaks plain HTTP with a failed
 * handshake and a closed socket, which `curl http://…` and registry clients report as an empty reply or
 * a reset. Instead each connection's first byte is read: a TLS handshake goes on to `https` (which never
 * listens itself), anything else gets a 400 saying the port speaks HTTPS, as Go's net/http answers.
 *
 * Until that byte arrives the connection is held to the header timeout, as are the TLS handshake
 * (`handshakeTimeout`, set by the caller) and the request headers after it (`https`'s own checks).
 */
export function tlsFront(https: Server, headersMs: number): TlsFront {
  const pending = new Set<Socket>()
  const listener = createNetServer((socket) => {
    pending.add(socket)
    socket.once('close', () => pending.delete(socket))
    // A client that resets the connection is nobody's concern; the HTTPS server has its own listeners.
    socket.on('error', () => {})
    const cut = () => socket.destroy()
    socket.setTimeout(headersMs)
    socket.once('timeout', cut)
    socket.once('data', (first: Buffer) => {
      socket.pause()
      socket.setTimeout(0)
      socket.off('timeout', cut)
      if (first[0] === TLS_HANDSHAKE) {
        pending.delete(socket)
        // The TLS socket reads what is buffered on the raw one before its handle, so the byte is not lost.
        socket.unshift(first)
        https.emit('connection', socket)
        return
      }
      answerPlainHttp(socket, headersMs)
    })
  })
  // Node starts the timer that enforces an HTTP server's header and request timeouts when the server
  // starts listening: this one never does, so it is told when the port it is fed from opens.
  listener.on('listening', () => https.emit('listening'))
  return {
    listener,
    destroyPending: () => {
      for (const socket of pending) socket.destroy()
    },
  }
}

/**
 * Sends the 400 and half-closes. What the client still sends is read and dropped until it closes too,
 * for at most `lingerMs` however much it sends: closing with unread bytes would reset the connection,
 * and a reset can reach the client before it has read the answer.
 */
function answerPlainHttp(socket: Socket, lingerMs: number): void {
  socket.on('data', () => {})
  socket.resume()
  socket.end(PLAIN_HTTP_ANSWER)
  const deadline = setTimeout(() => socket.destroy(), lingerMs)
  deadline.unref()
  socket.once('close', () => clearTimeout(deadline))
}
