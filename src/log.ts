/**
 * Logging for the library: a sink the caller provides (the CLI writes `--debug` lines to stderr).
 * Everything passes through `redact` first, so no code path can leak a credential by forgetting to.
 */
export interface Logger {
  debug(message: string): void
  warn(message: string): void
}

export const silentLogger: Logger = { debug() {}, warn() {} }

const SECRET_PATTERNS: [RegExp, string][] = [
  // Authorization / Proxy-Authorization header values, whatever the scheme.
  [/((?:proxy-)?authorization["']?\s*[:=]\s*["']?)(?:bearer|basic|token)?\s*[^\s"',}]+/gi, '$1[redacted]'],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
  // user:password@ in URLs
  [/(\/\/[^/\s:@]+):[^/\s@]+@/g, '$1:[redacted]@'],
  // token/password-looking query parameters and JSON fields: `k=v`, `"k": v`, `k: "v"`, `k:v`. Never
  // `k: word` (unquoted, after a space): that is prose, as in "Password: needs a terminal".
  [
    // `_state` signs a registry's upload session URL: whoever holds it can write to the upload.
    // Not after a `/`: `acme/auth:1` is a repository and its tag.
    /(?<!\/)((?:access_token|refresh_token|token|password|passwd|secret|identitytoken|auth|_state)(?:["']\s*[:=]\s*["']?|\s*=\s*["']?|:\s*["']|:(?=[^\s"'])))[^\s"'&,}]+/gi,
    '$1[redacted]',
  ],
]

/**
 * Secret values this process holds (passwords, tokens, helper secrets), as they could appear in
 * text: patterns miss a password a registry or helper echoes back in its own words ("password
 * Pa55w0rd is wrong"), the exact value does not. Shorter values would redact ordinary words.
 */
const knownSecrets = new Set<string>()
const MIN_KNOWN_SECRET_LENGTH = 4

/** Remember `value` so that `redact` removes it wherever it appears, also JSON- or URL-escaped. */
export function rememberSecret(value: string | undefined): void {
  if (value === undefined || value.length < MIN_KNOWN_SECRET_LENGTH) return
  for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) {
    knownSecrets.add(form)
  }
}

/** Only the values `rememberSecret` was given: for output that is data (--json results), not prose. */
export function redactKnownSecrets(text: string): string {
  if (knownSecrets.size === 0) return text
  let out = text
  // Longest first, so a secret containing another is removed whole.
  for (const secret of [...knownSecrets].sort((a, b) => b.length - a.length)) {
    if (out.includes(secret)) out = out.split(secret).join('[redacted]')
  }
  return out
}

export function redact(text: string): string {
  let out = redactKnownSecrets(text)
  for (const [re, replacement] of SECRET_PATTERNS) out = out.replace(re, replacement)
  return out
}

// Characters that steer a terminal or reorder what it shows: C0 and C1 controls (ESC starts colour,
// title and OSC 8 link sequences), DEL, and the Unicode bidi controls and line separators.
const UNSAFE_CHARS =
  '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069'
const UNSAFE_RE = new RegExp(`[${UNSAFE_CHARS}]`, 'g')
const UNSAFE_EXCEPT_NEWLINE_RE = new RegExp(`(?!\\n)[${UNSAFE_CHARS}]`, 'g')
// JSON.stringify escapes C0 itself; these it leaves raw inside strings.
const JSON_UNSAFE_RE = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g

function escapeChar(c: string): string {
  const code = c.charCodeAt(0)
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`
}

/**
 * Text from registries, helpers and files (tags, error messages) as it may reach a terminal: every
 * control, bidi override and line separator written as an escape (`\x1b`, `\u202e`), so a tag can
 * neither run terminal sequences nor forge a line. `keepNewlines` for output that is several lines.
 */
export function terminalSafe(text: string, opts: { keepNewlines?: boolean } = {}): string {
  return text.replace(opts.keepNewlines ? UNSAFE_EXCEPT_NEWLINE_RE : UNSAFE_RE, escapeChar)
}

/** JSON text with the characters JSON.stringify leaves raw (C1, bidi) as \u escapes: the same value. */
export function jsonTerminalSafe(json: string): string {
  return json.replace(JSON_UNSAFE_RE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
}

/**
 * A value echoed in a message, cut in the middle when long: a 50 MB string in a spec must not become
 * a 50 MB error line, and the start and end (where the reason usually is) stay readable.
 */
export function clipMiddle(text: string, max = 200): string {
  if (text.length <= max) return text
  const keep = Math.floor((max - 30) / 2)
  return `${text.slice(0, keep)}…[${text.length - 2 * keep} characters cut]…${text.slice(-keep)}`
}

export function redactingLogger(sink: (line: string) => void): Logger {
  return {
    debug: (m) => sink(redact(m)),
    warn: (m) => sink(redact(m)),
  }
}
