import { jsonTerminalSafe, redact, terminalSafe } from '../../log.js'

export type AccessLogFormat = 'json' | 'common'

/** One request as the access log records it. Never a header's value but the user agent, never a credential. */
export interface AccessRecord {
  time: Date
  remote: string
  /** The htpasswd user the request authenticated as; undefined without --htpasswd or before it did. */
  user?: string
  method: string
  /** Path and the query parameters on SAFE_PARAMS (see loggedTarget). */
  target: string
  status: number
  /** Bytes written to the connection for the answer, headers included (Apache's %O). */
  bytes: number
  durationMs: number
  /** The manifest or blob digest the request named or answered with (Docker-Content-Digest). */
  digest?: string
  userAgent?: string
}

// Longer would only flood the log; a real path is well under this.
const TARGET_MAX = 512
const AGENT_MAX = 256

/**
 * Query parameters whose values are no secret: pagination, blob mounts, referrer filters, containerd's
 * ?ns=, the UI's filter and paging. Everything else is left out, whatever it is called: an upload's
 * `_state` (distribution's HMAC-signed session token, which some clients echo), a token a proxy added.
 */
const SAFE_PARAMS = new Set([
  'n',
  'last',
  'digest',
  'mount',
  'from',
  'artifactType',
  'ns',
  'q',
  'after',
  'tag',
])

/** The request target as logged: the path, and only the query parameters on the safe list. */
export function loggedTarget(rawUrl: string): string {
  const q = rawUrl.indexOf('?')
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q)
  const kept = new URLSearchParams()
  if (q !== -1) {
    for (const [k, v] of new URLSearchParams(rawUrl.slice(q + 1))) if (SAFE_PARAMS.has(k)) kept.append(k, v)
  }
  // `:` stays readable in digests (`digest=sha256:…`); it needs no escaping in a query.
  const query = kept.size > 0 ? `?${kept.toString().replace(/%3A/gi, ':')}` : ''
  return redact(`${path}${query}`).slice(0, TARGET_MAX)
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const pad = (n: number) => String(n).padStart(2, '0')

/** `[07/Dec/2026:21:47:51 +0000]`: NCSA's time, in UTC. */
function ncsaTime(d: Date): string {
  const date = `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}`
  return `[${date}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000]`
}

/** Inside NCSA's double quotes: quotes and backslashes escaped, control characters as \xHH (as Apache does). */
const quoted = (s: string) => `"${terminalSafe(s.replace(/\\/g, '\\\\').replace(/"/g, '\\"'))}"`

/** A bare NCSA field: no spaces, quotes or controls, "-" when empty. */
const bare = (s: string | undefined) => (s ? terminalSafe(s).replace(/[\s"\\]/g, '_') : '-')

/**
 * One line (no newline). `common`: NCSA combined with the duration and digest appended —
 * `REMOTE - USER [TIME] "METHOD TARGET HTTP/1.1" STATUS BYTES "-" "USER-AGENT" DURATIONms DIGEST`.
 * `json`: one object with the same fields.
 */
export function formatAccess(r: AccessRecord, format: AccessLogFormat): string {
  const agent = r.userAgent?.slice(0, AGENT_MAX)
  if (format === 'json') {
    return jsonTerminalSafe(
      JSON.stringify({
        time: r.time.toISOString(),
        remote: r.remote,
        user: r.user ?? null,
        method: r.method,
        path: r.target,
        status: r.status,
        bytes: r.bytes,
        durationMs: Math.round(r.durationMs * 10) / 10,
        digest: r.digest ?? null,
        userAgent: agent ?? null,
      }),
    )
  }
  const request = quoted(`${r.method} ${r.target} HTTP/1.1`)
  return [
    bare(r.remote),
    '-',
    bare(r.user),
    ncsaTime(r.time),
    request,
    String(r.status),
    String(r.bytes),
    '"-"',
    quoted(agent ?? '-'),
    `${r.durationMs.toFixed(1)}ms`,
    bare(r.digest),
  ].join(' ')
}
