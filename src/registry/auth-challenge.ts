/**
 * `WWW-Authenticate` parsing (RFC 9110 §11.6.1): one or more challenges, each a scheme and
 * comma-separated `key=value` / `key="quoted, value"` parameters. Registries send
 * `Bearer realm="…",service="…",scope="repository:a:pull,push"` (docker token spec) or `Basic realm="…"`.
 */
export interface Challenge {
  /** Lower-cased: `bearer`, `basic`, … */
  scheme: string
  /** Parameter names lower-cased, values unquoted. */
  params: Record<string, string>
}

export function parseChallenges(header: string | string[] | undefined): Challenge[] {
  if (!header) return []
  const text = Array.isArray(header) ? header.join(', ') : header
  const out: Challenge[] = []
  let i = 0
  const skipSpace = () => {
    while (i < text.length && /[\s,]/.test(text[i]!)) i++
  }
  const readToken = () => {
    const start = i
    while (i < text.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z]/.test(text[i]!)) i++
    return text.slice(start, i)
  }
  while (i < text.length) {
    skipSpace()
    const scheme = readToken()
    if (!scheme) {
      i++
      continue
    }
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} }
    out.push(challenge)
    for (;;) {
      skipSpace()
      const save = i
      const key = readToken()
      while (text[i] === ' ') i++
      if (!key || text[i] !== '=') {
        // Not a parameter: the next challenge's scheme (or token68, which registries do not use).
        i = save
        break
      }
      i++
      while (text[i] === ' ') i++
      let value = ''
      if (text[i] === '"') {
        i++
        while (i < text.length && text[i] !== '"') {
          if (text[i] === '\\' && i + 1 < text.length) i++
          value += text[i]
          i++
        }
        i++
      } else {
        const start = i
        while (i < text.length && text[i] !== ',') i++
        value = text.slice(start, i).trim()
      }
      challenge.params[key.toLowerCase()] = value
    }
  }
  return out
}

/** Bearer is preferred when both are offered: it never sends the password to the registry itself. */
export function pickChallenge(challenges: Challenge[]): Challenge | undefined {
  return challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic')
}

/** The `scope` parameter may hold several space-separated scopes. */
export function challengeScopes(c: Challenge): string[] {
  return (c.params.scope ?? '').split(' ').filter(Boolean)
}
