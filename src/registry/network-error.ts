import { FerryError } from '../errors.js'
import { RegistryError } from './errors.js'

// Connection-level failures where the request cannot have reached the server.
const NOT_SENT_CODES = [
  'ECONNREFUSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]
// Failures worth another try: the network, not the request, is at fault.
const TRANSIENT_CODES = [
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'BODY_TRUNCATED',
]

/** A request that got no (complete) answer. */
export class NetworkError extends FerryError {
  /** The request may have reached the server (and been acted on). */
  readonly sent: boolean
  readonly transient: boolean
  readonly errno: string

  constructor(
    readonly host: string,
    errno: string,
    readonly detail: string,
    cause?: unknown,
  ) {
    super('NETWORK', `${host}: ${detail}`, cause === undefined ? undefined : { cause })
    this.name = 'NetworkError'
    this.errno = errno
    this.sent = !NOT_SENT_CODES.includes(errno)
    this.transient = TRANSIENT_CODES.includes(errno)
  }
}

function errnoOf(err: unknown): string {
  let e: unknown = err
  for (let depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code) return code
    e = (e as { cause?: unknown }).cause
  }
  return 'UNKNOWN'
}

/**
 * Wraps a failure from the HTTP stack. Only the code and message are kept, plus a cause stripped to
 * the same, so that nothing a request carried (headers with credentials) can ride along on the error.
 */
export function networkError(host: string, err: unknown): NetworkError {
  if (err instanceof NetworkError) return err
  const errno = errnoOf(err)
  const message = err instanceof Error ? err.message : String(err)
  const tls = /certificate|self[- ]signed|CERT_|UNABLE_TO_VERIFY|altnames|SSL|TLS/i.test(
    `${errno} ${message}`,
  )
  const hint = tls
    ? ' (trust its CA with --ca-file FILE or certs.d/HOST[:PORT]/ca.crt; a registry without TLS: --plain-http or http://)'
    : ''
  const cause = Object.assign(new Error(message), { code: errno })
  const plain = PLAIN_REASONS[errno]
  const reason = plain ? `${plain} (${errno})` : `${errno === 'UNKNOWN' ? '' : `${errno}: `}${message}`
  const detail = tls ? `TLS: ${reason}` : reason
  return new NetworkError(host, errno, `${detail}${hint}`, cause)
}

// Node's own texts repeat the code and the address ("connect ECONNREFUSED 127.0.0.1:5000").
const PLAIN_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'name lookup failed',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed while sending',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer within the idle timeout',
  UND_ERR_BODY_TIMEOUT: 'the answer stalled for the idle timeout',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
}

/** The same failure, its message led by the image or repository it was for. */
export function aboutSubject(err: NetworkError, subject: string | undefined): NetworkError {
  if (subject && !err.message.startsWith(subject)) err.message = `${subject}: ${err.message}`
  return err
}

/** A failed attempt that may nevertheless have been applied (the answer was lost, or a gateway failed). */
export function mayHaveApplied(err: unknown): boolean {
  if (err instanceof NetworkError) return err.sent && err.transient
  return err instanceof RegistryError && (err.status === 502 || err.status === 504)
}
