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
    /((?:access_token|refresh_token|token|password|passwd|secret|identitytoken|auth|_state)(?:["']\s*[:=]\s*["']?|\s*=\s*["']?|:\s*["']|:(?=[^\s"'])))[^\s"'&,}]+/gi,
    '$1[redacted]',
  ],
]

export function redact(text: string): string {
  let out = text
  for (const [re, replacement] of SECRET_PATTERNS) out = out.replace(re, replacement)
  return out
}

export function redactingLogger(sink: (line: string) => void): Logger {
  return {
    debug: (m) => sink(redact(m)),
    warn: (m) => sink(redact(m)),
  }
}
